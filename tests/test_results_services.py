"""Turning responses into results: idempotent aggregation, job completion,
the sweeper (early stopping and quality checks: test_feed_early_stop.py,
test_feed_gold.py)."""

from __future__ import annotations

import random
import threading

import numpy as np
import pytest
from django.core.management import call_command
from django.db import connection

from assets.raster import rasterize_lines
from audiences.selectors import global_audience
from jobs import aggregation, feed, result_updates
from jobs.models import DatapointResult, Job, JobDatapoint
from tests import factories
from tests.factories import answer_all

pytestmark = pytest.mark.django_db


@pytest.fixture
def drawn_job(requester, make_labeler):
    """A global draw job, 2 datapoints x 3 responses, answered (aggregation not run)."""
    job = factories.draw_job(requester, global_audience(), datapoints=2, responses=3)
    labelers = [make_labeler(f"d{i}") for i in range(3)]
    answer_all(job, labelers, lambda lease: factories.stroke_inside())
    return job


def result_rows(job):
    return {
        r.job_datapoint_id: (r.response_count, r.data, bytes(r.state) if r.state else None)
        for r in DatapointResult.objects.filter(job=job)
    }


def test_draw_result_has_consensus_boxes_and_agreement(drawn_job):
    slot = JobDatapoint.objects.filter(job=drawn_job).first()
    result = result_updates.datapoint_aggregate(job_datapoint_id=slot.pk)
    data = result.data
    assert result.response_count == 3
    assert data["gridSize"] == [256, 256]  # URL asset: size unknown, square grid
    mask = aggregation.rle_decode(data["consensusMask"])
    expected = rasterize_lines(factories.stroke_inside()["lines"], (256, 256))
    assert np.array_equal(mask, expected)  # three identical answers
    assert data["agreement"] == 1.0
    (box,) = data["consensusBoxes"]
    blue = factories.BLUE_BOX
    assert blue["x_min"] <= box["x_min"] < box["x_max"] <= blue["x_max"]
    assert data["summedUserScores"] == 1.5  # three labelers at 0.5


def test_aggregating_twice_gives_the_same_row(drawn_job):
    slots = JobDatapoint.objects.filter(job=drawn_job).values_list("pk", flat=True)
    for pk in slots:
        result_updates.datapoint_aggregate(job_datapoint_id=pk)
    first = result_rows(drawn_job)
    for pk in slots:
        result_updates.datapoint_aggregate(job_datapoint_id=pk)
    assert result_rows(drawn_job) == first


def test_incremental_aggregation_equals_aggregating_from_scratch(requester, make_labeler):
    job = factories.draw_job(requester, global_audience(), datapoints=1, responses=5)
    slot = JobDatapoint.objects.get(job=job)
    rng = random.Random(4)
    for index in range(5):
        labeler = make_labeler(f"i{index}")
        lease = feed.task_next(labeler=labeler, job=job)
        x, y = rng.uniform(0.2, 0.6), rng.uniform(0.2, 0.6)
        feed.task_submit(
            labeler=labeler,
            task_id=lease.public_id,
            response={"lines": [{"size": 0.05, "points": [{"x": x, "y": y}, {"x": x + 0.2, "y": y + 0.1}]}]},
        )
        result_updates.datapoint_aggregate(job_datapoint_id=slot.pk)  # one response at a time
    incremental = result_rows(job)
    DatapointResult.objects.filter(job=job).delete()
    result_updates.datapoint_aggregate(job_datapoint_id=slot.pk)
    assert result_rows(job) == incremental


@pytest.mark.django_db(transaction=True)
def test_concurrent_aggregations_of_one_datapoint_agree(requester, make_labeler):
    job = factories.draw_job(requester, global_audience(), datapoints=1, responses=6)
    answer_all(job, [make_labeler(f"c{i}") for i in range(6)], lambda lease: factories.stroke_inside())
    slot = JobDatapoint.objects.get(job=job)
    DatapointResult.objects.filter(job=job).delete()  # undo the eager aggregation of the submissions
    barrier = threading.Barrier(4)
    errors = []

    def run():
        try:
            barrier.wait()
            result_updates.datapoint_aggregate(job_datapoint_id=slot.pk)
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert DatapointResult.objects.filter(job=job).count() == 1
    concurrent = result_rows(job)
    DatapointResult.objects.filter(job=job).delete()
    result_updates.datapoint_aggregate(job_datapoint_id=slot.pk)
    assert result_rows(job) == concurrent
    assert Job.objects.get(pk=job.pk).state == Job.State.COMPLETED


def test_job_completes_only_once_every_result_is_written(drawn_job):
    assert not JobDatapoint.objects.filter(job=drawn_job, closed=False).exists()
    drawn_job.refresh_from_db()
    assert drawn_job.state == Job.State.RUNNING  # responses are in, results are not
    slots = list(JobDatapoint.objects.filter(job=drawn_job).values_list("pk", flat=True))
    result_updates.datapoint_aggregate(job_datapoint_id=slots[0])
    drawn_job.refresh_from_db()
    assert drawn_job.state == Job.State.RUNNING
    result_updates.datapoint_aggregate(job_datapoint_id=slots[1])
    drawn_job.refresh_from_db()
    assert drawn_job.state == Job.State.COMPLETED and drawn_job.completed_at is not None


def test_sweeper_recovers_missing_results_and_completes_the_job(drawn_job, capsys):
    call_command("sweep_results", "--inline")
    assert "requeued 2 stale result(s)" in capsys.readouterr().out
    drawn_job.refresh_from_db()
    assert drawn_job.state == Job.State.COMPLETED
    assert all(count == 3 for count, _, _ in result_rows(drawn_job).values())
    call_command("sweep_results", "--inline")
    assert "requeued 0 stale result(s)" in capsys.readouterr().out


def test_sweeper_finds_results_behind_their_responses(drawn_job):
    for pk in JobDatapoint.objects.filter(job=drawn_job).values_list("pk", flat=True):
        result_updates.datapoint_aggregate(job_datapoint_id=pk)
    DatapointResult.objects.filter(job=drawn_job).update(response_count=1)  # as if two were missed
    queued = []
    summary = result_updates.results_sweep(enqueue=queued.append)
    assert summary["requeued"] == 2 and len(queued) == 2


def test_compare_job_summary_ranks_items(requester, make_labeler):
    job = factories.compare_job(requester, global_audience(), datapoints=2, responses=3)
    preferred = {factories.url("left-0"), factories.url("right-1")}

    def vote(lease):
        items = [lease.job_datapoint.datapoint.asset.labeler_value, lease.job_datapoint.datapoint.asset_b.labeler_value]
        return {"choice": next(i for i in items if i in preferred)}

    answer_all(job, [make_labeler(f"v{i}") for i in range(3)], vote)
    for pk in JobDatapoint.objects.filter(job=job).values_list("pk", flat=True):
        result_updates.datapoint_aggregate(job_datapoint_id=pk)
    job.refresh_from_db()
    ranking = job.summary["ranking"]
    assert ranking["comparisons"] == 6 and ranking["regularized"] is True
    top = {entry["item"] for entry in ranking["items"][:2]}
    assert top == preferred
    first = DatapointResult.objects.get(job_datapoint__job=job, job_datapoint__position=0).data
    assert first["aggregatedResults"] == {factories.url("left-0"): 3, factories.url("right-0"): 0}
    assert first["winner"] == first["weightedWinner"] == factories.url("left-0")
