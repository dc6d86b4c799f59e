"""Turning responses into results: idempotent aggregation, job completion,
the sweeper, early stopping and ongoing quality checks."""

from __future__ import annotations

import random
import threading

import numpy as np
import pytest
from django.utils import timezone
from django.core.management import call_command
from django.db import connection
from rest_framework.test import APIClient

from audiences.models import Membership, QualificationAnswer
from audiences.selectors import global_audience
from jobs import aggregation, result_updates
from jobs import feed
from jobs import services as job_services
from jobs.models import DatapointResult, Job, JobDatapoint, Lease, Response
from assets.raster import rasterize_lines
from tests import factories

pytestmark = pytest.mark.django_db


def api_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def answer_all(job, labelers, respond):
    """Each labeler takes tasks until none is left, answering with ``respond(task)``."""
    for labeler in labelers:
        while (lease := feed.task_next(labeler=labeler, job=job)) is not None:
            feed.task_submit(labeler=labeler, task_id=lease.public_id, response=respond(lease))


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
        feed.task_submit(labeler=labeler, task_id=lease.public_id, response={"lines": [
            {"size": 0.05, "points": [{"x": x, "y": y}, {"x": x + 0.2, "y": y + 0.1}]}]})
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


# --- early stopping ----------------------------------------------------------------------------


def compare_with_threshold(requester, threshold, responses=6, datapoints=2, audience=None):
    from jobs import services

    definition = services.job_definition_create_compare(
        owner=requester, name="Early", instruction="Which?",
        datapoints=[[factories.url(f"l{i}"), factories.url(f"r{i}")] for i in range(datapoints)],
        responses_per_datapoint=responses, confidence_threshold=threshold,
    )
    return services.job_create(owner=requester, definition=definition, audience=audience or global_audience())


def graded_labelers(requester, make_labeler, count, *, prefix="g"):
    """A custom audience (no quality checks) and ``count`` labelers graduated
    in it with a graded record that scores 0.5: 3 of 4 compare examples right."""
    from audiences.grading import user_score

    audience = factories.compare_audience(requester, name=f"Graded {prefix}", gold_rate=0)
    score = user_score(answers=4, correct=3, chance_sum=2.0)
    assert score == 0.5
    labelers = [make_labeler(f"{prefix}{i}") for i in range(count)]
    for labeler in labelers:
        Membership.objects.create(labeler=labeler, audience=audience, state=Membership.State.GRADUATED,
                                  answers=4, correct=3, chance_sum=2.0, user_score=score)
    return audience, labelers


def choose(side):
    def respond(lease):
        datapoint = lease.job_datapoint.datapoint
        return {"choice": (datapoint.asset if side == 0 else datapoint.asset_b).labeler_value}
    return respond


def test_unanimous_votes_stop_a_datapoint_at_the_threshold(requester, make_labeler):
    # Graded labelers scoring 0.5: accuracy 0.75, each vote multiplies the odds by 3.
    # One vote: 0.75; two: 0.9 >= 0.9 -> stop after two of the six.
    audience, labelers = graded_labelers(requester, make_labeler, 4, prefix="e")
    job = compare_with_threshold(requester, 0.9, audience=audience)
    answer_all(job, labelers, choose(0))
    counts = list(JobDatapoint.objects.filter(job=job).values_list("response_count", "closed", "stopped_early"))
    assert counts == [(2, True, True), (2, True, True)]


@pytest.mark.parametrize(("threshold", "responses"), [(0.9, 6), (0.95, 10)])
def test_ungraded_votes_never_stop_a_datapoint_early(requester, make_labeler, threshold, responses):
    """Global-audience labelers have no graded answers: their score is the
    prior, not evidence, so their votes carry what a random labeler's would
    (log-odds 0). However many agree, the datapoint takes every response it
    asks for; the votes still count and name the winner."""
    job = compare_with_threshold(requester, threshold, responses=responses)
    answer_all(job, [make_labeler(f"u{i}") for i in range(responses + 2)], choose(0))
    counts = list(JobDatapoint.objects.filter(job=job).values_list("response_count", "closed", "stopped_early"))
    assert counts == [(responses, True, False), (responses, True, False)]
    for pk in JobDatapoint.objects.filter(job=job).values_list("pk", flat=True):
        result_updates.datapoint_aggregate(job_datapoint_id=pk)
    first = DatapointResult.objects.get(job_datapoint__job=job, job_datapoint__position=0).data
    assert first["aggregatedResults"] == {factories.url("l0"): responses, factories.url("r0"): 0}
    assert first["winner"] == factories.url("l0")
    assert (first["leader"], first["confidence"]) == (None, 0.5)


def test_disagreement_keeps_collecting_up_to_the_limit(requester, make_labeler):
    audience, labelers = graded_labelers(requester, make_labeler, 6, prefix="x")
    job = compare_with_threshold(requester, 0.99, responses=4, datapoints=1, audience=audience)
    for index, labeler in enumerate(labelers):
        answer_all(job, [labeler], choose(index % 2))
    slot = JobDatapoint.objects.get(job=job)
    assert (slot.response_count, slot.closed, slot.stopped_early) == (4, True, False)
    assert Response.objects.filter(job=job).count() == 4


def test_outstanding_leases_end_when_a_datapoint_stops_early(requester, make_labeler):
    audience, (a, b, c) = graded_labelers(requester, make_labeler, 3, prefix="o")
    job = compare_with_threshold(requester, 0.9, responses=6, datapoints=1, audience=audience)
    leases = [feed.task_next(labeler=user, job=job) for user in (a, b, c)]
    for user, lease in zip((a, b), leases):
        feed.task_submit(labeler=user, task_id=lease.public_id, response=choose(0)(lease))
    late = api_for(c).post(f"/api/labeler/tasks/{leases[2].public_id}/submit/",
                           {"response": choose(0)(leases[2])}, format="json")
    assert late.status_code == 409 and late.json()["code"] == "task_expired"
    assert Response.objects.filter(job=job).count() == 2


def test_a_lease_taken_while_the_closing_answer_waited_ends_without_a_5xx(requester, make_labeler):
    """The answer that stops a datapoint early ends its outstanding leases.
    One of them may have been taken after that request read the time (it
    waited for the datapoint's lock meanwhile): ending it then must not break
    ``expires_at > leased_at``, nor lose the answer."""
    from datetime import timedelta

    audience, (a, b, c) = graded_labelers(requester, make_labeler, 3, prefix="w")
    job = compare_with_threshold(requester, 0.9, responses=6, datapoints=1, audience=audience)
    leases = [feed.task_next(labeler=user, job=job) for user in (a, b, c)]
    feed.task_submit(labeler=a, task_id=leases[0].public_id, response=choose(0)(leases[0]))
    later = timezone.now() + timedelta(seconds=2)  # c's lease, as if taken while b's answer waited
    Lease.objects.filter(pk=leases[2].pk).update(leased_at=later, expires_at=later + timedelta(minutes=10))
    closing = api_for(b).post(f"/api/labeler/tasks/{leases[1].public_id}/submit/",
                              {"response": choose(0)(leases[1])}, format="json")
    assert closing.status_code == 200, closing.content
    slot = JobDatapoint.objects.get(job=job)
    assert (slot.response_count, slot.stopped_early) == (2, True)
    ended = Lease.objects.get(pk=leases[2].pk)
    assert ended.expires_at > ended.leased_at and ended.expires_at <= later + timedelta(milliseconds=1)


# --- ongoing quality ------------------------------------------------------------------------------


@pytest.fixture
def gold_always(monkeypatch):
    """Serve a quality check whenever the audience's gold rate allows one."""
    monkeypatch.setattr(feed.gold, "_random", random.Random(0))


def graduate(labeler, audience):
    client = api_for(labeler)
    state = client.post(f"/api/labeler/audiences/{audience.public_id}/qualification/next/").json()
    while state["task"]:
        state = client.post(f"/api/labeler/audiences/{audience.public_id}/qualification/answer/",
                            {"task_id": state["task"]["id"], "response": factories.stroke_inside()},
                            format="json").json()
    assert state["status"] == "graduated"
    return client


def test_quality_checks_look_like_tasks_and_drop_a_labeler_who_fails_them(requester, labeler, gold_always):
    # Qualification takes 4 examples; the other 16 are the checks (each shown once).
    audience = factories.draw_audience(requester, examples=20, min_tasks=4, max_tasks=4)
    audience.gold_rate = 0.5
    audience.save()
    # Graduated 4 of 4 at 0.75: wrong gold answers drop them once the record
    # shows them below target (grading.below_target), eight or so in a row.
    job = factories.draw_job(requester, audience, datapoints=30, responses=2)
    client = graduate(labeler, audience)
    membership = Membership.objects.get(labeler=labeler, audience=audience)
    score_before = membership.user_score

    kinds = []
    task = client.post(f"/api/labeler/jobs/{job.public_id}/tasks/next/").json()["task"]
    while task is not None and len(kinds) < 60:
        lease = Lease.objects.get(public_id=task["id"])
        kinds.append("gold" if lease.example_id else "real")
        assert set(task) == {"id", "kind", "instruction", "context", "media_context", "items", "expires_at", "job"}
        assert task["instruction"] == job.definition.instruction and task["job"]["id"] == job.public_id
        # Right on real tasks, wrong on quality checks.
        response = factories.stroke_outside() if lease.example_id else factories.stroke_inside()
        result = client.post(f"/api/labeler/tasks/{task['id']}/submit/", {"response": response}, format="json")
        assert result.status_code == 200 and result.json()["accepted"] is True
        task = result.json()["next"]
        membership.refresh_from_db()
        if membership.state == Membership.State.DROPPED:
            break
    assert "gold" in kinds and "real" in kinds
    assert membership.state == Membership.State.DROPPED
    assert membership.user_score < score_before
    assert QualificationAnswer.objects.filter(membership=membership, gold=True, correct=False).exists()
    refused = client.post(f"/api/labeler/jobs/{job.public_id}/tasks/next/")
    assert refused.status_code == 403 and refused.json()["code"] == "not_eligible"
    # What they answered before keeps the score it was given with: the score
    # of their record then, 4 of 4 followed by some wrong gold answers.
    from audiences.grading import user_score

    golds = kinds.count("gold")
    record_scores = {user_score(answers=4 + wrong, correct=4, chance_sum=0.0) for wrong in range(golds + 1)}
    assert score_before in record_scores
    scores = list(Response.objects.filter(labeler=labeler).order_by("created_at", "id")
                  .values_list("user_score", flat=True))
    assert set(scores) <= record_scores and scores == sorted(scores, reverse=True)
    assert Response.objects.filter(labeler=labeler).exists()


def test_quality_checks_come_only_from_examples_that_fit_the_job(requester, labeler, gold_always):
    """An example is a quality check of a job only if it asks what the job
    asks (kind and instruction): the labeler sees the job's instruction, and
    is graded against the example's truth."""
    from audiences.models import QualificationExample

    audience = factories.draw_audience(requester, examples=6, min_tasks=4, max_tasks=4)
    audience.gold_rate = 0.5
    audience.save()
    client = graduate(labeler, audience)
    QualificationExample.objects.filter(audience=audience).update(instruction="Color in the red books")
    job = factories.draw_job(requester, audience, datapoints=12, responses=1)
    answered = 0
    task = client.post(f"/api/labeler/jobs/{job.public_id}/tasks/next/").json()["task"]
    while task is not None:
        result = client.post(f"/api/labeler/tasks/{task['id']}/submit/", {"response": factories.stroke_inside()},
                             format="json")
        assert result.status_code == 200, result.content
        answered += 1
        task = result.json()["next"]
    assert answered == 12
    assert not Lease.objects.filter(job=job, example__isnull=False).exists()

    fitting = QualificationExample.objects.filter(audience=audience).exclude(answers__membership__labeler=labeler)[0]
    fitting.instruction = job.definition.instruction
    fitting.save()
    job = factories.draw_job(requester, audience, datapoints=12, responses=1)
    answer_all(job, [labeler], lambda lease: factories.stroke_inside())
    assert set(Lease.objects.filter(job=job, example__isnull=False).values_list("example", flat=True)) == {
        fitting.pk}


def test_a_dropped_labeler_answering_a_quality_check_gets_no_grade_and_no_next_task(requester, labeler,
                                                                                    gold_always):
    """Dropped while holding a quality check (here by an operator; as well by
    a parallel answer): the answer is refused like a job task's would be, is
    not graded, and brings no new task."""
    from audiences.models import QualificationAnswer
    from audiences.services import membership_set_state

    audience = factories.draw_audience(requester, examples=6, min_tasks=4, max_tasks=4)
    audience.gold_rate = 0.5
    audience.save()
    client = graduate(labeler, audience)
    job = factories.draw_job(requester, audience, datapoints=10, responses=1)
    task = client.post(f"/api/labeler/jobs/{job.public_id}/tasks/next/").json()["task"]
    while not Lease.objects.get(public_id=task["id"]).example_id:
        task = client.post(f"/api/labeler/tasks/{task['id']}/submit/", {"response": factories.stroke_inside()},
                           format="json").json()["next"]
    membership = Membership.objects.get(labeler=labeler, audience=audience)
    membership_set_state(membership=membership, state=Membership.State.DROPPED)
    graded = QualificationAnswer.objects.filter(membership=membership).count()
    leases = Lease.objects.filter(labeler=labeler, job=job).count()

    refused = client.post(f"/api/labeler/tasks/{task['id']}/submit/", {"response": factories.stroke_inside()},
                          format="json")
    assert refused.status_code == 403 and refused.json()["code"] == "not_eligible", refused.content
    assert QualificationAnswer.objects.filter(membership=membership).count() == graded
    assert Lease.objects.filter(labeler=labeler, job=job).count() == leases  # no new task


def test_a_quality_check_is_an_example_the_labeler_has_never_seen(requester, labeler, gold_always):
    """A job datapoint is never shown to a labeler twice: neither is an
    example as a quality check, nor one they answered in qualification, or
    its images would tell it from the job's tasks."""
    from audiences.models import QualificationAnswer

    audience = factories.draw_audience(requester, examples=7, min_tasks=3, max_tasks=3)
    audience.gold_rate = 0.5
    audience.save()
    graduate(labeler, audience)
    seen = set(QualificationAnswer.objects.filter(membership__labeler=labeler).values_list("example", flat=True))
    assert len(seen) == 3
    job = factories.draw_job(requester, audience, datapoints=20, responses=1)
    answer_all(job, [labeler], lambda lease: factories.stroke_inside())
    served = list(Lease.objects.filter(job=job, example__isnull=False).values_list("example", flat=True))
    assert len(served) == len(set(served)) == 4  # every example not seen yet, once each
    assert not set(served) & seen
    assert Response.objects.filter(job=job).count() == 20


def test_no_quality_checks_in_jobs_whose_tasks_show_a_media_context(requester, labeler, gold_always):
    """An example has no media context to show: among tasks that all show
    one, it would stand out, so such a job gets no checks."""
    audience = factories.draw_audience(requester, examples=8, min_tasks=4, max_tasks=4)
    audience.gold_rate = 0.5
    audience.save()
    graduate(labeler, audience)
    definition = job_services.job_definition_create_draw(
        owner=requester, name="Blue books", instruction="Color in all the blue books",
        datapoints=[factories.url(f"shelf-{i}") for i in range(6)], responses_per_datapoint=1,
        media_contexts=[factories.url(f"reference-{i}") for i in range(6)],
    )
    job = job_services.job_create(owner=requester, definition=definition, audience=audience)
    answer_all(job, [labeler], lambda lease: factories.stroke_inside())
    assert Response.objects.filter(job=job).count() == 6
    assert not Lease.objects.filter(job=job, example__isnull=False).exists()


def test_no_quality_checks_in_global_audiences(requester, labeler, gold_always):
    job = factories.draw_job(requester, global_audience(), datapoints=3, responses=1)
    answer_all(job, [labeler], lambda lease: factories.stroke_inside())
    assert not Lease.objects.filter(example__isnull=False).exists()
    assert Response.objects.filter(labeler=labeler).count() == 3


def test_responses_stored_before_take_their_labelers_graded_answers(requester, make_labeler):
    """The migration that added ``Response.graded_answers`` gives responses
    stored before it their labeler's graded answers in the job's audience."""
    import importlib

    migration = importlib.import_module("jobs.migrations.0008_response_graded_answers")
    audience, (graded,) = graded_labelers(requester, make_labeler, 1, prefix="m")
    custom = compare_with_threshold(requester, None, responses=2, datapoints=1, audience=audience)
    public = compare_with_threshold(requester, None, responses=2, datapoints=1)
    ungraded = make_labeler("m-global")
    for job, labeler in ((custom, graded), (public, ungraded)):
        lease = feed.task_next(labeler=labeler, job=job)
        feed.task_submit(labeler=labeler, task_id=lease.public_id, response=choose(0)(lease))
    assert dict(Response.objects.values_list("labeler__username", "graded_answers")) == {"m0": 4, "m-global": 0}
    Response.objects.update(graded_answers=7)
    with connection.cursor() as cursor:
        cursor.execute(migration.GRADED_ANSWERS_NOW)
    assert dict(Response.objects.values_list("labeler__username", "graded_answers")) == {"m0": 4, "m-global": 0}
