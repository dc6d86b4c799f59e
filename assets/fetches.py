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
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
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
        changes = {
            "status": UrlFetch.Status.FAILED,
            "error_message": exc.message,
            "stage": exc.stage,
            "upstream_status": exc.upstream_status,
        }
    else:
        changes = {"status": UrlFetch.Status.COMPLETED, "asset": asset, "stage": "stored", "upstream_status": 200}
    UrlFetch.objects.filter(pk=fetch.pk, status=UrlFetch.Status.PENDING).update(finished_at=timezone.now(), **changes)
    fetch.refresh_from_db()
    return fetch


def url_fetches_fail_lost(*, owner: AbstractBaseUser) -> int:
    """Fail ``owner``'s fetches pending past their deadline (their task was
    lost); how many."""
    cutoff = timezone.now() - timezone.timedelta(seconds=settings.ASSET_FETCH_TIMEOUT + FETCH_LOST_AFTER)
    return UrlFetch.objects.filter(owner=owner, status=UrlFetch.Status.PENDING, created_at__lt=cutoff).update(
        status=UrlFetch.Status.FAILED,
        stage="lost",
        finished_at=timezone.now(),
        error_message="The fetch did not finish in time; upload the URL again.",
    )


def url_fetch_find_or_start(*, owner: AbstractBaseUser, url: str) -> UrlFetch:
    """``owner``'s fetch of ``url``: the latest one not failed (pending or
    completed), else a new one, started once this commits. Asking again for
    the same URL finds the same fetch: that is how a client polls."""
    fetch = (
        UrlFetch.objects.filter(owner=owner, url=url)
        .exclude(status=UrlFetch.Status.FAILED)
        .order_by("-created_at", "-id")
        .first()
    )
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


# --- our own API: fetch a list of URLs -------------------------------------------------------------

MAX_FETCH_URLS = 1000
# The longest a request waits for its fetches (the client asks again after).
MAX_WAIT_SECONDS = 30.0


def _refuse_now(urls: Sequence[str]) -> None:
    """Refuse, before anything is stored, a URL that is malformed or whose
    host we would not fetch from (each named; one lookup per host)."""
    problems: list[str] = []
    refused_hosts: dict[tuple[str, int], str | None] = {}
    for index, url in enumerate(urls):
        try:
            _scheme, host, port = url_fetch.check_url(url)
            if (host, port) not in refused_hosts:
                try:
                    url_fetch.resolve(host, port)
                    refused_hosts[(host, port)] = None
                except url_fetch.FetchError as exc:
                    refused_hosts[(host, port)] = exc.message
            if refused_hosts[(host, port)]:
                raise url_fetch.FetchError(refused_hosts[(host, port)], stage="resolve")
        except url_fetch.FetchError as exc:
            problems.append(f"urls[{index}] {url[:200]!r}: {exc.message}")
    if problems:
        raise ValidationError({"urls": problems[:50]})


def asset_fetch_urls(*, owner: AbstractBaseUser, urls: Any, wait: float) -> list[UrlFetch]:
    """``owner``'s fetch of each URL, in order, waiting up to ``wait``
    seconds for them to finish: the earlier fetch of a URL unless it failed,
    else a new one. A URL refused before any fetch (malformed, or a host
    that is not a public address) is a ``ValidationError`` naming it, and
    nothing is stored; one that failed (not an image, too big, unreachable)
    is reported by its fetch. Asked again with the same URLs, it answers
    with the same fetches: that is how a client polls."""
    if not isinstance(urls, list) or not urls:
        raise ValidationError({"urls": ["must be a non-empty list of http(s) URLs."]})
    for index, url in enumerate(urls[: MAX_FETCH_URLS + 1]):
        if not isinstance(url, str):
            raise ValidationError({"urls": [f"urls[{index}] must be a string, got {type(url).__name__}."]})
    if len(urls) > MAX_FETCH_URLS:
        raise ValidationError({"urls": [f"at most {MAX_FETCH_URLS} URLs per request, got {len(urls)}."]})
    _refuse_now(urls)
    url_fetches_fail_lost(owner=owner)
    by_url: dict[str, UrlFetch] = {}
    for url in urls:
        if url not in by_url:
            by_url[url] = url_fetch_find_or_start(owner=owner, url=url)
    url_fetches_wait(list(by_url.values()), seconds=min(max(wait, 0.0), MAX_WAIT_SECONDS))
    return [by_url[url] for url in urls]
