"""Aggregation tasks are coalesced: at most one waits in the queue per
datapoint, and it folds in every response committed before it starts."""

from __future__ import annotations

import time

import pytest
import redis as redis_lib
from django.core.cache import cache

from audiences.selectors import global_audience
from jobs import tasks
from jobs.models import DatapointResult, JobDatapoint
from labeling.simulation import Oracle, SimulatedLabeler, create_labelers
from tests import factories
from tests.stack import AsgiServer, CeleryWorker, django_env


@pytest.fixture
def published(monkeypatch):
    """The task ids ``publish_aggregation`` sends, instead of a broker (and
    the countdowns they are sent with, in ``published.countdowns``)."""

    class Sent(list):
        def __init__(self):
            super().__init__()
            self.countdowns: list[float | None] = []

        def apply_async(self, args, countdown=None):
            self.append(args[0])
            self.countdowns.append(countdown)

    sent = Sent()
    monkeypatch.setattr(tasks.aggregate_datapoint, "apply_async", sent.apply_async)
    cache.clear()
    tasks._sent_here.clear()
    yield sent
    cache.clear()
    tasks._sent_here.clear()


def test_a_second_response_while_one_task_is_queued_sends_none(published):
    assert tasks.publish_aggregation(7) and tasks.publish_aggregation(7)
    assert published == [7]
    assert tasks.publish_aggregation(8)  # another datapoint has its own
    assert published == [7, 8]


def test_a_task_that_starts_lets_the_next_response_send_one(published, monkeypatch, settings):
    settings.AGGREGATION_DELAY_MS = 0  # sent without a delay, a task may start at once
    monkeypatch.setattr(tasks.result_services, "datapoint_aggregate", lambda job_datapoint_id: None)
    tasks.publish_aggregation(7)
    tasks.aggregate_datapoint.run(7)  # the worker picks it up
    tasks.publish_aggregation(7)
    assert published == [7, 7]


def test_tasks_wait_the_aggregation_delay_to_fold_in_more_answers(published, settings):
    settings.AGGREGATION_DELAY_MS = 1500
    tasks.publish_aggregation(7)
    settings.AGGREGATION_DELAY_MS = 0
    tasks.publish_aggregation(8)
    assert published == [7, 8] and published.countdowns == [1.5, None]


def test_responses_soon_after_this_process_sent_a_delayed_task_do_not_ask_redis(published, monkeypatch,
                                                                                 settings):
    settings.AGGREGATION_DELAY_MS = 1000
    monkeypatch.setitem(tasks.aggregate_datapoint.app.conf, "task_always_eager", False)  # a worker runs them
    clock = [1000.0]
    monkeypatch.setattr(tasks._sent_here, "clock", lambda: clock[0])
    asked = []
    add = cache.add
    monkeypatch.setattr(cache, "add", lambda *args, **kwargs: asked.append(args[0]) or add(*args, **kwargs))
    assert tasks.publish_aggregation(7)
    clock[0] += 0.4  # the task cannot have started: it waits a second
    assert tasks.publish_aggregation(7) and tasks.publish_aggregation(7)
    assert published == [7] and len(asked) == 1
    assert tasks.publish_aggregation(8) and published == [7, 8] and len(asked) == 2  # another datapoint
    clock[0] += 0.2  # half the delay is gone: the worker's clock may run ahead, ask the mark again
    cache.delete(tasks._queued_mark(7))  # as the task does when it starts
    assert tasks.publish_aggregation(7)
    assert published == [7, 8, 7] and len(asked) == 3


def test_tasks_run_eagerly_are_sent_for_every_response_while_no_mark_stands(published, monkeypatch, settings):
    """Without a broker a task runs when it is sent, whatever the delay: a
    response after it needs one of its own."""
    settings.AGGREGATION_DELAY_MS = 1000
    monkeypatch.setitem(tasks.aggregate_datapoint.app.conf, "task_always_eager", True)
    monkeypatch.setattr(tasks.result_services, "datapoint_aggregate", lambda job_datapoint_id: None)
    tasks.publish_aggregation(7)
    tasks.aggregate_datapoint.run(7)  # ran as it was sent
    tasks.publish_aggregation(7)
    assert published == [7, 7]


def test_a_failed_send_leaves_no_mark_behind(published, monkeypatch):
    def broker_down(args, countdown=None):
        raise ConnectionError("broker unreachable")

    send = tasks.aggregate_datapoint.apply_async
    monkeypatch.setattr(tasks.aggregate_datapoint, "apply_async", broker_down)
    assert tasks.publish_aggregation(7) is False
    monkeypatch.setattr(tasks.aggregate_datapoint, "apply_async", send)
    assert tasks.publish_aggregation(7)
    assert published == [7]


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_responses_to_one_datapoint_queue_one_task_that_counts_them_all(test_database_url, redis_server, tmp_path,
                                                                       requester):
    env = django_env(test_database_url, redis_server.url, LOG_LEVEL="INFO")
    job = factories.draw_job(requester, global_audience(), datapoints=1, responses=3)
    server = AsgiServer(env, tmp_path / "server.log").start()
    try:  # three labelers answer over HTTP while no worker runs: one task waits for all three
        for _, token in create_labelers(3, prefix="coalesced"):
            labeler = SimulatedLabeler(base_url=server.url, token=token, accuracy=1.0, oracle=Oracle(), seed=token)
            labeler.work(job.public_id)
            labeler.close()
    finally:
        server.stop()
    assert JobDatapoint.objects.get(job=job).response_count == 3
    assert redis_lib.Redis.from_url(redis_server.url).llen("celery") == 1

    worker = CeleryWorker(env, tmp_path / "worker.log", concurrency=1).start().wait_ready()
    try:
        deadline = time.monotonic() + 30
        while "succeeded" not in worker.log():
            assert time.monotonic() < deadline, worker.log()[-3000:]
            time.sleep(0.1)
        time.sleep(0.5)  # time for a second task, were there one
    finally:
        worker.stop()
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
def test_a_worker_keeps_its_database_connections_across_tasks(test_database_url, redis_server, tmp_path, requester):
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("counts PostgreSQL sessions")
    # Pooled, as deployed (the suite's processes run without a pool).
    env = django_env(test_database_url, redis_server.url, LOG_LEVEL="INFO", AGGREGATION_DELAY_MS="0", DB_POOL="1")
    job = factories.draw_job(requester, global_audience(), datapoints=20, responses=1)
    server = AsgiServer(env, tmp_path / "server.log").start()
    try:  # twenty answers, twenty tasks queued while no worker runs
        (_, token), = create_labelers(1, prefix="sessions")
        labeler = SimulatedLabeler(base_url=server.url, token=token, accuracy=1.0, oracle=Oracle(), seed=token)
        labeler.work(job.public_id)
        labeler.close()
    finally:
        server.stop()
    assert redis_lib.Redis.from_url(redis_server.url).llen("celery") == 20

    worker = CeleryWorker(env, tmp_path / "worker.log", concurrency=1).start().wait_ready()
    try:
        before = database_sessions()
        deadline = time.monotonic() + 60
        while worker.log().count("succeeded") < 20:
            assert time.monotonic() < deadline, worker.log()[-3000:]
            time.sleep(0.1)
        opened = database_sessions() - before
    finally:
        worker.stop()
    assert DatapointResult.objects.filter(job=job, response_count=1).count() == 20
    # The pool's connections, opened once; not new ones for every task.
    assert opened <= 4, f"{opened} connections opened for 20 tasks"
