"""Routing by host name under ``SERVICE_DOMAIN``.

The hosted service's client reaches ``api.<domain>`` (the compatible API at
the root path), ``auth.<domain>`` (the token endpoints) and
``app.<domain>`` (pages it opens or prints). Each of those hosts gets its own
URL map, with the project's own map after it, so our API, pages and admin
keep working there as on every other allowed host. Any port is accepted.
"""

from __future__ import annotations

from asgiref.sync import iscoroutinefunction
from django.conf import settings
from django.utils.decorators import sync_and_async_middleware

URLCONFS = {"api": "compat.urls_api", "auth": "compat.urls_auth", "app": "compat.urls_app"}


def _strip_port(host: str) -> str:
    if host.startswith("["):
        return host.split("]", 1)[0] + "]"
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def urlconf_for(host: str) -> str | None:
    """The URL map for a request's ``Host`` (``None``: the project's)."""
    domain = _strip_port(settings.SERVICE_DOMAIN or "")
    if not domain:
        return None
    name = _strip_port(host.lower())
    sub, _, rest = name.partition(".")
    if rest != domain:
        return None
    return URLCONFS.get(sub)


def _route(request) -> None:
    urlconf = urlconf_for(request.META.get("HTTP_HOST", "") or request.META.get("SERVER_NAME", ""))
    if urlconf is not None:
        request.urlconf = urlconf


@sync_and_async_middleware
def service_host_routing(get_response):
    """Middleware: ``request.urlconf`` for api./auth./app. hosts."""
    if iscoroutinefunction(get_response):

        async def middleware(request):
            _route(request)
            return await get_response(request)

    else:

        def middleware(request):
            _route(request)
            return get_response(request)

    return middleware
