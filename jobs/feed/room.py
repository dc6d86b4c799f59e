"""The room rule of a job datapoint, and the open datapoints it finds.

``room_sql`` is the rule, written once; every path that leases or answers
checks it, in SQL, with the count of leases that path may trust.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from django.contrib.auth.models import AbstractBaseUser
from django.db import connection

from .. import rows
from ..models import Job, JobDatapoint, Lease
from . import locks


def room_sql(*, needed: int, row: str = "jd", leases: str = "0", leases_params: Sequence = ()) -> tuple[str, list]:
    """The room rule: the job datapoint ``row`` (an SQL alias) has room for
    one more answer or lease while it is not closed and its answers plus
    ``leases`` (SQL counting the leases that hold places, with
    ``leases_params``) are fewer than ``needed``. Which leases count is the
    caller's: live ones (``live_room_sql``), the row's own count
    (``row_room_sql``), or none for an answer to a live lease, which
    takes that lease's own place (``answer_room_sql``)."""
    return f"NOT {row}.closed AND {row}.response_count + {leases} < %s", [*leases_params, needed]


def answer_room_sql(*, needed: int, row: str = "jd") -> tuple[str, list]:
    """Room for the answer to a live lease of ``row``: its place is the
    lease's own, so no lease counts against it."""
    return room_sql(needed=needed, row=row)


def live_room_sql(needed: int, now, *, other_than: AbstractBaseUser | None = None) -> tuple[str, list]:
    """The condition (on ``jd``) that a job datapoint has room for one more
    lease: not closed, and its answers and live leases (those of labelers
    ``other_than`` one, when given) fewer than ``needed``. Run in a statement
    that starts after the datapoint's lock was granted, it sees every lease
    and answer committed before."""
    mine = " AND live.labeler_id <> %s" if other_than is not None else ""
    return room_sql(
        needed=needed,
        leases=f"(SELECT COUNT(*) FROM {Lease._meta.db_table} live"
        f" WHERE live.job_datapoint_id = jd.id AND live.status = %s AND live.expires_at > %s{mine})",
        leases_params=[
            Lease.Status.ACTIVE,
            rows.datetime_param(now),
            *([other_than.pk] if other_than is not None else []),
        ],
    )


def row_room_sql(needed: int) -> tuple[str, list]:
    """``live_room_sql`` as the row alone tells it: its answers and active leases
    (``JobDatapoint.leases_active``, those that ran out included) fewer than
    ``needed``. Never room that ``live_room_sql`` would not see; a row changed
    since the statement began is checked again at its new version when the
    statement locks it."""
    return room_sql(needed=needed, leases="jd.leases_active")


def open_datapoint_sql(
    *,
    select: str,
    job: Job,
    labeler: AbstractBaseUser,
    now,
    exclude: Sequence[int] = (),
    tail: str = "",
    unless: str = "",
    room_on_row: bool = False,
) -> tuple[str, list]:
    """SQL over the job datapoints with room for one more lease that
    ``labeler`` has not answered or skipped: the one definition of an open
    job datapoint. Written as SQL rather than through the ORM because it runs on every
    task a labeler is given, and building this query with the ORM cost more
    than running it. ``unless``: a parameterless SQL condition under which
    there is none. ``room_on_row``: room as the row tells it
    (``row_room_sql``), on datapoints where the labeler holds no lease
    at all (one that ran out is renewed where live leases are counted)."""
    excluded = f" AND jd.id NOT IN ({', '.join(['%s'] * len(exclude))})" if exclude else ""
    if unless:
        excluded += f" AND NOT ({unless})"
    needed = job.definition.responses_per_datapoint
    if room_on_row:
        (room, room_params), mine, mine_params = row_room_sql(needed), "", []
    else:
        room, room_params = live_room_sql(needed, now)
        mine, mine_params = " AND mine.status IN (%s, %s)", list(ENDED_FOR_GOOD)
    sql = (
        f"SELECT {select} FROM {JobDatapoint._meta.db_table} jd WHERE jd.job_id = %s{excluded}"
        f" AND NOT EXISTS (SELECT 1 FROM {Lease._meta.db_table} mine WHERE mine.job_datapoint_id = jd.id"
        f" AND mine.labeler_id = %s{mine}) AND {room}{tail}"
    )
    return sql, [job.pk, *exclude, labeler.pk, *mine_params, *room_params]


def has_open_datapoint(*, job: Job, labeler: AbstractBaseUser, now) -> bool:
    """Whether ``labeler`` could be given one of the job's datapoints now:
    the first open one looked up as for a task, never a count over the job."""
    return open_datapoint_find(job=job, labeler=labeler, now=now, exclude=(), lock=False) is not None


FEED_ORDER = " ORDER BY jd.response_count DESC, jd.position LIMIT 1"


class OpenDatapoint(NamedTuple):
    id: int
    datapoint_id: int
    position: int


OPEN_DATAPOINT_COLUMNS = "jd.id, jd.datapoint_id, jd.position"


def open_datapoint_find(
    *, job: Job, labeler: AbstractBaseUser, now, exclude: Sequence[int], lock: bool
) -> OpenDatapoint | None:
    """The open datapoint closest to completion. ``lock``: the first one no one
    else holds locked, locked (see ``jobs.locks``); otherwise as of now,
    locked or not, and waiting on nothing."""
    sql, params = open_datapoint_sql(
        select=OPEN_DATAPOINT_COLUMNS, job=job, labeler=labeler, now=now, exclude=exclude, tail=FEED_ORDER
    )
    if lock:
        row = locks.job_datapoint_lock_first_of(sql, params, skip_locked=True)
    else:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            row = cursor.fetchone()
    return None if row is None else OpenDatapoint(*row)


def datapoint_has_room(job_datapoint_id: int, needed: int, labeler: AbstractBaseUser, now) -> bool:
    """Whether the locked job datapoint ``job_datapoint_id`` still has room for
    ``labeler`` (see ``live_room_sql``)."""
    room, params = live_room_sql(needed, now, other_than=labeler)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT 1 FROM {JobDatapoint._meta.db_table} jd WHERE jd.id = %s AND {room}", [job_datapoint_id, *params]
        )
        return cursor.fetchone() is not None


def leases_recount_sql(job_datapoint_id: int) -> tuple[str, list]:
    """Count the active leases of a job datapoint (whose lock the caller
    holds) into its row, whatever the count said before."""
    return (
        f"UPDATE {JobDatapoint._meta.db_table} SET leases_active = (SELECT COUNT(*) FROM {Lease._meta.db_table} l"
        f" WHERE l.job_datapoint_id = %s AND l.status = %s) WHERE id = %s",
        [job_datapoint_id, Lease.Status.ACTIVE, job_datapoint_id],
    )


# Statuses a lease never leaves: the labeler answered, or will not be offered the datapoint again.
ENDED_FOR_GOOD = (Lease.Status.SUBMITTED, Lease.Status.SKIPPED)


# An active lease ended (answered, skipped, released): one fewer on its datapoint's row.
LEASE_ENDED = "leases_active = CASE WHEN leases_active > 0 THEN leases_active - 1 ELSE 0 END"
