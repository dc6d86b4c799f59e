"""Celery tasks of assets: thin wrappers around ``assets.fetches``.

``assets`` is not an installed app, so ``compat.tasks`` imports this module
for the worker's autodiscovery to register it.
"""

from celery import shared_task


# Named as it was when the compatible API alone fetched URLs, so queued
# messages of an older release still find it.
@shared_task(name="compat.tasks.fetch_url", acks_late=True)
def fetch_url(fetch_id: int) -> str | None:
    """Fetch one URL a requester asked for (``assets.fetches.url_fetch_run``)."""
    from .fetches import url_fetch_run

    fetch = url_fetch_run(fetch_id=fetch_id)
    return fetch.status if fetch is not None else None
