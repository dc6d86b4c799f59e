"""Every write to assets, job definitions and jobs.

Services take keyword-only arguments, validate everything before writing and
run in one transaction, so a rejected call leaves nothing behind. Failures
are ``ValidationError({field: [message]})``.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction

from assets import wire
from assets.models import Asset, TaskKind
from assets.services import assets_from_items, compare_pair_specs
from audiences.models import Audience
from audiences.selectors import audience_visible_to
from core import events, validation
from core.errors import Conflict, ErrorCode
from core.validation import field

from . import locks, rows
from .models import Datapoint, Job, JobDatapoint, JobDefinition

MAX_DATAPOINTS = 100_000
MAX_RESPONSES_PER_DATAPOINT = 1000


# --- Assets ---------------------------------------------------------------------


# --- Job definitions -------------------------------------------------------------


def _parse_common(
    *, name: Any, instruction: Any, datapoints: Any, responses_per_datapoint: Any, contexts: Any, media_contexts: Any
) -> tuple[str, str, int, list[str], list | None]:
    with field("name"):
        name = wire.check_text(name, "name", max_length=wire.MAX_NAME_LENGTH, required=True)
    with field("instruction"):
        instruction = wire.check_text(instruction, "instruction", max_length=wire.MAX_INSTRUCTION_LENGTH, required=True)
    rpd = validation.integer(
        responses_per_datapoint, "responses_per_datapoint", low=1, high=MAX_RESPONSES_PER_DATAPOINT
    )
    if not isinstance(datapoints, (list, tuple)):
        raise ValidationError({"datapoints": ["must be a list."]})
    if not datapoints:
        raise ValidationError({"datapoints": ["must not be empty."]})
    if len(datapoints) > MAX_DATAPOINTS:
        raise ValidationError({"datapoints": [f"at most {MAX_DATAPOINTS} datapoints per definition."]})
    count = len(datapoints)
    if contexts is None:
        contexts = [""] * count
    elif not isinstance(contexts, (list, tuple)):
        raise ValidationError({"contexts": ["must be a list of strings, one per datapoint."]})
    elif len(contexts) != count:
        raise ValidationError({"contexts": [f"has {len(contexts)} entries but there are {count} datapoints."]})
    clean_contexts = []
    for index, context in enumerate(contexts):
        with field("contexts"):
            clean_contexts.append(
                wire.check_text(context, f"contexts[{index}]", max_length=wire.MAX_CONTEXT_LENGTH, required=False)
            )
    if media_contexts is not None:
        if not isinstance(media_contexts, (list, tuple)):
            raise ValidationError({"media_contexts": ["must be a list, one entry (or null) per datapoint."]})
        if len(media_contexts) != count:
            raise ValidationError(
                {"media_contexts": [f"has {len(media_contexts)} entries but there are {count} datapoints."]}
            )
    return name, instruction, rpd, clean_contexts, media_contexts


def _media_context_specs(media_contexts: list | None) -> list[wire.ItemSpec | None]:
    if media_contexts is None:
        return []
    specs: list[wire.ItemSpec | None] = []
    for index, item in enumerate(media_contexts):
        if item is None:
            specs.append(None)
            continue
        with field("media_contexts"):
            spec = wire.parse_item(item, f"media_contexts[{index}]")
        if spec.kind == "text":
            raise ValidationError({"media_contexts": [f"media_contexts[{index}] must be an image URL or upload."]})
        specs.append(spec)
    return specs


@transaction.atomic
def job_definition_create(
    *,
    owner: AbstractBaseUser,
    kind: str,
    name: Any,
    instruction: Any,
    datapoints: Any,
    responses_per_datapoint: Any = 10,
    contexts: Any = None,
    media_contexts: Any = None,
    confidence_threshold: Any = None,
    draw_aggregation: Any = JobDefinition.DrawAggregation.MAJORITY,
) -> JobDefinition:
    """Create a draw or compare definition with its datapoints, all or nothing."""
    if kind not in TaskKind.values:
        raise ValidationError({"kind": [f"must be one of {', '.join(TaskKind.values)}."]})
    name, instruction, rpd, clean_contexts, media_contexts = _parse_common(
        name=name,
        instruction=instruction,
        datapoints=datapoints,
        responses_per_datapoint=responses_per_datapoint,
        contexts=contexts,
        media_contexts=media_contexts,
    )
    if confidence_threshold is not None:
        if kind != TaskKind.COMPARE:
            raise ValidationError({"confidence_threshold": ["applies to compare definitions only."]})
        confidence_threshold = validation.ratio(
            confidence_threshold, "confidence_threshold", low_open=True, high_open=True
        )
    if draw_aggregation not in JobDefinition.DrawAggregation.values:
        raise ValidationError(
            {"draw_aggregation": [f"must be one of {', '.join(JobDefinition.DrawAggregation.values)}."]}
        )

    specs: list[wire.ItemSpec] = []
    for index, item in enumerate(datapoints):
        where = f"datapoints[{index}]"
        with field("datapoints"):
            if kind == TaskKind.DRAW:
                spec = wire.parse_item(item, where)
                if spec.kind == "text":
                    raise ValidationError(f"{where} must be an image (a URL, a file or an uploaded asset), not text.")
                specs.append(spec)
            else:
                specs.extend(compare_pair_specs(item, where))
    media_specs = _media_context_specs(media_contexts)

    resolved = assets_from_items(owner=owner, specs=specs, where="datapoints")
    media_resolved = assets_from_items(
        owner=owner, specs=[s for s in media_specs if s is not None], where="media_contexts"
    )
    for index, asset in enumerate(resolved if kind == TaskKind.DRAW else []):
        if asset.kind == Asset.Kind.TEXT:
            raise ValidationError({"datapoints": [f"datapoints[{index}] must be an image, not text."]})
    media_iter = iter(media_resolved)
    media_assets = [next(media_iter) if spec is not None else None for spec in media_specs]

    definition = JobDefinition.objects.create(
        owner=owner,
        kind=kind,
        name=name,
        instruction=instruction,
        responses_per_datapoint=rpd,
        confidence_threshold=confidence_threshold,
        draw_aggregation=draw_aggregation,
    )
    width = 1 if kind == TaskKind.DRAW else 2
    rows = []
    for position in range(len(clean_contexts)):
        items = resolved[position * width : (position + 1) * width]
        rows.append(
            Datapoint(
                definition=definition,
                position=position,
                kind=kind,
                asset=items[0],
                asset_b=items[1] if width == 2 else None,
                context=clean_contexts[position],
                media_context=media_assets[position] if media_assets else None,
            )
        )
    Datapoint.objects.bulk_create(rows, batch_size=2000)
    return definition


def job_definition_create_draw(
    *,
    owner: AbstractBaseUser,
    name: Any,
    instruction: Any,
    datapoints: Any,
    responses_per_datapoint: Any = 10,
    contexts: Any = None,
    media_contexts: Any = None,
    draw_aggregation: Any = JobDefinition.DrawAggregation.MAJORITY,
) -> JobDefinition:
    return job_definition_create(
        owner=owner,
        kind=TaskKind.DRAW,
        name=name,
        instruction=instruction,
        datapoints=datapoints,
        responses_per_datapoint=responses_per_datapoint,
        contexts=contexts,
        media_contexts=media_contexts,
        draw_aggregation=draw_aggregation,
    )


def job_definition_create_compare(
    *,
    owner: AbstractBaseUser,
    name: Any,
    instruction: Any,
    datapoints: Any,
    responses_per_datapoint: Any = 10,
    contexts: Any = None,
    media_contexts: Any = None,
    confidence_threshold: Any = None,
) -> JobDefinition:
    return job_definition_create(
        owner=owner,
        kind=TaskKind.COMPARE,
        name=name,
        instruction=instruction,
        datapoints=datapoints,
        responses_per_datapoint=responses_per_datapoint,
        contexts=contexts,
        media_contexts=media_contexts,
        confidence_threshold=confidence_threshold,
    )


# --- Jobs ------------------------------------------------------------------------------


@transaction.atomic
def job_create(*, owner: AbstractBaseUser, definition: JobDefinition, audience: Audience) -> Job:
    """Assign ``definition`` to ``audience``: a running job with one slot set
    per datapoint. Both must be visible to ``owner``."""
    if definition.owner_id != owner.pk:
        raise ValidationError({"job_definition": ["not found."]})
    if not audience_visible_to(audience, owner):
        raise ValidationError({"audience": ["not found."]})
    positions = list(definition.datapoints.order_by("position").values_list("id", "position"))
    if not positions:
        raise ValidationError({"job_definition": ["has no datapoints."]})
    job = Job.objects.create(
        owner=owner,
        definition=definition,
        audience=audience,
        responses_needed=len(positions) * definition.responses_per_datapoint,
    )
    JobDatapoint.objects.bulk_create(
        [JobDatapoint(job=job, datapoint_id=pk, position=position) for pk, position in positions], batch_size=2000
    )
    rows.analyze_after_bulk_insert(JobDatapoint, added=len(positions))
    events.work_changed(audience.public_id)
    return job


# --- Job state ----------------------------------------------------------------------------


@transaction.atomic
def job_set_paused(*, job: Job, paused: bool) -> Job:
    """Pause a running job (no new tasks are handed out; answers to tasks
    already held are still taken) or resume a paused one."""
    job = locks.job_lock(pk=job.pk)
    wanted, allowed_from = (Job.State.PAUSED, Job.State.RUNNING) if paused else (Job.State.RUNNING, Job.State.PAUSED)
    if job.state == wanted:
        return job
    if job.state != allowed_from:
        raise Conflict(
            ErrorCode.JOB_NOT_RUNNING,
            f"This job is {job.state}; only a {allowed_from} job can be {'paused' if paused else 'resumed'}.",
        )
    job.state = wanted
    job.save(update_fields=["state"])
    events.job_state_changed(job.public_id, job.audience.public_id)
    return job
