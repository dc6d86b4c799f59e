"""The row locks of a job and of a datapoint's result (the task feed's are
``jobs.feed.locks``). Call them inside ``transaction.atomic``."""

from __future__ import annotations

from django.db import connection

from . import rows
from .models import DatapointResult, Job, JobDatapoint

RESULT_FIELDS = ("id", "response_count", "data", "state", "aggregator_version", "updated_at")


def datapoint_result_lock(*, slot: JobDatapoint, now) -> DatapointResult:
    """Lock a datapoint's result while it is rebuilt, so two workers
    aggregating the same datapoint take turns; created empty if there is
    none. One statement: an upsert's update locks the row it meets and
    returns its latest committed version."""
    columns = [DatapointResult._meta.get_field(name).column for name in RESULT_FIELDS]
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {DatapointResult._meta.db_table} (job_datapoint_id, job_id, response_count, data, state,"
            f" aggregator_version, updated_at) VALUES (%s, %s, 0, %s, NULL, '', %s)"
            f" ON CONFLICT (job_datapoint_id) DO UPDATE SET job_id = EXCLUDED.job_id"
            f" RETURNING {', '.join(columns)}",
            [slot.pk, slot.job_id, rows.to_db(DatapointResult, "data", {}), rows.datetime_param(now)],
        )
        row = cursor.fetchone()
    values = {name: rows.value(DatapointResult, name, raw) for name, raw in zip(RESULT_FIELDS, row, strict=True)}
    return rows.instance(DatapointResult, job_datapoint_id=slot.pk, job_id=slot.job_id, **values)


def job_lock(*, pk: int) -> Job:
    """Lock a job row to change its state. ``FOR NO KEY UPDATE``: leases and
    responses referring to the job are still inserted meanwhile."""
    return Job.objects.select_for_update(of=("self",), no_key=True).select_related("definition", "audience").get(pk=pk)
