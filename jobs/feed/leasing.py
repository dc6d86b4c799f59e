"""Handing out tasks: the labeler's held lease, a quality check, or a new
lease on the open datapoint closest to completion; skipping, renewing and
releasing a lease."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, transaction
from django.utils import timezone

from audiences.models import Membership
from core import ids
from core.errors import Conflict, ErrorCode
from core.locks import for_update_clause

from .. import content_cache, rows
from ..models import Job, JobDatapoint, Lease
from . import locks
from .gold import gold_due, new_check_sql
from .membership import working_membership_get_or_create
from .room import (
    ENDED_FOR_GOOD,
    FEED_ORDER,
    LEASE_ENDED,
    OPEN_DATAPOINT_COLUMNS,
    OpenDatapoint,
    has_open_datapoint,
    leases_recount_sql,
    live_room_sql,
    open_datapoint_find,
    open_datapoint_sql,
)

# Candidates a labeler's next-task request tries before giving up (each one
# found full only because it filled up while the request ran).
MAX_SLOT_ATTEMPTS = 50


def _lease_duration(seconds: int | None = None) -> timedelta:
    """How long a lease runs: ``seconds``, or ``LEASE_SECONDS`` when not given."""
    return timedelta(seconds=settings.LEASE_SECONDS if seconds is None else seconds)


def has_work_for(*, job: Job, labeler: AbstractBaseUser, now) -> bool:
    """Whether the job has a task for ``labeler``: one they hold (a check or
    a datapoint alike), or an open datapoint."""
    return _held_lease(job=job, labeler=labeler, now=now) is not None or has_open_datapoint(
        job=job, labeler=labeler, now=now
    )


def task_next(
    *, labeler: AbstractBaseUser, job: Job, membership: Membership | None = None, lease_seconds: int | None = None
) -> Lease | None:
    """The labeler's next task in ``job``: their live lease if they hold one,
    else (sometimes) a quality check, else a new lease on the open datapoint
    closest to completion; ``None`` when the job has no work left for them.
    ``membership``, when the caller has just checked it, saves a query.
    A new lease runs ``lease_seconds`` (default ``LEASE_SECONDS``); a held
    one keeps its time.

    On PostgreSQL most tasks are one statement (``_held_or_new_lease``),
    which counts a datapoint's leases from its row; where that finds
    nothing (the only room is behind leases that ran out, or the labeler's
    own lease there ran out, or there is none), the general path below
    counts live leases under the datapoint's lock.

    The lease's job datapoint comes without its datapoint loaded: read it
    from ``jobs.content_cache``."""
    if job.state != Job.State.RUNNING:
        raise Conflict(ErrorCode.JOB_NOT_RUNNING, f"This job is {job.state}; it takes no more responses.")
    if membership is None:
        working_membership_get_or_create(labeler=labeler, audience=job.audience)
    job.definition = content_cache.definition(job.definition_id)
    # None in a job whose tasks show a media context: an example has none to show.
    check_due = gold_due(job) and not content_cache.shows_media_context(job.definition_id)
    duration = _lease_duration(lease_seconds)
    held_looked_for = False
    if connection.vendor == "postgresql":
        # The common cases, in one statement each: the held lease, or a new
        # quality check when one is due, or a new lease on a datapoint whose
        # row shows room. None: look closer, below.
        now = timezone.now()
        lease = _held_or_new_check(job=job, labeler=labeler, now=now, duration=duration) if check_due else None
        if lease is None:
            lease = _held_or_new_lease(job=job, labeler=labeler, now=now, duration=duration)
        if lease is not None:
            return lease
        held_looked_for = True
    with transaction.atomic():
        now = timezone.now()
        if not held_looked_for:
            held = _held_lease(job=job, labeler=labeler, now=now)
            if held is not None:
                return held
            if check_due:
                check = _new_check(job=job, labeler=labeler, now=now, duration=duration)
                if check is not None:
                    return check
        job_datapoint = open_datapoint_find(job=job, labeler=labeler, now=now, exclude=(), lock=True)
        tried: list[int] = []
        for _ in range(MAX_SLOT_ATTEMPTS):
            if job_datapoint is None:
                # Every candidate is held by someone answering or taking it, or
                # there is none. Which, a fresh look that waits on nothing tells:
                # a query that had to wait for a row checks it against its own
                # older view of the leases, where a lease just answered still
                # counts next to its answer, and may find no room.
                job_datapoint = open_datapoint_find(job=job, labeler=labeler, now=now, exclude=tried, lock=False)
                if job_datapoint is None:
                    return None
                locks.job_datapoint_lock_id(pk=job_datapoint.id)
            lease = _lease_if_room(job=job, job_datapoint=job_datapoint, labeler=labeler, now=now, duration=duration)
            if lease is not None:
                return lease
            tried.append(job_datapoint.id)
            job_datapoint = open_datapoint_find(job=job, labeler=labeler, now=now, exclude=tried, lock=True)
        return None


HELD_COLUMNS = (
    "l.id, l.public_id, l.job_datapoint_id, l.example_id, l.leased_at, l.expires_at, jd.datapoint_id, jd.position"
)


def _held_lease_sql(*, job: Job, labeler: AbstractBaseUser, now) -> tuple[str, list]:
    """SQL for the labeler's live lease in ``job`` (``HELD_COLUMNS``)."""
    return (
        f"SELECT {HELD_COLUMNS} FROM {Lease._meta.db_table} l"
        f" LEFT JOIN {JobDatapoint._meta.db_table} jd ON jd.id = l.job_datapoint_id"
        f" WHERE l.job_id = %s AND l.labeler_id = %s AND l.status = %s AND l.expires_at > %s LIMIT 1",
        [job.pk, labeler.pk, Lease.Status.ACTIVE, rows.datetime_param(now)],
    )


def _held_lease(*, job: Job, labeler: AbstractBaseUser, now) -> Lease | None:
    """The labeler's live lease in ``job``, if any."""
    sql, params = _held_lease_sql(job=job, labeler=labeler, now=now)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    return None if row is None else _held_from_row(job, labeler, row)


def _held_or_new_lease(*, job: Job, labeler: AbstractBaseUser, now, duration: timedelta) -> Lease | None:
    """The labeler's live lease in ``job``, or else a new lease on the open
    datapoint closest to completion, in one statement (so in one transaction of
    its own, unless the caller is in one); ``None`` when it finds neither.
    A new lease runs ``duration``.

    The room it sees is the row's own (``row_room_sql``). Every writer of
    a datapoint's leases changes that count under the row's lock, so a row
    this statement locks is current: when another transaction changed it
    after this statement began, PostgreSQL checks the conditions again
    against the new version before taking the lock (and passes the row over
    if they fail), and rows others hold locked are skipped. Leases that ran
    out still count, so it never sees room that is not there; the general
    path finds the room behind them, and renews a lease of the labeler's own
    that ran out."""
    held_sql, held_params = _held_lease_sql(job=job, labeler=labeler, now=now)
    open_sql, open_params = open_datapoint_sql(
        select=OPEN_DATAPOINT_COLUMNS,
        job=job,
        labeler=labeler,
        now=now,
        tail=FEED_ORDER,
        unless="EXISTS (SELECT 1 FROM held)",
        room_on_row=True,
    )
    public_id, expires_at = ids.task_id(), now + duration
    job_datapoint_table, lease_table = JobDatapoint._meta.db_table, Lease._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH held AS ({held_sql}),"
            f" job_datapoint AS ({open_sql}{for_update_clause('jd', skip_locked=True)}),"
            f" leased AS (INSERT INTO {lease_table}"
            f" (public_id, job_id, job_datapoint_id, example_id, labeler_id, status, leased_at, expires_at)"
            f" SELECT %s, %s, job_datapoint.id, NULL, %s, %s, %s, %s FROM job_datapoint ON CONFLICT DO NOTHING"
            f" RETURNING id, job_datapoint_id),"
            f" counted AS (UPDATE {job_datapoint_table} jd SET leases_active = jd.leases_active + 1"
            f" FROM leased WHERE jd.id = leased.job_datapoint_id)"
            f" SELECT held.* FROM held UNION ALL SELECT leased.id, %s, job_datapoint.id, NULL, %s, %s,"
            f" job_datapoint.datapoint_id, job_datapoint.position FROM leased JOIN job_datapoint ON job_datapoint.id = leased.job_datapoint_id",
            [
                *held_params,
                *open_params,
                public_id,
                job.pk,
                labeler.pk,
                Lease.Status.ACTIVE,
                rows.datetime_param(now),
                rows.datetime_param(expires_at),
                public_id,
                rows.datetime_param(now),
                rows.datetime_param(expires_at),
            ],
        )
        row = cursor.fetchone()
    return None if row is None else _held_from_row(job, labeler, row)


def _new_check(*, job: Job, labeler: AbstractBaseUser, now, duration: timedelta) -> Lease | None:
    """A new lease on a quality check (``gold.new_check_sql``), or ``None``."""
    public_id = ids.task_id()
    with connection.cursor() as cursor:
        cursor.execute(*new_check_sql(job=job, labeler=labeler, now=now, duration=duration, public_id=public_id))
        row = cursor.fetchone()
    if row is None:
        return None
    return _held_from_row(job, labeler, (row[0], public_id, None, row[1], now, now + duration, None, None))


def _held_or_new_check(*, job: Job, labeler: AbstractBaseUser, now, duration: timedelta) -> Lease | None:
    """The labeler's live lease in ``job``, or else a new lease on a quality
    check (``gold.new_check_sql``), in one statement (PostgreSQL)."""
    held_sql, held_params = _held_lease_sql(job=job, labeler=labeler, now=now)
    public_id = ids.task_id()
    check_sql, check_params = new_check_sql(
        job=job, labeler=labeler, now=now, duration=duration, public_id=public_id, unless="EXISTS (SELECT 1 FROM held)"
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH held AS ({held_sql}), leased AS ({check_sql})"
            f" SELECT held.* FROM held UNION ALL"
            f" SELECT leased.id, %s, NULL, leased.example_id, %s, %s, NULL, NULL FROM leased",
            [*held_params, *check_params, public_id, rows.datetime_param(now), rows.datetime_param(now + duration)],
        )
        row = cursor.fetchone()
    return None if row is None else _held_from_row(job, labeler, row)


def _held_from_row(job: Job, labeler: AbstractBaseUser, row: Sequence) -> Lease:
    lease_id, public_id, job_datapoint_id, example_id, leased_at, expires_at, datapoint_id, position = row
    lease = rows.instance(
        Lease,
        id=lease_id,
        public_id=public_id,
        job_id=job.pk,
        job_datapoint_id=job_datapoint_id,
        example_id=example_id,
        labeler_id=labeler.pk,
        status=Lease.Status.ACTIVE,
        leased_at=rows.value(Lease, "leased_at", leased_at),
        expires_at=rows.value(Lease, "expires_at", expires_at),
    )
    lease.job = job
    if job_datapoint_id is not None:
        lease.job_datapoint = rows.instance(
            JobDatapoint, id=job_datapoint_id, job_id=job.pk, datapoint_id=datapoint_id, position=position
        )
    return lease


def _lease_if_room(
    *, job: Job, job_datapoint: OpenDatapoint, labeler: AbstractBaseUser, now, duration: timedelta
) -> Lease | None:
    """A live lease of the locked ``job_datapoint`` for ``labeler``, running
    ``duration``, if it still has room (``live_room_sql``): a new row, or (their
    earlier lease ran out) the old row renewed under a new id, and the
    datapoint's active leases counted afresh (``JobDatapoint.leases_active``). ``None`` when full, or when the
    labeler's row there was answered or skipped (never revived: callers
    pass only job datapoints ``open_datapoint_sql`` finds, which leaves those out)."""
    public_id, expires_at = ids.task_id(), now + duration
    room, room_params = live_room_sql(job.definition.responses_per_datapoint, now, other_than=labeler)
    lease_table = Lease._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {lease_table}"
            f" (public_id, job_id, job_datapoint_id, example_id, labeler_id, status, leased_at, expires_at)"
            f" SELECT %s, %s, jd.id, NULL, %s, %s, %s, %s FROM {JobDatapoint._meta.db_table} jd"
            f" WHERE jd.id = %s AND {room}"
            f" ON CONFLICT (job_datapoint_id, labeler_id) DO UPDATE SET public_id = EXCLUDED.public_id,"
            f" status = EXCLUDED.status, leased_at = EXCLUDED.leased_at, expires_at = EXCLUDED.expires_at"
            f" WHERE {lease_table}.status NOT IN (%s, %s)"
            f" RETURNING id",
            [
                public_id,
                job.pk,
                labeler.pk,
                Lease.Status.ACTIVE,
                rows.datetime_param(now),
                rows.datetime_param(expires_at),
                job_datapoint.id,
                *room_params,
                *ENDED_FOR_GOOD,
            ],
        )
        row = cursor.fetchone()
        if row is None:
            return None
        cursor.execute(*leases_recount_sql(job_datapoint.id))
    lease = rows.instance(
        Lease,
        id=row[0],
        public_id=public_id,
        job_id=job.pk,
        job_datapoint_id=job_datapoint.id,
        example_id=None,
        labeler_id=labeler.pk,
        status=Lease.Status.ACTIVE,
        leased_at=now,
        expires_at=expires_at,
    )
    lease.job = job
    lease.job_datapoint = rows.instance(
        JobDatapoint,
        id=job_datapoint.id,
        job_id=job.pk,
        datapoint_id=job_datapoint.datapoint_id,
        position=job_datapoint.position,
    )
    return lease


def _claim_lease(*, labeler: AbstractBaseUser, task_id: Any) -> tuple[Lease, JobDatapoint | None]:
    """The labeler's lease ``task_id`` and, for a job datapoint, that row,
    locked. ``Lease.DoesNotExist`` for anyone else's. Leases of a datapoint
    change only under its lock, so the status read after it is current."""
    if not isinstance(task_id, str):
        raise Lease.DoesNotExist
    job_datapoint = locks.job_datapoint_lock_for_task(task_id=task_id, labeler_id=labeler.pk)
    if job_datapoint is None:  # a quality check (no datapoint), or not this labeler's task
        lease = locks.lease_lock(public_id=task_id, labeler_id=labeler.pk)
    else:
        lease = Lease.objects.select_related("job__definition", "job__audience").get(public_id=task_id, labeler=labeler)
        lease.job_datapoint = job_datapoint
    lease_check_open(lease.status)
    return lease, job_datapoint


def lease_check_open(status: str) -> None:
    if status == Lease.Status.SUBMITTED:
        raise Conflict(ErrorCode.TASK_SUBMITTED, "You have already answered this task.")
    if status == Lease.Status.SKIPPED:
        raise Conflict(ErrorCode.TASK_SKIPPED, "You skipped this task.")


def job_check_takes_answers(job: Job) -> None:
    """Answers are taken while the job runs, and (for tasks already held)
    while it is paused."""
    if job.state not in (Job.State.RUNNING, Job.State.PAUSED):
        raise Conflict(ErrorCode.JOB_NOT_RUNNING, f"This job is {job.state}; it takes no more responses.")


@transaction.atomic
def task_skip(*, labeler: AbstractBaseUser, task_id: Any) -> Lease:
    """Give the task back: its place returns to the pool, and the labeler will
    not be offered this datapoint again."""
    lease, job_datapoint = _claim_lease(labeler=labeler, task_id=task_id)
    _lease_end(lease, job_datapoint, Lease.Status.SKIPPED)
    return lease


def _lease_end(lease: Lease, job_datapoint: JobDatapoint | None, status: str) -> None:
    """Give the claimed ``lease`` its final ``status`` (skipped, released)
    and, when it was still active, count it out of its locked datapoint's
    row, in one round trip."""
    writes = [(f"UPDATE {Lease._meta.db_table} SET status = %s WHERE id = %s", [status, lease.pk])]
    if job_datapoint is not None and lease.status == Lease.Status.ACTIVE:  # a released lease no longer counts
        writes.append((f"UPDATE {JobDatapoint._meta.db_table} SET {LEASE_ENDED} WHERE id = %s", [job_datapoint.pk]))
    rows.write_together(writes)
    lease.status = status


def task_renew(*, labeler: AbstractBaseUser, task_id: Any, lease_seconds: int | None = None) -> Lease:
    """Extend the labeler's live lease ``task_id`` to ``lease_seconds``
    (default ``LEASE_SECONDS``) from now: what a work page does while it is
    open. Under the datapoint's lock, and only then the time: a lease that
    has run out by then may have had its room given to someone else, so it
    is not extended (409 ``task_expired``: ask for the next task, which may
    be the same datapoint again); nor is a released one (``task_released``).
    Quality checks alike, under their own row's lock."""
    with transaction.atomic():
        lease, _ = _claim_lease(labeler=labeler, task_id=task_id)
        now = timezone.now()
        job_check_takes_answers(lease.job)
        if lease.status == Lease.Status.RELEASED:
            raise Conflict(ErrorCode.TASK_RELEASED, "You gave this task back; ask for your next task.")
        if lease.expires_at <= now:
            raise Conflict(ErrorCode.TASK_EXPIRED, "Your time for this task ran out; ask for your next task.")
        # From now, and never before it was leased (lease_expires_after_start), whatever the clocks.
        lease.expires_at = max(now, lease.leased_at) + _lease_duration(lease_seconds)
        rows.write_together(
            [
                (
                    f"UPDATE {Lease._meta.db_table} SET expires_at = %s WHERE id = %s",
                    [rows.datetime_param(lease.expires_at), lease.pk],
                )
            ]
        )
    return lease


def task_release(*, labeler: AbstractBaseUser, task_id: Any) -> Lease:
    """Give the task back without skipping it (the labeler's page closed):
    its room returns to the pool at once, and the labeler may be given the
    datapoint again later. Releasing a released task changes nothing; one
    that ran out is released all the same (it stops counting)."""
    with transaction.atomic():
        lease, job_datapoint = _claim_lease(labeler=labeler, task_id=task_id)
        if lease.status != Lease.Status.RELEASED:
            _lease_end(lease, job_datapoint, Lease.Status.RELEASED)
    return lease
