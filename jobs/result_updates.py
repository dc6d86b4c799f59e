"""Writes that turn responses into results (run by Celery workers).

``datapoint_aggregate`` folds a job datapoint's new responses into its
stored result under the result's row lock: running it twice, or twice at
once, gives the same row. ``job_finalize_if_done`` completes a job once no
datapoint takes responses and every result includes every response.
``results_sweep`` finds results that fell behind (a worker or Redis was
down when responses arrived) and aggregates them again.
"""

from __future__ import annotations

import logging
from typing import NamedTuple

import numpy as np
from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from assets.models import TaskKind
from assets.raster import grid_shape, rasterize_lines
from core import events

from . import aggregation, content_cache, locks, rows
from .models import Datapoint, DatapointResult, Job, JobDatapoint, JobDefinition, Response

logger = logging.getLogger("crowdcanvas.aggregation")

AGGREGATOR_VERSION = "1.2"  # 1.1: draw state stores masks only; 1.2: confidence from graded votes only


def item_names(datapoint: Datapoint) -> list[str]:
    """How results name a datapoint's items: as the requester gave them (URL,
    text or file name), with the asset id added if both names are equal."""
    names = [asset.value for asset in datapoint.assets]
    if len(names) == 2 and names[0] == names[1]:
        names = [f"{name} ({asset.public_id})" for name, asset in zip(names, datapoint.assets)]
    return names


def draw_grid(datapoint: Datapoint) -> tuple[int, int]:
    return grid_shape(datapoint.asset.width, datapoint.asset.height, settings.RASTER_LONG_SIDE)


def _draw_data(state: aggregation.DrawState, algorithm: str) -> dict:
    if algorithm == JobDefinition.DrawAggregation.EM:
        consensus = aggregation.em_consensus(state.mask_stack())
    else:
        consensus = aggregation.consensus_mask(state)
    score = aggregation.agreement(state, consensus)
    return {
        "algorithm": algorithm,
        "gridSize": list(state.shape),
        "consensusMask": aggregation.rle_encode(consensus),
        "consensusBoxes": aggregation.regions(consensus),
        "agreement": None if score is None else round(score, 6),
        "summedUserScores": state.weight / aggregation.WEIGHT_UNITS,
    }


def _compare_data(datapoint: Datapoint, responses: list[Vote]) -> dict:
    values = [datapoint.asset.labeler_value, datapoint.asset_b.labeler_value]
    votes = [(values.index(r.payload["choice"]), r.user_score, r.graded_answers) for r in responses]
    return aggregation.compare_summary(item_names(datapoint), votes)


class Vote(NamedTuple):
    """What aggregation reads of a response."""

    payload: dict
    user_score: float
    graded_answers: int


def datapoint_aggregate(*, job_datapoint_id: int) -> DatapointResult | None:
    """Bring one job datapoint's result up to date with its responses."""
    with transaction.atomic():
        slot = _slot(job_datapoint_id)
        if slot is None:
            return None
        result = locks.datapoint_result_lock(slot=slot, now=timezone.now())
        definition = content_cache.definition(slot.job.definition_id)
        datapoint = content_cache.datapoint(slot.datapoint_id)
        responses = [
            Vote(*row)
            for row in Response.objects.filter(job_datapoint_id=slot.pk)
            .order_by("pk")
            .values_list("payload", "user_score", "graded_answers")
        ]
        fresh = len(responses) != result.response_count or result.aggregator_version != AGGREGATOR_VERSION
        if fresh:
            if definition.kind == TaskKind.DRAW:
                if result.state and result.aggregator_version == AGGREGATOR_VERSION:
                    state = aggregation.DrawState.load(bytes(result.state))
                    for response in responses[state.count :]:
                        mask = rasterize_lines(response.payload["lines"], state.shape)
                        state.add(mask, aggregation.weight_units(response.user_score))
                else:  # from scratch: every response at once
                    shape = draw_grid(datapoint)
                    masks = np.array([rasterize_lines(r.payload["lines"], shape) for r in responses]).reshape(
                        len(responses), *shape
                    )
                    state = aggregation.DrawState.from_masks(
                        masks, [aggregation.weight_units(r.user_score) for r in responses]
                    )
                result.state = state.dump()
                result.data = _draw_data(state, definition.draw_aggregation)
            else:
                result.data = _compare_data(datapoint, responses)
            result.response_count = len(responses)
            result.aggregator_version = AGGREGATOR_VERSION
            result.save(update_fields=["state", "data", "response_count", "aggregator_version", "updated_at"])
            events.job_result_updated(slot.job.public_id, slot.position)
    if fresh:
        logger.info("aggregated", extra={"job_datapoint": slot.pk, "responses": result.response_count})
    if slot.closed:
        job_finalize_if_done(job_id=slot.job_id)
    return result


def _slot(job_datapoint_id: int) -> JobDatapoint | None:
    """The job datapoint, with its job's public and definition ids."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT jd.job_id, jd.datapoint_id, jd.position, jd.closed, j.public_id, j.definition_id"
            f" FROM {JobDatapoint._meta.db_table} jd JOIN {Job._meta.db_table} j ON j.id = jd.job_id"
            f" WHERE jd.id = %s",
            [job_datapoint_id],
        )
        row = cursor.fetchone()
    if row is None:
        return None
    job_id, datapoint_id, position, closed, job_public_id, definition_id = row
    slot = rows.instance(
        JobDatapoint,
        id=job_datapoint_id,
        job_id=job_id,
        datapoint_id=datapoint_id,
        position=position,
        closed=bool(closed),
    )
    slot.job = rows.instance(Job, id=job_id, public_id=job_public_id, definition_id=definition_id)
    return slot


def job_summary(job: Job) -> dict:
    """Job-wide results: for compare jobs, the Bradley-Terry ranking of every
    item over all pairs."""
    if job.definition.kind != TaskKind.COMPARE:
        return {}
    datapoints = {
        d.pk: d for d in Datapoint.objects.filter(definition_id=job.definition_id).select_related("asset", "asset_b")
    }
    slots = dict(JobDatapoint.objects.filter(job=job).values_list("pk", "datapoint_id"))
    index: dict[int, int] = {}
    names: list[str] = []
    for datapoint in sorted(datapoints.values(), key=lambda d: d.position):
        for asset in datapoint.assets:
            if asset.pk not in index:
                index[asset.pk] = len(names)
                names.append(asset.value)
    winners, losers = [], []
    wins = np.zeros(len(names), dtype=np.int64)
    games = np.zeros(len(names), dtype=np.int64)
    for slot_id, choice in Response.objects.filter(job=job).values_list("job_datapoint_id", "payload__choice"):
        datapoint = datapoints[slots[slot_id]]
        first, second = datapoint.asset, datapoint.asset_b
        won, lost = (first, second) if choice == first.labeler_value else (second, first)
        winners.append(index[won.pk])
        losers.append(index[lost.pk])
    winners_arr, losers_arr = np.asarray(winners, dtype=np.int64), np.asarray(losers, dtype=np.int64)
    np.add.at(wins, winners_arr, 1)
    np.add.at(games, winners_arr, 1)
    np.add.at(games, losers_arr, 1)
    ranking = aggregation.bradley_terry(len(names), winners_arr, losers_arr)
    order = sorted(range(len(names)), key=lambda i: (-ranking.log_scores[i], names[i]))
    return {
        "ranking": {
            "method": "bradley-terry",
            "regularized": ranking.regularized,
            "comparisons": len(winners),
            "items": [
                {
                    "rank": rank,
                    "item": names[i],
                    "score": round(float(ranking.log_scores[i]), 8),
                    "wins": int(wins[i]),
                    "comparisons": int(games[i]),
                }
                for rank, i in enumerate(order, start=1)
            ],
        }
    }


def job_summary_refresh(*, job: Job) -> dict:
    """The job's summary, recomputed when responses arrived since it was made."""
    count = Response.objects.filter(job=job).count()
    if job.summary_response_count == count and (job.summary or job.definition.kind != TaskKind.COMPARE):
        return job.summary
    summary = job_summary(job)
    Job.objects.filter(pk=job.pk).update(summary=summary, summary_response_count=count)
    job.summary, job.summary_response_count = summary, count
    return summary


def job_finalize_if_done(*, job_id: int) -> bool:
    """Complete the job once no datapoint takes responses and every result
    includes every response (its final aggregate is written)."""
    if _has_open_slot(job_id):
        return False  # looked at first without the job's lock: the common case while a job runs
    with transaction.atomic():
        job = locks.job_lock(pk=job_id)
        if job.state != Job.State.RUNNING:
            return False
        if JobDatapoint.objects.filter(job=job, closed=False).exists():
            return False
        if _stale_slots().filter(job=job).exists():
            return False
        job_summary_refresh(job=job)
        job.state = Job.State.COMPLETED
        job.completed_at = timezone.now()
        job.save(update_fields=["state", "completed_at"])
        events.job_state_changed(job.public_id, job.audience.public_id)
    logger.info("job completed", extra={"job": job.public_id})
    return True


def _has_open_slot(job_id: int) -> bool:
    """Whether a datapoint of the job still takes responses. Asked after
    nearly every aggregation, so written as SQL: building the query with the
    ORM cost more than running it."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT 1 FROM {JobDatapoint._meta.db_table} WHERE job_id = %s AND NOT closed LIMIT 1", [job_id]
        )
        return cursor.fetchone() is not None


def _stale_slots():
    """Job datapoints whose result misses responses (or was made by another
    aggregator version)."""
    return JobDatapoint.objects.filter(response_count__gt=0).filter(
        Q(result__isnull=True)
        | Q(result__response_count__lt=F("response_count"))
        | ~Q(result__aggregator_version=AGGREGATOR_VERSION)
    )


def stale_among(job_datapoint_ids: list[int]) -> list[int]:
    """Those of the job datapoints whose results are behind (see
    ``_stale_slots``), in id order: one query for a batch."""
    return list(_stale_slots().filter(pk__in=job_datapoint_ids).order_by("pk").values_list("pk", flat=True))


def results_sweep(*, enqueue) -> dict[str, int]:
    """Re-enqueue every stale result, and finish jobs whose results are all
    in. ``enqueue(job_datapoint_id)`` schedules one aggregation."""
    stale = list(
        _stale_slots()
        .filter(job__state__in=[Job.State.RUNNING, Job.State.COMPLETED])
        .values_list("pk", flat=True)[:10_000]
    )
    for pk in stale:
        enqueue(pk)
    finished = 0
    for job_id in (
        Job.objects.filter(state=Job.State.RUNNING).exclude(job_datapoints__closed=False).values_list("pk", flat=True)
    ):
        finished += int(job_finalize_if_done(job_id=job_id))
    return {"requeued": len(stale), "completed": finished}
