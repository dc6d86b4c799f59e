"""Celery tasks: thin wrappers around the result services.

Enqueued after commit (``enqueue_aggregation``), so a worker never sees a
response that was rolled back. ``acks_late`` plus ``reject_on_worker_lost``
(settings) hand a task killed mid-run to another worker; the services are
idempotent, so running one twice is harmless. Publishing never fails a
request: when Redis is down the task is lost here, and the sweeper
(``sweep_stale_results``, every ``SWEEP_SECONDS`` under celery beat, or
``manage.py sweep_results``) finds the stale result later.
"""

from __future__ import annotations

import logging

from celery import shared_task
from django.db import transaction

from . import result_services

logger = logging.getLogger("crowdcanvas.tasks")


@shared_task(bind=True, acks_late=True, autoretry_for=(Exception,), retry_backoff=True, retry_backoff_max=60,
             max_retries=8)
def aggregate_datapoint(self, job_datapoint_id: int) -> int | None:
    result = result_services.datapoint_aggregate(job_datapoint_id=job_datapoint_id)
    return None if result is None else result.response_count


@shared_task(acks_late=True)
def sweep_stale_results() -> dict[str, int]:
    return result_services.results_sweep(enqueue=publish_aggregation)


@shared_task
def prune_heartbeats() -> int:
    from labeling.services import heartbeat_prune

    return heartbeat_prune()


def publish_aggregation(job_datapoint_id: int) -> bool:
    """Send an aggregation task; ``False`` (logged) when the broker is down."""
    try:
        aggregate_datapoint.delay(job_datapoint_id)
        return True
    except Exception:  # the broker is unreachable: the sweeper will catch up
        logger.warning("could not enqueue aggregation", extra={"job_datapoint": job_datapoint_id}, exc_info=True)
        return False


def enqueue_aggregation(job_datapoint_id: int) -> None:
    """Schedule the datapoint's aggregation once the current transaction commits."""
    transaction.on_commit(lambda: publish_aggregation(job_datapoint_id))
