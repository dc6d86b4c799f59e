"""The server's fetches of image URLs, as both APIs run them: a ``UrlFetch``
row per URL, fetched by a Celery task once the row is committed
(``assets.tasks.fetch_url``; in-process without a broker), Completed with
its asset or Failed saying why. A fetch still pending well past its deadline
was lost (a worker gone, a task never delivered) and is failed, so no client
waits on it forever.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from . import url_fetch
from .models import UrlFetch

# A fetch still pending this long after its deadline was lost: it is failed.
FETCH_LOST_AFTER = 60
POLL_SECONDS = 0.1


def url_fetches_enqueue(fetch_ids: Sequence[int]) -> None:
    """Fetch these rows on Celery once the current transaction commits."""
    from .tasks import fetch_url

    for fetch_id in fetch_ids:
        transaction.on_commit(lambda fetch_id=fetch_id: fetch_url.delay(fetch_id))


def url_fetch_run(*, fetch_id: int) -> UrlFetch | None:
    """Fetch one pending URL and record how it went (Completed with its
    asset, or Failed with the reason). Fetched outside any transaction."""
    fetch = UrlFetch.objects.select_related("owner").filter(pk=fetch_id).first()
    if fetch is None or fetch.status != UrlFetch.Status.PENDING:
        return fetch
    try:
        asset = url_fetch.asset_create_from_url(owner=fetch.owner, url=fetch.url)
    except url_fetch.FetchError as exc:
        changes = {"status": UrlFetch.Status.FAILED, "error_message": exc.message, "stage": exc.stage,
                   "upstream_status": exc.upstream_status}
    else:
        changes = {"status": UrlFetch.Status.COMPLETED, "asset": asset, "stage": "stored", "upstream_status": 200}
    UrlFetch.objects.filter(pk=fetch.pk, status=UrlFetch.Status.PENDING).update(
        finished_at=timezone.now(), **changes)
    fetch.refresh_from_db()
    return fetch


def url_fetches_fail_lost(*, owner: AbstractBaseUser) -> int:
    """Fail ``owner``'s fetches pending past their deadline (their task was
    lost); how many."""
    cutoff = timezone.now() - timezone.timedelta(seconds=settings.ASSET_FETCH_TIMEOUT + FETCH_LOST_AFTER)
    return UrlFetch.objects.filter(owner=owner, status=UrlFetch.Status.PENDING, created_at__lt=cutoff).update(
        status=UrlFetch.Status.FAILED, stage="lost", finished_at=timezone.now(),
        error_message="The fetch did not finish in time; upload the URL again.")


def url_fetch_find_or_start(*, owner: AbstractBaseUser, url: str) -> UrlFetch:
    """``owner``'s fetch of ``url``: the latest one not failed (pending or
    completed), else a new one, started once this commits. Asking again for
    the same URL finds the same fetch: that is how a client polls."""
    fetch = (UrlFetch.objects.filter(owner=owner, url=url)
             .exclude(status=UrlFetch.Status.FAILED).order_by("-created_at", "-id").first())
    if fetch is None:
        with transaction.atomic():
            fetch = UrlFetch.objects.create(owner=owner, url=url)
            url_fetches_enqueue([fetch.pk])
    return fetch


def url_fetches_wait(fetches: Sequence[UrlFetch], *, seconds: float) -> None:
    """Reload ``fetches`` until none is pending or ``seconds`` ran out."""
    deadline = time.monotonic() + seconds
    pending = [fetch for fetch in fetches if fetch.status == UrlFetch.Status.PENDING]
    while pending and time.monotonic() < deadline:
        time.sleep(POLL_SECONDS)
        states = dict(UrlFetch.objects.filter(pk__in=[f.pk for f in pending]).values_list("pk", "status"))
        done = [fetch for fetch in pending if states.get(fetch.pk) != UrlFetch.Status.PENDING]
        for fetch in done:
            fetch.refresh_from_db()
        pending = [fetch for fetch in pending if fetch not in done]
