"""No input makes the requester API fail with a 5xx: schemathesis generates
requests from the OpenAPI schema (valid and invalid bodies, query strings,
path ids) against a live server process holding real objects."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from tests.stack import AsgiServer, django_env

pytestmark = pytest.mark.services

REQUESTER_PATHS = r"^/api/(audiences|assets|job-definitions|jobs)"


@pytest.fixture
def seeded(make_requester):
    """A requester with an audience, an example, a definition and a job to address."""
    from audiences import services as audience_services
    from audiences.selectors import global_audience
    from jobs import services as job_services

    global_audience()
    requester = make_requester("fuzzer")
    audience = audience_services.audience_create(owner=requester, name="Fuzz audience")
    pair = ["https://assets.example.org/a.jpg", "https://assets.example.org/b.jpg"]
    audience_services.example_add_compare(audience=audience, owner=requester, instruction="Which?",
                                          datapoint=pair, truth=pair[0])
    definition = job_services.job_definition_create_compare(owner=requester, name="Fuzz definition",
                                                            instruction="Which?", datapoints=[pair])
    job = job_services.job_create(owner=requester, definition=definition, audience=global_audience())
    return {"token": requester.api_token, "audience_id": audience.public_id,
            "definition_id": definition.public_id, "job_id": job.public_id}


def test_no_generated_request_gets_a_server_error(test_database_url, artifacts_dir, seeded, tmp_path: Path):
    log_path = artifacts_dir / "api-fuzz-server.log"
    log_path.unlink(missing_ok=True)  # the server appends: keep only this run's log
    server = AsgiServer(django_env(test_database_url), log_path).start()
    try:
        request = urllib.request.Request(server.url + "/api/schema/?format=json")
        (tmp_path / "schema.json").write_bytes(urllib.request.urlopen(request, timeout=30).read())
        (tmp_path / "schemathesis.toml").write_text(
            "[parameters]\n" + "".join(f'"path.{name}" = {json.dumps(seeded[name])}\n'
                                       for name in ("audience_id", "definition_id", "job_id")))
        result = subprocess.run(
            [sys.executable, "-m", "schemathesis.cli", "--config-file", "schemathesis.toml", "run", "schema.json",
             "--url", server.url, "-H", f"Authorization: Token {seeded['token']}",
             "--include-path-regex", REQUESTER_PATHS, "--checks", "not_a_server_error",
             "--max-examples", "25", "--seed", "20251121", "--no-color"],
            cwd=tmp_path, capture_output=True, text=True, timeout=600,
        )
    finally:
        server.stop()
    report = result.stdout[-4000:] + result.stderr[-2000:]
    assert result.returncode == 0, report
    assert "passed" in result.stdout and "Selected: 17/" in result.stdout, report
    assert "Traceback" not in server.log(), server.log()[-3000:]
