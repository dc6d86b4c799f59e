"""The Celery broker transport: kombu's Redis transport, made to survive the
broker going away while a worker holds unacknowledged messages.

When Redis drops the connection, the worker closes it and reconnects. Closing
a channel first requeues the messages the worker has received but not
acknowledged (with ``acks_late``: every task that is running). If the
channel's first close fails part-way (its pending BRPOP read fails on the dead
socket), kombu clears the connection's ``client`` before the second close
tries again; building a Redis pool then fails with ``AttributeError`` on
``None``. That is not one of the connection errors Celery ignores while it
reconnects, so the worker shut down for good.

Here that case is a connection error like any other: the requeue is given up,
the worker reconnects once Redis is back, and the messages stay in Redis's
unacknowledged set, from where kombu restores them after the visibility
timeout (the result sweeper re-enqueues stale datapoints sooner).

Selected by ``CELERY_BROKER_TRANSPORT`` in the settings.
"""

from __future__ import annotations

import redis
from kombu.transport import redis as kombu_redis


class Channel(kombu_redis.Channel):
    def _connparams(self, asynchronous: bool = False) -> dict:
        if self.connection.client is None:
            raise redis.exceptions.ConnectionError("the broker connection is closed")
        return super()._connparams(asynchronous=asynchronous)


class Transport(kombu_redis.Transport):
    Channel = Channel
