"""Labelers as results and requesters see them: by pseudonym, never by
username or pk."""

from __future__ import annotations

import hashlib
import hmac

from django.conf import settings

LABELER_ID_LENGTH = 16


def labeler_anonymous_id(labeler_id: int) -> str:
    """A stable pseudonym for a labeler: an HMAC of their pk with the
    ``SECRET_KEY``, truncated. Results never carry usernames or pks."""
    digest = hmac.new(settings.SECRET_KEY.encode(), f"crowdcanvas-labeler:{labeler_id}".encode(), hashlib.sha256)
    return digest.hexdigest()[:LABELER_ID_LENGTH]
