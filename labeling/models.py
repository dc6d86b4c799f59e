"""Labeler workspace data."""

from django.conf import settings
from django.db import models


class Heartbeat(models.Model):
    """A labeler's page saying it is open: who is working right now.

    The labeler pages send one a minute; requesters see how many labelers of
    an audience were active recently. Old rows are pruned by
    ``heartbeat_prune``.
    """

    labeler = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="heartbeats")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        indexes = [models.Index(fields=["labeler", "-created_at"])]
