"""Faults with real processes: a Celery worker killed mid-aggregation, the
ASGI server restarted while labelers work, labelers who vanish with tasks
leased, and 50 labelers racing over HTTP for the last slots of a job.

Counts stay exact throughout: every datapoint gets exactly its responses per
datapoint, no labeler answers one twice, and every answer a labeler was told
was accepted is stored. (Redis going away while labelers submit is tested in
``test_pipeline_integration.py``.)
"""

from __future__ import annotations

import os
import re
import signal
import threading
import time
from collections import Counter

import httpx
import pytest
from django.db import connection
from django.utils import timezone

from audiences.selectors import global_audience
from demo.simulation import Oracle, SimulatedLabeler, create_labelers
from jobs import feed, result_updates
from jobs.models import DatapointResult, Job, JobDatapoint, Lease, Response
from tests import factories
from tests.stack import AsgiServer, CeleryWorker, RedisServer, django_env
from tests.test_pipeline_integration import assert_results_complete_and_reproducible, wait_completed
from tests.waiting import wait_until

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]


class RecordingLabeler(SimulatedLabeler):
    """A simulated labeler that notes every answer it was told was accepted
    (a 200 to a submit), and takes ``think`` seconds before answering."""

    def __init__(self, *, think: float = 0.0, **kwargs) -> None:
        super().__init__(**kwargs)
        self.think = think
        self.accepted: list[str] = []

    def _post(self, path: str, body: dict | None = None) -> httpx.Response:
        if path.endswith("/submit/") and self.think:
            time.sleep(self.think)
        response = super()._post(path, body)
        if path.endswith("/submit/") and response.status_code == 200:
            self.accepted.append(path.split("/")[-3])
        return response


def run_labelers(url: str, job_id: str, accounts, *, think: float = 0.0, barrier: bool = False):
    """Each account works the job over HTTP in its own thread until no task
    is left for it; returns the labelers (with their stats) and any errors."""
    oracle = Oracle()
    labelers = [
        RecordingLabeler(base_url=url, token=token, accuracy=0.9, oracle=oracle, seed=token, think=think)
        for _, token in accounts
    ]
    start = threading.Barrier(len(labelers)) if barrier else None
    errors: list[str] = []

    def run(labeler):
        try:
            if start:
                start.wait()
            labeler.work(job_id)
        except Exception as exc:  # reported by the test
            errors.append(f"{type(exc).__name__}: {exc}")
        finally:
            labeler.close()
            connection.close()

    threads = [threading.Thread(target=run, args=(labeler,)) for labeler in labelers]
    for thread in threads:
        thread.start()
    return labelers, threads, errors


def join(threads, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    for thread in threads:
        thread.join(max(0.1, deadline - time.monotonic()))
        assert not thread.is_alive(), "a labeler is stuck"


def assert_exact_counts(job: Job, responses_per_datapoint: int, labelers=()) -> None:
    rows = list(Response.objects.filter(job=job).values_list("job_datapoint_id", "labeler_id"))
    per_datapoint = Counter(slot for slot, _ in rows)
    slots = list(JobDatapoint.objects.filter(job=job).values_list("pk", "response_count"))
    assert {per_datapoint[pk] for pk, _ in slots} == {responses_per_datapoint}, per_datapoint
    assert all(count == responses_per_datapoint for _, count in slots)
    assert len(rows) == len(set(rows))  # nobody answered a datapoint twice
    assert factories.miscounted_leases(job) == {}  # each row counts its active leases
    for labeler in labelers:  # every answer acknowledged with a 200 is stored
        for task_id in labeler.accepted:
            lease = Lease.objects.get(public_id=task_id)
            assert lease.status == Lease.Status.SUBMITTED
            assert Response.objects.filter(
                job_datapoint_id=lease.job_datapoint_id, labeler_id=lease.labeler_id
            ).exists()
    assert sum(len(labeler.accepted) for labeler in labelers) <= len(rows)


# --- a Celery worker killed in the middle of aggregating --------------------------------------------

TASK_LINE = re.compile(r"Task jobs\.tasks\.aggregate_datapoints?\[([0-9a-f-]+)\] (received|succeeded)")


def task_states(log: str) -> tuple[set[str], set[str]]:
    received, succeeded = set(), set()
    for task_id, event in TASK_LINE.findall(log):
        (received if event == "received" else succeeded).add(task_id)
    return received, succeeded


def kill_mid_task(worker: CeleryWorker, *, done: int, timeout: float = 90.0) -> tuple[set[str], set[str]]:
    """SIGKILL the worker once it has finished ``done`` aggregations and is
    running another. It is frozen (SIGSTOP) while its log is read, so the
    task seen running cannot finish between the look and the kill. Returns
    the tasks it had finished and those it was running."""

    def killed_mid_task() -> tuple[set[str], set[str]] | None:
        received, succeeded = task_states(worker.log())
        if len(succeeded) < done or not received - succeeded:
            return None
        os.killpg(worker.process.pid, signal.SIGSTOP)
        received, succeeded = task_states(worker.log())
        if received - succeeded:
            worker.kill()
            return succeeded, received - succeeded
        os.killpg(worker.process.pid, signal.SIGCONT)
        return None

    return wait_until(
        killed_mid_task, timeout, what=f"the worker running a task after {done} done", log=worker.log, interval=0.01
    )


@pytest.mark.parametrize("delay_ms", [0, 1000], ids=["single-tasks", "batches"])
def test_results_complete_exactly_after_a_worker_is_killed_mid_aggregation(
    test_database_url, tmp_path, requester, settings, delay_ms
):
    """Without a delay, each answer sends a task of its own: the worker is
    killed in the middle of one, after fifteen. With the default delay the
    server sends a batch a second: it is killed in the middle of the first,
    its datapoints part done. Either way what it held is lost with it
    (unacknowledged, it comes back only after the broker's visibility
    timeout) and the sweeper re-enqueues the datapoints left behind."""
    settings.RASTER_LONG_SIDE = 512  # as the workers', for the recomputation here
    redis = RedisServer().start()  # its own: no tasks queued by other tests
    env = django_env(
        test_database_url,
        redis.url,
        SWEEP_SECONDS="1",
        LOG_LEVEL="INFO",
        RASTER_LONG_SIDE="512",
        AGGREGATION_DELAY_MS=str(delay_ms),
    )
    server = AsgiServer(env, tmp_path / "server.log").start()
    first = CeleryWorker(env, tmp_path / "worker-1.log", concurrency=1).start().wait_ready()
    second = None
    try:
        job = factories.draw_job(requester, global_audience(), datapoints=30, responses=3)
        labelers, threads, errors = run_labelers(server.url, job.public_id, create_labelers(6, prefix="backlog"))
        if delay_ms == 0:
            finished, running = kill_mid_task(first, done=15)
            assert 15 <= len(finished) < 90  # killed mid-way
        else:  # the labelers' answers come in a batch or two
            finished, running = kill_mid_task(first, done=0)
        assert len(running) >= 1  # in the middle of a task

        join(threads)
        assert errors == [], errors
        assert sum(len(labeler.accepted) for labeler in labelers) == 90
        behind = [
            slot
            for slot in JobDatapoint.objects.filter(job=job).select_related("result")
            if not hasattr(slot, "result") or slot.result.response_count < slot.response_count
        ]
        assert behind, "the killed worker left results behind"
        job.refresh_from_db()
        assert job.state == Job.State.RUNNING

        second = CeleryWorker(env, tmp_path / "worker-2.log", concurrency=3, beat=True).start().wait_ready()
        wait_completed([job], timeout=120, worker=second)
        assert DatapointResult.objects.filter(job=job).count() == 30  # one per datapoint
        assert_exact_counts(job, 3, labelers)
        assert_results_complete_and_reproducible(job, 3)
        assert "sweep_stale_results" in second.log()  # the sweeper re-enqueued the killed task's datapoint
    finally:
        server.stop()
        first.stop()
        if second:
            second.stop()
        redis.close()


# --- the ASGI server restarted while labelers work -----------------------------------------------------------


def test_labelers_carry_on_through_server_restarts_and_counts_stay_exact(test_database_url, tmp_path, requester):
    env = django_env(test_database_url)
    log = tmp_path / "server.log"
    server = AsgiServer(env, log).start()
    job = factories.draw_job(requester, global_audience(), datapoints=30, responses=3)
    labelers, threads, errors = run_labelers(
        server.url, job.public_id, create_labelers(6, prefix="restart"), think=0.05
    )
    try:
        answered = lambda: Response.objects.filter(job=job).count()  # noqa: E731
        wait_until(lambda: answered() >= 20, 60, "20 answers", server.log)
        server.stop()  # graceful: requests in flight finish
        server = AsgiServer(env, log, port=server.port).start()
        wait_until(lambda: answered() >= 50, 60, "50 answers", server.log)
        server.kill()  # a crash: requests in flight are cut off
        server = AsgiServer(env, log, port=server.port).start()
        join(threads)
    finally:
        server.stop()
    assert errors == [], errors
    assert sum(labeler.stats.retries for labeler in labelers) > 0  # they did meet a server that was down
    assert answered() == 90
    assert_exact_counts(job, 3, labelers)
    # Aggregation ran in the server process; a result cut off by the crash is caught up by the sweep.
    result_updates.results_sweep(enqueue=lambda pk: result_updates.datapoint_aggregate(job_datapoint_id=pk))
    job.refresh_from_db()
    assert job.state == Job.State.COMPLETED
    assert_results_complete_and_reproducible(job, 3)


# --- labelers who vanish with a task leased ----------------------------------------------------------------


def test_leases_of_vanished_labelers_expire_and_their_slots_are_served_again(test_database_url, tmp_path, requester):
    server = AsgiServer(django_env(test_database_url, LEASE_SECONDS="2"), tmp_path / "server.log").start()
    try:
        job = factories.draw_job(requester, global_audience(), datapoints=3, responses=2)
        vanished = create_labelers(6, prefix="vanished")
        held = {}
        with httpx.Client(base_url=server.url, timeout=30) as http:

            def take(token):
                response = http.post(
                    f"/api/labeler/jobs/{job.public_id}/tasks/next/", headers={"Authorization": f"Token {token}"}
                )
                assert response.status_code == 200
                return response.json()["task"]

            for _, token in vanished:
                held[token] = take(token)["id"]  # ... and never answer it
            ((_, latecomer),) = create_labelers(1, prefix="latecomer")
            assert take(latecomer) is None  # all six slots are held
            assert Lease.objects.filter(job=job, status=Lease.Status.ACTIVE).count() == 6

            wait_until(
                lambda: (
                    not Lease.objects.filter(
                        job=job, status=Lease.Status.ACTIVE, expires_at__gt=timezone.now()
                    ).exists()
                ),
                10,
                what="the vanished labelers' leases to run out",
            )
            labelers, threads, errors = run_labelers(server.url, job.public_id, create_labelers(3, prefix="finisher"))
            join(threads)
            assert errors == [], errors
            assert sum(len(labeler.accepted) for labeler in labelers) == 6
            assert_exact_counts(job, 2, labelers)
            assert not Response.objects.filter(job=job, labeler__username__startswith="vanished").exists()

            # A vanished labeler comes back: the answer is refused and nothing is stored.
            token, task_id = next(iter(held.items()))
            late = http.post(
                f"/api/labeler/tasks/{task_id}/submit/",
                json={"response": {"lines": []}},
                headers={"Authorization": f"Token {token}"},
            )
            assert late.status_code == 409 and late.json()["code"] in {"task_expired", "job_not_running"}
            assert Response.objects.filter(job=job).count() == 6
        job.refresh_from_db()
        assert job.state == Job.State.COMPLETED
    finally:
        server.stop()


# --- fifty labelers racing for the last slots, through two server processes ------------------------------------


def test_fifty_labelers_racing_for_the_last_slots_never_overfill_a_datapoint(
    test_database_url, tmp_path, requester, make_labeler
):
    job = factories.draw_job(requester, global_audience(), datapoints=10, responses=3)
    early = [make_labeler(f"early{i}") for i in range(3)]
    for labeler in [labeler for labeler in early for _ in range(10)][:24]:
        lease = feed.task_next(labeler=labeler, job=job)
        feed.task_submit(labeler=labeler, task_id=lease.public_id, response={"lines": []})
    assert Response.objects.filter(job=job).count() == 24  # 6 slots left

    server = AsgiServer(django_env(test_database_url, SUBMIT_RATE="none"), tmp_path / "server.log", workers=2).start()
    try:
        labelers, threads, errors = run_labelers(
            server.url, job.public_id, create_labelers(50, prefix="racer"), barrier=True
        )
        join(threads)
    finally:
        server.stop()
    assert errors == [], errors
    assert sum(len(labeler.accepted) for labeler in labelers) == 6
    assert sum(labeler.stats.rejected for labeler in labelers) == 0
    assert_exact_counts(job, 3, labelers)
    assert "Traceback" not in server.log()
    job.refresh_from_db()
    assert job.state == Job.State.COMPLETED
