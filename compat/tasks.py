"""Celery tasks of the compatible API: the URL fetch lives in ``assets``
(our own API fetches with it too); imported here so the worker registers it."""

from assets.tasks import fetch_url

__all__ = ["fetch_url"]
