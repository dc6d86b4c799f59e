"""A newcomer's first hour on the embedded default: the demo as ``make
demo`` serves it (``DEBUG=1``, SQLite, ``runserver``, tasks run in the
server process), a crowd of 40 simulated labelers beside it
(``simulate_labelers --watch``), and the three seed workflows run at once
through the client, each in a process of its own, as written. Every job
completes with exactly the responses it asked for, no labeler twice on a
datapoint, and the server answers no request with a 5xx.

The demo runs in processes of its own on a database of its own: the test
process only starts them and reads what they printed.
"""

from __future__ import annotations

import re

import pytest

from tests.demo_stack import Demo
from tests.seeds import CUSTOM_COMPARE, DRAW_ADVANCED, DRAW_SIMPLE, REUSE_AUDIENCE

pytestmark = pytest.mark.services

SEED_TIMEOUT = 480.0
SEEDS = {
    "draw-simple": DRAW_SIMPLE,
    "draw-advanced": DRAW_ADVANCED,
    "compare": CUSTOM_COMPARE + REUSE_AUDIENCE,  # the audience reused for a second job
}
# The jobs they start, by name: responses asked for per datapoint.
JOBS = {
    "Blue Books Example": [35] * 4,
    "Artifact Drawing Example": [35] * 3,
    "Prompt Alignment Job": [10],
    "Prompt Alignment Job, all pairs": [10] * 8,
}


@pytest.fixture
def demo(tmp_path, artifacts_dir):
    demo = Demo(tmp_path / "demo", stack="embedded").start()
    yield demo
    demo.stop()
    for log in (tmp_path / "demo" / "logs").glob("*.log"):  # kept for a look after a failure
        (artifacts_dir / f"first-hour-{log.name}").write_bytes(log.read_bytes())


def test_seed_workflows_complete_on_the_embedded_default_under_a_crowd_of_40(demo):
    token = demo.requester_token("newcomer")
    crowd = demo.crowd(labelers=40, accuracy=0.97, timeout=SEED_TIMEOUT + 60)
    runs = {name: demo.run_seed(code, token, name) for name, code in SEEDS.items()}
    for name, run in runs.items():
        run.wait(SEED_TIMEOUT)
        assert run.process.returncode == 0, f"{name}:\n{run.output()[-4000:]}"
    crowd.stop()

    assert demo.server_errors() == [], "\n".join(demo.server_errors()[:20])
    census = demo.census("newcomer")
    assert sorted(job["name"] for job in census.values()) == sorted(JOBS)
    for job in census.values():
        assert job["state"] == "completed", job
        assert job["responses"] == job["counted"] == JOBS[job["name"]], job
        assert job["twice"] == 0 and job["miscounted_leases"] == 0, job
    for run in runs.values():  # each printed its results
        assert run.job_id in census and "'state': 'completed'" in run.output(), run.output()[-2000:]
    # Their URL images were fetched and stored by the server (the client's default), each once.
    urls = set(re.findall(r"https://assets\.rapidata\.ai(/[^\"']+)", "".join(SEEDS.values())))
    assert demo.image_hosts.requests == dict.fromkeys(urls, 1)
    summary = crowd.log()
    assert "jobs completed" in summary, summary[-3000:]
