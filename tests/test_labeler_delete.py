"""Deleting a labeler: refused while their answers or tasks are counted in a
job (they are deactivated instead), so counts, results and jobs stay whole."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.db.models import ProtectedError
from django.urls import reverse
from rest_framework.test import APIClient

from audiences.selectors import global_audience
from jobs.models import DatapointResult, Job, JobDatapoint, Lease, Response
from jobs.result_updates import results_sweep
from tests import factories

pytestmark = pytest.mark.django_db
User = get_user_model()


def api_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def answer_one(user, job, django_capture_on_commit_callbacks) -> None:
    client = api_for(user)
    task = client.post(f"/api/labeler/jobs/{job.public_id}/tasks/next/").json()["task"]
    with django_capture_on_commit_callbacks(execute=True):
        result = client.post(
            f"/api/labeler/tasks/{task['id']}/submit/",
            {"response": {"choice": task["items"][0]["value"]}},
            format="json",
        )
    assert result.status_code == 200, result.content


@pytest.fixture
def answered(requester, make_labeler, django_capture_on_commit_callbacks):
    """A compare job of one datapoint completed by two labelers' answers."""
    job = factories.compare_job(requester, global_audience(), datapoints=1, responses=2)
    first, second = make_labeler("first"), make_labeler("second")
    for user in (first, second):
        answer_one(user, job, django_capture_on_commit_callbacks)
    job.refresh_from_db()
    assert job.state == Job.State.COMPLETED
    return job, first, second


def assert_whole(job) -> None:
    slot = JobDatapoint.objects.get(job=job)
    assert Response.objects.filter(job_datapoint=slot).count() == slot.response_count == 2
    assert DatapointResult.objects.get(job_datapoint=slot).response_count == 2
    assert results_sweep(enqueue=lambda pk: pytest.fail("a stale result was re-enqueued")) == {
        "requeued": 0,
        "completed": 0,
    }
    assert Job.objects.get(pk=job.pk).state == Job.State.COMPLETED


def test_admin_refuses_to_delete_a_labeler_with_responses(client, operator, answered):
    job, first, _ = answered
    client.force_login(operator)
    url = reverse("admin:auth_user_delete", args=[first.pk])
    page = client.get(url)
    assert page.status_code == 200
    assert "deactivate" in page.content.decode().lower()
    client.post(url, {"post": "yes"})
    assert User.objects.filter(pk=first.pk).exists()
    assert_whole(job)


def test_admin_bulk_delete_refuses_labelers_with_responses(client, operator, answered, make_labeler):
    job, first, second = answered
    idle = make_labeler("idle")
    client.force_login(operator)
    changelist = reverse("admin:auth_user_changelist")
    selected = [first.pk, second.pk, idle.pk]
    page = client.post(changelist, {"action": "delete_selected", "_selected_action": selected, "post": "yes"})
    assert "deactivate" in page.content.decode().lower()
    assert User.objects.filter(pk__in=selected).count() == 3
    assert_whole(job)


def test_deleting_through_the_orm_is_refused_too(answered):
    job, first, _ = answered
    with pytest.raises(ProtectedError):
        first.delete()
    assert_whole(job)


def test_a_labeler_holding_a_task_is_not_deleted(client, operator, requester, make_labeler):
    job = factories.compare_job(requester, global_audience(), datapoints=1, responses=2)
    holder = make_labeler("holder")
    assert api_for(holder).post(f"/api/labeler/jobs/{job.public_id}/tasks/next/").status_code == 200
    client.force_login(operator)
    client.post(reverse("admin:auth_user_delete", args=[holder.pk]), {"post": "yes"})
    assert User.objects.filter(pk=holder.pk).exists()
    slot = JobDatapoint.objects.get(job=job)
    assert slot.leases_active == Lease.objects.filter(job_datapoint=slot, status=Lease.Status.ACTIVE).count() == 1


def test_the_admin_deactivates_labelers_instead(client, operator, answered):
    job, first, _ = answered
    client.force_login(operator)
    client.post(reverse("admin:auth_user_changelist"), {"action": "deactivate", "_selected_action": [first.pk]})
    first.refresh_from_db()
    assert not first.is_active
    assert not client.login(username=first.username, password=first.raw_password)
    assert_whole(job)


def test_a_labeler_who_never_worked_can_be_deleted(client, operator, make_labeler):
    idle = make_labeler("idle")
    client.force_login(operator)
    client.post(reverse("admin:auth_user_delete", args=[idle.pk]), {"post": "yes"})
    assert not User.objects.filter(pk=idle.pk).exists()
