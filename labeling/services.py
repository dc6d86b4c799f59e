"""Accounts: requesters (staff users scoped to what they own) and labelers."""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, Group, Permission
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from audiences.models import Membership
from audiences.selectors import global_audience
from core.roles import REQUESTERS_GROUP

from .models import Heartbeat
from .tokens import token_create

# What a requester may do in the admin; row-level scoping is in audiences.admin
# and jobs.admin (every queryset filtered by owner).
REQUESTER_PERMISSIONS = {
    "audiences": {
        "audience": ("view", "add", "change", "delete"),
        "qualificationexample": ("view", "add", "change", "delete"),
        "truthbox": ("view", "add", "change", "delete"),
        "membership": ("view",),
    },
    "jobs": {
        "asset": ("view", "add"),
        "jobdefinition": ("view", "add", "change", "delete"),
        "datapoint": ("view",),
        "job": ("view", "add", "change"),
        "response": ("view",),
    },
}


def requesters_group() -> Group:
    """The requesters' group with its model permissions (made on first use,
    since permissions exist only after migrate)."""
    group, _ = Group.objects.get_or_create(name=REQUESTERS_GROUP)
    wanted = [
        (app, f"{action}_{model}")
        for app, models in REQUESTER_PERMISSIONS.items()
        for model, actions in models.items()
        for action in actions
    ]
    perms = Permission.objects.filter(content_type__app_label__in=REQUESTER_PERMISSIONS.keys())
    by_key = {(p.content_type.app_label, p.codename): p for p in perms.select_related("content_type")}
    missing = [key for key in wanted if key not in by_key]
    if missing:
        raise RuntimeError(f"permissions missing (run migrate): {missing}")
    group.permissions.set([by_key[key] for key in wanted])
    return group


@transaction.atomic
def requester_create(*, username: str, password: str | None = None, email: str = "") -> tuple[AbstractBaseUser, str]:
    """A requester: a staff user in the requesters group, with an API token.

    Returns the user and the token key.
    """
    User = get_user_model()
    username = (username or "").strip()
    if not username:
        raise ValidationError({"username": ["must not be empty."]})
    if User.objects.filter(username=username).exists():
        raise ValidationError({"username": [f"{username!r} is taken."]})
    user = User(username=username, email=email, is_staff=True)
    if password:
        validate_password(password, user)
        user.set_password(password)
    else:
        user.set_unusable_password()
    user.full_clean()
    user.save()
    user.groups.add(requesters_group())
    _, key = token_create(user=user)
    return user, key


@transaction.atomic
def labeler_create(*, username: str, password: str | None, email: str = "") -> AbstractBaseUser:
    """A labeler account; every labeler belongs to the global audience.
    Without a password it cannot sign in (an account for an API token)."""
    User = get_user_model()
    username = (username or "").strip()
    if not username:
        raise ValidationError({"username": ["must not be empty."]})
    if User.objects.filter(username__iexact=username).exists():
        raise ValidationError({"username": [f"{username!r} is taken."]})
    user = User(username=username, email=email)
    if password is None:
        user.set_unusable_password()
    else:
        validate_password(password, user)
        user.set_password(password)
    user.full_clean()
    user.save()
    global_membership(labeler=user)
    return user


def global_membership(*, labeler: AbstractBaseUser) -> Membership:
    """The labeler's membership of the global audience (made if missing)."""
    membership, _ = Membership.objects.get_or_create(
        labeler=labeler,
        audience=global_audience(),
        defaults={"state": Membership.State.GRADUATED},
    )
    return membership


HEARTBEAT_KEEP = timedelta(days=1)


def heartbeat_record(*, labeler: AbstractBaseUser) -> Heartbeat:
    """Note that the labeler has a page open now."""
    return Heartbeat.objects.create(labeler=labeler)


def heartbeat_prune(*, keep: timedelta = HEARTBEAT_KEEP) -> int:
    """Delete heartbeats older than ``keep``; returns how many."""
    deleted, _ = Heartbeat.objects.filter(created_at__lt=timezone.now() - keep).delete()
    return deleted
