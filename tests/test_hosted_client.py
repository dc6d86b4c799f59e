"""The hosted service's own client (``rapidata==3.27.1``) runs the seed
documents' scripts, unchanged, against CrowdCanvas.

The real stack (PostgreSQL, Redis, a Celery worker fetching the URLs),
uvicorn over TLS for ``api.``, ``auth.`` and ``app.crowdcanvas.test:PORT``
(names resolved to 127.0.0.1 inside the client's process only), the seed
images served by a local HTTPS server that the server under test reaches
through ``ASSET_FETCH_CONNECT_TO``, and ``simulate_labelers --watch``
working. Each script prints its results; the client logs no validation
warning; the servers log no 5xx; every job completes with exactly its
responses.
"""

from __future__ import annotations

import ast

import pytest

from tests.demo_stack import SERVER_ERROR, Demo
from tests.hosted_client import (
    DOMAIN,
    IMAGE_HOST,
    SEED_SCRIPTS,
    ImageServer,
    Tls,
    TlsAsgiServer,
    client_env,
    ensure_venv,
    run_scripts,
)
from tests.stack import free_port

pytestmark = [pytest.mark.services, pytest.mark.timeout(1500)]

REQUESTER = "hosted"


def printed_results(output: str) -> dict:
    """The results dict a script printed (its last line that is one)."""
    lines = [line for line in output.splitlines() if line.startswith("{'info':")]
    assert lines, f"no results printed:\n{output[-3000:]}"
    return ast.literal_eval(lines[-1])


@pytest.fixture(scope="module")
def hosted(tmp_path_factory):
    ensure_venv()
    workdir = tmp_path_factory.mktemp("hosted")
    tls = Tls(workdir / "tls")
    port = free_port()
    with ImageServer(tls) as images:
        demo = Demo(
            workdir,
            stack="real",
            SERVICE_DOMAIN=f"{DOMAIN}:{port}",
            ASSET_FETCH_CONNECT_TO=f"{IMAGE_HOST}:443:127.0.0.1:{images.port}",
            ASSET_FETCH_CA_BUNDLE=str(tls.ca_path),
        )
        demo.start()
        try:
            tls_server = TlsAsgiServer(demo._env(), workdir / "logs" / "tls-server.log", tls, port=port).start()
            demo.processes.append(tls_server)
            lines = demo.manage("create_requester", REQUESTER, "--client-credentials").stdout.splitlines()
            exported = dict(line.split("=", 1) for line in lines if line.startswith("RAPIDATA_"))
            env = client_env(
                workdir=workdir,
                tls=tls,
                environment=f"{DOMAIN}:{port}",
                client_id=exported["RAPIDATA_CLIENT_ID"],
                client_secret=exported["RAPIDATA_CLIENT_SECRET"],
            )
            crowd = demo.crowd(labelers=40)
            Demo.wait_watching(crowd)
            yield demo, tls_server, env, workdir, images
        finally:
            demo.stop()


def test_seed_scripts_run_unchanged_with_the_hosted_client(hosted):
    demo, tls_server, env, workdir, images = hosted
    logs = workdir / "logs"
    runs = {
        "draw_simple": run_scripts(SEED_SCRIPTS / "draw_simple.py", env=env, log_path=logs / "draw_simple.log"),
        "draw_advanced": run_scripts(SEED_SCRIPTS / "draw_advanced.py", env=env, log_path=logs / "draw_advanced.log"),
        "custom_compare": run_scripts(
            SEED_SCRIPTS / "custom_compare.py",
            SEED_SCRIPTS / "reuse_audience.py",
            env=env,
            log_path=logs / "custom_compare.log",
        ),
    }
    outputs = {}
    for name, process in runs.items():
        try:
            process.wait(1200)
        except Exception:
            process.kill()
            raise
        outputs[name] = (logs / f"{name}.log").read_text(errors="replace")
        assert process.returncode == 0, f"{name} exited {process.returncode}:\n{outputs[name][-4000:]}"
        assert "Validation failed" not in outputs[name], outputs[name][-4000:]

    simple = printed_results(outputs["draw_simple"])
    assert simple["info"]["type"] == "Draw" and simple["info"]["name"] == "Blue Books Example"
    assert sorted(r["originalFileName"] for r in simple["results"]) == sorted(
        ["midjourney-5.2_37_3.jpg", "flux-1-pro_37_0.jpg", "frames-23-1-25_37_4.png", "aurora-20-1-25_37_3.png"]
    )
    for result in simple["results"]:
        assert len(result["detailedResults"]) == 35
        assert result["consensusMask"]["size"] and result["heatmapUrl"].startswith("https://")

    advanced = printed_results(outputs["draw_advanced"])
    assert advanced["info"]["type"] == "Draw" and len(advanced["results"]) == 3
    assert all(len(result["detailedResults"]) == 35 for result in advanced["results"])

    compare = printed_results(outputs["custom_compare"])
    assert compare["info"]["type"] == "Compare"
    (pair,) = compare["results"]
    assert set(pair["aggregatedResults"]) == {"flux_book.jpg", "mj_book.jpg"}
    assert sum(pair["aggregatedResults"].values()) == len(pair["detailedResults"]) == 10
    assert pair["context"] == "A small blue book sitting on a large red book."
    assert pair["winner"] in ("flux_book.jpg", "mj_book.jpg")

    census = demo.census(REQUESTER)
    by_name = {job["name"]: job for job in census.values()}
    assert set(by_name) == {
        "Blue Books Example",
        "Artifact Drawing Example",
        "Prompt Alignment Job",
        "Prompt Alignment Job, all pairs",
    }
    for job in by_name.values():
        assert job["state"] == "completed", job
        assert job["responses"] == job["counted"] == [job["needed"]] * len(job["responses"]), job
        assert job["twice"] == 0 and job["miscounted_leases"] == 0, job
    assert len(by_name["Prompt Alignment Job, all pairs"]["responses"]) == 8

    for server in (tls_server, demo.server):
        errors = [line for line in server.log().splitlines() if SERVER_ERROR.search(line) or "Traceback" in line]
        assert not errors, errors[:20]
    assert images.requests, "the server fetched no image"
