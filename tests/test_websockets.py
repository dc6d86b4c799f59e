"""Live progress over websockets (in-memory channel layer, in process)."""

from __future__ import annotations

import asyncio
import time

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator

from audiences.selectors import global_audience
from config.routing import websocket_urlpatterns
from core import events
from jobs import feed
from labeling import consumers
from tests import factories
from tests.waiting import wait_until

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def fresh_channel_layer():
    """Each test runs its own event loop; the in-memory layer's queues belong
    to the loop that made them, so every test gets a new layer."""
    from channels.layers import channel_layers

    channel_layers.backends.clear()
    yield
    channel_layers.backends.clear()


def run(coroutine):
    return asyncio.run(coroutine)


def communicator_for(path: str, user=None) -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(URLRouter(websocket_urlpatterns), path)
    if user is not None:
        communicator.scope["user"] = user
    return communicator


async def receive_until(communicator, predicate, timeout=5.0, seen=None):
    """The first message matching ``predicate``; every message read is
    appended to ``seen``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        message = await communicator.receive_json_from(timeout=max(0.05, deadline - time.monotonic()))
        if seen is not None:
            seen.append(message)
        if predicate(message):
            return message
    raise AssertionError("no matching message")


@database_sync_to_async
def answer_one(job, labeler):
    lease = feed.task_next(labeler=labeler, job=job)
    feed.task_submit(labeler=labeler, task_id=lease.public_id, response=factories.stroke_inside())


def test_owner_receives_progress_while_responses_arrive(requester, make_labeler):
    job = factories.draw_job(requester, global_audience(), datapoints=2, responses=2)
    labelers = [make_labeler(f"ws{i}") for i in range(2)]

    async def scenario():
        communicator = communicator_for(f"/ws/jobs/{job.public_id}/", requester)
        connected, _ = await communicator.connect()
        assert connected
        first = await communicator.receive_json_from()
        assert first["type"] == "progress" and first["responses_collected"] == 0
        assert first["responses_needed"] == 4 and first["state"] == "running"
        collected, messages = [0], []
        for labeler in labelers:
            for _ in range(2):
                await answer_one(job, labeler)
                message = await receive_until(
                    communicator,
                    lambda m: m["type"] == "progress" and m["responses_collected"] > collected[-1],
                    seen=messages,
                )
                collected.append(message["responses_collected"])
        assert collected == [0, 1, 2, 3, 4]
        if not any(m["type"] == "state" for m in messages):
            await receive_until(communicator, lambda m: m["type"] == "state", seen=messages)
        assert [m["state"] for m in messages if m["type"] == "state"] == ["completed"]
        assert messages[-1]["type"] in {"progress", "state", "results"}
        positions = {p for m in messages if m["type"] == "results" for p in m["positions"]}
        assert positions == {0, 1}  # both datapoints' results were rebuilt and announced
        await communicator.disconnect()

    run(scenario())


def test_another_requester_and_anonymous_are_refused(requester, other_requester):
    from django.contrib.auth.models import AnonymousUser

    job = factories.draw_job(requester, global_audience())

    async def scenario():
        for user in (other_requester, AnonymousUser()):
            communicator = communicator_for(f"/ws/jobs/{job.public_id}/", user)
            connected, _ = await communicator.connect()
            assert not connected
        communicator = communicator_for("/ws/jobs/job_doesnotexist/", requester)
        connected, _ = await communicator.connect()
        assert not connected

    run(scenario())


def test_events_are_coalesced_to_a_few_per_second(requester):
    job = factories.draw_job(requester, global_audience())

    async def scenario():
        communicator = communicator_for(f"/ws/jobs/{job.public_id}/", requester)
        await communicator.connect()
        await communicator.receive_json_from()
        layer = get_channel_layer()
        started = time.monotonic()
        for position in range(200):  # a burst of notices within about a second
            await layer.group_send(
                events.job_group(job.public_id),
                {"type": events.JOB_EVENT, "change": "result", "positions": [position % 3]},
            )
            await asyncio.sleep(0.005)
        messages = []
        while not await communicator.receive_nothing(timeout=0.6):
            messages.append(await communicator.receive_json_from())
        elapsed = time.monotonic() - started
        progress = [m for m in messages if m["type"] == "progress"]
        assert 1 <= len(progress) <= elapsed / consumers.MIN_INTERVAL + 2
        positions = set().union(*(set(m["positions"]) for m in messages if m["type"] == "results"))
        assert positions == {0, 1, 2}  # nothing lost in the coalescing
        await communicator.disconnect()

    run(scenario())


def test_token_in_the_handshake_authenticates_programs(requester, other_requester, settings):
    settings.ALLOWED_HOSTS = ["localhost"]  # read when the ASGI app is built
    from config.asgi import application

    job = factories.draw_job(requester, global_audience())
    token, other = requester.api_token, other_requester.api_token

    async def connect(key):
        communicator = WebsocketCommunicator(
            application,
            f"/ws/jobs/{job.public_id}/",
            headers=[
                (b"authorization", f"Token {key}".encode()),
                (b"origin", b"http://localhost"),
                (b"host", b"localhost"),
            ],
        )
        connected, _ = await communicator.connect()
        if connected:
            await communicator.disconnect()
        return connected

    async def scenario():
        assert await connect(token)
        assert not await connect(other)
        assert not await connect("not-a-token")

    run(scenario())


def test_labelers_hear_about_new_work(requester, labeler):
    async def scenario():
        communicator = communicator_for("/ws/labeler/", labeler)
        connected, _ = await communicator.connect()
        assert connected
        await database_sync_to_async(lambda: factories.draw_job(requester, global_audience()))()
        message = await communicator.receive_json_from(timeout=3)
        assert message == {"type": "work"}
        await communicator.disconnect()

    run(scenario())


def test_progress_notices_are_coalesced_per_process_on_a_shared_layer(monkeypatch):
    """With Redis, each notice is a round trip: a burst from one process
    becomes a first notice now and one trailing notice per interval."""
    sent = []
    monkeypatch.setattr(events, "_send", lambda group, message: sent.append((time.monotonic(), group)))
    coalescer = events._Coalescer(0.2)
    started = time.monotonic()
    for _ in range(100):
        coalescer.send("job.x", {"type": events.JOB_EVENT, "change": "progress"})
        time.sleep(0.003)  # a burst spread over about 0.3 s
    burst_end = time.monotonic()
    wait_until(lambda: sent and sent[-1][0] >= burst_end, 2, what="the trailing notice")
    assert 2 <= len(sent) <= (time.monotonic() - started) / 0.2 + 1
    assert sent[-1][0] - started >= 0.28  # the trailing notice came after the burst
    assert all(later - earlier >= 0.19 for (earlier, _), (later, _) in zip(sent, sent[1:]))


def test_result_notices_are_coalesced_with_every_position_kept(monkeypatch):
    """Result notices of a burst fold into one per interval that names every
    datapoint rebuilt meanwhile; progress notices are coalesced apart."""
    sent = []
    monkeypatch.setattr(events, "_send", lambda group, message: sent.append((group, message)))
    coalescer = events._Coalescer(0.2)
    for position in (4, 1, 4, 9):
        coalescer.send("job.x", {"type": events.JOB_EVENT, "change": "result", "positions": [position]})
    coalescer.send("job.x", {"type": events.JOB_EVENT, "change": "progress"})
    coalescer.send("job.y", {"type": events.JOB_EVENT, "change": "result", "positions": [2]})

    def result_positions() -> list:
        return [message["positions"] for group, message in sent if group == "job.x" and message["change"] == "result"]

    wait_until(lambda: len(result_positions()) >= 2, 2, what="the trailing result notice")
    results = result_positions()
    assert results == [[4], [1, 4, 9]]  # the first at once, the rest folded into the trailing one
    assert ("job.x", {"type": events.JOB_EVENT, "change": "progress"}) in sent
    assert ("job.y", {"type": events.JOB_EVENT, "change": "result", "positions": [2]}) in sent
