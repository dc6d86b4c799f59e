"""Writes behind the compatible API: each turns the hosted service's
request shape into a call of our own services (``jobs.services``,
``audiences.services``, ``assets.url_fetch``), which hold every rule.

Failures are ``ValidationError({field: [message]})`` (a 400), keyword-only
arguments, one transaction each.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from assets import fetches, url_fetch
from audiences import services as audience_services
from audiences.models import Audience, QualificationExample
from audiences.selectors import audience_get
from jobs import services as job_services
from jobs.models import Asset, Job, JobDefinition, TaskKind
from jobs.selectors import job_definition_get

from .models import BatchUpload, Dataset, DatasetDatapoint, UrlFetch
from .wire import (
    asset_names,
    expect_object,
    expect_type,
    literal,
    optional_int,
    text,
)

MAX_BATCH_URLS = 1000
MAX_DATASET_DATAPOINTS = job_services.MAX_DATAPOINTS
# How long /asset/url waits for its fetch before telling the client to ask again.
SINGLE_FETCH_WAIT_MARGIN = 5.0


# --- assets ----------------------------------------------------------------------------------


def _owned_asset(owner: AbstractBaseUser, name: str, where: str) -> Asset:
    asset = Asset.objects.filter(owner=owner, public_id=name).first()
    if asset is None:
        message = f"unknown asset {name!r}; upload it first (/asset/file, /asset/url or /asset/batch-upload)."
        raise ValidationError({where: [message]})
    return asset


@transaction.atomic
def batch_upload_create(*, owner: AbstractBaseUser, urls: Any, correlation_id: Any) -> BatchUpload:
    """A batch of URLs for the server to fetch, each checked first; the
    fetches run on Celery once this commits."""
    if not isinstance(urls, list) or not urls:
        raise ValidationError({"urls": ["must be a non-empty list of http(s) URLs."]})
    if len(urls) > MAX_BATCH_URLS:
        raise ValidationError({"urls": [f"at most {MAX_BATCH_URLS} URLs per batch, got {len(urls)}."]})
    for index, url in enumerate(urls):
        if not isinstance(url, str):
            raise ValidationError({"urls": [f"urls[{index}] must be a string."]})
        try:
            url_fetch.check_url(url)
        except url_fetch.FetchError as exc:
            raise ValidationError({"urls": [f"urls[{index}]: {exc.message}"]}) from None
    correlation = text(correlation_id, "correlationId", max_length=100, required=False)
    batch = BatchUpload.objects.create(owner=owner, correlation_id=correlation)
    UrlFetch.objects.bulk_create(
        [UrlFetch(batch=batch, owner=owner, position=i, url=url) for i, url in enumerate(urls)]
    )
    fetches.url_fetches_enqueue(list(batch.items.values_list("pk", flat=True)))
    return batch


@transaction.atomic
def batch_upload_abort(*, batch: BatchUpload) -> BatchUpload:
    """Stop a batch: its fetches still pending fail."""
    batch.aborted = True
    batch.save(update_fields=["aborted"])
    batch.items.filter(status=UrlFetch.Status.PENDING).update(
        status=UrlFetch.Status.FAILED,
        error_message="The upload was aborted.",
        stage="aborted",
        finished_at=timezone.now(),
    )
    return batch


def url_fetch_single(*, owner: AbstractBaseUser, url: Any) -> UrlFetch:
    """Fetch one URL for ``owner`` and wait for it: the earlier fetch of
    the same URL when one completed, else a new one run on Celery. The
    result may still be pending when the wait ran out (the caller asks the
    client to try again; that retry finds the fetch)."""
    if not isinstance(url, str) or not url:
        raise ValidationError({"url": ["must be an http(s) URL."]})
    try:
        _scheme, host, port = url_fetch.check_url(url)
        url_fetch.resolve(host, port)  # a host we would refuse is refused now, not after a wait
    except url_fetch.FetchError as exc:
        raise ValidationError({"url": [exc.message]}) from None
    fetches.url_fetches_fail_lost(owner=owner)
    fetch = fetches.url_fetch_find_or_start(owner=owner, url=url)
    fetches.url_fetches_wait([fetch], seconds=settings.ASSET_FETCH_TIMEOUT + SINGLE_FETCH_WAIT_MARGIN)
    return fetch


# --- datasets and job definitions --------------------------------------------------------------


@transaction.atomic
def dataset_create(*, owner: AbstractBaseUser, name: Any) -> Dataset:
    return Dataset.objects.create(owner=owner, name=text(name, "name", max_length=200, required=True))


def _segments(body: dict) -> tuple[list[str], str]:
    """The asset names and the context of a datapoint's segments."""
    segments = body.get("segments")
    if not isinstance(segments, list) or not segments:
        raise ValidationError({"segments": ["must be a non-empty list of segments."]})
    names: list[str] | None = None
    context = ""
    for index, segment in enumerate(segments):
        where = f"segments[{index}]"
        segment = expect_object(segment, where)
        kind = segment.get("kind")
        if kind == "Asset":
            if names is not None:
                raise ValidationError({"segments": [f"{where}: a datapoint has one Asset segment."]})
            names = asset_names(segment.get("asset"), f"{where}.asset")
        elif kind == "Text":
            context = text(segment.get("text"), f"{where}.text", max_length=10_000, required=False)
        else:
            raise ValidationError({"segments": [f"{where}.kind must be Asset or Text, got {kind!r}."]})
    if names is None:
        raise ValidationError({"segments": ["a datapoint needs an Asset segment."]})
    return names, context


@transaction.atomic
def dataset_datapoint_add(*, dataset: Dataset, body: Any) -> DatasetDatapoint:
    """One datapoint of ``dataset``: its assets (uploaded before, by name)
    and its context."""
    body = expect_object(body, "body")
    names, context = _segments(body)
    for index, name in enumerate(names):
        _owned_asset(dataset.owner, name, f"segments.asset[{index}]")
    sort_index = optional_int(body.get("sortIndex"), "sortIndex") or 0
    if dataset.datapoints.count() >= MAX_DATASET_DATAPOINTS:
        raise ValidationError({"dataset": [f"a dataset holds at most {MAX_DATASET_DATAPOINTS} datapoints."]})
    return DatasetDatapoint.objects.create(dataset=dataset, sort_index=sort_index, items=names, context=context)


RAPID_KINDS = {"Line": TaskKind.DRAW, "Compare": TaskKind.COMPARE}


@transaction.atomic
def job_definition_create(*, owner: AbstractBaseUser, body: Any) -> JobDefinition:
    """A job definition of a dataset's datapoints, by ``jobs.services``:
    a ``Line`` rapid is a draw definition, ``Compare`` a compare one; the
    referee's ``totalVotes`` is the responses per datapoint."""
    body = expect_object(body, "body")
    workflow = expect_type(body.get("workflow"), "workflow", "SimpleWorkflow")
    rapid = expect_object(workflow.get("rapid"), "workflow.rapid")
    discriminator = rapid.get("_t")
    kind = RAPID_KINDS.get(discriminator) if isinstance(discriminator, str) else None
    if kind is None:
        raise ValidationError(
            {"workflow.rapid": [f"_t must be one of {', '.join(RAPID_KINDS)}, got {rapid.get('_t')!r}."]}
        )
    instruction = literal(
        rapid.get("target" if kind == TaskKind.DRAW else "criteria"),
        "workflow.rapid." + ("target" if kind == TaskKind.DRAW else "criteria"),
    )
    referee = body.get("referee")
    votes = 10
    if referee is not None:
        referee = expect_type(referee, "referee", "NaiveReferee")
        votes = referee.get("totalVotes", votes)
    dataset_id = body.get("datasetId")
    dataset = Dataset.objects.filter(owner=owner, public_id=dataset_id).first() if isinstance(dataset_id, str) else None
    if dataset is None:
        raise ValidationError({"datasetId": ["not found."]})
    datapoints = list(dataset.datapoints.all())
    width = 1 if kind == TaskKind.DRAW else 2
    for index, datapoint in enumerate(datapoints):
        if len(datapoint.items) != width:
            raise ValidationError(
                {"datasetId": [f"datapoint {index} has {len(datapoint.items)} assets; a {kind} datapoint has {width}."]}
            )
    items = [
        {"asset_id": dp.items[0]} if kind == TaskKind.DRAW else [{"asset_id": name} for name in dp.items]
        for dp in datapoints
    ]
    contexts = [dp.context for dp in datapoints]
    return job_services.job_definition_create(
        owner=owner,
        kind=kind,
        name=body.get("definitionName"),
        instruction=instruction,
        datapoints=items,
        responses_per_datapoint=votes,
        contexts=contexts if any(contexts) else None,
    )


@transaction.atomic
def job_create(*, owner: AbstractBaseUser, body: Any) -> Job:
    """Assign a definition to an audience (``jobs.services.job_create``)."""
    body = expect_object(body, "body")
    try:
        definition = job_definition_get(user=owner, public_id=str(body.get("jobDefinitionId")))
    except JobDefinition.DoesNotExist:
        raise ValidationError({"jobDefinitionId": ["not found."]}) from None
    try:
        audience = audience_get(user=owner, public_id=str(body.get("audienceId")))
    except Audience.DoesNotExist:
        raise ValidationError({"audienceId": ["not found."]}) from None
    return job_services.job_create(owner=owner, definition=definition, audience=audience)


# --- audiences ----------------------------------------------------------------------------------


@transaction.atomic
def audience_create(*, owner: AbstractBaseUser, body: Any) -> Audience:
    """A custom audience; a ``TaskAccuracy`` graduation rule maps onto ours."""
    body = expect_object(body, "body")
    filters = body.get("filters")
    if filters not in (None, []):
        message = "audience filters (country, language, ...) are not supported; send an empty list."
        raise ValidationError({"filters": [message]})
    rule = body.get("graduationRule")
    knobs: dict[str, Any] = {}
    if rule is not None:
        rule = expect_type(rule, "graduationRule", "TaskAccuracy")
        knobs = {
            "target_accuracy": rule.get("targetAccuracy"),
            "min_tasks": rule.get("minTasks"),
            "max_tasks": rule.get("maxTasks"),
        }
    return audience_services.audience_create(owner=owner, name=body.get("name"), **knobs)


def _percent_box(value: Any, where: str) -> dict[str, float]:
    box = expect_object(value, where)
    out = {}
    for ours, theirs in (("x_min", "xMin"), ("y_min", "yMin"), ("x_max", "xMax"), ("y_max", "yMax")):
        number = box.get(theirs)
        if isinstance(number, bool) or not isinstance(number, (int, float)):
            raise ValidationError({"truth.boundingBoxes": [f"{where}.{theirs} must be a number (percent)."]})
        # Percent as the client sends it; a hair outside 0..100 is float rounding.
        out[ours] = min(1.0, max(0.0, number / 100.0)) if -1e-6 <= number <= 100 + 1e-6 else number / 100.0
    return out


@transaction.atomic
def example_add(*, owner: AbstractBaseUser, audience: Audience, body: Any) -> QualificationExample:
    """A qualification example: a ``Line`` payload is a draw example (its
    bounding boxes in percent), ``Compare`` a compare one (the winner named
    by its asset's name). ``audiences.services`` checks the rest."""
    body = expect_object(body, "body")
    payload = expect_object(body.get("payload"), "payload")
    truth = expect_object(body.get("truth"), "truth")
    names = asset_names(body.get("asset"), "asset")
    for index, name in enumerate(names):
        _owned_asset(owner, name, f"asset[{index}]")
    common = {
        "audience": audience,
        "owner": owner,
        "context": body.get("context"),
        "explanation": body.get("explanation"),
    }
    if payload.get("_t") == "LinePayload" or payload.get("_t") == "LineExamplePayload":
        expect_type(truth, "truth", "LineExampleTruth")
        boxes = truth.get("boundingBoxes")
        if not isinstance(boxes, list):
            raise ValidationError({"truth.boundingBoxes": ["must be a list of boxes."]})
        if len(names) != 1:
            raise ValidationError({"asset": ["a draw example has exactly one image."]})
        return audience_services.example_add_draw(
            **common,
            instruction=payload.get("target"),
            datapoint={"asset_id": names[0]},
            truths=[_percent_box(box, f"truth.boundingBoxes[{i}]") for i, box in enumerate(boxes)],
            required_precision=truth.get("requiredPrecision"),
            required_completeness=truth.get("requiredCompleteness"),
        )
    if payload.get("_t") == "CompareExamplePayload":
        expect_type(truth, "truth", "CompareExampleTruth")
        winner = truth.get("winnerId")
        if winner not in names:
            raise ValidationError({"truth.winnerId": ["must be the name of one of the two assets."]})
        return audience_services.example_add_compare(
            **common,
            instruction=payload.get("criteria"),
            datapoint=[{"asset_id": n} for n in names],
            truth={"asset_id": winner},
        )
    raise ValidationError(
        {"payload": [f"_t must be LineExamplePayload or CompareExamplePayload, got {payload.get('_t')!r}."]}
    )
