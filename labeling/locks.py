"""Every row lock goes through here, so lock order is uniform.

Job datapoints are locked ``FOR NO KEY UPDATE``: it serializes everyone who
changes the row, but does not stop rows that merely refer to it (a result,
a lease of another datapoint's job) from being inserted meanwhile.

On PostgreSQL these are ``SELECT ... FOR UPDATE`` (or an upsert, which locks
the row it updates); on SQLite they are plain reads, and serialization comes
from the database's single writer (every transaction begins IMMEDIATE, see
settings). Call them inside ``transaction.atomic``. Hand-written statements
elsewhere that lock rows take their clause from ``for_update_clause``; the
one that stores an answer in one statement (``jobs.services``) locks the job
datapoint and then the lease, the order every other path follows.
"""

from __future__ import annotations

from typing import NamedTuple

from django.db import connection

from audiences.models import Membership
from jobs import rows
from jobs.models import DatapointResult, Job, JobDatapoint, JobDefinition, Lease


def membership_lock(*, labeler_id: int, audience_id: int) -> Membership:
    """Lock the labeler's membership row (``Membership.DoesNotExist`` if none)."""
    return Membership.objects.select_for_update().get(labeler_id=labeler_id, audience_id=audience_id)


def job_definition_lock(*, pk: int) -> JobDefinition:
    """Lock a job definition's row: datapoints are added to it, and jobs
    made of it, one at a time."""
    return JobDefinition.objects.select_for_update(of=("self",)).get(pk=pk)


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


def job_datapoint_lock_id(*, pk: int) -> None:
    """Lock one job datapoint, loading nothing."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id FROM {JobDatapoint._meta.db_table} WHERE id = %s{for_update_clause('')}", [pk])


class LockedSlot(NamedTuple):
    response_count: int
    closed: bool
    stopped_early: bool
    lease_status: str
    lease_expired: bool


def job_datapoint_lock_with_lease(*, pk: int, lease_id: int, now) -> LockedSlot:
    """Lock one job datapoint and read, under the lock, its counts and the
    status of its lease ``lease_id``, and whether that lease ran out before
    ``now`` (a database datetime)."""
    slot_table, lease_table = JobDatapoint._meta.db_table, Lease._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT jd.response_count, jd.closed, jd.stopped_early, l.status,"
            f" CASE WHEN l.expires_at <= %s THEN 1 ELSE 0 END"
            f" FROM {slot_table} jd JOIN {lease_table} l ON l.job_datapoint_id = jd.id"
            f" WHERE jd.id = %s AND l.id = %s{for_update_clause('jd')}",
            [now, pk, lease_id],
        )
        response_count, closed, stopped_early, status, expired = cursor.fetchone()
    return LockedSlot(response_count, bool(closed), bool(stopped_early), status, bool(expired))


def job_datapoint_lock_first_of(sql: str, params: list, *, skip_locked: bool) -> tuple | None:
    """Lock the job datapoint the ``SELECT ... FROM ... jd ... LIMIT 1``
    query ``sql`` finds (alias ``jd``); the row it selects. With
    ``skip_locked``, rows other transactions hold are passed over instead of
    waited for."""
    with connection.cursor() as cursor:
        cursor.execute(sql + for_update_clause("jd", skip_locked=skip_locked), params)
        return cursor.fetchone()


def for_update_clause(alias: str, *, skip_locked: bool = False) -> str:
    """The ``FOR NO KEY UPDATE`` clause for hand-written SQL (none on
    SQLite); statements that lock job datapoints take it from here."""
    if not connection.features.has_select_for_update:
        return ""
    return " FOR NO KEY UPDATE" + (f" OF {alias}" if alias else "") + (" SKIP LOCKED" if skip_locked else "")


def lease_lock(*, public_id: str, labeler_id: int) -> Lease:
    """Lock the labeler's own lease (``Lease.DoesNotExist`` for anyone else's)."""
    return Lease.objects.select_for_update(of=("self",)).select_related(
        "job__definition", "job__audience", "job_datapoint", "example"
    ).get(public_id=public_id, labeler_id=labeler_id)


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
