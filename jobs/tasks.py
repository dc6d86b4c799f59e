"""Celery tasks: thin wrappers around the result services.

Enqueued after commit (``enqueue_aggregation``), so a worker never sees a
response that was rolled back. An aggregation brings its datapoint's result
up to date with every response committed before it starts, so answers
close together need one run between them:

- With ``AGGREGATION_DELAY_MS`` (default), each server process collects the
  datapoints it stored answers for and, that long after the first, sends
  them as one ``aggregate_datapoints`` task, which aggregates those whose
  results are behind. A datapoint's answers (the feed hands its slots out
  together) are folded into one run, a busy job's datapoints into one task,
  and storing an answer costs no round trip to Redis.
- Without a delay, or with tasks run eagerly (no broker), each answer sends
  an ``aggregate_datapoint`` task at once, unless one for that datapoint is
  queued and not yet started (a mark in the cache says so).

``acks_late`` plus ``reject_on_worker_lost`` (settings) hand a task killed
mid-run to another worker; the services are idempotent, so running one
twice is harmless. Publishing never fails a request: when Redis is down a
collected batch is kept and sent with the next one, a single task is lost
here, and the sweeper (``sweep_stale_results``, every ``SWEEP_SECONDS`` under
celery beat, or ``manage.py sweep_results``) finds any stale result later.
"""

from __future__ import annotations

import atexit
import logging
import threading

from celery import shared_task
from django.conf import settings
from django.core.cache import cache
from django.db import transaction

from . import result_updates

logger = logging.getLogger("crowdcanvas.tasks")

# How long a "queued" mark lives (tasks sent without a delay). A mark whose task
# was lost (a worker killed with it reserved, a broker that lost its data)
# holds back that datapoint's tasks this long at most; the sweeper then
# enqueues it again. A task still waiting after this long may get a twin:
# harmless, aggregation is idempotent.
QUEUED_MARK_SECONDS = 10


def _queued_mark(job_datapoint_id: int) -> str:
    return f"aggregation-queued:{job_datapoint_id}"


# Aggregation tasks: acknowledged once done (a task killed mid-run comes
# back), retried with backoff while the database is unreachable.
AGGREGATION_TASK = {
    "acks_late": True,
    "autoretry_for": (Exception,),
    "retry_backoff": True,
    "retry_backoff_max": 60,
    "max_retries": 8,
}


@shared_task(**AGGREGATION_TASK)
def aggregate_datapoint(job_datapoint_id: int) -> int | None:
    # Cleared before reading: a response committed from here on enqueues a
    # task of its own, and one committed before is read below.
    try:
        cache.delete(_queued_mark(job_datapoint_id))
    except Exception:  # Redis down: the mark expires on its own
        logger.warning("could not clear the queued mark", extra={"job_datapoint": job_datapoint_id}, exc_info=True)
    result = result_updates.datapoint_aggregate(job_datapoint_id=job_datapoint_id)
    return None if result is None else result.response_count


@shared_task(**AGGREGATION_TASK)
def aggregate_datapoints(job_datapoint_ids: list[int]) -> int:
    """Aggregate those of the datapoints whose results are behind their
    responses (another process's batch, or an earlier run of this one, may
    have brought the others up to date); how many it did."""
    stale = result_updates.stale_among(job_datapoint_ids)
    for job_datapoint_id in stale:
        result_updates.datapoint_aggregate(job_datapoint_id=job_datapoint_id)
    return len(stale)


@shared_task(acks_late=True)
def sweep_stale_results() -> dict[str, int]:
    return result_updates.results_sweep(enqueue=publish_aggregation)


class _Batch:
    """The datapoints this process stored answers for since it last sent
    them, sent as one task ``delay`` seconds after the first (a timer
    thread), and at exit. A batch the broker refuses is kept for the next."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.pending: set[int] = set()
        self.timer: threading.Timer | None = None

    def add(self, job_datapoint_id: int, delay: float) -> None:
        with self.lock:
            self.pending.add(job_datapoint_id)
            self._schedule(delay)

    def _schedule(self, delay: float) -> None:
        """Send the batch in ``delay`` seconds, unless that is arranged
        (the caller holds the lock)."""
        if self.timer is None:
            self.timer = threading.Timer(delay, self.send, (delay,))
            self.timer.daemon = True
            self.timer.start()

    def send(self, retry_after: float | None = None) -> bool:
        """Send what was collected now; ``False`` (logged, kept, and tried
        again after ``retry_after`` seconds if given) when the broker is down."""
        with self.lock:
            ids, self.pending, timer, self.timer = sorted(self.pending), set(), self.timer, None
        if timer is not None and timer is not threading.current_thread():
            timer.cancel()  # sent before its time (at exit)
        if not ids:
            return True
        try:
            aggregate_datapoints.apply_async((ids,))
            return True
        except Exception:  # the broker is unreachable
            logger.warning("could not enqueue aggregation", extra={"job_datapoints": len(ids)}, exc_info=True)
            with self.lock:
                self.pending.update(ids)
                if retry_after:
                    self._schedule(retry_after)
            return False


_batch = _Batch()


def send_pending() -> bool:
    """Send what this process has collected for aggregation now: when a
    server shuts down (its ASGI lifespan), and at exit."""
    return _batch.send()


atexit.register(send_pending)


def publish_aggregation(job_datapoint_id: int) -> bool:
    """Have the datapoint aggregated: in this process's next batch when
    tasks wait ``AGGREGATION_DELAY_MS``, else by a task sent now unless one
    for it is queued and not yet started (it will read this response too);
    ``False`` (logged) when the broker is down."""
    delay = settings.AGGREGATION_DELAY_MS / 1000
    if delay > 0 and not aggregate_datapoint.app.conf.task_always_eager:
        _batch.add(job_datapoint_id, delay)
        return True
    mark = _queued_mark(job_datapoint_id)
    try:
        if not cache.add(mark, 1, timeout=QUEUED_MARK_SECONDS):
            return True
        try:
            aggregate_datapoint.apply_async((job_datapoint_id,))
        except Exception:
            cache.delete(mark)
            raise
        return True
    except Exception:  # the broker is unreachable: the sweeper will catch up
        logger.warning("could not enqueue aggregation", extra={"job_datapoint": job_datapoint_id}, exc_info=True)
        return False


def enqueue_aggregation(job_datapoint_id: int) -> None:
    """Schedule the datapoint's aggregation once the current transaction commits."""
    transaction.on_commit(lambda: publish_aggregation(job_datapoint_id))
