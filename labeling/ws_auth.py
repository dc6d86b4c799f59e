"""Websocket authentication: the session cookie (browsers), or an API token
in the handshake's ``Authorization: Token <key>`` header (programs such as
the Python client)."""

from __future__ import annotations

from channels.auth import AuthMiddlewareStack
from channels.db import database_sync_to_async
from channels.middleware import BaseMiddleware
from django.contrib.auth.models import AnonymousUser


@database_sync_to_async
def _user_for_token(key: str):
    from rest_framework.authtoken.models import Token

    token = Token.objects.select_related("user").filter(key=key).first()
    if token is None or not token.user.is_active:
        return AnonymousUser()
    return token.user


class TokenAuthMiddleware(BaseMiddleware):
    async def __call__(self, scope, receive, send):
        headers = dict(scope.get("headers", []))
        authorization = headers.get(b"authorization", b"").decode("latin-1")
        scheme, _, key = authorization.partition(" ")
        if scheme.lower() == "token" and key.strip():
            scope = dict(scope, user=await _user_for_token(key.strip()))
        return await super().__call__(scope, receive, send)


def AuthStack(inner):  # noqa: N802 - mirrors channels' AuthMiddlewareStack
    """Session auth first; a token header, when present, decides instead."""
    return AuthMiddlewareStack(TokenAuthMiddleware(inner))
