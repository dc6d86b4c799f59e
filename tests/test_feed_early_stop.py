"""Early stopping (jobs/feed/early_stop.py): a compare datapoint closes once
its leader's posterior confidence reaches the threshold, on graded votes
only, and its outstanding leases end."""

from __future__ import annotations

import pytest
from django.db import connection
from django.utils import timezone

from audiences.models import Membership
from audiences.selectors import global_audience
from jobs import feed, result_updates
from jobs.models import DatapointResult, JobDatapoint, Lease, Response
from tests import factories
from tests.factories import answer_all, api_for

pytestmark = pytest.mark.django_db


def compare_with_threshold(requester, threshold, responses=6, datapoints=2, audience=None):
    from jobs import services

    definition = services.job_definition_create_compare(
        owner=requester,
        name="Early",
        instruction="Which?",
        datapoints=[[factories.url(f"l{i}"), factories.url(f"r{i}")] for i in range(datapoints)],
        responses_per_datapoint=responses,
        confidence_threshold=threshold,
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
        Membership.objects.create(
            labeler=labeler,
            audience=audience,
            state=Membership.State.GRADUATED,
            answers=4,
            correct=3,
            chance_sum=2.0,
            user_score=score,
        )
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
    late = api_for(c).post(
        f"/api/labeler/tasks/{leases[2].public_id}/submit/", {"response": choose(0)(leases[2])}, format="json"
    )
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
    closing = api_for(b).post(
        f"/api/labeler/tasks/{leases[1].public_id}/submit/", {"response": choose(0)(leases[1])}, format="json"
    )
    assert closing.status_code == 200, closing.content
    slot = JobDatapoint.objects.get(job=job)
    assert (slot.response_count, slot.stopped_early) == (2, True)
    ended = Lease.objects.get(pk=leases[2].pk)
    assert ended.expires_at > ended.leased_at and ended.expires_at <= later + timedelta(milliseconds=1)


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
