"""What the client tests share: a fake server answering from a table, clients
bound to it, and a clean environment. The test modules import the fixtures."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

import crowdcanvas
from crowdcanvas import CrowdCanvasClient
from tests.conftest import image_bytes

URL_A = "https://assets.example.org/a.jpg"
URL_B = "https://assets.example.org/b.jpg"
BASE = "http://crowdcanvas.test"

AUDIENCE = {
    "id": "aud_1",
    "kind": "custom",
    "name": "Mine",
    "description": "",
    "owned": True,
    "target_accuracy": 0.75,
    "min_tasks": 5,
    "max_tasks": 10,
    "gold_rate": 0.05,
    "example_count": 0,
    "members": {"graduated": 0, "qualifying": 0, "dropped": 0},
    "created": "2025-01-01T00:00:00Z",
}
DEFINITION = {
    "id": "jdf_1",
    "kind": "draw",
    "name": "Books",
    "instruction": "Color",
    "responses_per_datapoint": 3,
    "confidence_threshold": None,
    "draw_aggregation": "majority",
    "datapoint_count": 1,
    "preview_url": f"{BASE}/preview/jdf_1/",
    "created": "2025-01-01T00:00:00Z",
}
JOB = {
    "id": "job_1",
    "state": "running",
    "definition": {"id": "jdf_1", "name": "Books", "kind": "draw"},
    "audience": {"id": "global", "name": "Global", "kind": "global"},
    "responses_needed": 6,
    "created": "2025-01-01T00:00:00Z",
    "completed": None,
}


class FakeServer:
    """Answers requests from a table of ``(method, path) -> responder``; records every request."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.routes: dict[tuple[str, str], object] = {}
        self.asset_count = 0
        self.fetched: dict[str, str] = {}
        self.route("POST", "/api/assets/", self._upload)
        self.route("POST", "/api/assets/fetch/", self._fetch)

    def route(self, method: str, path: str, responder) -> None:
        """``responder``: a JSON value (200), a ``(status, body)`` pair, a
        callable taking the request, or a list of those served in turn."""
        self.routes[(method, path)] = responder

    def _upload(self, request: httpx.Request):
        self.asset_count += 1
        return 201, {"id": f"ast_{self.asset_count}", "kind": "image", "name": "x", "width": 64, "height": 48}

    def _fetch(self, request: httpx.Request):
        """As the server answers when every URL is stored: one asset per URL."""
        urls = json.loads(request.content)["urls"]
        for url in urls:
            self.fetched.setdefault(url, f"ast_url_{len(self.fetched) + 1}")
        return 200, {
            "fetches": [{"url": url, "status": "completed", "asset_id": self.fetched[url]} for url in urls],
            "pending": 0,
        }

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        responder = self.routes.get((request.method, request.url.path))
        if responder is None:
            return httpx.Response(404, json={"detail": "Not found."})
        if isinstance(responder, list):
            responder = responder.pop(0) if len(responder) > 1 else responder[0]
        if callable(responder):
            responder = responder(request)
        if isinstance(responder, httpx.Response):
            return responder
        status, body = responder if isinstance(responder, tuple) else (200, responder)
        return httpx.Response(status, json=body)

    def bodies(self, method: str, path: str) -> list:
        return [json.loads(r.content) for r in self.requests if (r.method, r.url.path) == (method, path)]


@pytest.fixture
def server() -> FakeServer:
    return FakeServer()


@pytest.fixture
def client(server) -> CrowdCanvasClient:
    return CrowdCanvasClient(BASE, "t0ken", transport=httpx.MockTransport(server.handler))


def _refuse(request: httpx.Request) -> httpx.Response:
    pytest.fail(f"no request may be sent, got {request.method} {request.url}")


@pytest.fixture
def offline() -> CrowdCanvasClient:
    """A client whose every request fails the test."""
    return CrowdCanvasClient(BASE, "t0ken", transport=httpx.MockTransport(_refuse))


@pytest.fixture
def image(tmp_path) -> Path:
    path = tmp_path / "books.png"
    path.write_bytes(image_bytes())
    return path


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch, tmp_path):
    """No real credentials leak in: empty environment, a private config dir."""
    monkeypatch.delenv("CROWDCANVAS_URL", raising=False)
    monkeypatch.delenv("CROWDCANVAS_TOKEN", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))


@pytest.fixture
def job(client) -> crowdcanvas.Job:
    return crowdcanvas.Job(client._http, JOB)
