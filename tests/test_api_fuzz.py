"""No input makes the API fail with a 5xx or answer outside its schema:
schemathesis generates requests from the OpenAPI schema (valid and invalid
bodies, query strings, path ids) against a live server process holding real
objects, for the requester API (with the preview API) as a requester and
for the labeler API as a labeler."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from tests.hosted_client import loopback_only_site
from tests.stack import AsgiServer, django_env

pytestmark = pytest.mark.services

REQUESTER_PATHS = r"^/api/(audiences|assets|job-definitions|jobs|preview)"
LABELER_PATHS = r"^/api/labeler/"
# Every response: no 5xx, a status the schema documents, a body matching its schema.
CHECKS = "not_a_server_error,status_code_conformance,response_schema_conformance"


@pytest.fixture
def seeded(make_requester, make_labeler):
    """A requester with an audience, examples, a definition and a job to
    address; a labeler with a task in the job."""
    from audiences import services as audience_services
    from audiences.selectors import global_audience
    from jobs import feed
    from jobs import services as job_services
    from labeling.tokens import token_create

    global_audience()
    requester = make_requester("fuzzer")
    audience = audience_services.audience_create(owner=requester, name="Fuzz audience")
    for index in range(3):
        pair = [f"https://assets.example.org/a{index}.jpg", f"https://assets.example.org/b{index}.jpg"]
        audience_services.example_add_compare(
            audience=audience, owner=requester, instruction="Which?", datapoint=pair, truth=pair[0]
        )
    definition = job_services.job_definition_create_compare(
        owner=requester, name="Fuzz definition", instruction="Which?", datapoints=[pair] * 3
    )
    job = job_services.job_create(owner=requester, definition=definition, audience=global_audience())
    labeler = make_labeler("fuzzy")
    task = feed.task_next(labeler=labeler, job=job)
    return {
        "token": requester.api_token,
        "labeler_token": token_create(user=labeler)[1],
        "audience_id": audience.public_id,
        "definition_id": definition.public_id,
        "job_id": job.public_id,
        "task_id": task.public_id,
        "position": 0,
    }


def fuzz(server, tmp_path: Path, *, token: str, paths: str, checks: str, parameters: dict) -> str:
    """Run schemathesis over the operations matching ``paths``; its report."""
    (tmp_path / "schemathesis.toml").write_text(
        "[parameters]\n" + "".join(f'"path.{name}" = {json.dumps(value)}\n' for name, value in parameters.items())
    )
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "schemathesis.cli",
            "--config-file",
            "schemathesis.toml",
            "run",
            "schema.json",
            "--url",
            server.url,
            "-H",
            f"Authorization: Token {token}",
            "--include-path-regex",
            paths,
            "--checks",
            checks,
            "--max-examples",
            "25",
            "--seed",
            "20251121",
            "--no-color",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    report = result.stdout[-4000:] + result.stderr[-2000:]
    assert result.returncode == 0, report
    assert "passed" in result.stdout, report
    return result.stdout


def test_no_generated_request_gets_a_server_error(test_database_url, artifacts_dir, seeded, tmp_path: Path):
    log_path = artifacts_dir / "api-fuzz-server.log"
    log_path.unlink(missing_ok=True)  # the server appends: keep only this run's log
    # No rate limit: every generated request must reach the views. Generated
    # image URLs name made-up hosts: the server resolves none of them.
    site = loopback_only_site(tmp_path / "site")
    pythonpath = os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")]))
    server = AsgiServer(django_env(test_database_url, SUBMIT_RATE="none", PYTHONPATH=pythonpath), log_path).start()
    try:
        request = urllib.request.Request(server.url + "/api/schema/?format=json")
        (tmp_path / "schema.json").write_bytes(urllib.request.urlopen(request, timeout=30).read())
        requester = fuzz(
            server,
            tmp_path,
            token=seeded["token"],
            paths=REQUESTER_PATHS,
            checks=CHECKS,
            parameters={name: seeded[name] for name in ("audience_id", "definition_id", "job_id")},
        )
        labeler = fuzz(
            server,
            tmp_path,
            token=seeded["labeler_token"],
            paths=LABELER_PATHS,
            checks=CHECKS,
            parameters={name: seeded[name] for name in ("audience_id", "job_id", "task_id")},
        )
    finally:
        server.stop()
    assert "Selected: 23/" in requester, requester[-3000:]  # 21 requester operations and 2 of the preview
    assert "Selected: 9/" in labeler, labeler[-3000:]  # with renew and release
    assert "Traceback" not in server.log(), server.log()[-3000:]
