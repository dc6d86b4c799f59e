"""Celery tasks: thin wrappers around the result services.

Enqueued after commit (``enqueue_aggregation``), so a worker never sees a
response that was rolled back, and at most one per datapoint waits in the
queue: a task brings its datapoint's result up to date with every response
committed before it starts, so while one is queued, later responses to the
datapoint need none of their own (``publish_aggregation``; a process that
has just sent one does not even ask Redis). A task waits
``AGGREGATION_DELAY_MS`` before it runs, so that the answers a datapoint gets
close together (the feed hands a datapoint's slots out together) are folded
into one run; when the worker falls behind, more are.
``acks_late`` plus ``reject_on_worker_lost``
(settings) hand a task killed mid-run to another worker; the services are
idempotent, so running one twice is harmless. Publishing never fails a
request: when Redis is down the task is lost here, and the sweeper
(``sweep_stale_results``, every ``SWEEP_SECONDS`` under celery beat, or
``manage.py sweep_results``) finds the stale result later.
"""

from __future__ import annotations

import logging
import threading
import time

from celery import shared_task
from django.conf import settings
from django.core.cache import cache
from django.db import transaction

from . import result_services

logger = logging.getLogger("crowdcanvas.tasks")

# How long a "queued" mark lives, beyond the task's delay. A mark whose task
# was lost (a worker killed with it reserved, a broker that lost its data)
# holds back that datapoint's tasks this long at most; the sweeper then
# enqueues it again. A task still waiting after this long may get a twin:
# harmless, aggregation is idempotent.
QUEUED_MARK_SECONDS = 10


def _queued_mark(job_datapoint_id: int) -> str:
    return f"aggregation-queued:{job_datapoint_id}"


@shared_task(bind=True, acks_late=True, autoretry_for=(Exception,), retry_backoff=True, retry_backoff_max=60,
             max_retries=8)
def aggregate_datapoint(self, job_datapoint_id: int) -> int | None:
    # Cleared before reading: a response committed from here on enqueues a
    # task of its own, and one committed before is read below.
    try:
        cache.delete(_queued_mark(job_datapoint_id))
    except Exception:  # Redis down: the mark expires on its own
        logger.warning("could not clear the queued mark", extra={"job_datapoint": job_datapoint_id}, exc_info=True)
    result = result_services.datapoint_aggregate(job_datapoint_id=job_datapoint_id)
    return None if result is None else result.response_count


@shared_task(acks_late=True)
def sweep_stale_results() -> dict[str, int]:
    return result_services.results_sweep(enqueue=publish_aggregation)


@shared_task
def prune_heartbeats() -> int:
    from labeling.services import heartbeat_prune

    return heartbeat_prune()


class _SentHere:
    """The datapoints this process sent a delayed task for, each with the
    time before which that task cannot have started: half its delay after
    sending (the other half allows for the worker's clock). A response to
    one of them needs nothing more, not even a look at the mark in Redis.
    Most answers to a datapoint come close together, through the same
    server process as often as not."""

    MAX_ENTRIES = 10_000

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.until: dict[int, float] = {}
        self.clock = time.monotonic

    def covers(self, job_datapoint_id: int) -> bool:
        return self.until.get(job_datapoint_id, 0.0) > self.clock()

    def add(self, job_datapoint_id: int, delay: float) -> None:
        now = self.clock()
        with self.lock:
            if len(self.until) >= self.MAX_ENTRIES:
                self.until = {key: until for key, until in self.until.items() if until > now}
            self.until[job_datapoint_id] = now + delay / 2

    def clear(self) -> None:
        with self.lock:
            self.until.clear()


_sent_here = _SentHere()


def publish_aggregation(job_datapoint_id: int) -> bool:
    """Send an aggregation task unless one for the datapoint is queued and not
    yet started (it will read this response too); ``False`` (logged) when
    the broker is down."""
    delay = settings.AGGREGATION_DELAY_MS / 1000
    # Tasks run eagerly (no broker) start when they are sent, delay or not.
    delayed = delay > 0 and not aggregate_datapoint.app.conf.task_always_eager
    if delayed and _sent_here.covers(job_datapoint_id):
        return True
    mark = _queued_mark(job_datapoint_id)
    try:
        if not cache.add(mark, 1, timeout=QUEUED_MARK_SECONDS + delay):
            return True
        try:
            aggregate_datapoint.apply_async((job_datapoint_id,), countdown=delay or None)
        except Exception:
            cache.delete(mark)
            raise
        if delayed:
            _sent_here.add(job_datapoint_id, delay)
        return True
    except Exception:  # the broker is unreachable: the sweeper will catch up
        logger.warning("could not enqueue aggregation", extra={"job_datapoint": job_datapoint_id}, exc_info=True)
        return False


def enqueue_aggregation(job_datapoint_id: int) -> None:
    """Schedule the datapoint's aggregation once the current transaction commits."""
    transaction.on_commit(lambda: publish_aggregation(job_datapoint_id))
