"""Celery tasks of the compatible API: thin wrappers around its services."""

from celery import shared_task


@shared_task(acks_late=True)
def fetch_url(fetch_id: int) -> str | None:
    """Fetch one URL a client asked for (``compat.services.url_fetch_run``)."""
    from .services import url_fetch_run

    fetch = url_fetch_run(fetch_id=fetch_id)
    return fetch.status if fetch is not None else None
