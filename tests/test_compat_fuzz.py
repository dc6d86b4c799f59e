"""No generated request makes the compatible API fail with a 5xx or answer
with a status its schema does not list: schemathesis, from the schema at
``api.<domain>/openapi.json``, against a live server holding real objects
(an audience with examples, a job, a dataset, a batch upload)."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from tests.stack import AsgiServer, django_env

pytestmark = pytest.mark.services

HOST = "api.fuzz.test"
CHECKS = "not_a_server_error,status_code_conformance"


@pytest.fixture
def seeded(make_requester):
    from audiences.selectors import global_audience
    from compat.models import BatchUpload, Dataset
    from tests.factories import compare_audience, compare_job

    global_audience()
    requester = make_requester("fuzzer")
    audience = compare_audience(requester, examples=3)
    job = compare_job(requester, audience)
    dataset = Dataset.objects.create(owner=requester, name="fuzz")
    batch = BatchUpload.objects.create(owner=requester, correlation_id="fuzz-correlation")
    return {
        "token": requester.api_token,
        "audience_id": audience.public_id,
        "job_id": job.public_id,
        "dataset_id": dataset.public_id,
        "batch_id": batch.public_id,
    }


def test_no_generated_request_gets_a_server_error(test_database_url, artifacts_dir, seeded, tmp_path: Path):
    log_path = artifacts_dir / "compat-fuzz-server.log"
    log_path.unlink(missing_ok=True)
    env = django_env(
        test_database_url,
        SUBMIT_RATE="none",
        SERVICE_DOMAIN="fuzz.test",
        ALLOWED_HOSTS="127.0.0.1,localhost",
        ASSET_FETCH_TIMEOUT="2",
    )
    server = AsgiServer(env, log_path).start()
    try:
        request = urllib.request.Request(server.url + "/openapi.json", headers={"Host": HOST})
        (tmp_path / "schema.json").write_bytes(urllib.request.urlopen(request, timeout=30).read())
        (tmp_path / "schemathesis.toml").write_text(
            "[parameters]\n"
            + "".join(
                f'"path.{name}" = {json.dumps(seeded[name])}\n'
                for name in ("audience_id", "job_id", "dataset_id", "batch_id")
            )
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
                f"Authorization: Bearer {seeded['token']}",
                "-H",
                f"Host: {HOST}",
                "--checks",
                CHECKS,
                "--max-examples",
                "25",
                "--seed",
                "20261206",
                "--no-color",
            ],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=900,
        )
        report = result.stdout[-5000:] + result.stderr[-2000:]
        assert result.returncode == 0, report
        assert "passed" in result.stdout, report
    finally:
        server.stop()
    assert " 500 " not in log_path.read_text(errors="replace")
