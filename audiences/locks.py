"""The row locks of audiences (see ``jobs.feed`` for the order every path
follows: job datapoint, then lease, then membership). Call them inside
``transaction.atomic``."""

from __future__ import annotations

from .models import Membership


def membership_lock(*, labeler_id: int, audience_id: int) -> Membership:
    """Lock the labeler's membership row (``Membership.DoesNotExist`` if
    none), its audience read with it."""
    return (
        Membership.objects.select_for_update(of=("self",))
        .select_related("audience")
        .get(labeler_id=labeler_id, audience_id=audience_id)
    )
