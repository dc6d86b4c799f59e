"""Quality checks among job tasks (jobs/feed/gold.py): which examples are
served, how they are graded, and the drop of a labeler who fails them."""

from __future__ import annotations

import random

import pytest

from audiences.models import Membership, QualificationAnswer
from audiences.selectors import global_audience
from jobs import feed
from jobs import services as job_services
from jobs.models import Lease, Response
from tests import factories
from tests.factories import answer_all, api_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def gold_always(monkeypatch):
    """Serve a quality check whenever the audience's gold rate allows one."""
    monkeypatch.setattr(feed.gold, "_random", random.Random(0))


def graduate(labeler, audience):
    client = api_for(labeler)
    state = client.post(f"/api/labeler/audiences/{audience.public_id}/qualification/next/").json()
    while state["task"]:
        state = client.post(
            f"/api/labeler/audiences/{audience.public_id}/qualification/answer/",
            {"task_id": state["task"]["id"], "response": factories.stroke_inside()},
            format="json",
        ).json()
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
    scores = list(
        Response.objects.filter(labeler=labeler).order_by("created_at", "id").values_list("user_score", flat=True)
    )
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
        result = client.post(
            f"/api/labeler/tasks/{task['id']}/submit/", {"response": factories.stroke_inside()}, format="json"
        )
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
    assert set(Lease.objects.filter(job=job, example__isnull=False).values_list("example", flat=True)) == {fitting.pk}


def test_a_dropped_labeler_answering_a_quality_check_gets_no_grade_and_no_next_task(requester, labeler, gold_always):
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
        task = client.post(
            f"/api/labeler/tasks/{task['id']}/submit/", {"response": factories.stroke_inside()}, format="json"
        ).json()["next"]
    membership = Membership.objects.get(labeler=labeler, audience=audience)
    membership_set_state(membership=membership, state=Membership.State.DROPPED)
    graded = QualificationAnswer.objects.filter(membership=membership).count()
    leases = Lease.objects.filter(labeler=labeler, job=job).count()

    refused = client.post(
        f"/api/labeler/tasks/{task['id']}/submit/", {"response": factories.stroke_inside()}, format="json"
    )
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
        owner=requester,
        name="Blue books",
        instruction="Color in all the blue books",
        datapoints=[factories.url(f"shelf-{i}") for i in range(6)],
        responses_per_datapoint=1,
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
