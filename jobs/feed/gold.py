"""Quality checks: an audience's own examples served among a job's tasks,
graded into the labeler's record."""

from __future__ import annotations

import random
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.utils import timezone

from audiences import locks as audience_locks
from audiences.models import Audience, Membership, QualificationAnswer, QualificationExample
from audiences.services import membership_drop_if_below_bar, membership_grade_gold

from .. import content_cache
from ..models import Job, Lease
from .membership import working_membership_ensure, leases_end_for_dropped
from .room import has_open_datapoint

_random = random.SystemRandom()


def gold_due(job: Job) -> bool:
    """Whether this task should be a quality check: now and then (the
    audience's ``gold_rate``) in a custom audience's jobs."""
    audience = job.audience
    if audience.kind != Audience.Kind.CUSTOM or audience.gold_rate <= 0:
        return False
    return _random.random() < audience.gold_rate


def gold_example_pick(job: Job, labeler: AbstractBaseUser, now) -> QualificationExample | None:
    """One of a custom audience's own examples that asks what the job asks
    (its kind and instruction: the labeler sees the job's instruction and is
    graded against the example's truth), served as if it were a job task;
    none while the labeler has no job work left, which the same look for an
    open datapoint as a job task's tells.

    Only an example the labeler has never been shown, in qualification or as
    a check: a job datapoint never comes to a labeler twice, so an image seen
    before would mark the task as a check. Ongoing checks therefore need more
    examples than qualification uses (its ``max_tasks``). None in a job whose
    tasks show a media context: an example has none to show."""
    definition = job.definition
    if content_cache.shows_media_context(definition.pk):
        return None
    shown = Lease.objects.filter(labeler=labeler, example__isnull=False).values("example")
    answered = QualificationAnswer.objects.filter(membership__labeler=labeler,
                                                  membership__audience_id=job.audience_id).values("example")
    examples = list(job.audience.examples.filter(kind=definition.kind, instruction=definition.instruction)
                    .exclude(pk__in=shown).exclude(pk__in=answered).values_list("pk", flat=True))
    if not examples or not has_open_datapoint(job=job, labeler=labeler, now=now):
        return None
    return QualificationExample.objects.get(pk=_random.choice(examples))


def gold_answer_grade(*, labeler: AbstractBaseUser, lease: Lease, response: Any) -> Membership | None:
    """Grade a quality check into the labeler's membership; drop them from
    the audience when their score falls below its bar (then ``None``). Their
    earlier responses keep the score they were given with. A labeler no
    longer graduated (dropped meanwhile) is refused, as on a job task."""
    try:
        locked = audience_locks.membership_lock(labeler_id=labeler.pk, audience_id=lease.job.audience_id)
    except Membership.DoesNotExist:
        locked = None
    membership = working_membership_ensure(labeler=labeler, audience=lease.job.audience, membership=locked)
    membership_grade_gold(membership=membership, example=lease.example, response=response)
    if membership_drop_if_below_bar(membership=membership):
        return membership
    leases_end_for_dropped(labeler_id=labeler.pk, audience_id=membership.audience_id, now=timezone.now(),
                           keep=lease.pk)
    return None
