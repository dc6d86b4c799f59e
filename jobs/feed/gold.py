"""Quality checks: an audience's own examples served among a job's tasks,
graded into the labeler's record."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.utils import timezone

from audiences import locks as audience_locks
from audiences.models import Audience, Membership, QualificationAnswer, QualificationExample
from audiences.services import Grade, membership_drop_if_below_bar, membership_grade_gold

from .. import rows
from ..models import Job, Lease
from .membership import leases_end_for_dropped, working_membership_ensure
from .room import open_datapoint_sql

_random = random.SystemRandom()


def gold_due(job: Job) -> bool:
    """Whether this task should be a quality check: now and then (the
    audience's ``gold_rate``) in a custom audience's jobs."""
    audience = job.audience
    if audience.kind != Audience.Kind.CUSTOM or audience.gold_rate <= 0:
        return False
    return _random.random() < audience.gold_rate


def new_check_sql(
    *, job: Job, labeler: AbstractBaseUser, now, duration: timedelta, public_id: str, unless: str = ""
) -> tuple[str, list]:
    """An INSERT of a lease on a quality check for ``labeler`` in ``job``,
    ``RETURNING id, example_id``; it inserts nothing unless one fits.

    A check is one of the custom audience's own examples that asks what the
    job asks (its kind and instruction: the labeler sees the job's
    instruction and is graded against the example's truth), picked at
    random, served as if it were a job task; none while the labeler has no
    job work left, which the same look for an open datapoint as a job
    task's tells. Only an example the labeler has never been shown, in
    qualification or as a check: a job datapoint never comes to a labeler
    twice, so an image seen before would mark the task as a check. Ongoing
    checks therefore need more examples than qualification uses (its
    ``max_tasks``). ``unless``: a parameterless SQL condition under which it
    inserts nothing. The examples shown and answered are each read once (the
    labeler's checks through the ``lease_labeler_checks`` index), whatever
    the planner knows of the tables.

    One statement, as a job task's lease is on PostgreSQL, so that a check
    takes about as long to hand out as a job task."""
    definition = job.definition
    open_sql, open_params = open_datapoint_sql(select="1", job=job, labeler=labeler, now=now, tail=" LIMIT 1")
    lease_table = Lease._meta.db_table
    unless_sql = f" AND NOT ({unless})" if unless else ""
    return (
        f"INSERT INTO {lease_table}"
        f" (public_id, job_id, job_datapoint_id, example_id, labeler_id, status, leased_at, expires_at)"
        f" SELECT %s, %s, NULL, e.id, %s, %s, %s, %s FROM {QualificationExample._meta.db_table} e"
        f" WHERE e.audience_id = %s AND e.kind = %s AND e.instruction = %s{unless_sql}"
        f" AND e.id NOT IN (SELECT shown.example_id FROM {lease_table} shown"
        f" WHERE shown.labeler_id = %s AND shown.example_id IS NOT NULL)"
        f" AND e.id NOT IN (SELECT answered.example_id FROM {QualificationAnswer._meta.db_table} answered"
        f" JOIN {Membership._meta.db_table} m ON m.id = answered.membership_id WHERE m.labeler_id = %s)"
        f" AND EXISTS ({open_sql}) ORDER BY random() LIMIT 1 RETURNING id, example_id",
        [
            public_id,
            job.pk,
            labeler.pk,
            Lease.Status.ACTIVE,
            rows.datetime_param(now),
            rows.datetime_param(now + duration),
            job.audience_id,
            definition.kind,
            definition.instruction,
            labeler.pk,
            labeler.pk,
            *open_params,
        ],
    )


def gold_answer_grade(
    *, labeler: AbstractBaseUser, lease: Lease, example: QualificationExample, response: Any, grade: Grade
) -> Membership | None:
    """Count a quality check's graded answer (``example_grade``) into the
    labeler's membership; drop them from the audience when their score
    falls below its bar (then ``None``). Their earlier responses keep the
    score they were given with. A labeler no longer graduated (dropped
    meanwhile) is refused, as on a job task."""
    try:
        locked = audience_locks.membership_lock(labeler_id=labeler.pk, audience_id=lease.job.audience_id)
    except Membership.DoesNotExist:
        locked = None
    membership = working_membership_ensure(labeler=labeler, audience=lease.job.audience, membership=locked)
    membership_grade_gold(membership=membership, example=example, response=response, grade=grade)
    if membership_drop_if_below_bar(membership=membership):
        return membership
    leases_end_for_dropped(labeler_id=labeler.pk, audience_id=membership.audience_id, now=timezone.now(), keep=lease.pk)
    return None
