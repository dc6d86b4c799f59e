"""Websockets: live job progress for requesters, new work for labelers.

``/ws/jobs/<job id>/`` is open to the job's owner only (others, signed in or
not, are refused before the handshake completes). It sends a ``progress``
snapshot on connect and then whenever the job changes, at most every
``MIN_INTERVAL`` seconds however fast notices arrive; ``results`` lists the
datapoints whose result was rebuilt since the last message; ``state`` says
the job's state changed.

``/ws/labeler/`` tells a signed-in labeler that work may have appeared
(``{"type": "work"}``): their page then fetches its lists again.
"""

from __future__ import annotations

import asyncio
import time

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from audiences.models import Membership
from core import events
from jobs.models import Job
from jobs.selectors import job_progress

MIN_INTERVAL = 0.25
CLOSE_UNAUTHENTICATED = 4401
CLOSE_NOT_FOUND = 4404


class CoalescingConsumer(AsyncJsonWebsocketConsumer):
    """Collects notices and flushes them at most every ``MIN_INTERVAL``."""

    groups_to_join: list[str]

    async def connect(self):
        self._last_flush = 0.0
        self._flush_task: asyncio.Task | None = None
        self._pending: dict = {}

    async def _join_and_accept(self) -> None:
        for group in self.groups_to_join:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()

    async def disconnect(self, code):
        for group in getattr(self, "groups_to_join", []):
            await self.channel_layer.group_discard(group, self.channel_name)
        if getattr(self, "_flush_task", None):
            self._flush_task.cancel()

    def _schedule(self) -> None:
        if self._flush_task is not None and not self._flush_task.done():
            return
        delay = max(0.0, self._last_flush + MIN_INTERVAL - time.monotonic())
        self._flush_task = asyncio.ensure_future(self._flush_later(delay))

    async def _flush_later(self, delay: float) -> None:
        if delay:
            await asyncio.sleep(delay)
        pending, self._pending = self._pending, {}
        self._last_flush = time.monotonic()
        await self.flush(pending)

    async def flush(self, pending: dict) -> None:  # pragma: no cover - abstract
        raise NotImplementedError


class JobProgressConsumer(CoalescingConsumer):
    async def connect(self):
        await super().connect()
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        self.job_public_id = self.scope["url_route"]["kwargs"]["job_id"]
        owned = await database_sync_to_async(
            Job.objects.filter(public_id=self.job_public_id, owner_id=user.pk).exists
        )()
        if not owned:
            await self.close(code=CLOSE_NOT_FOUND)
            return
        self.groups_to_join = [events.job_group(self.job_public_id)]
        await self._join_and_accept()
        self._state = None
        await self.flush({"progress": True})

    async def receive_json(self, content, **kwargs):
        if content.get("type") == "refresh":
            self._pending["progress"] = True
            self._schedule()

    async def job_event(self, message):
        change = message.get("change")
        self._pending["progress"] = True
        if change == "result":
            self._pending.setdefault("results", set()).update(message["positions"])
        self._schedule()

    async def flush(self, pending: dict) -> None:
        snapshot = await database_sync_to_async(self._snapshot)()
        if snapshot is None:
            await self.close(code=CLOSE_NOT_FOUND)
            return
        if self._state is not None and snapshot["state"] != self._state:
            await self.send_json({"type": "state", "state": snapshot["state"]})
        self._state = snapshot["state"]
        await self.send_json({"type": "progress", **snapshot})
        if pending.get("results"):
            await self.send_json({"type": "results", "positions": sorted(pending["results"])})

    def _snapshot(self) -> dict | None:
        job = Job.objects.select_related("definition", "audience").filter(public_id=self.job_public_id).first()
        return None if job is None else job_progress(job=job)


class LabelerWorkConsumer(CoalescingConsumer):
    async def connect(self):
        await super().connect()
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        audiences = await database_sync_to_async(self._audiences)(user.pk)
        self.groups_to_join = [events.audience_group(public_id) for public_id in audiences]
        await self._join_and_accept()

    @staticmethod
    def _audiences(user_id: int) -> list[str]:
        joined = Membership.objects.filter(labeler_id=user_id, state=Membership.State.GRADUATED)
        return sorted({"global", *joined.values_list("audience__public_id", flat=True)})

    async def work_event(self, message):
        self._pending["work"] = True
        self._schedule()

    async def flush(self, pending: dict) -> None:
        if pending.get("work"):
            await self.send_json({"type": "work"})
