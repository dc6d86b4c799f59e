"""Every write to audiences and their qualification examples.

Keyword-only, validated before anything is written, one transaction each;
failures are ``ValidationError({field: [message]})``.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from assets import wire
from assets.models import Asset, TaskKind
from assets.raster import grid_shape
from assets.services import assets_from_items, compare_pair_specs
from core import ids, validation
from core.errors import Conflict, ErrorCode
from core.validation import field

from . import grading, locks
from .models import Audience, Membership, QualificationAnswer, QualificationExample, TruthBox
from .signals import membership_dropped

MAX_TASKS_LIMIT = 1000


def _graduation_rule(
    *, target_accuracy: Any, min_tasks: Any, max_tasks: Any, defaults: Audience
) -> tuple[float, int, int]:
    target = defaults.target_accuracy if target_accuracy is None else target_accuracy
    target = validation.ratio(target, "target_accuracy", low_open=True)
    low = defaults.min_tasks if min_tasks is None else min_tasks
    low = validation.integer(low, "min_tasks", low=1, high=MAX_TASKS_LIMIT)
    if max_tasks is None:
        high = max(defaults.max_tasks, low)
    else:
        high = validation.integer(max_tasks, "max_tasks", low=1, high=MAX_TASKS_LIMIT)
        if high < low:
            raise ValidationError({"max_tasks": [f"must be at least min_tasks ({low}), got {high}."]})
    return target, low, high


@transaction.atomic
def audience_create(
    *,
    owner: AbstractBaseUser | None,
    name: Any,
    description: Any = "",
    target_accuracy: Any = None,
    min_tasks: Any = None,
    max_tasks: Any = None,
    gold_rate: Any = None,
    kind: str = Audience.Kind.CUSTOM,
) -> Audience:
    """A custom audience of ``owner``, or (``owner=None``, operators) a curated one."""
    if kind == Audience.Kind.CUSTOM and owner is None:
        raise ValidationError({"owner": ["a custom audience needs an owner."]})
    if kind == Audience.Kind.CURATED and owner is not None:
        raise ValidationError({"kind": ["curated audiences are run by operators and have no owner."]})
    if kind not in (Audience.Kind.CUSTOM, Audience.Kind.CURATED):
        raise ValidationError({"kind": ["must be custom or curated; the global audience exists already."]})
    with field("name"):
        name = wire.check_text(name, "name", max_length=wire.MAX_NAME_LENGTH, required=True)
    with field("description"):
        description = wire.check_text(description, "description", max_length=wire.MAX_CONTEXT_LENGTH, required=False)
    defaults = Audience()
    target, low, high = _graduation_rule(
        target_accuracy=target_accuracy, min_tasks=min_tasks, max_tasks=max_tasks, defaults=defaults
    )
    rate = defaults.gold_rate if gold_rate is None else validation.ratio(gold_rate, "gold_rate", high=0.5)
    return Audience.objects.create(
        kind=kind,
        owner=owner,
        name=name,
        description=description,
        target_accuracy=target,
        min_tasks=low,
        max_tasks=high,
        gold_rate=rate,
    )


@transaction.atomic
def audience_update(
    *,
    audience: Audience,
    name: Any = None,
    description: Any = None,
    target_accuracy: Any = None,
    min_tasks: Any = None,
    max_tasks: Any = None,
    gold_rate: Any = None,
) -> Audience:
    """Change an audience's name, description, graduation rule or gold rate."""
    if audience.kind == Audience.Kind.GLOBAL:
        raise ValidationError({"audience": ["the global audience cannot be changed."]})
    if name is not None:
        with field("name"):
            audience.name = wire.check_text(name, "name", max_length=wire.MAX_NAME_LENGTH, required=True)
    if description is not None:
        with field("description"):
            audience.description = wire.check_text(
                description, "description", max_length=wire.MAX_CONTEXT_LENGTH, required=False
            )
    audience.target_accuracy, audience.min_tasks, audience.max_tasks = _graduation_rule(
        target_accuracy=target_accuracy,
        min_tasks=min_tasks,
        max_tasks=max_tasks,
        defaults=audience,
    )
    if gold_rate is not None:
        audience.gold_rate = validation.ratio(gold_rate, "gold_rate", high=0.5)
    audience.save()
    return audience


def _check_can_add_examples(audience: Audience, owner: AbstractBaseUser) -> None:
    if audience.kind == Audience.Kind.GLOBAL:
        raise ValidationError({"audience": ["the global audience takes no qualification examples."]})
    if audience.kind == Audience.Kind.CURATED and not owner.is_superuser:
        raise ValidationError(
            {"audience": ["curated audiences are run by the operators; add examples to your own custom audiences."]}
        )
    may_edit = owner.is_superuser or (audience.kind == Audience.Kind.CUSTOM and audience.owner_id == owner.pk)
    if not may_edit:
        raise ValidationError({"audience": ["not found."]})


def _example_texts(*, instruction: Any, context: Any, explanation: Any) -> tuple[str, str, str]:
    with field("instruction"):
        instruction = wire.check_text(instruction, "instruction", max_length=wire.MAX_INSTRUCTION_LENGTH, required=True)
    with field("context"):
        context = wire.check_text(context, "context", max_length=wire.MAX_CONTEXT_LENGTH, required=False)
    with field("explanation"):
        explanation = wire.check_text(
            explanation, "explanation", max_length=wire.MAX_EXPLANATION_LENGTH, required=False
        )
    return instruction, context, explanation


@transaction.atomic
def example_add_draw(
    *,
    audience: Audience,
    owner: AbstractBaseUser,
    instruction: Any,
    datapoint: Any,
    truths: Any,
    context: Any = None,
    explanation: Any = None,
    required_precision: Any = None,
    required_completeness: Any = None,
) -> QualificationExample:
    """A draw example: one image and the box(es) a correct answer colors in."""
    _check_can_add_examples(audience, owner)
    instruction, context, explanation = _example_texts(
        instruction=instruction, context=context, explanation=explanation
    )
    if isinstance(datapoint, (list, tuple)):
        if len(datapoint) != 1:
            raise ValidationError({"datapoint": ["a draw example has exactly one image."]})
        datapoint = datapoint[0]
    with field("datapoint"):
        spec = wire.parse_item(datapoint, "datapoint")
        if spec.kind == "text":
            raise ValidationError("datapoint must be an image (a URL, a file or an uploaded asset), not text.")
    with field("truths"):
        boxes = wire.parse_boxes(truths, "truths")
    precision = (
        QualificationExample.DEFAULT_REQUIRED_PRECISION
        if required_precision is None
        else validation.ratio(required_precision, "required_precision")
    )
    completeness = (
        QualificationExample.DEFAULT_REQUIRED_COMPLETENESS
        if required_completeness is None
        else validation.ratio(required_completeness, "required_completeness")
    )
    (asset,) = assets_from_items(owner=owner, specs=[spec], where="datapoint")
    if asset.kind == Asset.Kind.TEXT:
        raise ValidationError({"datapoint": ["must be an image, not text."]})
    example = QualificationExample.objects.create(
        audience=audience,
        kind=TaskKind.DRAW,
        instruction=instruction,
        context=context,
        asset=asset,
        explanation=explanation,
        required_precision=precision,
        required_completeness=completeness,
    )
    TruthBox.objects.bulk_create([TruthBox(example=example, **box.as_dict()) for box in boxes])
    return example


@transaction.atomic
def example_add_compare(
    *,
    audience: Audience,
    owner: AbstractBaseUser,
    instruction: Any,
    datapoint: Any,
    truth: Any,
    context: Any = None,
    explanation: Any = None,
) -> QualificationExample:
    """A compare example: two distinct items and which of them is right."""
    _check_can_add_examples(audience, owner)
    instruction, context, explanation = _example_texts(
        instruction=instruction, context=context, explanation=explanation
    )
    with field("datapoint"):
        first, second = compare_pair_specs(datapoint, "datapoint")
    with field("truth"):
        truth_spec = wire.parse_item(truth, "truth")
    if truth_spec not in (first, second):
        raise ValidationError({"truth": ["must be exactly one of the two datapoint items."]})
    asset, asset_b = assets_from_items(owner=owner, specs=[first, second], where="datapoint")
    if asset.pk == asset_b.pk:
        raise ValidationError({"datapoint": ["the two items are the same file; they must differ."]})
    return QualificationExample.objects.create(
        audience=audience,
        kind=TaskKind.COMPARE,
        instruction=instruction,
        context=context,
        asset=asset,
        asset_b=asset_b,
        truth_asset=asset if truth_spec == first else asset_b,
        explanation=explanation,
    )


# --- Qualification ---------------------------------------------------------------------

MIN_EXAMPLES_TO_OPEN = 3


@dataclass(frozen=True)
class Grade:
    correct: bool
    precision: float | None = None
    completeness: float | None = None


@dataclass(frozen=True)
class QualificationOutcome:
    correct: bool
    explanation: str
    membership: Membership


def example_grade(*, example: QualificationExample, response: Any) -> Grade:
    """Validate a labeler's answer to ``example`` and grade it (the one place
    an example's truth is compared with an answer)."""
    with field("response"):
        if example.kind == TaskKind.DRAW:
            payload = wire.parse_draw_response(response)
            shape = grid_shape(example.asset.width, example.asset.height, settings.RASTER_LONG_SIDE)
            boxes = [box.as_box() for box in example.truth_boxes.all()]
            grade = grading.grade_draw(payload["lines"], boxes, shape)
            correct = grade.passes(
                required_precision=example.required_precision, required_completeness=example.required_completeness
            )
            return Grade(correct=correct, precision=grade.precision, completeness=grade.completeness)
        items = [example.asset.labeler_value, example.asset_b.labeler_value]
        payload = wire.parse_compare_response(response, items)
        return Grade(correct=payload["choice"] == example.truth_asset.labeler_value)


def membership_record_grade(*, membership: Membership, kind: str, correct: bool) -> None:
    """Count a graded answer into the membership's accuracy and user score
    (the caller holds the membership's lock and saves it)."""
    membership.answers += 1
    membership.correct += int(correct)
    membership.chance_sum += grading.CHANCE[kind]
    membership.user_score = grading.user_score(
        answers=membership.answers, correct=membership.correct, chance_sum=membership.chance_sum
    )


def _membership_start(*, labeler: AbstractBaseUser, audience: Audience) -> Membership:
    if audience.kind == Audience.Kind.GLOBAL:
        raise Conflict(
            ErrorCode.AUDIENCE_NOT_QUALIFYING,
            "Every labeler belongs to the global audience; there is nothing to qualify for.",
        )
    try:
        return locks.membership_lock(labeler_id=labeler.pk, audience_id=audience.pk)
    except Membership.DoesNotExist:
        pass
    if audience.examples.count() < MIN_EXAMPLES_TO_OPEN:
        raise Conflict(
            ErrorCode.AUDIENCE_NOT_OPEN,
            "This audience is not taking labelers yet (it needs at least "
            f"{MIN_EXAMPLES_TO_OPEN} qualification examples).",
        )
    Membership.objects.get_or_create(labeler=labeler, audience=audience)
    return locks.membership_lock(labeler_id=labeler.pk, audience_id=audience.pk)


@transaction.atomic
def qualification_next(*, labeler: AbstractBaseUser, audience: Audience) -> Membership:
    """Start or continue qualifying. While the labeler is qualifying, the
    returned membership has the example to show (``current_example``) under
    an opaque ``current_task_id``; asking again shows the same one. Examples
    come in random order and none twice."""
    membership = _membership_start(labeler=labeler, audience=audience)
    if membership.state != Membership.State.QUALIFYING or membership.current_example_id:
        return membership
    answered = membership.graded_answers.filter(gold=False).values("example_id")
    remaining = list(audience.examples.exclude(id__in=answered).values_list("id", flat=True))
    if not remaining:  # examples were removed after answers were given: decide now
        _decide(membership, audience)
        membership.save()
        return membership
    membership.current_example_id = secrets.choice(remaining)
    membership.current_task_id = ids.task_id()
    membership.save(update_fields=["current_example", "current_task_id", "updated_at"])
    return membership


def _decide(membership: Membership, audience: Audience) -> None:
    decision = grading.graduation_decision(
        answers=membership.graded_answers.filter(gold=False).count(),
        correct=membership.graded_answers.filter(gold=False, correct=True).count(),
        examples=audience.examples.count(),
        min_tasks=audience.min_tasks,
        max_tasks=audience.max_tasks,
        target_accuracy=audience.target_accuracy,
    )
    if decision != membership.state:
        membership.state = decision
        membership.decided_at = timezone.now() if decision != Membership.State.QUALIFYING else None


@transaction.atomic
def qualification_answer(
    *, labeler: AbstractBaseUser, audience: Audience, task_id: Any, response: Any
) -> QualificationOutcome:
    """Grade the answer to the example being shown, record it, and apply the
    graduation rule. A wrong answer returns the example's explanation (never
    its truth)."""
    try:
        membership = locks.membership_lock(labeler_id=labeler.pk, audience_id=audience.pk)
    except Membership.DoesNotExist:
        raise Conflict(ErrorCode.STALE_TASK, "Start qualifying for this audience first.") from None
    if membership.state != Membership.State.QUALIFYING:
        raise Conflict(
            ErrorCode.AUDIENCE_NOT_QUALIFYING, f"You are no longer qualifying for this audience ({membership.state})."
        )
    if not isinstance(task_id, str) or not membership.current_task_id or task_id != membership.current_task_id:
        raise Conflict(ErrorCode.STALE_TASK, "This question is not the current one; load the next question.")
    example = (
        QualificationExample.objects.select_related("asset", "asset_b", "truth_asset")
        .prefetch_related("truth_boxes")
        .get(pk=membership.current_example_id)
    )
    grade = example_grade(example=example, response=response)
    QualificationAnswer.objects.create(
        membership=membership,
        example=example,
        gold=False,
        payload=response,
        correct=grade.correct,
        precision=grade.precision,
        completeness=grade.completeness,
    )
    membership_record_grade(membership=membership, kind=example.kind, correct=grade.correct)
    membership.current_example = None
    membership.current_task_id = ""
    _decide(membership, audience)
    membership.save()
    return QualificationOutcome(
        correct=grade.correct, explanation="" if grade.correct else example.explanation, membership=membership
    )


# --- Ongoing quality ----------------------------------------------------------------------


def membership_grade_gold(
    *, membership: Membership, example: QualificationExample, response: Any, grade: Grade
) -> Grade:
    """Count an answer to an example served among job tasks, graded by
    ``example_grade``, into the membership's score (the caller holds the
    membership's lock)."""
    QualificationAnswer.objects.create(
        membership=membership,
        example=example,
        gold=True,
        payload=response,
        correct=grade.correct,
        precision=grade.precision,
        completeness=grade.completeness,
    )
    membership_record_grade(membership=membership, kind=example.kind, correct=grade.correct)
    membership.save(update_fields=["answers", "correct", "chance_sum", "user_score", "updated_at"])
    return grade


def membership_drop_if_below_bar(*, membership: Membership) -> bool:
    """Keep a graduated labeler unless their graded answers show, with
    enough evidence, an accuracy below the audience's target
    (``grading.below_target``: one answering at the target is ever dropped
    with probability at most ``grading.BAR_ALPHA``); drop one who falls
    below it. Returns whether they stay."""
    if not grading.below_target(
        answers=membership.answers, correct=membership.correct, target_accuracy=membership.audience.target_accuracy
    ):
        return True
    membership.state = Membership.State.DROPPED
    membership.decided_at = timezone.now()
    membership.save(update_fields=["state", "decided_at", "updated_at"])
    return False


@transaction.atomic
def membership_set_state(*, membership: Membership, state: str) -> Membership:
    """An operator's decision on a labeler's membership: drop them from the
    audience (their tasks in its jobs go back to the pool) or reinstate them
    as graduated. Answers already collected keep the score they were given with."""
    if state not in (Membership.State.GRADUATED, Membership.State.DROPPED):
        raise ValidationError({"state": ["must be graduated or dropped."]})
    if membership.audience.kind == Audience.Kind.GLOBAL and state == Membership.State.DROPPED:
        raise ValidationError({"state": ["nobody is dropped from the global audience; deactivate the account."]})
    membership = locks.membership_lock(labeler_id=membership.labeler_id, audience_id=membership.audience_id)
    if membership.state == state:
        return membership
    membership.state = state
    membership.decided_at = timezone.now()
    membership.current_example = None
    membership.current_task_id = ""
    membership.save()
    if state == Membership.State.DROPPED:
        membership_dropped.send(sender=Membership, membership=membership)
    return membership
