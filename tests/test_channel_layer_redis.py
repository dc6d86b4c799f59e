"""Live events across server processes: two ASGI servers on the Redis
channel layer. A websocket held on one server hears what happens through
the other: a response submitted there (job progress), a job assigned there
(new work for labelers)."""

from __future__ import annotations

import asyncio
import json
import time

import httpx
import pytest
import redis
from websockets.asyncio.client import connect

from audiences.selectors import global_audience
from labeling.tokens import token_create
from tests import factories
from tests.stack import AsgiServer, django_env

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]

REDIS_DB = 7  # apart from the other tests' brokers and layers on the shared Redis server


@pytest.fixture
def two_servers(test_database_url, redis_server, tmp_path):
    url = f"{redis_server.url.rsplit('/', 1)[0]}/{REDIS_DB}"
    env = django_env(test_database_url, url)
    servers = []
    try:
        for index in range(2):
            servers.append(AsgiServer(env, tmp_path / f"asgi-{index}.log").start())
        yield servers
    finally:
        for server in servers:
            server.stop()
        redis.Redis.from_url(url).flushdb()  # the aggregation tasks queued for a worker that never came


def token_for(user) -> str:
    return getattr(user, "api_token", None) or token_create(user=user)[1]


def socket(server: AsgiServer, path: str, token: str):
    return connect(
        f"ws://127.0.0.1:{server.port}{path}",
        origin=f"http://127.0.0.1:{server.port}",
        additional_headers={"Authorization": f"Token {token}"},
        proxy=None,
        open_timeout=10,
    )


async def receive_until(websocket, predicate, timeout: float = 10.0) -> dict:
    deadline = time.monotonic() + timeout
    seen = []
    while (left := deadline - time.monotonic()) > 0:
        try:
            message = json.loads(await asyncio.wait_for(websocket.recv(), left))
        except TimeoutError:
            break
        seen.append(message)
        if predicate(message):
            return message
    raise AssertionError(f"no matching message in {timeout}s; got {seen}")


def submit_one(server: AsgiServer, token: str, job_id: str) -> None:
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Token {token}"}, timeout=20) as http:
        task = http.post(f"/api/labeler/jobs/{job_id}/tasks/next/")
        assert task.status_code == 200, task.text
        submitted = http.post(
            f"/api/labeler/tasks/{task.json()['task']['id']}/submit/", json={"response": factories.stroke_inside()}
        )
        assert submitted.status_code == 200, submitted.text


def test_progress_of_a_response_on_server_2_reaches_a_socket_on_server_1(two_servers, requester, labeler):
    first, second = two_servers
    job = factories.draw_job(requester, global_audience(), datapoints=2, responses=2)
    owner_token, labeler_token = token_for(requester), token_for(labeler)

    async def scenario():
        async with socket(first, f"/ws/jobs/{job.public_id}/", owner_token) as websocket:
            snapshot = await receive_until(websocket, lambda m: m["type"] == "progress")
            assert snapshot["responses_collected"] == 0 and snapshot["responses_needed"] == 4
            await asyncio.to_thread(submit_one, second, labeler_token, job.public_id)
            update = await receive_until(websocket, lambda m: m["type"] == "progress" and m["responses_collected"] == 1)
            assert update["job_id"] == job.public_id and update["completion_percentage"] == 25.0

    asyncio.run(scenario())


def test_a_job_assigned_on_server_2_tells_labelers_on_server_1(two_servers, requester, labeler):
    first, second = two_servers
    definition = factories.draw_job(requester, global_audience()).definition
    requester_token, labeler_token = token_for(requester), token_for(labeler)

    def assign():
        with httpx.Client(base_url=second.url, headers={"Authorization": f"Token {requester_token}"}) as http:
            response = http.post("/api/jobs/", json={"job_definition": definition.public_id, "audience": "global"})
            assert response.status_code == 201, response.text

    async def scenario():
        async with socket(first, "/ws/labeler/", labeler_token) as websocket:
            await asyncio.to_thread(assign)
            assert await receive_until(websocket, lambda m: True) == {"type": "work"}

    asyncio.run(scenario())


def test_a_socket_idle_past_the_layers_blocking_wait_still_hears_progress(two_servers, requester, labeler):
    """The layer waits for a message with a blocking pop that Redis ends
    after ``brpop_timeout`` (5 s): the client's read must outwait it, or the
    consumer dies with a timeout and the socket closes."""
    from channels_redis.core import RedisChannelLayer

    first, second = two_servers
    job = factories.draw_job(requester, global_audience(), datapoints=2, responses=2)
    owner_token, labeler_token = token_for(requester), token_for(labeler)
    idle = RedisChannelLayer.brpop_timeout + 3

    async def scenario():
        async with socket(first, f"/ws/jobs/{job.public_id}/", owner_token) as websocket:
            await receive_until(websocket, lambda m: m["type"] == "progress")
            await asyncio.sleep(idle)  # nothing happens meanwhile: the point is a quiet socket
            await asyncio.to_thread(submit_one, second, labeler_token, job.public_id)
            await receive_until(websocket, lambda m: m["type"] == "progress" and m["responses_collected"] == 1)

    asyncio.run(scenario())
    assert "Traceback" not in first.log(), first.log()[-3000:]
