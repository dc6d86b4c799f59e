"""The Redis cache backend, with its connections and clients shared by every
thread of a process.

Django makes a cache object per thread, and under ASGI every request runs in
a thread of its own: with Django's defaults, each request would open a new
Redis connection, and every cache call would build a new ``redis.Redis``
client (its table of some 200 reply callbacks included), which cost more
than the call's round trip. Here every cache object of a process shares one
pool per server and options (``SharedConnectionPool``) and one client per
pool (``RedisCache``); both are thread-safe.
"""

from __future__ import annotations

import threading

import redis
from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient


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


class SharedClientCacheClient(RedisCacheClient):
    """Django's Redis cache client, handing out one ``redis.Redis`` per
    connection pool instead of a new one per call."""

    _clients: dict[redis.ConnectionPool, redis.Redis] = {}
    _lock = threading.Lock()

    def get_client(self, key=None, *, write=False) -> redis.Redis:
        pool = self._get_connection_pool(write)
        client = self._clients.get(pool)
        if client is None:
            with self._lock:
                client = self._clients.setdefault(pool, self._client(connection_pool=pool))
        return client


class RedisCache(DjangoRedisCache):
    def __init__(self, server, params) -> None:
        super().__init__(server, params)
        self._class = SharedClientCacheClient
