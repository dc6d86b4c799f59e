"""Rate limits: failed logins per username and address, and labeler API
writes per labeler.

Both count in Django's cache (``CACHES``): Redis when ``REDIS_URL`` is set,
so the limits hold across every server process, the process's memory
otherwise. Counting is a fixed window per key (``cache.add`` then
``cache.incr``, atomic on Redis): cheap whatever the rate, so the load
benchmark can raise ``SUBMIT_RATE`` without the throttle becoming the
bottleneck. When the cache cannot be reached, the limits are skipped (and
logged) rather than failing the request: a Redis outage must not stop
labelers from submitting.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from dataclasses import dataclass
from functools import lru_cache

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured
from rest_framework.throttling import BaseThrottle

logger = logging.getLogger("crowdcanvas.throttles")

try:  # the cache backend used with REDIS_URL
    from redis.exceptions import RedisError
except ImportError:  # pragma: no cover - redis is a runtime dependency
    RedisError = OSError  # type: ignore[assignment,misc]

CACHE_ERRORS = (RedisError, OSError)

# The clock the limits count with (tests replace it).
now = time.time

_PERIODS = {"s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60, "h": 3600, "hour": 3600,
            "d": 86400, "day": 86400}


@dataclass(frozen=True)
class Rate:
    count: int
    seconds: int


@lru_cache(maxsize=16)
def parse_rate(text: str | None) -> Rate | None:
    """``"120/min"`` (also ``/s``, ``/h``, ``/day``, or ``"30/5min"``) as a
    :class:`Rate`; ``None`` for ``""``, ``"none"`` or ``"off"`` (no limit)."""
    if text is None or text.strip().lower() in {"", "none", "off"}:
        return None
    count, _, period = text.strip().partition("/")
    multiple, unit = "", period
    while unit[:1].isdigit():
        multiple, unit = multiple + unit[0], unit[1:]
    if not count.isdigit() or int(count) < 1 or unit not in _PERIODS or multiple == "0":
        raise ImproperlyConfigured(f"a rate is '<count>/<period>' such as '120/min', got {text!r}")
    return Rate(int(count), _PERIODS[unit] * int(multiple or 1))


def _hit(key: str, rate: Rate, at: float) -> tuple[int, float]:
    """Count one event in ``key``'s current fixed window; returns the count
    and the seconds until the window ends."""
    window = int(at // rate.seconds)
    bucket = f"{key}:{window}"
    cache.add(bucket, 0, timeout=rate.seconds + 1)
    try:
        count = cache.incr(bucket)
    except ValueError:  # expired between add and incr
        cache.add(bucket, 1, timeout=rate.seconds + 1)
        count = 1
    return count, (window + 1) * rate.seconds - at


def retry_after(seconds: float) -> int:
    """A ``Retry-After`` value: whole seconds, at least 1."""
    return max(1, math.ceil(seconds))


# --- labeler API writes -------------------------------------------------------------------


class SubmitRateThrottle(BaseThrottle):
    """At most ``settings.SUBMIT_RATE`` labeler API writes per labeler (env
    ``SUBMIT_RATE``, default ``120/min``; ``none`` turns it off). A refused
    request is a 429 with ``Retry-After`` and ``{"detail", "code":
    "rate_limited"}`` (``labeling.api_errors``)."""

    scope = "submit"

    def allow_request(self, request, view) -> bool:
        self.wait_seconds = None
        rate = parse_rate(getattr(settings, "SUBMIT_RATE", None))
        user = request.user
        if rate is None or not (user and user.is_authenticated):
            return True
        try:
            count, remaining = _hit(f"throttle:{self.scope}:{user.pk}", rate, now())
        except CACHE_ERRORS:
            logger.warning("rate limit skipped: cache unavailable", extra={"scope": self.scope}, exc_info=True)
            return True
        if count > rate.count:
            self.wait_seconds = remaining
            return False
        return True

    def wait(self) -> float | None:
        return None if self.wait_seconds is None else retry_after(self.wait_seconds)


# --- failed logins --------------------------------------------------------------------------


def client_address(request) -> str:
    """The client's address as the server sees it (``REMOTE_ADDR``). Behind
    a reverse proxy, let the ASGI server set it from the proxy's header
    (``uvicorn --proxy-headers --forwarded-allow-ips ...``)."""
    return request.META.get("REMOTE_ADDR") or "unknown"


class LoginThrottle:
    """Failed logins for one username from one address: after
    ``LOGIN_FAILURE_LIMIT`` failures within ``LOGIN_FAILURE_WINDOW`` seconds
    (counted from the first), every attempt is refused until the window ends,
    even with the right password."""

    def __init__(self, request, username: str) -> None:
        ident = f"{(username or '').strip().casefold()}\x00{client_address(request)}"
        digest = hashlib.sha256(ident.encode()).hexdigest()[:32]
        self.key = f"login-failures:{digest}"
        self.limit = settings.LOGIN_FAILURE_LIMIT
        self.window = settings.LOGIN_FAILURE_WINDOW

    def _window(self, *, open_one: bool) -> float | None:
        """When the current window of failures started (``None``: no window;
        ``open_one`` starts one now)."""
        started = cache.get(self.key)
        if started is not None and now() - started < self.window:
            return started
        if not open_one:
            return None
        if started is None and cache.add(self.key, now(), timeout=self.window):
            return cache.get(self.key)  # add() never overwrites: concurrent failures share one window
        cache.set(self.key, now(), timeout=self.window)  # an ended window still in the cache
        return cache.get(self.key)

    def _counter(self, started: float) -> str:
        return f"{self.key}:{started!r}"

    def blocked_for(self) -> int:
        """Seconds until attempts are taken again; 0 when they are now."""
        try:
            started = self._window(open_one=False)
            if started is None or cache.get(self._counter(started), 0) < self.limit:
                return 0
        except CACHE_ERRORS:
            logger.warning("login throttle skipped: cache unavailable", exc_info=True)
            return 0
        return retry_after(self.window - (now() - started))

    def failed(self) -> None:
        try:
            counter = self._counter(self._window(open_one=True))
            cache.add(counter, 0, timeout=self.window)
            try:
                cache.incr(counter)
            except ValueError:  # expired just now
                cache.add(counter, 1, timeout=self.window)
        except CACHE_ERRORS:
            logger.warning("login failure not counted: cache unavailable", exc_info=True)

    def succeeded(self) -> None:
        try:
            started = cache.get(self.key)
            cache.delete_many([self.key] + ([self._counter(started)] if started is not None else []))
        except CACHE_ERRORS:
            logger.warning("login failures not reset: cache unavailable", exc_info=True)
