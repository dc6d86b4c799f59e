"""Live events, sent through the Channels layer after commit.

Producers (the services and the aggregation workers) only say *what
changed*; the websocket consumers (``labeling.consumers``) coalesce those
notices and send each client a fresh snapshot at most a few times a second,
so the rate of events a client sees does not grow with the rate of
responses. With ``REDIS_URL`` set the layer is Redis and every server
process sees every notice; without it, the in-memory layer of one process.

Publishing never fails the request or task that triggered it: a layer that
cannot be reached (Redis down) is logged and skipped; clients catch up with
the next notice or by polling.
"""

from __future__ import annotations

import logging
import threading
import time

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import transaction

logger = logging.getLogger("crowdcanvas.events")

JOB_EVENT = "job.event"
WORK_EVENT = "work.event"


def job_group(job_public_id: str) -> str:
    return f"job.{job_public_id}"


def audience_group(audience_public_id: str) -> str:
    return f"audience.{audience_public_id}"


def _send(group: str, message: dict) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(group, message)
    except Exception:  # the layer (Redis) is unreachable: drop the notice
        logger.warning("could not publish event", extra={"group": group}, exc_info=True)


def _after_commit(group: str, message: dict) -> None:
    transaction.on_commit(lambda: _send(group, message))


class _Coalescer:
    """At most one notice per group and kind every ``interval`` seconds from
    this process, the last one always sent (a timer sends it when the
    interval ends). Notices that arrive meanwhile are folded into the one
    waiting: result notices add their positions to it. Only with a shared
    layer (Redis), where every notice is a network round trip; the
    in-memory layer serves one process and its queues belong to the
    server's event loop, so notices go out directly."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self.lock = threading.Lock()
        self.last_sent: dict[tuple[str, str], float] = {}
        self.waiting: dict[tuple[str, str], dict] = {}

    def send(self, group: str, message: dict) -> None:
        key = (group, message["change"])
        with self.lock:
            waiting = self.waiting.get(key)
            if waiting is not None:
                _fold(waiting, message)
                return
            wait = self.last_sent.get(key, -self.interval) + self.interval - time.monotonic()
            if wait > 0:
                self.waiting[key] = dict(message)
                timer = threading.Timer(wait, self._fire, (group, key))
                timer.daemon = True
                timer.start()
                return
            self.last_sent[key] = time.monotonic()
        _send(group, message)

    def _fire(self, group: str, key: tuple[str, str]) -> None:
        with self.lock:
            message = self.waiting.pop(key)
            self.last_sent[key] = time.monotonic()
        _send(group, message)


def _fold(waiting: dict, message: dict) -> None:
    """Add a result notice's positions to the one waiting to be sent."""
    if "positions" in message:
        waiting["positions"] = sorted({*waiting["positions"], *message["positions"]})


NOTICE_INTERVAL = 0.25
_coalescer = _Coalescer(NOTICE_INTERVAL)


def _shared_layer() -> bool:
    return "redis" in settings.CHANNEL_LAYERS.get("default", {}).get("BACKEND", "").lower()


def _coalesced_after_commit(group: str, message: dict) -> None:
    if _shared_layer():
        transaction.on_commit(lambda: _coalescer.send(group, message))
    else:
        _after_commit(group, message)


def job_progressed(job_public_id: str) -> None:
    """Responses were accepted for the job (coalesced per process on a
    shared layer; consumers coalesce again for their client)."""
    _coalesced_after_commit(job_group(job_public_id), {"type": JOB_EVENT, "change": "progress"})


def job_result_updated(job_public_id: str, position: int) -> None:
    """A datapoint's result was rebuilt (coalesced like progress; the notice
    names every position rebuilt since the last)."""
    _coalesced_after_commit(job_group(job_public_id), {"type": JOB_EVENT, "change": "result", "positions": [position]})


def job_state_changed(job_public_id: str, audience_public_id: str) -> None:
    """The job was completed, paused or resumed: its watchers and the
    labelers of its audience hear of it."""
    _after_commit(job_group(job_public_id), {"type": JOB_EVENT, "change": "state"})
    _after_commit(audience_group(audience_public_id), {"type": WORK_EVENT})


def work_changed(audience_public_id: str) -> None:
    """New work may be there for the audience's labelers (a job was assigned)."""
    _after_commit(audience_group(audience_public_id), {"type": WORK_EVENT})
