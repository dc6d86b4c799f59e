"""CrowdCanvas project package and labeler workspace."""

from .celery import app as celery_app

__all__ = ["celery_app"]
