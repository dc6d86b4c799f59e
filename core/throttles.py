"""Rate limits: login attempts per username and address, sign-ups per
address, and labeler API writes per labeler.

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

_PERIODS = {
    "s": 1,
    "sec": 1,
    "second": 1,
    "m": 60,
    "min": 60,
    "minute": 60,
    "h": 3600,
    "hour": 3600,
    "d": 86400,
    "day": 86400,
}


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
    "rate_limited"}`` (``core.api_errors``)."""

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
    """Login attempts for one username from one address: at most
    ``LOGIN_FAILURE_LIMIT`` passwords are checked within
    ``LOGIN_FAILURE_WINDOW`` seconds (counted from the first attempt); past
    that, every attempt is refused until the window ends, even with the right
    password. A successful login clears the count.

    The attempt is counted before its password is checked (``attempt``, an
    atomic ``cache.incr``), never after: however many guesses arrive at once,
    across threads or processes sharing Redis, no more than the limit of them
    reach the password hasher.
    """

    def __init__(self, request, username: str) -> None:
        ident = f"{(username or '').strip().casefold()}\x00{client_address(request)}"
        digest = hashlib.sha256(ident.encode()).hexdigest()[:32]
        self.key = f"login-failures:{digest}"
        self.limit = settings.LOGIN_FAILURE_LIMIT
        self.window = settings.LOGIN_FAILURE_WINDOW

    def _window(self, *, open_one: bool) -> float | None:
        """When the current window of attempts started (``None``: no window;
        ``open_one`` starts one now). Concurrent callers always agree on it:
        ``cache.add`` never overwrites, and the window after an ended one is
        chosen by one ``add`` under a key named after the ended one."""
        started = cache.get(self.key)
        if started is not None and now() - started < self.window:
            return started
        if not open_one:
            return None
        if started is None:
            cache.add(self.key, now(), timeout=self.window)
        else:  # an ended window still in the cache (the cache's clock is not ours)
            cache.add(f"{self.key}:after:{started!r}", now(), timeout=self.window)
            cache.set(self.key, cache.get(f"{self.key}:after:{started!r}"), timeout=self.window)
        return cache.get(self.key)

    def _counter(self, started: float) -> str:
        return f"{self.key}:{started!r}"

    def _wait(self, started: float) -> int:
        return retry_after(self.window - (now() - started))

    def attempt(self) -> int:
        """Count one password about to be checked; seconds until attempts are
        taken again when this one is past the limit (do not check it), else 0."""
        try:
            started = self._window(open_one=True)
            counter = self._counter(started)
            cache.add(counter, 0, timeout=self.window)
            try:
                count = cache.incr(counter)
            except ValueError:  # expired just now
                cache.add(counter, 1, timeout=self.window)
                count = 1
        except CACHE_ERRORS:
            logger.warning("login throttle skipped: cache unavailable", exc_info=True)
            return 0
        return self._wait(started) if count > self.limit else 0

    def blocked_for(self) -> int:
        """Seconds until attempts are taken again; 0 when they are now (counts nothing)."""
        try:
            started = self._window(open_one=False)
            if started is None or cache.get(self._counter(started), 0) < self.limit:
                return 0
        except CACHE_ERRORS:
            logger.warning("login throttle skipped: cache unavailable", exc_info=True)
            return 0
        return self._wait(started)

    def succeeded(self) -> None:
        try:
            started = cache.get(self.key)
            cache.delete_many([self.key] + ([self._counter(started)] if started is not None else []))
        except CACHE_ERRORS:
            logger.warning("login attempts not reset: cache unavailable", exc_info=True)


# --- sign-ups --------------------------------------------------------------------------------


def signup_blocked_for(request) -> int:
    """Count one sign-up attempt from the request's address against
    ``settings.SIGNUP_RATE`` (env ``SIGNUP_RATE``, default ``20/hour``;
    ``none`` turns it off): seconds until sign-ups are taken again when this
    one is past the limit, else 0. Counted before the form is looked at."""
    rate = parse_rate(getattr(settings, "SIGNUP_RATE", None))
    if rate is None:
        return 0
    digest = hashlib.sha256(client_address(request).encode()).hexdigest()[:32]
    try:
        count, remaining = _hit(f"signups:{digest}", rate, now())
    except CACHE_ERRORS:
        logger.warning("sign-up limit skipped: cache unavailable", exc_info=True)
        return 0
    return retry_after(remaining) if count > rate.count else 0
