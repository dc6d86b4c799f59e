"""A Content-Security-Policy on every HTML page.

Views may set their own policy (the labeler pages do, ``labeling.views.with_csp``);
every other HTML response (login and logout pages, error pages, the admin,
the API docs) gets a default here. Scripts only ever come from our own
origin. The admin and the API docs also get inline *styles* (the admin's
previews position truth boxes with style attributes; Swagger UI styles
itself inline); no page gets inline scripts.
"""

from __future__ import annotations

from asgiref.sync import iscoroutinefunction
from django.conf import settings
from django.utils.decorators import sync_and_async_middleware

from .views import CONTENT_SECURITY_POLICY

# The labeler pages' policy, with inline styles allowed.
INLINE_STYLES_POLICY = CONTENT_SECURITY_POLICY.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")
INLINE_STYLE_PREFIXES = ("/admin/", "/api/")


def policy_for(path: str) -> str:
    return INLINE_STYLES_POLICY if path.startswith(INLINE_STYLE_PREFIXES) else CONTENT_SECURITY_POLICY


def _add_policy(request, response):
    if "Content-Security-Policy" in response:
        return response
    if not response.get("Content-Type", "").startswith("text/html"):
        return response
    if settings.DEBUG and response.status_code >= 400:
        return response  # Django's debug pages style themselves inline
    response["Content-Security-Policy"] = policy_for(request.path)
    return response


@sync_and_async_middleware
def content_security_policy(get_response):
    """Middleware: the default policy on HTML responses that have none."""
    if iscoroutinefunction(get_response):

        async def middleware(request):
            return _add_policy(request, await get_response(request))

    else:

        def middleware(request):
            return _add_policy(request, get_response(request))

    return middleware
