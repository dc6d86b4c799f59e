"""API tokens: stored hashed, with an expiry, revocable.

Tokens are django-rest-knox's ``AuthToken`` rows: the key itself is shown
once, when it is made, and never stored; the database holds its SHA-512
digest and its first 15 characters (``token_key``, to find the row). Keys
are ``cc_`` and 64 hex characters (256 random bits). A token expires
``settings.API_TOKEN_DAYS`` days after it is made (env ``API_TOKEN_DAYS``,
default 90; 0: never); an expired token is a 401 and its row is deleted.
Revoking a token deletes its row; deactivating an account stops all its
tokens. Clients send ``Authorization: Token <key>``, as before.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import QuerySet
from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.plumbing import build_bearer_security_scheme_object
from knox import auth as knox_auth
from knox.models import AuthToken
from rest_framework import exceptions

__all__ = ["AuthToken", "TokenAuthentication", "token_create", "token_list", "token_revoke", "user_for_key"]


def token_ttl() -> timedelta | None:
    days = getattr(settings, "API_TOKEN_DAYS", 90)
    return timedelta(days=days) if days else None


def token_create(*, user: AbstractBaseUser, ttl: timedelta | None = ...) -> tuple[AuthToken, str]:  # type: ignore[assignment]
    """A new token for ``user``: the row and the key, which exists only in
    what this returns (show it once). ``ttl`` defaults to ``API_TOKEN_DAYS``;
    ``None`` never expires."""
    return AuthToken.objects.create(user=user, expiry=token_ttl() if ttl is ... else ttl)


def token_list(*, user: AbstractBaseUser) -> QuerySet[AuthToken]:
    """``user``'s tokens that have not expired, newest first."""
    live = AuthToken.objects.filter(user=user).exclude(expiry__lte=timezone.now())
    return live.order_by("-created", "token_key")


def token_revoke(*, user: AbstractBaseUser, token_key: str) -> int:
    """Revoke ``user``'s token(s) starting with ``token_key``; how many."""
    deleted, _ = AuthToken.objects.filter(user=user, token_key=token_key).delete()
    return deleted


class TokenAuthentication(knox_auth.TokenAuthentication):
    """knox's token authentication, without its look at every other token
    of the user on every request (one more query on the labelers' hot
    path): only the token presented is checked for expiry (and deleted
    when expired); the others go in ``token_prune`` (hourly, Celery beat)."""

    def _cleanup_token(self, auth_token) -> bool:
        if auth_token.expiry is not None and auth_token.expiry < timezone.now():
            auth_token.delete()
            return True
        return False


def token_prune() -> int:
    """Delete every expired token; how many."""
    deleted, _ = AuthToken.objects.filter(expiry__lte=timezone.now()).delete()
    return deleted


def user_for_key(key: str):
    """The active user whose token ``key`` is, else ``AnonymousUser``."""
    try:
        user, _ = TokenAuthentication().authenticate_credentials(key.encode("utf-8"))
    except (exceptions.AuthenticationFailed, UnicodeError):
        return AnonymousUser()
    return user


class TokenScheme(OpenApiAuthenticationExtension):
    """The schema's security scheme for ``TokenAuthentication``: the header
    ``Authorization: Token <key>``, named as DRF's own token scheme was."""

    target_class = "labeling.tokens.TokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        return build_bearer_security_scheme_object(header_name="Authorization", token_prefix="Token")
