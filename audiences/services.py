"""Every write to audiences and their qualification examples.

Keyword-only, validated before anything is written, one transaction each;
failures are ``ValidationError({field: [message]})``.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction

from jobs import wire
from jobs.models import Asset, TaskKind
from jobs.services import assets_from_items, compare_pair_specs
from labeling import validation
from labeling.validation import field

from .models import Audience, QualificationExample, TruthBox

MAX_TASKS_LIMIT = 1000


def _graduation_rule(*, target_accuracy: Any, min_tasks: Any, max_tasks: Any,
                     defaults: Audience) -> tuple[float, int, int]:
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
        description = wire.check_text(description, "description", max_length=wire.MAX_CONTEXT_LENGTH,
                                      required=False)
    defaults = Audience()
    target, low, high = _graduation_rule(target_accuracy=target_accuracy, min_tasks=min_tasks,
                                         max_tasks=max_tasks, defaults=defaults)
    rate = defaults.gold_rate if gold_rate is None else validation.ratio(gold_rate, "gold_rate", high=0.5)
    return Audience.objects.create(
        kind=kind, owner=owner, name=name, description=description,
        target_accuracy=target, min_tasks=low, max_tasks=high, gold_rate=rate,
    )


@transaction.atomic
def audience_update(*, audience: Audience, name: Any = None, description: Any = None,
                    target_accuracy: Any = None, min_tasks: Any = None, max_tasks: Any = None,
                    gold_rate: Any = None) -> Audience:
    """Change an audience's name, description, graduation rule or gold rate."""
    if audience.kind == Audience.Kind.GLOBAL:
        raise ValidationError({"audience": ["the global audience cannot be changed."]})
    if name is not None:
        with field("name"):
            audience.name = wire.check_text(name, "name", max_length=wire.MAX_NAME_LENGTH, required=True)
    if description is not None:
        with field("description"):
            audience.description = wire.check_text(description, "description",
                                                   max_length=wire.MAX_CONTEXT_LENGTH, required=False)
    audience.target_accuracy, audience.min_tasks, audience.max_tasks = _graduation_rule(
        target_accuracy=target_accuracy, min_tasks=min_tasks, max_tasks=max_tasks, defaults=audience,
    )
    if gold_rate is not None:
        audience.gold_rate = validation.ratio(gold_rate, "gold_rate", high=0.5)
    audience.save()
    return audience


def _check_can_add_examples(audience: Audience, owner: AbstractBaseUser) -> None:
    if audience.kind == Audience.Kind.GLOBAL:
        raise ValidationError({"audience": ["the global audience takes no qualification examples."]})
    may_edit = owner.is_superuser or (audience.kind == Audience.Kind.CUSTOM and audience.owner_id == owner.pk)
    if not may_edit:
        raise ValidationError({"audience": ["not found."]})


def _example_texts(*, instruction: Any, context: Any, explanation: Any) -> tuple[str, str, str]:
    with field("instruction"):
        instruction = wire.check_text(instruction, "instruction", max_length=wire.MAX_INSTRUCTION_LENGTH,
                                      required=True)
    with field("context"):
        context = wire.check_text(context, "context", max_length=wire.MAX_CONTEXT_LENGTH, required=False)
    with field("explanation"):
        explanation = wire.check_text(explanation, "explanation", max_length=wire.MAX_EXPLANATION_LENGTH,
                                      required=False)
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
    precision = (QualificationExample.DEFAULT_REQUIRED_PRECISION if required_precision is None
                 else validation.ratio(required_precision, "required_precision"))
    completeness = (QualificationExample.DEFAULT_REQUIRED_COMPLETENESS if required_completeness is None
                    else validation.ratio(required_completeness, "required_completeness"))
    (asset,) = assets_from_items(owner=owner, specs=[spec], where="datapoint")
    if asset.kind == Asset.Kind.TEXT:
        raise ValidationError({"datapoint": ["must be an image, not text."]})
    example = QualificationExample.objects.create(
        audience=audience, kind=TaskKind.DRAW, instruction=instruction, context=context,
        asset=asset, explanation=explanation,
        required_precision=precision, required_completeness=completeness,
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
        audience=audience, kind=TaskKind.COMPARE, instruction=instruction, context=context,
        asset=asset, asset_b=asset_b, truth_asset=asset if truth_spec == first else asset_b,
        explanation=explanation,
    )
