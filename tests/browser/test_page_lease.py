"""Leases follow the page: a work page holds its task on a short lease it
renews while open, gives the task back when it closes, and a page that dies
without a word loses it when the lease runs out. The server here runs with
``PAGE_LEASE_SECONDS`` of 6 (renewals every 2 s)."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from audiences.selectors import global_audience
from jobs import feed
from jobs import services as job_services
from jobs.models import Lease
from tests import factories
from tests.browser.conftest import picture, sign_up, start_asgi_server, upload, wait_for_draw
from tests.waiting import wait_until

pytestmark = pytest.mark.browser

PAGE_LEASE = 6


@pytest.fixture(scope="module")
def short_lease_server(django_db_setup, django_db_blocker, artifacts_dir):
    server = start_asgi_server(
        django_db_blocker, artifacts_dir / "logs" / "browser-asgi-page-lease.log", PAGE_LEASE_SECONDS=str(PAGE_LEASE)
    )
    yield server
    server.stop()


@pytest.fixture
def server(short_lease_server, transactional_db):
    """This module's pages talk to the short-lease server."""
    return short_lease_server


@pytest.fixture
def last_datapoint(make_requester, make_labeler):
    """A job with one open datapoint left, and a second labeler who wants it."""
    requester = make_requester("requester")
    definition = job_services.job_definition_create_draw(
        owner=requester,
        name="Blue books",
        instruction="Color in every blue book",
        datapoints=[upload(requester, picture(seed=7))],
        responses_per_datapoint=1,
    )
    job = job_services.job_create(owner=requester, definition=definition, audience=global_audience())
    return job, make_labeler("otto")


def open_work_page(page, job) -> Lease:
    """Sign up, open the job's work page, and return the lease it shows."""
    sign_up(page, "lara")
    page.goto(f"/jobs/{job.public_id}/work/")
    task_id = wait_for_draw(page)
    return Lease.objects.get(public_id=task_id)


def take(labeler, job):
    """The other labeler asks for work (as their API client would)."""
    return feed.task_next(labeler=labeler, job=job)


def test_a_closed_work_page_gives_its_task_back_at_once(last_datapoint, page):
    job, otto = last_datapoint
    lease = open_work_page(page, job)
    assert lease.expires_at - lease.leased_at == timedelta(seconds=PAGE_LEASE)  # the page asked for its lease
    assert take(otto, job) is None  # the last datapoint is Lara's
    assert page.errors == []
    page.close()
    started = time.monotonic()
    wait_until(lambda: Lease.objects.get(pk=lease.pk).status == Lease.Status.RELEASED, timeout=PAGE_LEASE - 1)
    taken = wait_until(lambda: take(otto, job), timeout=90)
    elapsed = time.monotonic() - started
    assert taken.job_datapoint_id == lease.job_datapoint_id
    assert elapsed < 3, elapsed  # given back (about 0.1 s), not waited out
    assert factories.miscounted_leases(job) == {}


def test_an_open_page_keeps_its_task_and_a_dead_one_loses_it_when_the_lease_runs_out(last_datapoint, page):
    job, otto = last_datapoint
    lease = open_work_page(page, job)
    first_expiry = lease.expires_at
    # Past the end of the first lease (and then some), the page has renewed it: nobody else gets it.
    while timezone.now() < first_expiry + timedelta(seconds=PAGE_LEASE / 2):
        assert take(otto, job) is None
        time.sleep(0.25)
    renewed = Lease.objects.get(pk=lease.pk)
    assert renewed.status == Lease.Status.ACTIVE and renewed.expires_at > first_expiry
    assert page.errors == []
    # The renderer crashes: no pagehide, no release. The lease runs out at its last renewal's end.
    from playwright.sync_api import Error as PlaywrightError

    with page.expect_event("crash", timeout=10_000):
        try:  # a debug URL: the browser crashes the renderer, with no navigation (nor pagehide) first
            page.goto("chrome://crash", timeout=5_000)
        except PlaywrightError:  # the navigation fails with the renderer
            pass
    started = time.monotonic()
    taken = wait_until(lambda: take(otto, job), timeout=90, interval=0.2)
    elapsed = time.monotonic() - started
    assert taken.job_datapoint_id == lease.job_datapoint_id
    assert elapsed <= PAGE_LEASE + 2, elapsed
    assert Lease.objects.get(pk=lease.pk).status == Lease.Status.ACTIVE  # ran out, never given back
    assert factories.miscounted_leases(job) == {}
