"""Labelers in the admin: pseudonyms for requesters, decisions for operators."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from audiences.models import Membership
from audiences.selectors import global_audience
from audiences.services import membership_set_state
from core.pseudonyms import labeler_anonymous_id
from jobs import feed
from jobs.models import Lease, Response
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def member(requester, labeler):
    audience = factories.draw_audience(requester)
    return Membership.objects.create(labeler=labeler, audience=audience, state=Membership.State.GRADUATED)


def test_requester_sees_members_of_own_audiences_under_pseudonyms(client, requester, other_requester, member):
    client.force_login(requester)
    page = client.get(reverse("admin:audiences_membership_changelist")).content.decode()
    assert labeler_anonymous_id(member.labeler_id) in page
    assert member.labeler.username not in page
    detail = client.get(reverse("admin:audiences_membership_change", args=[member.pk]))
    assert detail.status_code == 200 and member.labeler.username not in detail.content.decode()
    client.force_login(other_requester)
    assert client.get(reverse("admin:audiences_membership_change", args=[member.pk])).status_code == 404
    listing = client.get(reverse("admin:audiences_membership_changelist")).content.decode()
    assert labeler_anonymous_id(member.labeler_id) not in listing


def test_requesters_cannot_drop_labelers(client, requester, member):
    client.force_login(requester)
    client.post(reverse("admin:audiences_membership_changelist"), {"action": "drop", "_selected_action": [member.pk]})
    member.refresh_from_db()
    assert member.state == Membership.State.GRADUATED


def test_operator_drops_and_reinstates(client, operator, member):
    client.force_login(operator)
    page = client.get(reverse("admin:audiences_membership_changelist")).content.decode()
    assert member.labeler.username in page
    client.post(reverse("admin:audiences_membership_changelist"), {"action": "drop", "_selected_action": [member.pk]})
    member.refresh_from_db()
    assert member.state == Membership.State.DROPPED and member.decided_at is not None
    client.post(
        reverse("admin:audiences_membership_changelist"), {"action": "reinstate", "_selected_action": [member.pk]}
    )
    member.refresh_from_db()
    assert member.state == Membership.State.GRADUATED


def test_dropping_returns_the_labelers_tasks_to_the_pool(requester, member):
    job = factories.draw_job(requester, member.audience, datapoints=2, responses=1)
    lease = feed.task_next(labeler=member.labeler, job=job)
    membership_set_state(membership=member, state=Membership.State.DROPPED)
    lease.refresh_from_db()
    assert lease.expires_at <= timezone.now()


def test_nobody_is_dropped_from_the_global_audience(labeler):
    membership = Membership.objects.get(labeler=labeler, audience=global_audience())
    with pytest.raises(ValidationError):
        membership_set_state(membership=membership, state=Membership.State.DROPPED)
    with pytest.raises(ValidationError):
        membership_set_state(membership=membership, state="qualifying")


def test_responses_show_pseudonyms_to_requesters(client, requester, labeler):
    job = factories.draw_job(requester, global_audience(), datapoints=1, responses=1)
    lease = feed.task_next(labeler=labeler, job=job)
    feed.task_submit(labeler=labeler, task_id=lease.public_id, response={"lines": []})
    response = Response.objects.get()
    client.force_login(requester)
    for url in (reverse("admin:jobs_response_changelist"), reverse("admin:jobs_response_change", args=[response.pk])):
        page = client.get(url).content.decode()
        assert labeler_anonymous_id(labeler.pk) in page and labeler.username not in page
    assert Lease.objects.get().status == Lease.Status.SUBMITTED


def test_requesters_pause_and_resume_their_jobs_from_the_admin(client, requester, other_requester):
    from jobs.models import Job

    job = factories.draw_job(requester, global_audience())
    changelist = reverse("admin:jobs_job_changelist")
    client.force_login(other_requester)
    client.post(changelist, {"action": "pause", "_selected_action": [job.pk]})
    assert Job.objects.get(pk=job.pk).state == Job.State.RUNNING  # not theirs: not in their queryset
    client.force_login(requester)
    client.post(changelist, {"action": "pause", "_selected_action": [job.pk]})
    assert Job.objects.get(pk=job.pk).state == Job.State.PAUSED
    client.post(changelist, {"action": "resume", "_selected_action": [job.pk]})
    assert Job.objects.get(pk=job.pk).state == Job.State.RUNNING
