"""Reads of audiences, always scoped to who is asking."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Count, Q, QuerySet

from .models import GLOBAL_AUDIENCE_ID, Audience, Membership, QualificationExample


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
        defaults={
            "kind": Audience.Kind.GLOBAL,
            "name": "Global",
            "description": "Every labeler. Ready to work on any task immediately.",
        },
    )
    return audience


def membership_counts(*, audience: Audience) -> dict[str, int]:
    counts = dict.fromkeys(Membership.State.values, 0)
    rows = audience.memberships.values("state").annotate(n=Count("id"))
    counts.update({row["state"]: row["n"] for row in rows})
    return counts


def audience_stats(*, audiences: list[Audience]) -> dict[int, dict]:
    """For each audience (by pk): ``{"members": {state: count}, "example_count": n}``,
    in two queries whatever the number of audiences."""
    pks = [audience.pk for audience in audiences]
    stats = {pk: {"members": dict.fromkeys(Membership.State.values, 0), "example_count": 0} for pk in pks}
    rows = (
        Membership.objects.filter(audience_id__in=pks).order_by().values("audience_id", "state").annotate(n=Count("id"))
    )
    for row in rows:
        stats[row["audience_id"]]["members"][row["state"]] = row["n"]
    examples = (
        QualificationExample.objects.filter(audience_id__in=pks)
        .order_by()
        .values("audience_id")
        .annotate(n=Count("id"))
    )
    for row in examples:
        stats[row["audience_id"]]["example_count"] = row["n"]
    return stats


def example_truths_visible_to(audience: Audience, user: AbstractBaseUser) -> bool:
    """Truths (and explanations, which may give them away) are for the
    audience's owner and operators only: a requester browsing a curated
    audience sees its examples without their answers."""
    if getattr(user, "is_superuser", False):
        return True
    return audience.owner_id is not None and audience.owner_id == user.pk


def example_list(*, audience: Audience) -> QuerySet[QualificationExample]:
    """The audience's examples in the order they were added, with their items
    and truth boxes loaded."""
    return (
        audience.examples.select_related("asset", "asset_b", "truth_asset")
        .prefetch_related("truth_boxes")
        .order_by("created_at", "id")
    )
