"""Who may work on a job: a graduated member of its audience, or anyone in
the global audience (whose membership is made on first use)."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser

from audiences.models import Audience, Membership
from core.errors import ErrorCode, Forbidden


def working_membership(*, labeler: AbstractBaseUser, audience: Audience) -> Membership:
    """The membership that lets ``labeler`` work on ``audience``'s jobs:
    graduated, or (global audience) any labeler."""
    membership = Membership.objects.filter(labeler=labeler, audience=audience).first()
    return _working(labeler=labeler, audience=audience, membership=membership)


def _working(*, labeler: AbstractBaseUser, audience: Audience, membership: Membership | None) -> Membership:
    """``working_membership`` for the labeler's ``membership`` of ``audience``
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
