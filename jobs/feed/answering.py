"""Taking a labeler's answer to their task: stored on its datapoint under
the datapoint's lock, or graded when it is a quality check."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, transaction
from django.utils import timezone

from assets import wire
from assets.models import TaskKind
from audiences.models import Audience, Membership
from audiences.services import example_grade
from core import events, ids
from core.errors import Conflict, ErrorCode
from core.locks import for_update_clause
from core.validation import field

from .. import content_cache, rows
from ..models import Datapoint, Job, JobDatapoint, Lease, Response
from . import locks
from .early_stop import leader_confident
from .gold import gold_answer_grade
from .leasing import job_check_takes_answers, lease_check_open
from .membership import working_membership_ensure
from .room import LEASE_ENDED, answer_room_sql, datapoint_has_room


def response_validate(*, datapoint: Datapoint, response: Any) -> dict:
    """A labeler's answer to ``datapoint``, checked against the wire format
    and normalized; ``ValidationError`` on ``response`` otherwise."""
    with field("response"):
        if datapoint.kind == TaskKind.DRAW:
            return wire.parse_draw_response(response)
        return wire.parse_compare_response(response, [datapoint.asset.labeler_value, datapoint.asset_b.labeler_value])


@dataclass(frozen=True)
class Submitted:
    lease: Lease
    membership: Membership | None  # the working membership, when the labeler still has one


def task_submit(*, labeler: AbstractBaseUser, task_id: Any, response: Any) -> Submitted:
    """Take the labeler's answer to their task. A job datapoint's answer is
    validated against the wire format and stored with the labeler's current
    user score and the time the task was held; a late answer (lease expired,
    or given back) is still taken while the datapoint has room. A quality check's answer is
    graded into the labeler's score instead.

    Everything that needs no lock (finding the task, checking the answer,
    the labeler's membership) happens before the datapoint is locked, so the
    lock, which every labeler on that datapoint waits for, is held briefly.
    """
    if not isinstance(task_id, str):
        raise Lease.DoesNotExist
    lease, known_membership = _lease_to_answer(task_id=task_id, labeler=labeler)
    job = lease.job
    lease_check_open(lease.status)
    job_check_takes_answers(job)
    if lease.job_datapoint_id is None:
        # Graded before any lock (a bad answer changes nothing), the example read from the cache,
        # and the lease locked alone: a check's answer takes few statements more than a job answer.
        example = content_cache.example(lease.example_id)
        grade = example_grade(example=example, response=response)
        with transaction.atomic():
            lease.status = locks.lease_status_lock(lease_id=lease.pk)
            lease_check_open(lease.status)
            membership = gold_answer_grade(
                labeler=labeler, lease=lease, example=example, response=response, grade=grade
            )
            _mark_submitted(lease)
        return Submitted(lease=lease, membership=membership)
    job_datapoint = lease.job_datapoint
    job_datapoint.datapoint = content_cache.datapoint(job_datapoint.datapoint_id)
    payload = response_validate(datapoint=job_datapoint.datapoint, response=response)
    membership = working_membership_ensure(labeler=labeler, audience=job.audience, membership=known_membership)
    if _answer_at_once(labeler=labeler, lease=lease, payload=payload, membership=membership):
        return Submitted(lease=lease, membership=membership)
    # The lease ran out or is no longer open (or this database, or the
    # definition, needs the general path): decided under the lock, in steps.
    with transaction.atomic():
        now = timezone.now()
        locked = locks.job_datapoint_lock_with_lease(
            pk=job_datapoint.pk,
            lease_id=lease.pk,
            now=rows.datetime_param(now),
            room=answer_room_sql(needed=job.definition.responses_per_datapoint),
        )
        job_datapoint.response_count, job_datapoint.closed, job_datapoint.stopped_early = (
            locked.response_count,
            locked.closed,
            locked.stopped_early,
        )
        lease.status, expired = locked.lease_status, locked.lease_expired
        lease_check_open(lease.status)
        _response_store(
            labeler=labeler,
            lease=lease,
            job_datapoint=job_datapoint,
            payload=payload,
            membership=membership,
            expired=expired or lease.status == Lease.Status.RELEASED,
            has_room=locked.has_room,
            now=now,
        )
    return Submitted(lease=lease, membership=membership)


def _answer_at_once(*, labeler: AbstractBaseUser, lease: Lease, payload: dict, membership: Membership) -> bool:
    """Store the answer to a live lease in one statement, the way most answers
    arrive: lock the job datapoint and the lease (in that order, as the
    general path does), and only if the lease is still open and live and the
    datapoint still short of its answers, insert the response, count it and
    mark the lease submitted. A locked row is read at its latest version even
    after waiting, and every condition here is about the two locked rows, so
    nothing is decided on an older view. ``False`` (nothing written) when
    it does not apply: PostgreSQL only; not for definitions that stop a
    datapoint early, whose check reads the other answers."""
    job, job_datapoint = lease.job, lease.job_datapoint
    definition = job.definition
    if connection.vendor != "postgresql" or definition.confidence_threshold is not None:
        return False
    now = timezone.now()
    needed = definition.responses_per_datapoint
    room, room_params = answer_room_sql(needed=needed, row="locked")
    job_datapoint_table, lease_table = JobDatapoint._meta.db_table, Lease._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH locked AS (SELECT jd.id, jd.response_count, l.status, l.expires_at > %s AS live, jd.closed"
            f" FROM {job_datapoint_table} jd JOIN {lease_table} l ON l.job_datapoint_id = jd.id"
            f" WHERE jd.id = %s AND l.id = %s{for_update_clause('jd, l')}),"
            f" ok AS (SELECT id, response_count + 1 AS answered FROM locked"
            f" WHERE status = %s AND live AND {room}),"
            f" answer AS (INSERT INTO {Response._meta.db_table} ({RESPONSE_COLUMNS})"
            f" SELECT %s, %s, %s, %s, %s, %s, %s, %s, %s FROM ok),"
            f" counted AS (UPDATE {job_datapoint_table} jd SET response_count = ok.answered, last_response_at = %s,"
            f" closed = ok.answered >= %s, {LEASE_ENDED} FROM ok WHERE jd.id = ok.id)"
            f" UPDATE {lease_table} SET status = %s WHERE id = %s AND EXISTS (SELECT 1 FROM ok)"
            f" RETURNING id",
            [
                rows.datetime_param(now),
                job_datapoint.pk,
                lease.pk,
                Lease.Status.ACTIVE,
                *room_params,
                *_response_values(lease=lease, labeler=labeler, payload=payload, membership=membership, now=now),
                rows.datetime_param(now),
                needed,
                Lease.Status.SUBMITTED,
                lease.pk,
            ],
        )
        row = cursor.fetchone()
    if row is None:
        return False
    lease.status = Lease.Status.SUBMITTED
    _answer_stored(job=job, job_datapoint=job_datapoint)
    return True


RESPONSE_COLUMNS = (
    "public_id, job_id, job_datapoint_id, labeler_id, payload, user_score, graded_answers, time_spent_ms, created_at"
)


def _response_values(*, lease: Lease, labeler: AbstractBaseUser, payload: dict, membership: Membership, now) -> list:
    """The values of the answer to ``lease`` as a row (``RESPONSE_COLUMNS``):
    the labeler's current user score and the graded answers behind it, and
    how long they held the task."""
    time_spent_ms = min(int((now - lease.leased_at).total_seconds() * 1000), 2**31 - 1)
    return [
        ids.response_id(),
        lease.job_id,
        lease.job_datapoint_id,
        labeler.pk,
        rows.to_db(Response, "payload", payload),
        membership.user_score,
        membership.answers,
        time_spent_ms,
        rows.datetime_param(now),
    ]


def _answer_stored(*, job: Job, job_datapoint: JobDatapoint) -> None:
    """After an answer is stored: its datapoint's aggregation, and the job's
    watchers told (once the transaction commits)."""
    from ..tasks import enqueue_aggregation

    enqueue_aggregation(job_datapoint.pk)
    events.job_progressed(job.public_id)


def _lease_to_answer(*, task_id: str, labeler: AbstractBaseUser) -> tuple[Lease, Membership | None]:
    """The labeler's lease ``task_id``, with its job, the job's audience and
    the job datapoint, and the labeler's membership of that audience (or
    ``None``), in one statement. ``Lease.DoesNotExist`` for anyone else's."""
    audience_fields = [f.attname for f in Audience._meta.concrete_fields]
    sql = (
        f"SELECT l.id, l.status, l.leased_at, l.job_id, l.job_datapoint_id, l.example_id,"
        f" j.public_id, j.owner_id, j.definition_id, j.state,"
        f" {', '.join(f'a.{Audience._meta.get_field(name).column}' for name in audience_fields)},"
        f" jd.datapoint_id, jd.position, m.id, m.state, m.user_score, m.answers"
        f" FROM {Lease._meta.db_table} l JOIN {Job._meta.db_table} j ON j.id = l.job_id"
        f" JOIN {Audience._meta.db_table} a ON a.id = j.audience_id"
        f" LEFT JOIN {JobDatapoint._meta.db_table} jd ON jd.id = l.job_datapoint_id"
        f" LEFT JOIN {Membership._meta.db_table} m ON m.audience_id = j.audience_id AND m.labeler_id = l.labeler_id"
        f" WHERE l.public_id = %s AND l.labeler_id = %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [task_id, labeler.pk])
        row = cursor.fetchone()
    if row is None:
        raise Lease.DoesNotExist
    lease_id, status, leased_at, job_id, job_datapoint_id, example_id, job_public_id, owner_id, definition_id, state = (
        row[:10]
    )
    audience_values = row[10 : 10 + len(audience_fields)]
    datapoint_id, position, membership_id, membership_state, user_score, answers = row[10 + len(audience_fields) :]
    audience = rows.instance(
        Audience,
        **{
            name: rows.value(Audience, name, value)
            for name, value in zip(audience_fields, audience_values, strict=True)
        },
    )
    job = rows.instance(
        Job,
        id=job_id,
        public_id=job_public_id,
        owner_id=owner_id,
        definition_id=definition_id,
        audience_id=audience.pk,
        state=state,
    )
    job.definition, job.audience = content_cache.definition(definition_id), audience
    lease = rows.instance(
        Lease,
        id=lease_id,
        public_id=task_id,
        job_id=job_id,
        job_datapoint_id=job_datapoint_id,
        example_id=example_id,
        labeler_id=labeler.pk,
        status=status,
        leased_at=rows.value(Lease, "leased_at", leased_at),
    )
    lease.job = job
    if job_datapoint_id is not None:
        lease.job_datapoint = rows.instance(
            JobDatapoint, id=job_datapoint_id, job_id=job_id, datapoint_id=datapoint_id, position=position
        )
    membership = (
        None
        if membership_id is None
        else rows.instance(
            Membership,
            id=membership_id,
            labeler_id=labeler.pk,
            audience_id=audience.pk,
            state=membership_state,
            user_score=user_score,
            answers=answers,
        )
    )
    return lease, membership


def _mark_submitted(lease: Lease) -> None:
    rows.write_together([_lease_submitted_sql(lease)])
    lease.status = Lease.Status.SUBMITTED


def _lease_submitted_sql(lease: Lease) -> tuple[str, list]:
    return f"UPDATE {Lease._meta.db_table} SET status = %s WHERE id = %s", [Lease.Status.SUBMITTED, lease.pk]


def _response_store(
    *,
    labeler: AbstractBaseUser,
    lease: Lease,
    job_datapoint: JobDatapoint,
    payload: dict,
    membership: Membership,
    expired: bool,
    has_room: bool,
    now,
) -> None:
    """Store a validated answer on the locked ``job_datapoint`` (the caller holds its
    lock; ``expired``: the lease ran out before ``now``, or was released;
    ``has_room``: ``answer_room_sql`` as read under the lock):
    the response, the datapoint's count and the lease's status, written in
    one round trip. A released lease was already counted out of the row's
    active leases."""
    job = lease.job
    ended = f", {LEASE_ENDED}" if lease.status == Lease.Status.ACTIVE else ""
    definition = job.definition
    if expired and not datapoint_has_room(job_datapoint.pk, definition.responses_per_datapoint, labeler, now):
        raise Conflict(
            ErrorCode.TASK_EXPIRED, "Your time for this task ran out and its place was given to someone else."
        )
    if not has_room:
        raise Conflict(ErrorCode.TASK_EXPIRED, "This datapoint already has all the answers it needs.")
    job_datapoint.response_count += 1
    job_datapoint.last_response_at = now
    if job_datapoint.response_count >= definition.responses_per_datapoint:
        job_datapoint.closed = True
    elif definition.confidence_threshold is not None and leader_confident(
        job_datapoint, definition, payload, membership
    ):
        job_datapoint.closed = job_datapoint.stopped_early = True
        # Outstanding leases end now: the datapoint takes no more answers.
        Lease.objects.filter(job_datapoint=job_datapoint, status=Lease.Status.ACTIVE).exclude(pk=lease.pk).end(now)
    rows.write_together(
        [
            (
                f"INSERT INTO {Response._meta.db_table} ({RESPONSE_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                _response_values(lease=lease, labeler=labeler, payload=payload, membership=membership, now=now),
            ),
            (
                f"UPDATE {JobDatapoint._meta.db_table} SET response_count = %s, last_response_at = %s, closed = %s,"
                f" stopped_early = %s{ended} WHERE id = %s",
                [
                    job_datapoint.response_count,
                    rows.datetime_param(now),
                    job_datapoint.closed,
                    job_datapoint.stopped_early,
                    job_datapoint.pk,
                ],
            ),
            _lease_submitted_sql(lease),
        ]
    )
    lease.status = Lease.Status.SUBMITTED
    _answer_stored(job=job, job_datapoint=job_datapoint)
