"""A Content-Security-Policy on every HTML page, and JSON errors on every API path.

Views may set their own policy (the labeler pages do, ``core.csp.with_csp``);
every other HTML response (login and logout pages, error pages, the admin,
the API docs) gets a default here. Scripts only ever come from our own
origin. The admin and the API docs also get inline *styles* (the admin's
previews position truth boxes with style attributes; Swagger UI styles
itself inline); no page gets inline scripts.

A path with a NUL character is a 404 before any view sees it (no route
takes one; PostgreSQL would refuse it in a query).

Under ``/api/``, an error that Django answered with an HTML page (a path no
route matches, a request refused before any API view ran) is answered as
the API answers errors: ``{"detail": message}`` with the same status.
"""

from __future__ import annotations

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.http import HttpResponseNotFound, JsonResponse
from django.utils.decorators import sync_and_async_middleware
from whitenoise.middleware import WhiteNoiseMiddleware

from core.csp import CONTENT_SECURITY_POLICY

# The labeler pages' policy, with inline styles allowed.
INLINE_STYLES_POLICY = CONTENT_SECURITY_POLICY.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")
INLINE_STYLE_PREFIXES = ("/admin/", "/api/")
API_PREFIX, API_DOCS = "/api/", "/api/docs/"


def policy_for(path: str) -> str:
    return INLINE_STYLES_POLICY if path.startswith(INLINE_STYLE_PREFIXES) else CONTENT_SECURITY_POLICY


def _api_error_as_json(request, response):
    path = request.path
    if response.status_code < 400 or not path.startswith(API_PREFIX) or path.startswith(API_DOCS):
        return response
    if not response.get("Content-Type", "").startswith("text/html"):
        return response
    message = "Not found." if response.status_code == 404 else f"{response.reason_phrase}."
    json_response = JsonResponse({"detail": message}, status=response.status_code)
    for header in ("Allow", "Retry-After", "WWW-Authenticate"):
        if header in response:
            json_response[header] = response[header]
    return json_response


def _add_policy(request, response):
    response = _api_error_as_json(request, response)
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
    """Middleware: paths with NUL are 404s; the default policy on HTML
    responses that have none; JSON for HTML error pages under ``/api/``."""
    if iscoroutinefunction(get_response):

        async def middleware(request):
            if "\x00" in request.path:
                return _add_policy(request, HttpResponseNotFound())
            return _add_policy(request, await get_response(request))

    else:

        def middleware(request):
            if "\x00" in request.path:
                return _add_policy(request, HttpResponseNotFound())
            return _add_policy(request, get_response(request))

    return middleware


class StaticFilesMiddleware(WhiteNoiseMiddleware):
    """WhiteNoise, able to run in an async middleware chain.

    WhiteNoise's middleware is sync-only: under ASGI, Django then hops from
    the event loop to a thread for it, back to the loop for the middleware
    below, and to a thread again for the view, on every request. Looking a
    path up in WhiteNoise's table is a dictionary read, so it can run on the
    loop and leave one hop, to the view.
    """

    sync_capable = True
    async_capable = True

    def __init__(self, get_response=None, settings=settings):
        super().__init__(get_response, settings)
        if iscoroutinefunction(get_response):
            markcoroutinefunction(self)

    def __call__(self, request):
        if iscoroutinefunction(self):
            return self._acall(request)
        return super().__call__(request)

    async def _acall(self, request):
        static_file = self.find_file(request.path_info) if self.autorefresh else self.files.get(request.path_info)
        if static_file is not None:
            return self.serve(static_file, request)
        return await self.get_response(request)
