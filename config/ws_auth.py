"""Websocket authentication: the session cookie (browsers), or an API token
in the handshake's ``Authorization: Token <key>`` header (programs such as
the Python client)."""

from __future__ import annotations

from channels.auth import AuthMiddlewareStack
from channels.db import database_sync_to_async
from channels.middleware import BaseMiddleware


@database_sync_to_async
def _user_for_token(key: str):
    from labeling.tokens import user_for_key  # after the apps are loaded

    return user_for_key(key)


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
