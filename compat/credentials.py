"""OAuth2 client credentials and the access tokens they are exchanged for.

A client's secret is 256 random bits shown once; the database keeps its
SHA-512 digest (as API tokens keep theirs), compared in constant time. The
client-credentials grant issues an ordinary API token (django-rest-knox,
stored hashed) that expires after ``CLIENT_TOKEN_SECONDS``, linked to its
client so that revoking the client revokes its tokens at once.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from knox.models import AuthToken

from labeling.tokens import token_create

from .models import ClientCredential, IssuedToken

SECRET_PREFIX = "ccs_"
MAX_NAME_LENGTH = 100


def _digest(secret: str) -> str:
    return hashlib.sha512(secret.encode("utf-8")).hexdigest()


@transaction.atomic
def credential_create(*, owner: AbstractBaseUser, name: str = "") -> tuple[ClientCredential, str]:
    """A new client of ``owner`` (a requester): the row and its secret,
    which exists only in what this returns."""
    if not (owner.is_active and owner.is_staff):
        raise ValidationError({"owner": ["client credentials are for requesters."]})
    name = (name or "").strip()
    if len(name) > MAX_NAME_LENGTH:
        raise ValidationError({"name": [f"at most {MAX_NAME_LENGTH} characters."]})
    secret = SECRET_PREFIX + secrets.token_hex(32)
    credential = ClientCredential.objects.create(owner=owner, name=name, secret_digest=_digest(secret))
    return credential, secret


def credential_list(*, owner: AbstractBaseUser) -> QuerySet[ClientCredential]:
    return ClientCredential.objects.filter(owner=owner).order_by("-created_at", "-id")


@transaction.atomic
def credential_revoke(*, owner: AbstractBaseUser, client_id: str) -> bool:
    """Delete ``owner``'s client ``client_id`` and every token it was
    issued; whether there was one."""
    credential = ClientCredential.objects.filter(owner=owner, client_id=client_id).first()
    if credential is None:
        return False
    AuthToken.objects.filter(digest__in=credential.issued_tokens.values("token_digest")).delete()
    credential.delete()
    return True


def credential_authenticate(*, client_id: str, secret: str) -> ClientCredential | None:
    """The client whose id and secret these are, its owner an active
    requester; ``None`` otherwise."""
    credential = ClientCredential.objects.select_related("owner").filter(client_id=client_id).first()
    if credential is None or not hmac.compare_digest(credential.secret_digest, _digest(secret)):
        return None
    if not (credential.owner.is_active and credential.owner.is_staff):
        return None
    return credential


@transaction.atomic
def token_issue(*, credential: ClientCredential) -> tuple[str, int]:
    """An access token for ``credential``'s owner: the key and its lifetime in seconds."""
    seconds = settings.CLIENT_TOKEN_SECONDS
    token, key = token_create(user=credential.owner, ttl=timedelta(seconds=seconds))
    IssuedToken.objects.create(token_digest=token.digest, credential=credential)
    ClientCredential.objects.filter(pk=credential.pk).update(last_used_at=timezone.now())
    return key, seconds
