"""The task feed's row locks: a job datapoint (``FOR NO KEY UPDATE``) and a
lease. Lock order, on every path: the job datapoint, then its lease, then
(quality checks) the labeler's membership. On SQLite these are plain reads
(one writer serializes). Call them inside ``transaction.atomic``."""

from __future__ import annotations

from typing import NamedTuple

from django.db import connection

from core.locks import for_update_clause

from ..models import JobDatapoint, Lease


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


class LockedDatapoint(NamedTuple):
    response_count: int
    closed: bool
    stopped_early: bool
    lease_status: str
    lease_expired: bool
    has_room: bool


def job_datapoint_lock_with_lease(*, pk: int, lease_id: int, now, room: tuple[str, list]) -> LockedDatapoint:
    """Lock one job datapoint and read, under the lock, its counts, the
    status of its lease ``lease_id``, whether that lease ran out before
    ``now`` (a database datetime), and whether the condition ``room`` (SQL
    on ``jd``, with its parameters) holds."""
    job_datapoint_table, lease_table = JobDatapoint._meta.db_table, Lease._meta.db_table
    room_condition, room_params = room
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT jd.response_count, jd.closed, jd.stopped_early, l.status,"
            f" CASE WHEN l.expires_at <= %s THEN 1 ELSE 0 END, CASE WHEN {room_condition} THEN 1 ELSE 0 END"
            f" FROM {job_datapoint_table} jd JOIN {lease_table} l ON l.job_datapoint_id = jd.id"
            f" WHERE jd.id = %s AND l.id = %s{for_update_clause('jd')}",
            [now, *room_params, pk, lease_id],
        )
        response_count, closed, stopped_early, status, expired, has_room = cursor.fetchone()
    return LockedDatapoint(response_count, bool(closed), bool(stopped_early), status, bool(expired), bool(has_room))


def job_datapoint_lock_first_of(sql: str, params: list, *, skip_locked: bool) -> tuple | None:
    """Lock the job datapoint the ``SELECT ... FROM ... jd ... LIMIT 1``
    query ``sql`` finds (alias ``jd``); the row it selects. With
    ``skip_locked``, rows other transactions hold are passed over instead of
    waited for."""
    with connection.cursor() as cursor:
        cursor.execute(sql + for_update_clause("jd", skip_locked=skip_locked), params)
        return cursor.fetchone()


def lease_lock(*, public_id: str, labeler_id: int) -> Lease:
    """Lock the labeler's own lease (``Lease.DoesNotExist`` for anyone else's)."""
    return (
        Lease.objects.select_for_update(of=("self",))
        .select_related("job__definition", "job__audience", "job_datapoint", "example")
        .get(public_id=public_id, labeler_id=labeler_id)
    )


def lease_status_lock(*, lease_id: int) -> str:
    """Lock a lease row alone; its status under the lock."""
    return Lease.objects.select_for_update().values_list("status", flat=True).get(pk=lease_id)
