"""Aggregation tasks are coalesced: at most one waits in the queue per
datapoint, and it folds in every response committed before it starts."""

from __future__ import annotations

import time

import pytest
import redis as redis_lib
from django.core.cache import cache

from audiences.selectors import global_audience
from demo.simulation import Oracle, SimulatedLabeler, create_labelers
from jobs import tasks
from jobs.models import DatapointResult, JobDatapoint
from tests import factories
from tests.stack import AsgiServer, CeleryWorker, RedisServer, django_env
from tests.waiting import wait_until


@pytest.fixture
def published(monkeypatch):
    """The tasks ``publish_aggregation`` sends, instead of a broker: the
    datapoint ids of single tasks, and the id lists of batches in
    ``published.batches``."""

    class Sent(list):
        def __init__(self):
            super().__init__()
            self.batches: list[list[int]] = []

        def apply_async(self, args):
            self.append(args[0])

        def apply_batch_async(self, args):
            self.batches.append(args[0])

    sent = Sent()
    monkeypatch.setattr(tasks.aggregate_datapoint, "apply_async", sent.apply_async)
    monkeypatch.setattr(tasks.aggregate_datapoints, "apply_async", sent.apply_batch_async)
    cache.clear()
    yield sent
    cache.clear()
    if tasks._batch.timer is not None:
        tasks._batch.timer.cancel()
    tasks._batch.timer = None
    tasks._batch.pending.clear()


@pytest.fixture
def own_redis():
    """A Redis of the test's own: its queue holds only what the test sends
    (servers of other tests send their last batch as they stop)."""
    server = RedisServer().start()
    yield server
    server.close()


@pytest.fixture
def with_broker(monkeypatch, settings):
    """Tasks go to a broker (the suite runs them eagerly otherwise)."""
    monkeypatch.setitem(tasks.aggregate_datapoint.app.conf, "task_always_eager", False)


def wait_for(condition, timeout: float = 5.0) -> None:
    wait_until(condition, timeout, interval=0.01)


def test_with_a_delay_answers_are_collected_and_sent_as_one_task_after_it(published, with_broker, settings):
    settings.AGGREGATION_DELAY_MS = 300
    started = time.monotonic()
    assert tasks.publish_aggregation(7) and tasks.publish_aggregation(8) and tasks.publish_aggregation(7)
    assert published.batches == []  # nothing before the delay
    wait_for(lambda: published.batches)
    assert time.monotonic() - started >= 0.3
    assert published.batches == [[7, 8]] and published == []
    assert cache.get(tasks._queued_mark(7)) is None  # no round trip to the cache per answer
    tasks.publish_aggregation(9)  # the next answers start the next batch
    wait_for(lambda: len(published.batches) == 2)
    assert published.batches == [[7, 8], [9]]


def test_a_batch_the_broker_refuses_is_kept_for_the_next(published, with_broker, settings, monkeypatch):
    settings.AGGREGATION_DELAY_MS = 60_000  # sent by hand here, not by the timer
    send = tasks.aggregate_datapoints.apply_async

    def broker_down(args):
        raise ConnectionError("broker unreachable")

    monkeypatch.setattr(tasks.aggregate_datapoints, "apply_async", broker_down)
    tasks.publish_aggregation(7)
    assert tasks._batch.send() is False
    monkeypatch.setattr(tasks.aggregate_datapoints, "apply_async", send)
    tasks.publish_aggregation(8)
    assert tasks._batch.send() is True
    assert published.batches == [[7, 8]]


def test_without_a_delay_a_second_response_while_one_task_is_queued_sends_none(published, settings):
    settings.AGGREGATION_DELAY_MS = 0
    assert tasks.publish_aggregation(7) and tasks.publish_aggregation(7)
    assert published == [7]
    assert tasks.publish_aggregation(8)  # another datapoint has its own
    assert published == [7, 8] and published.batches == []


def test_a_task_that_starts_lets_the_next_response_send_one(published, monkeypatch, settings):
    settings.AGGREGATION_DELAY_MS = 0
    monkeypatch.setattr(tasks.result_updates, "datapoint_aggregate", lambda job_datapoint_id: None)
    tasks.publish_aggregation(7)
    tasks.aggregate_datapoint.run(7)  # the worker picks it up
    tasks.publish_aggregation(7)
    assert published == [7, 7]


def test_tasks_run_eagerly_are_sent_for_every_response_while_no_mark_stands(published, monkeypatch, settings):
    """Without a broker a task runs when it is sent, whatever the delay: a
    response after it needs one of its own."""
    settings.AGGREGATION_DELAY_MS = 1000
    monkeypatch.setitem(tasks.aggregate_datapoint.app.conf, "task_always_eager", True)
    monkeypatch.setattr(tasks.result_updates, "datapoint_aggregate", lambda job_datapoint_id: None)
    tasks.publish_aggregation(7)
    tasks.aggregate_datapoint.run(7)  # ran as it was sent
    tasks.publish_aggregation(7)
    assert published == [7, 7] and published.batches == []


def test_a_failed_send_leaves_no_mark_behind(published, monkeypatch, settings):
    settings.AGGREGATION_DELAY_MS = 0

    def broker_down(args):
        raise ConnectionError("broker unreachable")

    send = tasks.aggregate_datapoint.apply_async
    monkeypatch.setattr(tasks.aggregate_datapoint, "apply_async", broker_down)
    assert tasks.publish_aggregation(7) is False
    monkeypatch.setattr(tasks.aggregate_datapoint, "apply_async", send)
    assert tasks.publish_aggregation(7)
    assert published == [7]


@pytest.mark.django_db
def test_a_batch_aggregates_the_datapoints_whose_results_are_behind(requester, make_labeler):
    from jobs import feed

    job = factories.draw_job(requester, global_audience(), datapoints=3, responses=2)
    slots = list(JobDatapoint.objects.filter(job=job).order_by("position").values_list("pk", flat=True))
    for name in ("lara", "otto"):  # two answers each to the first two datapoints
        labeler = make_labeler(name)
        for _ in range(2):
            lease = feed.task_next(labeler=labeler, job=job)
            feed.task_submit(labeler=labeler, task_id=lease.public_id, response={"lines": []})
    answered = sorted(JobDatapoint.objects.filter(job=job, response_count__gt=0).values_list("pk", flat=True))
    assert len(answered) == 2 and DatapointResult.objects.filter(job=job).count() == 0
    assert tasks.aggregate_datapoints.run(slots) == 2  # the third has nothing to aggregate
    assert (
        sorted(DatapointResult.objects.filter(job=job, response_count=2).values_list("job_datapoint_id", flat=True))
        == answered
    )
    assert tasks.aggregate_datapoints.run(slots) == 0  # up to date: a second batch does nothing


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_responses_to_one_datapoint_queue_one_task_that_counts_them_all(
    test_database_url, own_redis, tmp_path, requester
):
    # A delay longer than the test: the batch goes out when the server shuts down.
    env = django_env(test_database_url, own_redis.url, LOG_LEVEL="INFO", AGGREGATION_DELAY_MS="60000")
    job = factories.draw_job(requester, global_audience(), datapoints=1, responses=3)
    server = AsgiServer(env, tmp_path / "server.log").start()
    try:  # three labelers answer over HTTP while no worker runs: one batch waits for all three
        for _, token in create_labelers(3, prefix="coalesced"):
            labeler = SimulatedLabeler(base_url=server.url, token=token, accuracy=1.0, oracle=Oracle(), seed=token)
            labeler.work(job.public_id)
            labeler.close()
    finally:
        server.stop()
    assert JobDatapoint.objects.get(job=job).response_count == 3
    assert redis_lib.Redis.from_url(own_redis.url).llen("celery") == 1

    worker = CeleryWorker(env, tmp_path / "worker.log", concurrency=1).start().wait_ready()
    try:
        wait_until(lambda: "succeeded" in worker.log(), 30, what="the task to succeed", log=worker.log)
    finally:
        worker.stop()
    # The one task queued was the only one: the queue is empty and ran it once.
    assert redis_lib.Redis.from_url(own_redis.url).llen("celery") == 0
    assert worker.log().count("succeeded") == 1
    assert DatapointResult.objects.get(job=job).response_count == 3


def database_sessions() -> int:
    """Connections PostgreSQL has accepted so far, over all databases."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT sum(sessions) FROM pg_stat_database")
        return int(cursor.fetchone()[0])


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_a_worker_keeps_its_database_connections_across_tasks(test_database_url, own_redis, tmp_path, requester):
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("counts PostgreSQL sessions")
    # Pooled, as deployed (the suite's processes run without a pool).
    env = django_env(test_database_url, own_redis.url, LOG_LEVEL="INFO", AGGREGATION_DELAY_MS="0", DB_POOL="1")
    job = factories.draw_job(requester, global_audience(), datapoints=20, responses=1)
    server = AsgiServer(env, tmp_path / "server.log").start()
    try:  # twenty answers, twenty tasks queued while no worker runs
        ((_, token),) = create_labelers(1, prefix="sessions")
        labeler = SimulatedLabeler(base_url=server.url, token=token, accuracy=1.0, oracle=Oracle(), seed=token)
        labeler.work(job.public_id)
        labeler.close()
    finally:
        server.stop()
    assert redis_lib.Redis.from_url(own_redis.url).llen("celery") == 20

    worker = CeleryWorker(env, tmp_path / "worker.log", concurrency=1).start().wait_ready()
    try:
        before = database_sessions()
        wait_until(lambda: worker.log().count("succeeded") >= 20, 60, what="twenty tasks to succeed", log=worker.log)
        opened = database_sessions() - before
    finally:
        worker.stop()
    assert DatapointResult.objects.filter(job=job, response_count=1).count() == 20
    # The pool's connections, opened once; not new ones for every task.
    assert opened <= 4, f"{opened} connections opened for 20 tasks"
