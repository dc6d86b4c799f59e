"""The requester's client credentials on the dashboard: made here (the
secret shown once, on the response to the POST that made it), listed by
client id, revoked here (with every token they were issued)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from .credentials import credential_create, credential_list, credential_revoke


@login_required
@require_http_methods(["GET", "POST"])
def client_credentials(request):
    if not request.user.is_staff:
        raise PermissionDenied("The dashboard is for requesters.")
    made, revoked, error = None, None, ""
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "create":
            try:
                credential, secret = credential_create(owner=request.user, name=request.POST.get("name", ""))
            except ValidationError as exc:
                error = " ".join(exc.messages)
            else:
                made = {"client_id": credential.client_id, "secret": secret}
        elif action == "revoke":
            revoked = credential_revoke(owner=request.user, client_id=request.POST.get("client_id", ""))
        else:
            error = "Unknown action."
    response = render(
        request,
        "compat/client_credentials.html",
        {
            "credentials": credential_list(owner=request.user),
            "made": made,
            "revoked": revoked,
            "error": error,
            "environment": request.get_host(),
        },
        status=400 if error else 200,
    )
    response["Cache-Control"] = "no-store"
    return response
