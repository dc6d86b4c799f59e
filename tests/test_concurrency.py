"""Concurrent labelers never get more responses than asked for, on
PostgreSQL (row locks) and on SQLite (one writer)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.race import race
from tests.stack import ROOT, django_env


@pytest.mark.django_db(transaction=True)
def test_racing_labelers_on_postgres():
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("the suite runs on SQLite (CROWDCANVAS_TEST_DB=sqlite); SQLite has its own race below")
    result = race(labelers=12, datapoints=4, responses=3)
    assert result["vendor"] == "postgresql"
    assert result["errors"] == []
    assert result["per_datapoint"] == [3, 3, 3, 3]
    assert result["duplicates"] == 0
    assert result["job_state"] == "completed"
    assert result["miscounted_leases"] == {}


def test_racing_labelers_on_sqlite(tmp_path):
    env = django_env(None, SQLITE_PATH=str(tmp_path / "race.sqlite3"), MEDIA_ROOT=str(tmp_path / "media"))
    migrate = subprocess.run(
        [sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert migrate.returncode == 0, migrate.stderr
    run = subprocess.run(
        [sys.executable, "-m", "tests.race", "8", "4", "3"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["vendor"] == "sqlite"
    assert result["errors"] == []
    assert result["per_datapoint"] == [3, 3, 3, 3]
    assert result["duplicates"] == 0
    assert result["job_state"] == "completed"
    assert result["miscounted_leases"] == {}


@pytest.mark.django_db(transaction=True)
def test_a_labeler_waiting_on_a_datapoint_being_answered_gets_it_once_the_answer_is_in(
    requester, make_labeler, monkeypatch
):
    """Y's answer to the job's only datapoint is stored but not yet
    committed, holding the datapoint's lock, when X asks for a task. X waits
    for the lock; once Y commits, the datapoint still has room for X.

    The query that waited re-checks the row against its own, older view of
    the leases, where Y's lease is still live, so it counts Y twice (the
    stored answer and the lease) and finds nothing. "No work" must not come
    from such a query."""
    import threading

    from django.db import connection, transaction

    from audiences.selectors import global_audience
    from core import events
    from jobs import feed
    from tests import factories

    job = factories.draw_job(requester, global_audience(), datapoints=1, responses=2)
    y, x = make_labeler("answering"), make_labeler("waiting")
    lease = feed.task_next(labeler=y, job=job)
    stored, release, outcome = threading.Event(), threading.Event(), {}
    progressed = events.job_progressed

    def hold_before_commit(job_id):  # the last step of storing an answer, inside its transaction
        progressed(job_id)
        if threading.current_thread() is answering:
            stored.set()
            release.wait(10)

    monkeypatch.setattr(events, "job_progressed", hold_before_commit)

    def answer():
        try:  # in a transaction of its own, so the hook above runs before it commits whichever way it is stored
            with transaction.atomic():
                feed.task_submit(labeler=y, task_id=lease.public_id, response={"lines": []})
        finally:
            connection.close()

    def ask():
        try:
            outcome["lease"] = feed.task_next(labeler=x, job=job)
        finally:
            connection.close()

    answering = threading.Thread(target=answer)
    answering.start()
    assert stored.wait(10)
    asking = threading.Thread(target=ask)
    asking.start()
    asking.join(0.5)
    assert asking.is_alive()  # waiting for Y's lock
    release.set()
    answering.join(10)
    asking.join(10)
    assert outcome["lease"] is not None
    assert outcome["lease"].job_datapoint_id == lease.job_datapoint_id
