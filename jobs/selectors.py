"""Reads of job definitions, jobs, their progress and results, always
scoped to who is asking: a requester sees their own (operators see all),
and anything else does not exist for them (``DoesNotExist``, a 404)."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Count, IntegerField, Max, OuterRef, Prefetch, Q, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce, Greatest

from audiences.selectors import membership_counts

from .models import Asset, Datapoint, Job, JobDatapoint, JobDefinition, Response, TaskKind

LABELER_ID_LENGTH = 16


def _owned_q(user: AbstractBaseUser) -> Q:
    if getattr(user, "is_superuser", False):
        return Q()
    return Q(owner_id=user.pk)


# --- job definitions ------------------------------------------------------------------------


def job_definition_list(*, user: AbstractBaseUser) -> QuerySet[JobDefinition]:
    """The definitions ``user`` may see, newest first, each with ``datapoint_count``."""
    count = (
        Datapoint.objects.filter(definition=OuterRef("pk")).order_by()
        .values("definition").annotate(n=Count("id")).values("n")
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


def job_find(*, user: AbstractBaseUser, name: str = "", state: str | None = None,
             definition_id: str | None = None, audience_id: str | None = None) -> QuerySet[Job]:
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


def job_progress(*, job: Job) -> dict[str, Any]:
    """How far ``job`` is, in three queries.

    ``responses_needed`` is what the job expects in all: each open datapoint
    its ``responses_per_datapoint``, each closed one what it got (a compare
    datapoint stopped early by its confidence threshold needs no more), so
    ``responses_collected == responses_needed`` once every datapoint is done.
    The audience's member counts tell a client whether anyone can work on it:
    no graduated and no qualifying members means nobody will.
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
    members = membership_counts(audience=job.audience)
    return {
        "job_id": job.public_id,
        "state": job.state,
        "datapoints_total": totals["total"],
        "datapoints_done": totals["done"],
        "responses_collected": collected,
        "responses_needed": needed,
        "completion_percentage": percentage,
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


def labeler_anonymous_id(labeler_id: int) -> str:
    """A stable pseudonym for a labeler: an HMAC of their pk with the
    ``SECRET_KEY``, truncated. Results never carry usernames or pks."""
    digest = hmac.new(settings.SECRET_KEY.encode(), f"crowdcanvas-labeler:{labeler_id}".encode(), hashlib.sha256)
    return digest.hexdigest()[:LABELER_ID_LENGTH]


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None


def _item_values(datapoint: Datapoint) -> list[str]:
    return [asset.value for asset in datapoint.assets]


def _labeler_to_requester_value(assets: list[Asset]) -> dict[str, str]:
    """Compare choices are stored as the labeler saw the item (an uploaded
    image's media URL); results name items as the requester did."""
    return {asset.labeler_value: asset.value for asset in assets}


def _response_payload(payload: Any, kind: str, choices: dict[str, str]) -> Any:
    if kind == TaskKind.COMPARE and isinstance(payload, dict) and "choice" in payload:
        return {**payload, "choice": choices.get(payload["choice"], payload["choice"])}
    return payload


def job_results(*, job: Job) -> dict[str, Any]:
    """The job's results so far: every datapoint in order with its raw responses.

    ``{"info": {...}, "results": [{"position", "items", "context",
    "media_context", "responses": [{"payload", "user_score", "labeler",
    "created"}]}]}``. Items are named as the requester gave them (URL, text
    or uploaded file name), and so is a compare response's ``choice``.

    The one function that builds results: aggregated results replace it.
    """
    definition = job.definition
    responses = Response.objects.order_by("created_at", "id").only(
        "job_datapoint_id", "labeler_id", "payload", "user_score", "created_at"
    )
    job_datapoints = (
        JobDatapoint.objects.filter(job=job)
        .select_related("datapoint__asset", "datapoint__asset_b", "datapoint__media_context")
        .prefetch_related(Prefetch("responses", queryset=responses))
        .order_by("position")
    )
    results = []
    for job_datapoint in job_datapoints:
        datapoint = job_datapoint.datapoint
        choices = _labeler_to_requester_value(datapoint.assets)
        results.append({
            "position": job_datapoint.position,
            "items": _item_values(datapoint),
            "context": datapoint.context,
            "media_context": datapoint.media_context.value if datapoint.media_context_id else None,
            "responses": [
                {
                    "payload": _response_payload(response.payload, definition.kind, choices),
                    "user_score": response.user_score,
                    "labeler": labeler_anonymous_id(response.labeler_id),
                    "created": _iso(response.created_at),
                }
                for response in job_datapoint.responses.all()
            ],
        })
    return {
        "info": {
            "job_id": job.public_id,
            "definition_id": definition.public_id,
            "name": definition.name,
            "type": definition.kind,
            "instruction": definition.instruction,
            "responses_per_datapoint": definition.responses_per_datapoint,
            "audience_id": job.audience.public_id,
            "state": job.state,
            "created": _iso(job.created_at),
            "completed": _iso(job.completed_at),
        },
        "results": results,
    }
