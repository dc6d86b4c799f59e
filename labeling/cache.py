"""Redis connection pools shared by every thread of a process.

Django makes a cache object per thread, and under ASGI every request runs in
a thread of its own: with Django's default, each request would open a new
Redis connection. ``SharedConnectionPool`` hands every cache object of a
process the same pool per server and options.
"""

from __future__ import annotations

import threading

import redis


class SharedConnectionPool(redis.ConnectionPool):
    _pools: dict[tuple, redis.ConnectionPool] = {}
    _lock = threading.Lock()

    @classmethod
    def from_url(cls, url: str, **kwargs) -> redis.ConnectionPool:
        key = (url, tuple(sorted((name, repr(value)) for name, value in kwargs.items())))
        with cls._lock:
            pool = cls._pools.get(key)
            if pool is None:
                pool = cls._pools[key] = super().from_url(url, **kwargs)
            return pool
