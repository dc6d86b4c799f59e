"""Who may work on a job: a graduated member of its audience, or anyone in
the global audience (whose membership is made on first use). A labeler
dropped from an audience has their tasks in its jobs end at once."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.dispatch import receiver
from django.utils import timezone

from audiences.models import Audience, Membership
from audiences.signals import membership_dropped
from core.errors import ErrorCode, Forbidden

from ..models import Lease


def working_membership_get_or_create(*, labeler: AbstractBaseUser, audience: Audience) -> Membership:
    """The membership that lets ``labeler`` work on ``audience``'s jobs:
    graduated, or (global audience) any labeler."""
    membership = Membership.objects.filter(labeler=labeler, audience=audience).first()
    return working_membership_ensure(labeler=labeler, audience=audience, membership=membership)


def working_membership_ensure(
    *, labeler: AbstractBaseUser, audience: Audience, membership: Membership | None
) -> Membership:
    """``working_membership_get_or_create`` for the labeler's ``membership`` of ``audience``
    (``None``: they have none), already read."""
    if audience.kind == Audience.Kind.GLOBAL:
        if membership is None:
            membership, _ = Membership.objects.get_or_create(
                labeler=labeler, audience=audience, defaults={"state": Membership.State.GRADUATED}
            )
        return membership
    if membership is None or membership.state != Membership.State.GRADUATED:
        raise Forbidden(ErrorCode.NOT_ELIGIBLE, "Qualify for this job's audience before working on it.")
    return membership


def leases_end_for_dropped(*, labeler_id: int, audience_id: int, now, keep: int | None = None) -> int:
    """A labeler dropped from an audience: their live tasks in its jobs (all
    but the lease ``keep``, being answered) end at ``now`` and go back to the
    pool."""
    leases = Lease.objects.filter(labeler_id=labeler_id, job__audience_id=audience_id, status=Lease.Status.ACTIVE)
    if keep is not None:
        leases = leases.exclude(pk=keep)
    return leases.end(now)


@receiver(membership_dropped)
def _dropped_by_operator(sender, *, membership: Membership, **kwargs) -> None:
    leases_end_for_dropped(labeler_id=membership.labeler_id, audience_id=membership.audience_id, now=timezone.now())
