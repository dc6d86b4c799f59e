"""The real pipeline: ASGI server, Redis, a Celery worker process, labelers
over HTTP. Results must come out complete and equal to a recomputation, also
when Redis goes away while labelers submit."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection

from audiences.selectors import global_audience
from demo.simulation import Oracle, SimulatedLabeler, create_labelers
from jobs import result_updates
from jobs.models import DatapointResult, Job, JobDatapoint, Response
from tests import factories
from tests.stack import AsgiServer, CeleryWorker, django_env
from tests.waiting import wait_until

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def pipeline(test_database_url, redis_server, tmp_path):
    env = django_env(test_database_url, redis_server.url, SWEEP_SECONDS="2", LOG_LEVEL="INFO")
    worker = CeleryWorker(env, tmp_path / "worker.log", concurrency=2, beat=True).start()
    server = AsgiServer(env, tmp_path / "server.log").start()
    worker.wait_ready()
    yield server, worker
    server.stop()
    worker.stop()


def work(server, job_ids, labelers: int, prefix: str, *, stop=lambda: False, answers_each=None):
    """Labelers work the jobs over HTTP in threads; returns their stats."""
    accounts = create_labelers(labelers, prefix=prefix)
    oracle = Oracle()
    stats, errors = [], []

    def run(token):
        labeler = SimulatedLabeler(base_url=server.url, token=token, accuracy=0.95, oracle=oracle, seed=token)
        try:
            for job_id in job_ids:
                labeler.work(job_id, stop=stop)
            stats.append(labeler.stats)
        except Exception as exc:
            errors.append(repr(exc))
        finally:
            labeler.close()
            connection.close()

    threads = [threading.Thread(target=run, args=(token,)) for _, token in accounts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [], f"{errors}\n{server.log()[-3000:]}"
    return stats


def wait_completed(jobs, timeout=90.0, worker=None):
    def states() -> set[str]:
        return set(Job.objects.filter(pk__in=[j.pk for j in jobs]).values_list("state", flat=True))

    wait_until(
        lambda: states() == {Job.State.COMPLETED},
        timeout,
        what="every job completed",
        interval=0.3,
        log=lambda: f"job states: {states()}\n{worker.log() if worker else ''}",
    )


def assert_results_complete_and_reproducible(job, responses_per_datapoint):
    stored = {r.job_datapoint_id: (r.response_count, r.data) for r in DatapointResult.objects.filter(job=job)}
    slots = list(JobDatapoint.objects.filter(job=job))
    assert len(stored) == len(slots)
    for slot in slots:
        assert slot.response_count == responses_per_datapoint
        assert stored[slot.pk][0] == Response.objects.filter(job_datapoint=slot).count() == responses_per_datapoint
    # The same results, computed again here instead of by the worker.
    DatapointResult.objects.filter(job=job).delete()
    for slot in slots:
        result_updates.datapoint_aggregate(job_datapoint_id=slot.pk)
    again = {r.job_datapoint_id: (r.response_count, r.data) for r in DatapointResult.objects.filter(job=job)}
    assert again == stored


def test_jobs_run_to_completion_through_http_and_a_celery_worker(pipeline, requester):
    server, worker = pipeline
    draw = factories.draw_job(requester, global_audience(), datapoints=3, responses=3)
    compare = factories.compare_job(requester, global_audience(), datapoints=3, responses=3)
    stats = work(server, [draw.public_id, compare.public_id], labelers=4, prefix="it")
    # Stored on the server: every slot filled. (A labeler whose reply was lost
    # retries and is told the answer is in: it counts that as rejected.)
    stored = Response.objects.filter(job__in=[draw, compare]).count()
    seen = [(s.answers, s.rejected, s.retries) for s in stats]
    counts = list(
        JobDatapoint.objects.filter(job__in=[draw, compare]).values_list("job_id", "position", "response_count")
    )
    assert stored == 18, f"labelers (answers, rejected, retries): {seen}; datapoints: {counts}"
    assert sum(answers + rejected for answers, rejected, _ in seen) >= 18, seen
    wait_completed([draw, compare], worker=worker)
    assert_results_complete_and_reproducible(draw, 3)
    assert_results_complete_and_reproducible(compare, 3)
    compare.refresh_from_db()
    ranking = compare.summary["ranking"]
    assert ranking["comparisons"] == 9 and len(ranking["items"]) == 6
    assert "aggregated" in worker.log() or "succeeded" in worker.log()


def test_results_complete_after_redis_was_down_during_submissions(pipeline, requester, redis_server):
    server, worker = pipeline
    job = factories.compare_job(requester, global_audience(), datapoints=6, responses=3)
    answered = {"n": 0}
    lock = threading.Lock()

    def stop_redis_midway():
        with lock:
            answered["n"] += 1
            if answered["n"] == 5:
                redis_server.stop()
        return False

    started = time.monotonic()
    stats = work(server, [job.public_id], labelers=3, prefix="outage", stop=stop_redis_midway)
    elapsed = time.monotonic() - started
    assert redis_server.process is None  # it went down while labelers were submitting
    assert sum(s.answers for s in stats) == 18 and sum(s.rejected for s in stats) == 0
    assert Response.objects.filter(job=job).count() == 18  # nothing lost
    assert elapsed < 60  # submissions did not hang on the missing broker
    job.refresh_from_db()
    assert job.state == Job.State.RUNNING  # results could not all be built without the worker's queue
    redis_server.start()
    wait_completed([job], worker=worker)  # the sweeper (celery beat) re-enqueued what was missed
    assert_results_complete_and_reproducible(job, 3)
