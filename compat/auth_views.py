"""``auth.<SERVICE_DOMAIN>``: the OAuth2 token endpoint (client-credentials
grant, RFC 6749 section 4.4) and the userinfo endpoint.

The client authenticates with HTTP Basic ``client_id:client_secret`` (or
the two as form fields); errors are RFC 6749's JSON (``invalid_client``
401, ``unsupported_grant_type`` and ``invalid_request`` 400).
"""

from __future__ import annotations

import base64
import binascii
from urllib.parse import unquote

from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST
from rest_framework import exceptions

from .auth import BearerAuthentication
from .credentials import credential_authenticate, token_issue
from .documents import owner_uuid

SUPPORTED_GRANT = "client_credentials"


def _oauth_error(error: str, description: str, status: int) -> JsonResponse:
    response = JsonResponse({"error": error, "error_description": description}, status=status)
    if status == 401:
        response["WWW-Authenticate"] = 'Basic realm="token"'
    response["Cache-Control"] = "no-store"
    return response


def _basic_credentials(request) -> tuple[str, str] | None:
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    client_id, sep, secret = decoded.partition(":")
    return (unquote(client_id), unquote(secret)) if sep else None


@csrf_exempt
@never_cache
@require_POST
def token(request):
    grant = request.POST.get("grant_type", "")
    if not grant:
        return _oauth_error("invalid_request", "grant_type is required.", 400)
    if grant != SUPPORTED_GRANT:
        return _oauth_error("unsupported_grant_type", f"only {SUPPORTED_GRANT} is supported.", 400)
    pair = _basic_credentials(request) or (request.POST.get("client_id", ""), request.POST.get("client_secret", ""))
    if not pair[0] or not pair[1]:
        return _oauth_error("invalid_client", "client credentials are required (HTTP Basic).", 401)
    credential = credential_authenticate(client_id=pair[0], secret=pair[1])
    if credential is None:
        return _oauth_error("invalid_client", "unknown client or wrong secret.", 401)
    key, seconds = token_issue(credential=credential)
    response = JsonResponse(
        {
            "access_token": key,
            "token_type": "Bearer",
            "expires_in": seconds,
            "scope": request.POST.get("scope", "openid email api"),
        }
    )
    response["Cache-Control"] = "no-store"
    return response


@never_cache
@require_GET
def userinfo(request):
    try:
        found = BearerAuthentication().authenticate(request)
    except exceptions.AuthenticationFailed as exc:
        found, message = None, str(exc.detail)
    else:
        message = "a Bearer token is required."
    if found is None:
        response = JsonResponse({"error": "invalid_token", "error_description": message}, status=401)
        response["WWW-Authenticate"] = 'Bearer error="invalid_token"'
        return response
    user = found[0]
    return JsonResponse(
        {
            "sub": owner_uuid(user.pk),
            "email": user.email or user.get_username(),
            "preferred_username": user.get_username(),
            "role": "requester" if user.is_staff else "labeler",
        }
    )
