"""Reads of audiences, always scoped to who is asking."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Count, Q, QuerySet

from .models import GLOBAL_AUDIENCE_ID, Audience, Membership


def audiences_visible_q(user: AbstractBaseUser) -> Q:
    """Global and curated audiences, and the requester's own custom ones
    (everything, for operators)."""
    if getattr(user, "is_superuser", False):
        return Q()
    return Q(kind__in=[Audience.Kind.GLOBAL, Audience.Kind.CURATED]) | Q(owner_id=user.pk)


def audience_visible_to(audience: Audience, user: AbstractBaseUser) -> bool:
    if getattr(user, "is_superuser", False):
        return True
    return audience.kind != Audience.Kind.CUSTOM or audience.owner_id == user.pk


def audience_list(*, user: AbstractBaseUser) -> QuerySet[Audience]:
    return Audience.objects.filter(audiences_visible_q(user))


def audience_get(*, user: AbstractBaseUser, public_id: str) -> Audience:
    """The audience ``public_id`` if ``user`` may see it; ``Audience.DoesNotExist`` otherwise."""
    return audience_list(user=user).get(public_id=public_id)


def audience_find(*, user: AbstractBaseUser, name: str = "") -> QuerySet[Audience]:
    """Audiences whose name contains ``name`` (case-insensitive), newest first."""
    queryset = audience_list(user=user)
    if name:
        queryset = queryset.filter(name__icontains=name)
    return queryset.order_by("-created_at", "-id")


def global_audience() -> Audience:
    """The global audience (the data migration makes it; recreated if a test
    database flush removed it)."""
    audience, _ = Audience.objects.get_or_create(
        public_id=GLOBAL_AUDIENCE_ID,
        defaults={"kind": Audience.Kind.GLOBAL, "name": "Global",
                  "description": "Every labeler. Ready to work on any task immediately."},
    )
    return audience


def membership_counts(*, audience: Audience) -> dict[str, int]:
    counts = dict.fromkeys(Membership.State.values, 0)
    rows = audience.memberships.values("state").annotate(n=Count("id"))
    counts.update({row["state"]: row["n"] for row in rows})
    return counts
