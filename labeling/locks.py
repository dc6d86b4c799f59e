"""Every row lock goes through here, so lock order is uniform.

Job datapoints are locked ``FOR NO KEY UPDATE``: it serializes everyone who
changes the row, but does not stop rows that merely refer to it (a result,
a lease of another datapoint's job) from being inserted meanwhile.

On PostgreSQL these are ``SELECT ... FOR UPDATE``; on SQLite they are plain
reads, and serialization comes from the database's single writer (every
transaction begins IMMEDIATE, see settings). Call them inside
``transaction.atomic``.
"""

from __future__ import annotations

from django.db import connection

from audiences.models import Membership
from jobs.models import DatapointResult, Job, JobDatapoint, Lease


def membership_lock(*, labeler_id: int, audience_id: int) -> Membership:
    """Lock the labeler's membership row (``Membership.DoesNotExist`` if none)."""
    return Membership.objects.select_for_update().get(labeler_id=labeler_id, audience_id=audience_id)


def job_datapoint_lock(*, pk: int) -> JobDatapoint:
    """Lock one job datapoint: leases and responses of it are written only
    under this lock, so its counts cannot be overrun."""
    return JobDatapoint.objects.select_for_update(no_key=True).get(pk=pk)


def job_datapoint_lock_for_task(*, task_id: str, labeler_id: int, related: tuple[str, ...] = ()) -> JobDatapoint | None:
    """Lock the job datapoint of the labeler's lease ``task_id`` (``None``
    when it is not theirs or has no datapoint), with ``related`` joined in."""
    try:
        return (
            JobDatapoint.objects.select_for_update(of=("self",), no_key=True)
            .select_related(*related)
            .get(leases__public_id=task_id, leases__labeler_id=labeler_id)
        )
    except JobDatapoint.DoesNotExist:
        return None


def job_datapoint_lock_first_of(sql: str, params: list, *, skip_locked: bool,
                                related: tuple[str, ...] = ()) -> JobDatapoint | None:
    """Lock the job datapoint the ``SELECT jd.id ... LIMIT 1`` query ``sql``
    finds (alias ``jd``), and load it with ``related``. With ``skip_locked``,
    rows other transactions hold are passed over instead of waited for."""
    if connection.features.has_select_for_update:
        sql += " FOR NO KEY UPDATE OF jd" + (" SKIP LOCKED" if skip_locked else "")
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return None
    return JobDatapoint.objects.select_related(*related).get(pk=row[0])


def lease_lock(*, public_id: str, labeler_id: int) -> Lease:
    """Lock the labeler's own lease (``Lease.DoesNotExist`` for anyone else's)."""
    return Lease.objects.select_for_update(of=("self",)).select_related(
        "job__definition", "job__audience", "job_datapoint", "example"
    ).get(public_id=public_id, labeler_id=labeler_id)


def datapoint_result_lock(*, job_datapoint_id: int) -> DatapointResult:
    """Lock a datapoint's result while it is rebuilt, so two workers
    aggregating the same datapoint take turns."""
    return DatapointResult.objects.select_for_update().get(job_datapoint_id=job_datapoint_id)


def job_lock(*, pk: int) -> Job:
    return Job.objects.select_for_update(of=("self",)).select_related("definition", "audience").get(pk=pk)
