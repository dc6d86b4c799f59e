"""What a labeler sees: tasks, their audiences and the jobs with work for them.

Everything a labeler's browser receives is built here, so this is the one
place to check that no truth ever leaves the server: a task carries the
instruction, context and items, never an example's truth boxes, truth item or
explanation, nor whether it is a qualification example at all.
"""

from __future__ import annotations

from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Count, Exists, OuterRef, Q
from django.utils import timezone
from django.utils.crypto import salted_hmac

from assets.models import Asset, TaskKind
from audiences.grading import chance_sum, user_score
from audiences.models import Audience, Membership
from audiences.services import MIN_EXAMPLES_TO_OPEN
from jobs import content_cache
from jobs.feed import has_work_for
from jobs.models import Datapoint, Job, Lease


def item_view(asset: Asset) -> dict:
    if asset.kind == Asset.Kind.TEXT:
        return {"type": "text", "text": asset.text, "value": asset.labeler_value}
    return {
        "type": "image",
        "src": asset.labeler_value,
        "value": asset.labeler_value,
        "width": asset.width,
        "height": asset.height,
    }


COMPARE_ORDER_SALT = "labeling.selectors.compare-order"


def _swapped(task_id: str) -> bool:
    """Whether a compare task shows its two items in the other order.

    The order varies by task, so position bias averages out, and is fixed
    for a task id, so a reload shows the same layout. It comes from an HMAC
    of the task id keyed with a key derived from ``SECRET_KEY``: the labeler
    knows the task id but cannot recompute the order from it, so the order a
    requester gave (an example's truth listed first, say) does not show."""
    return bool(salted_hmac(COMPARE_ORDER_SALT, task_id, algorithm="sha256").digest()[0] & 1)


def _task(
    *,
    task_id: str,
    kind: str,
    instruction: str,
    context: str,
    assets: list[Asset],
    media_context: Asset | None,
    expires_at: datetime | None,
    job: Job | None,
) -> dict:
    items = [item_view(asset) for asset in assets]
    if len(items) == 2 and _swapped(task_id):
        items.reverse()
    return {
        "id": task_id,
        "kind": kind,
        "instruction": instruction,
        "context": context,
        "media_context": item_view(media_context) if media_context else None,
        "items": items,
        "expires_at": expires_at.isoformat() if expires_at else None,
        "job": {"id": job.public_id, "name": job.definition.name} if job else None,
    }


def task_view(lease: Lease) -> dict:
    """A job task (a lease) as the labeler API sends it."""
    job = lease.job
    if lease.example_id:
        # A quality check looks exactly like the job's own tasks.
        source, media = content_cache.example(lease.example_id), None
    else:
        source = content_cache.datapoint(lease.job_datapoint.datapoint_id)
        media = source.media_context
    return _task(
        task_id=lease.public_id,
        kind=job.definition.kind,
        instruction=job.definition.instruction,
        context=source.context,
        assets=[a for a in (source.asset, source.asset_b) if a is not None],
        media_context=media,
        expires_at=lease.expires_at,
        job=job,
    )


def qualification_task_view(membership: Membership) -> dict | None:
    """The example the labeler is being asked now, without its truth."""
    example = membership.current_example
    if example is None:
        return None
    return _task(
        task_id=membership.current_task_id,
        kind=example.kind,
        instruction=example.instruction,
        context=example.context,
        assets=[a for a in (example.asset, example.asset_b) if a is not None],
        media_context=None,
        expires_at=None,
        job=None,
    )


def preview_task_view(datapoint: Datapoint) -> dict:
    definition = datapoint.definition
    return _task(
        task_id=f"preview-{definition.public_id}-{datapoint.position}",
        kind=definition.kind,
        instruction=definition.instruction,
        context=datapoint.context,
        assets=[a for a in (datapoint.asset, datapoint.asset_b) if a is not None],
        media_context=datapoint.media_context,
        expires_at=None,
        job=None,
    )


def qualification_record(membership: Membership) -> tuple[int, int, float]:
    """What a labeler may read of their record in an audience: (answers,
    correct answers, user score) over their qualification answers only.

    Quality checks served among job tasks change the score the platform
    weighs them by (``Membership.user_score``), never this: if anything a
    labeler can fetch moved with a gold answer, comparing it before and
    after an answer would tell a quality check from a real task, and a
    right answer from a wrong one. Once graduated (or dropped) a labeler
    answers no more qualification examples, so this record is fixed.
    Memberships from ``labeler_memberships`` carry the counts already."""
    if hasattr(membership, "qualification_answers"):
        answers, correct = membership.qualification_answers, membership.qualification_correct
        by_kind = {kind: getattr(membership, f"qualification_{kind}") for kind in TaskKind.values}
    else:
        qualification = membership.graded_answers.filter(gold=False)
        answers, correct = qualification.count(), qualification.filter(correct=True).count()
        by_kind = dict(qualification.values_list("example__kind").annotate(count=Count("id")).order_by())
    return answers, correct, user_score(answers=answers, correct=correct, chance_sum=chance_sum(by_kind))


def membership_view(membership: Membership) -> dict:
    """A membership as its labeler sees it: the record of their qualification
    answers only (``qualification_record``)."""
    audience = membership.audience
    answers, correct, score = qualification_record(membership)
    return {
        "audience": {
            "id": audience.public_id,
            "name": audience.name,
            "kind": audience.kind,
            "description": audience.description,
        },
        "state": membership.state,
        "user_score": round(score, 4),
        "answers": answers,
        "accuracy": round(correct / answers, 4) if answers else None,
    }


def labeler_memberships(*, labeler: AbstractBaseUser):
    """The labeler's memberships, with the counts ``membership_view`` shows."""
    qualification = Q(graded_answers__gold=False)
    return (
        Membership.objects.filter(labeler=labeler)
        .select_related("audience")
        .annotate(
            qualification_answers=Count("graded_answers", filter=qualification),
            qualification_correct=Count("graded_answers", filter=qualification & Q(graded_answers__correct=True)),
            **{
                f"qualification_{kind}": Count(
                    "graded_answers", filter=qualification & Q(graded_answers__example__kind=kind)
                )
                for kind in TaskKind.values
            },
        )
        .order_by("audience__kind", "audience__name")
    )


def audiences_to_qualify(*, labeler: AbstractBaseUser):
    """Curated and custom audiences taking labelers that this labeler has not joined."""
    return (
        Audience.objects.exclude(kind=Audience.Kind.GLOBAL)
        .exclude(memberships__labeler=labeler)
        .annotate(example_count=Count("examples"))
        .filter(example_count__gte=MIN_EXAMPLES_TO_OPEN)
        .order_by("name")
    )


def jobs_with_work(*, labeler: AbstractBaseUser) -> list[Job]:
    """Running jobs of the labeler's audiences (graduated, or global) with
    a task for them, held or open. Not how many: a quality check's answer leaves
    that number as it was and a job task's answer lowers it, so it would
    tell the labeler which tasks were checks."""
    graduated = Membership.objects.filter(
        labeler=labeler, audience=OuterRef("audience"), state=Membership.State.GRADUATED
    )
    jobs = (
        Job.objects.filter(state=Job.State.RUNNING)
        .filter(Q(audience__kind=Audience.Kind.GLOBAL) | Exists(graduated))
        .select_related("definition", "audience")
        .order_by("created_at")
    )
    now = timezone.now()
    return [job for job in jobs if has_work_for(job=job, labeler=labeler, now=now)]
