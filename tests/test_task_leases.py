"""Leases that follow the page: a short page lease, renewed while the page is
open and given back when it closes (``tasks/<id>/renew/``,
``tasks/<id>/release/``)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from audiences.models import Membership
from audiences.selectors import global_audience
from jobs import feed
from jobs.models import JobDatapoint, Lease, Response
from tests import factories
from tests.waiting import wait_until

pytestmark = pytest.mark.django_db

PAGE = {"lease": "page"}


def api_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def next_task(client, job, body=None):
    response = client.post(f"/api/labeler/jobs/{job.public_id}/tasks/next/", body, format="json")
    assert response.status_code == 200, response.content
    return response.json()["task"]


def renew(client, task_id, body=None):
    return client.post(f"/api/labeler/tasks/{task_id}/renew/", body, format="json")


def release(client, task_id):
    return client.post(f"/api/labeler/tasks/{task_id}/release/")


def submit(client, task_id, response, **extra):
    return client.post(f"/api/labeler/tasks/{task_id}/submit/", {"response": response, **extra}, format="json")


def lease_length(task_id) -> timedelta:
    lease = Lease.objects.get(public_id=task_id)
    return lease.expires_at - lease.leased_at


def run_out(task_id) -> None:
    Lease.objects.filter(public_id=task_id).update(
        leased_at=timezone.now() - timedelta(hours=2), expires_at=timezone.now() - timedelta(seconds=1)
    )


def assert_feed_invariant(job) -> None:
    """Responses plus live leases never above what a datapoint needs, and
    each row's count of active leases exact."""
    assert factories.miscounted_leases(job) == {}
    needed = job.definition.responses_per_datapoint
    now = timezone.now()
    for slot in JobDatapoint.objects.filter(job=job):
        live = Lease.objects.filter(job_datapoint=slot, status=Lease.Status.ACTIVE, expires_at__gt=now).count()
        assert slot.response_count + live <= needed, (slot.position, slot.response_count, live)


@pytest.fixture
def page_settings(settings):
    settings.LEASE_SECONDS = 600
    settings.PAGE_LEASE_SECONDS = 90
    return settings


@pytest.fixture
def one_slot_job(requester):
    """One datapoint that takes one answer: whoever holds it holds the job."""
    return factories.draw_job(requester, global_audience(), datapoints=1, responses=1)


# --- the page lease's length ------------------------------------------------------------------------


def test_page_lease_length_on_next_submit_and_skip(page_settings, requester, labeler):
    job = factories.draw_job(requester, global_audience(), datapoints=4, responses=1)
    client = api_for(labeler)
    first = next_task(client, job, PAGE)
    assert lease_length(first["id"]) == timedelta(seconds=90)
    answered = submit(client, first["id"], factories.stroke_inside(), lease="page")
    assert answered.status_code == 200, answered.content
    second = answered.json()["next"]
    assert lease_length(second["id"]) == timedelta(seconds=90)
    skipped = client.post(f"/api/labeler/tasks/{second['id']}/skip/", PAGE, format="json")
    assert skipped.status_code == 200, skipped.content
    assert lease_length(skipped.json()["next"]["id"]) == timedelta(seconds=90)


def test_api_clients_that_do_not_ask_keep_the_standard_lease(page_settings, requester, labeler, make_labeler):
    job = factories.draw_job(requester, global_audience(), datapoints=3, responses=1)
    client = api_for(labeler)
    first = next_task(client, job)
    assert lease_length(first["id"]) == timedelta(seconds=600)
    second = submit(client, first["id"], factories.stroke_inside()).json()["next"]
    assert lease_length(second["id"]) == timedelta(seconds=600)
    third = client.post(f"/api/labeler/tasks/{second['id']}/skip/").json()["next"]
    assert lease_length(third["id"]) == timedelta(seconds=600)
    standard = next_task(api_for(make_labeler("sam")), job, {"lease": "standard"})
    assert lease_length(standard["id"]) == timedelta(seconds=600)


# --- renew --------------------------------------------------------------------------------------------


def test_renew_extends_a_live_lease(page_settings, one_slot_job, labeler):
    client = api_for(labeler)
    task = next_task(client, one_slot_job, PAGE)
    Lease.objects.filter(public_id=task["id"]).update(
        leased_at=timezone.now() - timedelta(seconds=80), expires_at=timezone.now() + timedelta(seconds=10)
    )
    before = timezone.now()
    renewed = renew(client, task["id"], PAGE)
    assert renewed.status_code == 200, renewed.content
    lease = Lease.objects.get(public_id=task["id"])
    assert before + timedelta(seconds=90) <= lease.expires_at <= timezone.now() + timedelta(seconds=90)
    assert renewed.json()["id"] == task["id"]
    assert renewed.json()["expires_at"] == lease.expires_at.isoformat()
    assert lease.status == Lease.Status.ACTIVE
    # without the field, a renewal is a standard lease
    assert renew(client, task["id"]).status_code == 200
    assert Lease.objects.get(public_id=task["id"]).expires_at >= before + timedelta(seconds=600)
    assert_feed_invariant(one_slot_job)


def test_renew_after_the_lease_ran_out_is_a_409_and_leases_nothing(page_settings, one_slot_job, make_labeler):
    lara, otto = api_for(make_labeler("lara")), api_for(make_labeler("otto"))
    held = next_task(lara, one_slot_job, PAGE)
    run_out(held["id"])
    taken = next_task(otto, one_slot_job, PAGE)  # the room behind Lara's lease that ran out
    assert taken is not None
    refused = renew(lara, held["id"], PAGE)
    assert refused.status_code == 409 and refused.json()["code"] == "task_expired", refused.content
    assert Lease.objects.get(public_id=held["id"]).expires_at < timezone.now()
    assert_feed_invariant(one_slot_job)
    assert submit(otto, taken["id"], factories.stroke_inside()).status_code == 200
    assert_feed_invariant(one_slot_job)


def test_renew_of_a_lease_that_ran_out_is_refused_even_with_room(page_settings, one_slot_job, labeler):
    client = api_for(labeler)
    task = next_task(client, one_slot_job, PAGE)
    run_out(task["id"])
    refused = renew(client, task["id"], PAGE)
    assert refused.status_code == 409 and refused.json()["code"] == "task_expired"
    # the page moves on: its next task is that datapoint again, under a new id
    again = next_task(client, one_slot_job, PAGE)
    assert again is not None and again["id"] != task["id"]
    assert_feed_invariant(one_slot_job)


# --- release ------------------------------------------------------------------------------------------


def test_release_frees_the_datapoint_for_another_labeler_at_once(page_settings, one_slot_job, make_labeler):
    lara, otto = api_for(make_labeler("lara")), api_for(make_labeler("otto"))
    held = next_task(lara, one_slot_job, PAGE)
    assert next_task(otto, one_slot_job, PAGE) is None
    assert factories.active_leases_counted(one_slot_job)[0] == (1, 1)
    released = release(lara, held["id"])
    assert released.status_code == 200 and released.json() == {"released": True}
    assert Lease.objects.get(public_id=held["id"]).status == Lease.Status.RELEASED
    assert factories.active_leases_counted(one_slot_job)[0] == (0, 0)
    taken = next_task(otto, one_slot_job, PAGE)
    assert taken is not None
    assert_feed_invariant(one_slot_job)
    assert next_task(lara, one_slot_job, PAGE) is None  # released, and now Otto's
    assert submit(otto, taken["id"], factories.stroke_inside()).status_code == 200
    assert_feed_invariant(one_slot_job)


def test_the_same_labeler_can_get_a_released_datapoint_again(page_settings, one_slot_job, labeler):
    client = api_for(labeler)
    held = next_task(client, one_slot_job, PAGE)
    assert release(client, held["id"]).status_code == 200
    again = next_task(client, one_slot_job, PAGE)
    assert again is not None and again["id"] != held["id"]  # released is not skipped
    lease = Lease.objects.get(public_id=again["id"])
    assert lease.status == Lease.Status.ACTIVE and lease.expires_at - lease.leased_at == timedelta(seconds=90)
    assert_feed_invariant(one_slot_job)
    assert submit(client, again["id"], factories.stroke_inside()).status_code == 200
    assert_feed_invariant(one_slot_job)
    assert Response.objects.filter(job=one_slot_job).count() == 1


def test_released_datapoint_comes_back_among_others(page_settings, requester, labeler):
    job = factories.draw_job(requester, global_audience(), datapoints=2, responses=1)
    client = api_for(labeler)
    first = next_task(client, job, PAGE)
    assert release(client, first["id"]).status_code == 200
    second = next_task(client, job, PAGE)
    answered = submit(client, second["id"], factories.stroke_inside(), lease="page").json()["next"]
    assert answered is not None  # the other datapoint (whichever the feed gave first)
    assert submit(client, answered["id"], factories.stroke_inside()).json()["next"] is None
    assert Response.objects.filter(job=job).count() == 2
    assert_feed_invariant(job)


def test_what_follows_a_release_keeps_the_counts(page_settings, requester, make_labeler):
    """A second release, a late answer to a released task and a skip of one
    end nothing twice."""
    job = factories.draw_job(requester, global_audience(), datapoints=1, responses=3)
    lara, otto, ines = (api_for(make_labeler(name)) for name in ("lara", "otto", "ines"))
    a, b, c = (next_task(client, job, PAGE) for client in (lara, otto, ines))
    assert factories.active_leases_counted(job)[0] == (3, 3)
    for client, task in ((lara, a), (otto, b), (ines, c)):
        assert release(client, task["id"]).status_code == 200
    assert release(lara, a["id"]).status_code == 200  # again: still released, counted once
    assert factories.active_leases_counted(job)[0] == (0, 0)
    late = submit(otto, b["id"], factories.stroke_inside())  # like a late answer: taken while there is room
    assert late.status_code == 200, late.content
    assert Lease.objects.get(public_id=b["id"]).status == Lease.Status.SUBMITTED
    assert client_skip(ines, c["id"]).status_code == 200
    assert Lease.objects.get(public_id=c["id"]).status == Lease.Status.SKIPPED
    assert_feed_invariant(job)
    assert factories.active_leases_counted(job)[0] == (0, 0)
    assert JobDatapoint.objects.get(job=job).response_count == 1


def client_skip(client, task_id):
    return client.post(f"/api/labeler/tasks/{task_id}/skip/")


def test_a_late_answer_to_a_released_task_is_refused_once_its_place_is_taken(page_settings, one_slot_job, make_labeler):
    lara, otto = api_for(make_labeler("lara")), api_for(make_labeler("otto"))
    held = next_task(lara, one_slot_job, PAGE)
    assert release(lara, held["id"]).status_code == 200
    taken = next_task(otto, one_slot_job, PAGE)
    refused = submit(lara, held["id"], factories.stroke_inside())
    assert refused.status_code == 409 and refused.json()["code"] == "task_expired"
    assert submit(otto, taken["id"], factories.stroke_inside()).status_code == 200
    assert_feed_invariant(one_slot_job)


def test_submitted_skipped_and_released_tasks_are_conflicts(page_settings, requester, labeler):
    job = factories.draw_job(requester, global_audience(), datapoints=3, responses=1)
    client = api_for(labeler)
    first = next_task(client, job, PAGE)
    second = submit(client, first["id"], factories.stroke_inside(), lease="page").json()["next"]
    third = client_skip(client, second["id"]).json()["next"]
    for task_id, code in ((first["id"], "task_already_submitted"), (second["id"], "task_skipped")):
        for call in (renew, release):
            refused = call(client, task_id)
            assert refused.status_code == 409 and refused.json()["code"] == code, (call.__name__, refused.content)
    assert release(client, third["id"]).status_code == 200
    refused = renew(client, third["id"], PAGE)
    assert refused.status_code == 409 and refused.json()["code"] == "task_released"
    assert_feed_invariant(job)


def test_another_labelers_task_is_404(page_settings, one_slot_job, make_labeler):
    lara, otto = api_for(make_labeler("lara")), api_for(make_labeler("otto"))
    held = next_task(lara, one_slot_job, PAGE)
    expires_at = Lease.objects.get(public_id=held["id"]).expires_at
    for call in (renew, release):
        for task_id in (held["id"], "tsk_" + "0" * 32, "x" * 3000):
            response = call(otto, task_id)
            assert response.status_code == 404 and response.json() == {"detail": "Not found."}, call.__name__
    lease = Lease.objects.get(public_id=held["id"])
    assert lease.status == Lease.Status.ACTIVE and lease.expires_at == expires_at
    assert_feed_invariant(one_slot_job)


@pytest.mark.parametrize(
    "body", [{"lease": "forever"}, {"lease": 90}, {"lease": None}, {"seconds": 3600}, ["page"], "page"]
)
def test_bad_lease_bodies_are_400s_that_change_nothing(page_settings, one_slot_job, labeler, body):
    client = api_for(labeler)
    task = next_task(client, one_slot_job, PAGE)
    expires_at = Lease.objects.get(public_id=task["id"]).expires_at
    for url in (
        f"/api/labeler/tasks/{task['id']}/renew/",
        f"/api/labeler/jobs/{one_slot_job.public_id}/tasks/next/",
        f"/api/labeler/tasks/{task['id']}/release/",
        f"/api/labeler/tasks/{task['id']}/skip/",
    ):
        if url.endswith("/release/") and isinstance(body, dict) and "lease" in body:
            continue  # release takes no lease
        response = client.post(url, body, format="json")
        assert response.status_code == 400, (url, response.status_code, response.content)
        assert isinstance(response.json(), dict) and response.json(), url
    lease = Lease.objects.get(public_id=task["id"])
    assert lease.status == Lease.Status.ACTIVE and lease.expires_at == expires_at
    refused = submit(client, task["id"], factories.stroke_inside(), lease="forever")
    assert refused.status_code == 400 and "lease" in refused.json()
    assert not Response.objects.exists()


# --- sessions: CSRF, form bodies ---------------------------------------------------------------------


def session_for(user) -> Client:
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    client.get("/")  # the CSRF cookie
    return client


def test_renew_and_release_from_a_session_need_the_csrf_token_and_take_form_bodies(
    page_settings, one_slot_job, labeler
):
    task = next_task(api_for(labeler), one_slot_job, PAGE)
    client = session_for(labeler)
    token = client.cookies["csrftoken"].value
    renew_url, release_url = (f"/api/labeler/tasks/{task['id']}/{action}/" for action in ("renew", "release"))
    for url in (renew_url, release_url):
        for data in ({}, {"lease": "page"} if url == renew_url else {}):
            refused = client.post(url, data)  # a form (multipart) without the token
            assert refused.status_code == 403 and "CSRF" in refused.json()["detail"], url
    assert Lease.objects.get(public_id=task["id"]).status == Lease.Status.ACTIVE
    # As the page sends them: the token as a form field (sendBeacon cannot set headers).
    renewed = client.post(renew_url, {"csrfmiddlewaretoken": token, "lease": "page"})
    assert renewed.status_code == 200, renewed.content
    assert lease_length(task["id"]) > timedelta(seconds=90)  # renewed from now, after it was leased
    released = client.post(release_url, {"csrfmiddlewaretoken": token})
    assert released.status_code == 200, released.content
    assert Lease.objects.get(public_id=task["id"]).status == Lease.Status.RELEASED
    assert_feed_invariant(one_slot_job)


def test_release_takes_a_url_encoded_form_and_json_with_the_header(page_settings, requester, labeler):
    job = factories.draw_job(requester, global_audience(), datapoints=2, responses=1)
    client = session_for(labeler)
    token = client.cookies["csrftoken"].value
    task = client.post(
        f"/api/labeler/jobs/{job.public_id}/tasks/next/", PAGE, content_type="application/json", HTTP_X_CSRFTOKEN=token
    ).json()["task"]
    released = client.post(
        f"/api/labeler/tasks/{task['id']}/release/",
        f"csrfmiddlewaretoken={token}",
        content_type="application/x-www-form-urlencoded",
    )
    assert released.status_code == 200, released.content
    other = client.post(
        f"/api/labeler/jobs/{job.public_id}/tasks/next/", PAGE, content_type="application/json", HTTP_X_CSRFTOKEN=token
    ).json()["task"]
    released = client.post(
        f"/api/labeler/tasks/{other['id']}/release/", {}, content_type="application/json", HTTP_X_CSRFTOKEN=token
    )
    assert released.status_code == 200, released.content
    assert_feed_invariant(job)


# --- quality checks ----------------------------------------------------------------------------------


def test_quality_check_leases_renew_and_release_alike(page_settings, requester, make_labeler, monkeypatch):
    audience = factories.draw_audience(requester, examples=3)
    job = factories.draw_job(requester, audience, datapoints=2, responses=1)
    lara = make_labeler("lara")
    Membership.objects.create(labeler=lara, audience=audience, state=Membership.State.GRADUATED, user_score=0.8)
    client = api_for(lara)
    monkeypatch.setattr(feed.leasing, "gold_due", lambda job: True)
    gold = next_task(client, job, PAGE)
    gold_lease = Lease.objects.get(public_id=gold["id"])
    assert gold_lease.job_datapoint_id is None and gold_lease.expires_at - gold_lease.leased_at == timedelta(seconds=90)
    monkeypatch.setattr(feed.leasing, "gold_due", lambda job: False)
    renewed = renew(client, gold["id"], PAGE)
    assert renewed.status_code == 200 and set(renewed.json()) == {"id", "expires_at"}
    assert Lease.objects.get(pk=gold_lease.pk).expires_at > gold_lease.expires_at
    assert release(client, gold["id"]).json() == {"released": True}
    assert Lease.objects.get(pk=gold_lease.pk).status == Lease.Status.RELEASED
    refused = renew(client, gold["id"], PAGE)
    assert refused.status_code == 409 and refused.json()["code"] == "task_released"
    task = next_task(client, job, PAGE)
    assert task["id"] != gold["id"]
    job_renewed = renew(client, task["id"], PAGE)
    assert set(job_renewed.json()) == set(renewed.json())
    run_out(gold["id"])
    Lease.objects.filter(pk=gold_lease.pk).update(status=Lease.Status.ACTIVE)
    expired = renew(client, gold["id"], PAGE)
    assert expired.status_code == 409 and expired.json()["code"] == "task_expired"
    assert_feed_invariant(job)


# --- a renewal racing the general path ---------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_renewal_that_waited_for_the_lock_past_the_lease_end_takes_no_room_given_away(requester, make_labeler):
    """Lara renews while her lease is still live, but the datapoint's lock is
    held by a request that, once her lease has run out, gives its room to
    Otto. Her renewal reads the time only once it has the lock: refused."""
    import threading

    from django.db import connection, transaction

    from core.errors import Conflict
    from jobs.feed import locks, task_renew

    if connection.vendor != "postgresql":
        pytest.skip("row locks: on SQLite a transaction waits before it begins (BEGIN IMMEDIATE)")
    job = factories.draw_job(requester, global_audience(), datapoints=1, responses=1)
    lara, otto = make_labeler("lara"), make_labeler("otto")
    lease = feed.task_next(labeler=lara, job=job)
    end = timezone.now() + timedelta(seconds=1)
    Lease.objects.filter(pk=lease.pk).update(expires_at=end)
    locked, give_away, outcome = threading.Event(), threading.Event(), {}

    def otto_asks():  # holds the lock from before Lara's lease ends until after Otto got its room
        try:
            with transaction.atomic():
                locks.job_datapoint_lock_id(pk=lease.job_datapoint_id)
                locked.set()
                assert give_away.wait(10)
                outcome["otto"] = feed.task_next(labeler=otto, job=job)
        finally:
            connection.close()

    def lara_renews():
        try:
            outcome["lara"] = task_renew(labeler=lara, task_id=lease.public_id, lease_seconds=90)
        except Conflict as conflict:
            outcome["lara"] = conflict
        finally:
            connection.close()

    asking = threading.Thread(target=otto_asks)
    asking.start()
    assert locked.wait(10)
    renewing = threading.Thread(target=lara_renews)
    renewing.start()
    renewing.join(0.3)
    assert renewing.is_alive() and timezone.now() < end  # waiting for the lock while her lease is live
    wait_until(lambda: timezone.now() > end, 10, what="her lease to run out")
    give_away.set()
    asking.join(10)
    renewing.join(10)
    assert outcome["otto"] is not None and outcome["otto"].job_datapoint_id == lease.job_datapoint_id
    assert isinstance(outcome["lara"], Conflict) and outcome["lara"].code == "task_expired"
    assert Lease.objects.get(pk=lease.pk).expires_at == end
    assert_feed_invariant(job)
