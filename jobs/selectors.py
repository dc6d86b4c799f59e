"""Reads of job definitions, jobs, their progress and results, always
scoped to who is asking: a requester sees their own (operators see all),
and anything else does not exist for them (``DoesNotExist``, a 404)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import (
    Avg,
    Count,
    FloatField,
    IntegerField,
    Max,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast, Coalesce, Greatest
from django.urls import reverse
from django.utils import timezone

from assets.models import TaskKind
from audiences.selectors import membership_counts
from core.pseudonyms import labeler_anonymous_id

from .models import Datapoint, DatapointResult, Job, JobDatapoint, JobDefinition, Response
from .result_updates import AGGREGATOR_VERSION, draw_grid, item_names

RESULTS_PAGE_SIZE = 100
RESULTS_MAX_PAGE_SIZE = 1000
RATE_WINDOW = timedelta(minutes=5)


def _owned_q(user: AbstractBaseUser) -> Q:
    if getattr(user, "is_superuser", False):
        return Q()
    return Q(owner_id=user.pk)


# --- job definitions ------------------------------------------------------------------------


def job_definition_list(*, user: AbstractBaseUser) -> QuerySet[JobDefinition]:
    """The definitions ``user`` may see, newest first, each with ``datapoint_count``."""
    count = (
        Datapoint.objects.filter(definition=OuterRef("pk"))
        .order_by()
        .values("definition")
        .annotate(n=Count("id"))
        .values("n")
    )
    return (
        JobDefinition.objects.filter(_owned_q(user))
        .annotate(datapoint_count=Coalesce(Subquery(count, output_field=IntegerField()), 0))
        .order_by("-created_at", "-id")
    )


def job_definition_get(*, user: AbstractBaseUser, public_id: str) -> JobDefinition:
    """The definition ``public_id`` if ``user`` may see it; ``JobDefinition.DoesNotExist`` otherwise."""
    return job_definition_list(user=user).get(public_id=public_id)


def job_definition_find(*, user: AbstractBaseUser, name: str = "") -> QuerySet[JobDefinition]:
    """Definitions whose name contains ``name`` (case-insensitive), newest first."""
    queryset = job_definition_list(user=user)
    return queryset.filter(name__icontains=name) if name else queryset


# --- jobs ------------------------------------------------------------------------------------


def job_list(*, user: AbstractBaseUser) -> QuerySet[Job]:
    """The jobs ``user`` may see, newest first, with definition and audience loaded."""
    return Job.objects.filter(_owned_q(user)).select_related("definition", "audience").order_by("-created_at", "-id")


def job_get(*, user: AbstractBaseUser, public_id: str) -> Job:
    """The job ``public_id`` if ``user`` may see it; ``Job.DoesNotExist`` otherwise."""
    return job_list(user=user).get(public_id=public_id)


def job_find(
    *,
    user: AbstractBaseUser,
    name: str = "",
    state: str | None = None,
    definition_id: str | None = None,
    audience_id: str | None = None,
) -> QuerySet[Job]:
    """Jobs whose definition's name contains ``name``, optionally in ``state``,
    of one definition or on one audience (public ids), newest first."""
    queryset = job_list(user=user)
    if name:
        queryset = queryset.filter(definition__name__icontains=name)
    if state:
        queryset = queryset.filter(state=state)
    if definition_id:
        queryset = queryset.filter(definition__public_id=definition_id)
    if audience_id:
        queryset = queryset.filter(audience__public_id=audience_id)
    return queryset


def _response_rate(job: Job, collected: int, now) -> float:
    """Responses per minute: over the last ``RATE_WINDOW``, or over the job's
    life while it is younger than that."""
    age = (now - job.created_at).total_seconds()
    if age >= RATE_WINDOW.total_seconds():
        recent = Response.objects.filter(job=job, created_at__gte=now - RATE_WINDOW).count()
        return recent / (RATE_WINDOW.total_seconds() / 60)
    return collected / (max(age, 1.0) / 60)


def job_progress(*, job: Job) -> dict[str, Any]:
    """How far ``job`` is, in three queries (four once it is older than
    ``RATE_WINDOW``).

    ``responses_needed`` is what the job expects in all: each open datapoint
    its ``responses_per_datapoint``, each closed one what it got (a compare
    datapoint stopped early by its confidence threshold needs no more), so
    ``responses_collected == responses_needed`` once every datapoint is done.
    The audience's member counts tell a client whether anyone can work on it:
    no graduated and no qualifying members means nobody will.
    ``responses_per_minute`` is the recent pace (``_response_rate``) and
    ``eta_seconds`` the time the remaining responses take at that pace:
    ``None`` when the pace is 0 or the job is not running.
    """
    per_datapoint = job.definition.responses_per_datapoint
    totals = job.job_datapoints.aggregate(
        total=Count("id"),
        done=Count("id", filter=Q(closed=True)),
        collected=Coalesce(Sum("response_count"), 0),
        closed_got=Coalesce(Sum("response_count", filter=Q(closed=True)), 0),
        open_need=Coalesce(Sum(Greatest("response_count", Value(per_datapoint)), filter=Q(closed=False)), 0),
        last_response_at=Max("last_response_at"),
    )
    needed = totals["closed_got"] + totals["open_need"]
    collected = totals["collected"]
    if job.state == Job.State.COMPLETED:
        percentage = 100.0
    elif needed:
        percentage = min(100.0, round(100.0 * collected / needed, 2))
    else:
        percentage = 0.0
    rate = _response_rate(job, collected, timezone.now())
    remaining = max(0, needed - collected)
    eta = None
    if job.state == Job.State.RUNNING and rate > 0 and remaining:
        eta = round(remaining / (rate / 60))
    members = membership_counts(audience=job.audience)
    return {
        "job_id": job.public_id,
        "state": job.state,
        "datapoints_total": totals["total"],
        "datapoints_done": totals["done"],
        "responses_collected": collected,
        "responses_needed": needed,
        "completion_percentage": percentage,
        "responses_per_minute": round(rate, 2),
        "eta_seconds": eta,
        "audience": {
            "id": job.audience.public_id,
            "name": job.audience.name,
            "kind": job.audience.kind,
            "graduated": members.get("graduated", 0),
            "qualifying": members.get("qualifying", 0),
            "dropped": members.get("dropped", 0),
        },
        "last_response_at": _iso(totals["last_response_at"]),
        "created": _iso(job.created_at),
        "completed": _iso(job.completed_at),
    }


# --- results ---------------------------------------------------------------------------------


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None


def _current_result(slot: JobDatapoint) -> DatapointResult | None:
    """The slot's latest result made by this aggregator version, ``None``
    before the first. While workers catch up it may lag the responses: the
    document says how many it includes (``aggregatedResponses``)."""
    result = getattr(slot, "result", None)
    if result is None or result.response_count == 0 or result.aggregator_version != AGGREGATOR_VERSION:
        return None
    return result


def _results_info(job: Job) -> dict[str, Any]:
    definition = job.definition
    info = {
        "jobId": job.public_id,
        "definitionId": definition.public_id,
        "name": definition.name,
        "type": definition.kind,
        "instruction": definition.instruction,
        "responsesPerDatapoint": definition.responses_per_datapoint,
        "audienceId": job.audience.public_id,
        "state": job.state,
        "created": _iso(job.created_at),
        "completed": _iso(job.completed_at),
        "aggregatorVersion": AGGREGATOR_VERSION,
    }
    if definition.kind == TaskKind.DRAW:
        info["drawAlgorithm"] = definition.draw_aggregation
    return info


class _Pseudonyms(dict):
    """labeler pk -> ``labeler_anonymous_id``, each computed once."""

    def __missing__(self, labeler_id: int) -> str:
        value = self[labeler_id] = labeler_anonymous_id(labeler_id)
        return value


def _compare_entry(slot: JobDatapoint, responses: list[Response], pseudonyms: _Pseudonyms) -> dict[str, Any]:
    datapoint = slot.datapoint
    names = item_names(datapoint)
    # Choices are stored as the labeler saw the item (an upload's media URL).
    by_labeler_value = {asset.labeler_value: name for asset, name in zip(datapoint.assets, names)}
    result = _current_result(slot)
    data = result.data if result is not None else {}
    return {
        "position": slot.position,
        "items": names,
        "context": datapoint.context,
        "mediaContext": datapoint.media_context.value if datapoint.media_context_id else None,
        "responses": slot.response_count,
        "aggregatedResponses": result.response_count if result is not None else 0,
        "stoppedEarly": slot.stopped_early,
        **{key: data.get(key) for key in COMPARE_AGGREGATES},
        "detailedResults": [
            {
                "votedFor": by_labeler_value.get(response.payload.get("choice"), response.payload.get("choice")),
                "userScore": response.user_score,
                "labeler": pseudonyms[response.labeler_id],
                "timeSpentMs": response.time_spent_ms,
                "created": _iso(response.created_at),
            }
            for response in responses
        ],
    }


def _draw_entry(
    slot: JobDatapoint, responses: list[Response], pseudonyms: _Pseudonyms, heatmap_url: str
) -> dict[str, Any]:
    datapoint = slot.datapoint
    asset = datapoint.asset
    result = _current_result(slot)
    data = result.data if result is not None else {}
    return {
        "position": slot.position,
        "item": item_names(datapoint)[0],
        "context": datapoint.context,
        "mediaContext": datapoint.media_context.value if datapoint.media_context_id else None,
        "imageSize": [asset.width, asset.height] if asset.width and asset.height else None,
        "responses": slot.response_count,
        "aggregatedResponses": result.response_count if result is not None else 0,
        "gridSize": data.get("gridSize") or list(draw_grid(datapoint)),
        **{key: data.get(key) for key in DRAW_AGGREGATES},
        "heatmapUrl": heatmap_url,
        "detailedResults": [
            {
                "labeler": pseudonyms[response.labeler_id],
                "userScore": response.user_score,
                "lines": response.payload.get("lines", []),
                "timeSpentMs": response.time_spent_ms,
                "created": _iso(response.created_at),
            }
            for response in responses
        ],
    }


COMPARE_AGGREGATES = (
    "aggregatedResults",
    "aggregatedResultsRatios",
    "summedUserScores",
    "summedUserScoresRatios",
    "winner",
    "weightedWinner",
    "confidence",
)
DRAW_AGGREGATES = ("consensusMask", "consensusBoxes", "agreement", "summedUserScores")


def _results_summary(job: Job) -> dict[str, Any]:
    """Job-wide figures, in one query (the ranking, for compare jobs, from the
    job's summary)."""
    fresh = Q(result__response_count__gt=0, result__aggregator_version=AGGREGATOR_VERSION)
    aggregates = {"datapoints": Count("id"), "responses": Coalesce(Sum("response_count"), 0)}
    if job.definition.kind == TaskKind.DRAW:
        agreement = Cast(KeyTextTransform("agreement", "result__data"), FloatField())
        aggregates["mean_agreement"] = Avg(agreement, filter=fresh)
    totals = JobDatapoint.objects.filter(job=job).aggregate(**aggregates)
    summary: dict[str, Any] = {"datapoints": totals["datapoints"], "responses": totals["responses"]}
    if job.definition.kind == TaskKind.DRAW:
        mean = totals["mean_agreement"]
        summary["meanAgreement"] = None if mean is None else round(float(mean), 6)
    else:
        summary["ranking"] = (job.summary or {}).get("ranking")
    return summary


def job_results(
    *,
    job: Job,
    page: int | None = None,
    page_size: int | None = None,
    absolute_url: Callable[[str], str] = lambda path: path,
) -> dict[str, Any]:
    """The job's aggregated results so far, in a constant number of queries.

    ``{"info": {...}, "results": [one entry per datapoint, by position],
    "summary": {...}}``, keys in camelCase as the hosted service's result
    format has them; with ``page`` (1-based) and ``page_size`` only that slice
    of ``results``, and ``count``, ``page``, ``pageSize`` (the summary stays
    job-wide). The API's serializers (``jobs.serializers``) document every field.

    Aggregates come from the stored results (``DatapointResult``): a
    datapoint whose result does not include all its responses yet (or that
    has none) is listed with its responses and null aggregates; nothing is
    aggregated here: the caller brings the job's summary (the compare
    ranking) up to date first (``result_updates.job_summary_refresh``).
    Items are named as the requester gave them,
    and so is a compare vote; labelers only by pseudonym.
    ``absolute_url(path)`` makes the heatmap links absolute.
    """
    definition = job.definition
    summary = _results_summary(job)
    slots = (
        JobDatapoint.objects.filter(job=job)
        .select_related("datapoint__asset", "datapoint__asset_b", "datapoint__media_context", "result")
        .defer("result__state")
        .order_by("position")
    )
    paged = page is not None or page_size is not None
    if paged:
        page, page_size = page or 1, page_size or RESULTS_PAGE_SIZE
        offset = (page - 1) * page_size
        slots = list(slots[offset : offset + page_size]) if offset < summary["datapoints"] else []
    else:
        slots = list(slots)
    responses = (
        Response.objects.filter(job=job)
        .order_by("created_at", "id")
        .only("job_datapoint_id", "labeler_id", "payload", "user_score", "time_spent_ms", "created_at")
    )
    if paged:
        responses = responses.filter(job_datapoint_id__in=[slot.pk for slot in slots]) if slots else []
    by_slot: dict[int, list[Response]] = {}
    for response in responses:
        by_slot.setdefault(response.job_datapoint_id, []).append(response)
    pseudonyms = _Pseudonyms()
    if definition.kind == TaskKind.COMPARE:
        results = [_compare_entry(slot, by_slot.get(slot.pk, []), pseudonyms) for slot in slots]
    else:
        results = [
            _draw_entry(
                slot,
                by_slot.get(slot.pk, []),
                pseudonyms,
                absolute_url(
                    reverse("jobs:job-datapoint-heatmap", kwargs={"job_id": job.public_id, "position": slot.position})
                ),
            )
            for slot in slots
        ]
    document: dict[str, Any] = {"info": _results_info(job)}
    if paged:
        document.update(count=summary["datapoints"], page=page, pageSize=page_size)
    document.update(results=results, summary=summary)
    return document


def job_datapoint_result(*, job: Job, position: int) -> tuple[JobDatapoint, DatapointResult | None]:
    """The job datapoint at ``position`` and its stored result (``None`` before
    the first aggregation); ``JobDatapoint.DoesNotExist`` when there is no such
    position. The result's state (the draw vote grid) is loaded."""
    slot = JobDatapoint.objects.select_related("datapoint__asset").get(job=job, position=position)
    result = DatapointResult.objects.filter(job_datapoint=slot).first()
    return slot, result
