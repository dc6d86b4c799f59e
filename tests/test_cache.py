"""The Redis cache backend: every thread of a process shares its pool and client."""

from __future__ import annotations

import threading

import pytest
import redis
from django.core.cache import caches

from core.cache import RedisCache


@pytest.fixture
def redis_cache(settings, redis_server):
    settings.CACHES = {
        "default": {
            "BACKEND": "core.cache.RedisCache",
            "LOCATION": redis_server.url,
            "KEY_PREFIX": "cache-test",
            "OPTIONS": {
                "socket_connect_timeout": 1,
                "socket_timeout": 1,
                "pool_class": "core.cache.SharedConnectionPool",
            },
        }
    }
    yield
    redis.Redis.from_url(redis_server.url).flushdb()


def in_threads(work, count: int) -> list:
    """``work()`` run in ``count`` threads one after another, as request
    threads do; their results."""
    results = []

    def run():
        results.append(work())

    for _ in range(count):
        thread = threading.Thread(target=run)
        thread.start()
        thread.join()
    return results


def test_every_thread_uses_one_client_and_one_connection(redis_cache, redis_server):
    def work():
        cache = caches["default"]  # a cache object of this thread's own
        assert isinstance(cache, RedisCache)
        assert cache.add("hits", 0, timeout=60) in (True, False)
        count = cache.incr("hits")
        return id(cache), cache._cache.get_client(), cache._cache.get_client(write=True), count

    results = in_threads(work, 20)
    assert len({cache_id for cache_id, *_ in results}) > 1  # Django's per-thread cache objects...
    assert len({id(client) for _, read, write, _ in results for client in (read, write)}) == 1  # ...one client
    assert sorted(count for *_, count in results) == list(range(1, 21))
    assert caches["default"].get("hits") == 20
    clients = redis.Redis.from_url(redis_server.url).client_list()
    assert len(clients) == 2  # the cache's one connection, and the one asking


def test_clients_are_per_server(settings, redis_cache, redis_server):
    first = caches["default"]._cache.get_client()
    other = redis_server.url.rsplit("/", 1)[0] + "/1"  # another database: another pool
    settings.CACHES = {"default": {**settings.CACHES["default"], "LOCATION": other}}
    second = caches["default"]._cache.get_client()
    assert second is not first and second.connection_pool is not first.connection_pool
    caches["default"].set("where", "db1")
    assert redis.Redis.from_url(other).exists(caches["default"].make_key("where"))
