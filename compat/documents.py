"""Reads behind the compatible API: our objects as the hosted service's
client reads them (camelCase, ``_t`` discriminators, every field its models
require), built from ``jobs.selectors`` and ``audiences.selectors``.

State mappings, once:

- audience: the global audience is ``Ready``; another is ``Created`` until
  it has the examples it opens with (no labeler can join it yet: the client
  rightly refuses to wait on it), then ``Recruiting`` while nobody has
  graduated, and ``Ready`` once someone has;
- job: running ``Running``, paused ``Paused``, completed ``Completed``,
  failed ``Failed``; its progress ``Labeling``/``Paused``/``Done``/``Failed``.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Count

from audiences.models import Audience
from audiences.selectors import audience_stats
from audiences.services import MIN_EXAMPLES_TO_OPEN
from jobs.models import Job, JobDatapoint, TaskKind
from jobs.result_updates import AGGREGATOR_VERSION
from jobs.selectors import job_progress, job_results

from .models import BatchUpload, UrlFetch

PLATFORM_OWNER = uuid.UUID("6f0c1d2e-0000-5000-8000-000000000000")
DRAW_RESULTS_VERSION = "crowdcanvas-draw/1"
COMPARE_RESULTS_VERSION = f"crowdcanvas-compare/{AGGREGATOR_VERSION}"
JOB_STATES = {
    Job.State.RUNNING: "Running",
    Job.State.PAUSED: "Paused",
    Job.State.COMPLETED: "Completed",
    Job.State.FAILED: "Failed",
}
PROGRESS_STATES = {
    Job.State.RUNNING: "Labeling",
    Job.State.PAUSED: "Paused",
    Job.State.COMPLETED: "Done",
    Job.State.FAILED: "Failed",
}


def owner_uuid(user_id: int | None) -> str:
    """A stable UUID for an account (the client expects UUID owner ids)."""
    if user_id is None:
        return str(PLATFORM_OWNER)
    return str(uuid.uuid5(PLATFORM_OWNER, f"crowdcanvas-user:{user_id}"))


def iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat().replace("+00:00", "Z")


def _mail(user: AbstractBaseUser | None) -> str:
    if user is None:
        return ""
    return user.email or user.get_username()


# --- audiences ----------------------------------------------------------------------------------


def audience_status(audience: Audience, stats: dict) -> str:
    if audience.kind == Audience.Kind.GLOBAL:
        return "Ready"
    if stats["example_count"] < MIN_EXAMPLES_TO_OPEN:
        return "Created"
    return "Ready" if stats["members"]["graduated"] else "Recruiting"


def audience_documents(audiences: list[Audience]) -> list[dict[str, Any]]:
    """Each audience as the client reads it (two queries for them all)."""
    stats = audience_stats(audiences=audiences)
    return [_audience_document(audience, stats[audience.pk]) for audience in audiences]


def _audience_document(audience: Audience, stats: dict) -> dict[str, Any]:
    status = audience_status(audience, stats)
    members = stats["members"]
    return {
        "id": audience.public_id,
        "baseAudienceId": audience.public_id,
        "name": audience.name,
        "description": audience.description or None,
        "status": status,
        "qualifiedUserCount": members["graduated"],
        "filters": [],
        "createdAt": iso(audience.created_at),
        "ownerId": owner_uuid(audience.owner_id),
        "ownerMail": _mail(audience.owner),
        "organizationId": owner_uuid(audience.owner_id),
        "isPublic": audience.kind != Audience.Kind.CUSTOM,
        "isShared": False,
        "isDistilling": status == "Recruiting",
        "distillingCampaignId": audience.public_id,
        "graduationRule": {
            "_t": "TaskAccuracy",
            "targetAccuracy": audience.target_accuracy,
            "minTasks": audience.min_tasks,
            "maxTasks": audience.max_tasks,
        },
        "distillingRetrievalMode": "Shuffled",
        "boostLevel": "None",
        "graduated": members["graduated"],
        "dropped": members["dropped"],
    }


def audience_user_metrics(audience: Audience) -> dict[str, Any]:
    """Members per state: ``Graduated``, ``Distilling`` (qualifying),
    ``Dropped``. The global audience has no funnel of its own: an empty
    map, as the hosted service reports for audiences that do not recruit;
    once there are labeler accounts, every one of them as graduated."""
    if audience.kind == Audience.Kind.GLOBAL:
        labelers = get_user_model().objects.filter(is_active=True, is_staff=False).count()
        return {
            "usersPerState": {"Graduated": labelers} if labelers else {},
            "capacity": "Sufficient" if labelers else None,
        }
    members = audience_stats(audiences=[audience])[audience.pk]["members"]
    return {
        "usersPerState": {
            "Graduated": members["graduated"],
            "Distilling": members["qualifying"],
            "Dropped": members["dropped"],
        },
        "capacity": "Sufficient" if members["graduated"] else "Low",
    }


# --- jobs ---------------------------------------------------------------------------------------


def job_document(job: Job) -> dict[str, Any]:
    definition = job.definition
    return {
        "jobId": job.public_id,
        "name": definition.name,
        "definitionId": definition.public_id,
        "audienceId": job.audience.public_id,
        "revisionNumber": 1,
        "pipelineId": definition.public_id,
        "state": JOB_STATES[job.state],
        "failureMessage": "The job failed; it will produce no more results." if job.state == Job.State.FAILED else None,
        "reviewReason": None,
        "isPublic": False,
        "audienceDeleted": False,
        "createdAt": iso(job.created_at),
        "completedAt": iso(job.completed_at),
        "ownerId": owner_uuid(job.owner_id),
        "ownerMail": _mail(job.owner),
        "organizationId": owner_uuid(job.owner_id),
    }


def job_progress_document(job: Job) -> dict[str, Any]:
    progress = job_progress(job=job)
    return {
        "completionPercentage": progress["completion_percentage"],
        "total": progress["datapoints_total"],
        "completed": progress["datapoints_done"],
        "state": PROGRESS_STATES[job.state],
        "responseCount": progress["responses_collected"],
    }


# --- URL fetches ----------------------------------------------------------------------------------


def _fetch_document(fetch: UrlFetch) -> dict[str, Any]:
    return {
        "url": fetch.url,
        "status": fetch.status,
        "fileName": fetch.asset.public_id if fetch.asset_id else None,
        "warnings": [],
        "errorMessage": fetch.error_message or None,
        "stage": fetch.stage or None,
        "upstreamHttpStatus": fetch.upstream_status,
    }


def batch_upload_document(batch: BatchUpload) -> dict[str, Any]:
    items = list(batch.items.select_related("asset"))
    counts = {state: sum(1 for item in items if item.status == state) for state in UrlFetch.Status.values}
    return {
        "batchUploadId": batch.public_id,
        "status": "Processing" if counts[UrlFetch.Status.PENDING] else ("Aborted" if batch.aborted else "Completed"),
        "totalCount": len(items),
        "completedCount": counts[UrlFetch.Status.COMPLETED],
        "failedCount": counts[UrlFetch.Status.FAILED],
        "items": [_fetch_document(item) for item in items],
    }


def batch_uploads_status(*, owner: AbstractBaseUser, correlation_id: str) -> dict[str, Any]:
    """Where ``owner``'s batches under ``correlation_id`` stand: the ones with
    no fetch pending are completed (in three queries)."""
    batches = list(BatchUpload.objects.filter(owner=owner, correlation_id=correlation_id).order_by("id"))
    counts = dict(UrlFetch.objects.filter(batch__in=batches).values_list("status").annotate(n=Count("id")))
    pending = set(
        UrlFetch.objects.filter(batch__in=batches, status=UrlFetch.Status.PENDING).values_list("batch_id", flat=True)
    )
    return {
        "status": "Processing" if pending else "Completed",
        "totalCount": sum(counts.values()),
        "completedCount": counts.get(UrlFetch.Status.COMPLETED, 0),
        "failedCount": counts.get(UrlFetch.Status.FAILED, 0),
        "completedBatches": [batch.public_id for batch in batches if batch.pk not in pending],
    }


# --- results ------------------------------------------------------------------------------------


def _asset_urls(job: Job, absolute_url) -> dict[int, list[str]]:
    """Position -> the absolute URL of each item as labelers saw it."""
    slots = JobDatapoint.objects.filter(job=job).select_related("datapoint__asset", "datapoint__asset_b")
    return {
        slot.position: [
            absolute_url(asset.labeler_value) if asset.kind != asset.Kind.TEXT else asset.value
            for asset in slot.datapoint.assets
        ]
        for slot in slots
    }


def _user_details(score: float) -> dict[str, Any]:
    return {"country": None, "language": None, "userScores": {"global": score}, "demographics": {}}


def _compare_result(entry: dict[str, Any], urls: list[str]) -> dict[str, Any]:
    names = entry["items"]
    winner, weighted = entry.get("winner"), entry.get("weightedWinner")
    winner_index = names.index(winner) if winner in names else None
    return {
        "context": entry["context"] or None,
        "winner": winner,
        "winnerIndex": winner_index,
        "winner_index": winner_index,
        "weightedWinner": weighted,
        "weightedWinnerIndex": names.index(weighted) if weighted in names else None,
        "assetUrls": dict(zip(names, urls)),
        "aggregatedResults": entry.get("aggregatedResults") or dict.fromkeys(names, 0),
        "aggregatedResultsRatios": entry.get("aggregatedResultsRatios"),
        "summedUserScores": entry.get("summedUserScores"),
        "summedUserScoresRatios": entry.get("summedUserScoresRatios"),
        "confidence": entry.get("confidence"),
        "stoppedEarly": entry["stoppedEarly"],
        "detailedResults": [
            {
                "votedFor": response["votedFor"],
                "labeler": response["labeler"],
                "userDetails": _user_details(response["userScore"]),
            }
            for response in entry["detailedResults"]
        ],
    }


def _draw_result(entry: dict[str, Any], urls: list[str]) -> dict[str, Any]:
    return {
        "originalFileName": entry["item"],
        "assetUrl": urls[0],
        "context": entry["context"] or None,
        "imageSize": entry["imageSize"],
        "responses": entry["responses"],
        "heatmapUrl": entry["heatmapUrl"],
        "gridSize": entry["gridSize"],
        "consensusMask": entry.get("consensusMask"),
        "consensusBoxes": entry.get("consensusBoxes"),
        "agreement": entry.get("agreement"),
        "summedUserScores": entry.get("summedUserScores"),
        "detailedResults": [
            {
                "lines": response["lines"],
                "score": response["userScore"],
                "labeler": response["labeler"],
                "userDetails": _user_details(response["userScore"]),
            }
            for response in entry["detailedResults"]
        ],
    }


def job_results_document(job: Job, *, absolute_url) -> dict[str, Any]:
    """The job's results in the hosted service's format: compare as it
    documents it; draw in the same family (``docs/hosted-client.md``)."""
    document = job_results(job=job, absolute_url=absolute_url)
    urls = _asset_urls(job, absolute_url)
    definition = job.definition
    info = {
        "createdAt": iso(job.created_at),
        "completedAt": iso(job.completed_at),
        "version": COMPARE_RESULTS_VERSION if definition.kind == TaskKind.COMPARE else DRAW_RESULTS_VERSION,
        "type": "Compare" if definition.kind == TaskKind.COMPARE else "Draw",
        "name": definition.name,
        "instruction": definition.instruction,
        "jobId": job.public_id,
        "responsesPerDatapoint": definition.responses_per_datapoint,
    }
    if definition.kind == TaskKind.COMPARE:
        results = [_compare_result(entry, urls[entry["position"]]) for entry in document["results"]]
        wins = [0, 0]
        for result in results:
            if result["winnerIndex"] is not None:
                wins[result["winnerIndex"]] += 1
        summary = {"A_wins_total": wins[0], "B_wins_total": wins[1], "ranking": document["summary"].get("ranking")}
    else:
        info["coordinates"] = "ratio"
        results = [_draw_result(entry, urls[entry["position"]]) for entry in document["results"]]
        summary = {
            "datapoints": document["summary"]["datapoints"],
            "responses": document["summary"]["responses"],
            "meanAgreement": document["summary"].get("meanAgreement"),
        }
    return {"info": info, "results": results, "summary": summary}
