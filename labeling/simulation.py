"""Simulated labelers for the demo, tests and benchmarks.

Each simulated labeler works over HTTP through the labeler API, exactly as
the pages do: qualify for an audience (when it needs it), then take tasks
from its running jobs until none remain. Only to decide what a *good*
labeler would answer does the simulation read truths on the server
(``Oracle``): the truth boxes and items of examples, the regions the demo
recorded for its images (``Asset.known_regions``) or, where none are known,
a fixed pseudo-random region per datapoint, and a fixed preferred item per
compare datapoint.

A good labeler answers right with probability ``accuracy`` per answer; a
wrong or bad answer is a scribble (draw) or a coin flip (compare).

A request that fails to connect or loses its connection (a server
restarting) is sent again with backoff for up to ``retry_seconds``. An
answer whose reply was lost may have been stored: sent again it is a 409,
and the labeler moves on, as a person reloading the page would.
"""

from __future__ import annotations

import hashlib
import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

logger = logging.getLogger("crowdcanvas.simulation")


def _stable_random(*parts: object) -> random.Random:
    digest = hashlib.sha256("\x00".join(map(str, parts)).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


@dataclass(frozen=True)
class Truth:
    """What a good labeler would answer: boxes to color in (draw; empty means
    nothing to color) or the value of the better item (compare)."""

    boxes: tuple[dict, ...] = ()
    choice: str | None = None


class Oracle:
    """Looks up, on the server's database, what a good answer to a task is."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cache: dict[tuple[str, int], Truth] = {}

    def for_qualification(self, task_id: str) -> Truth:
        from audiences.models import Membership

        membership = Membership.objects.select_related(
            "current_example__asset", "current_example__asset_b", "current_example__truth_asset"
        ).get(current_task_id=task_id)
        return self._example_truth(membership.current_example)

    def for_task(self, task_id: str) -> Truth:
        from jobs.models import Lease

        lease = Lease.objects.select_related(
            "example__truth_asset", "job_datapoint__datapoint__asset", "job_datapoint__datapoint__asset_b"
        ).get(public_id=task_id)
        if lease.example_id:
            return self._example_truth(lease.example)
        datapoint = lease.job_datapoint.datapoint
        key = ("datapoint", datapoint.pk)
        with self._lock:
            if key in self._cache:
                return self._cache[key]
        if datapoint.asset_b_id is None:
            regions = datapoint.asset.known_regions
            if regions is None:
                regions = [pseudo_region(datapoint.pk)]
            truth = Truth(boxes=tuple(regions))
        else:
            preferred = _stable_random("prefer", datapoint.pk).random() < 0.5
            truth = Truth(choice=(datapoint.asset if preferred else datapoint.asset_b).labeler_value)
        with self._lock:
            self._cache[key] = truth
        return truth

    def _example_truth(self, example) -> Truth:
        if example.kind == "draw":
            return Truth(boxes=tuple(box.as_box().as_dict() for box in example.truth_boxes.all()))
        return Truth(choice=example.truth_asset.labeler_value)


def pseudo_region(seed: object) -> dict:
    """A fixed pseudo-random region for an image whose targets are unknown."""
    rng = _stable_random("region", seed)
    width, height = rng.uniform(0.15, 0.4), rng.uniform(0.15, 0.4)
    x, y = rng.uniform(0.05, 0.95 - width), rng.uniform(0.05, 0.95 - height)
    return {"x_min": round(x, 4), "y_min": round(y, 4), "x_max": round(x + width, 4), "y_max": round(y + height, 4)}


def fill_box(box: dict, rng: random.Random, size: float = 0.02) -> dict:
    """A zig-zag stroke covering ``box``, kept inside it by the brush radius
    plus a little jitter."""
    margin = size * 0.75
    x0, x1 = box["x_min"] + margin, box["x_max"] - margin
    y0, y1 = box["y_min"] + margin, box["y_max"] - margin
    if x1 <= x0 or y1 <= y0:  # a box smaller than the brush: a dot at its centre
        cx, cy = (box["x_min"] + box["x_max"]) / 2, (box["y_min"] + box["y_max"]) / 2
        return {"size": size, "points": [{"x": round(cx, 5), "y": round(cy, 5)}]}
    rows = max(2, int((y1 - y0) / size) + 1)
    points = []
    for row in range(rows):
        y = y0 + (y1 - y0) * row / (rows - 1)
        for x in ((x0, x1) if row % 2 == 0 else (x1, x0)):
            jitter_x = rng.uniform(-0.25, 0.25) * margin
            jitter_y = rng.uniform(-0.25, 0.25) * margin
            points.append({"x": round(min(max(x + jitter_x, x0), x1), 5),
                           "y": round(min(max(y + jitter_y, y0), y1), 5)})
    return {"size": size, "points": points}


def scribble(rng: random.Random) -> dict:
    points = [{"x": round(rng.uniform(0.02, 0.98), 5), "y": round(rng.uniform(0.02, 0.98), 5)} for _ in range(12)]
    return {"size": 0.03, "points": points}


def answer(task: dict, truth: Truth | None, *, good: bool, rng: random.Random) -> dict:
    """The response a labeler gives to ``task``: right when ``good`` (and a
    truth is known), otherwise a scribble or a coin flip."""
    if task["kind"] == "draw":
        if good and truth is not None:
            return {"lines": [fill_box(box, rng) for box in truth.boxes]}
        return {"lines": [scribble(rng)]}
    values = [item["value"] for item in task["items"]]
    if good and truth is not None and truth.choice in values:
        return {"choice": truth.choice}
    return {"choice": rng.choice(values)}


@dataclass
class Stats:
    qualified: str = ""
    answers: int = 0
    rejected: int = 0
    retries: int = 0
    latencies: list[float] = field(default_factory=list)


class SimulatedLabeler:
    """One labeler driving the labeler API over HTTP with its API token."""

    def __init__(self, *, base_url: str, token: str, accuracy: float, oracle: Oracle, seed: object,
                 timeout: float = 30.0, record_latency: bool = False, retry_seconds: float = 60.0) -> None:
        self.http = httpx.Client(base_url=base_url.rstrip("/"), timeout=timeout,
                                 headers={"Authorization": f"Token {token}"})
        self.accuracy = accuracy
        self.oracle = oracle
        self.rng = _stable_random("labeler", seed)
        self.stats = Stats()
        self.record_latency = record_latency
        self.retry_seconds = retry_seconds

    def close(self) -> None:
        self.http.close()

    def _post(self, path: str, body: dict | None = None) -> httpx.Response:
        deadline, backoff = time.monotonic() + self.retry_seconds, 0.05
        while True:
            started = time.perf_counter()
            try:
                response = self.http.post(path, json=body)
                break
            except httpx.TransportError:  # refused, reset or timed out: the server may be restarting
                if time.monotonic() + backoff > deadline:
                    raise
                self.stats.retries += 1
                time.sleep(backoff)
                backoff = min(backoff * 2, 2.0)
        if self.record_latency:
            self.stats.latencies.append(time.perf_counter() - started)
        return response

    def _good(self) -> bool:
        return self.rng.random() < self.accuracy

    def qualify(self, audience_id: str) -> str:
        """Answer the audience's examples until graduated or dropped."""
        path = f"/api/labeler/audiences/{audience_id}/qualification/"
        response = self._post(path + "next/")
        response.raise_for_status()
        state = response.json()
        while state["task"] is not None:
            task = state["task"]
            truth = self.oracle.for_qualification(task["id"])
            body = {"task_id": task["id"], "response": answer(task, truth, good=self._good(), rng=self.rng)}
            response = self._post(path + "answer/", body)
            if response.status_code == 409:  # answered already (a reply lost on the way): ask again
                response = self._post(path + "next/")
            response.raise_for_status()
            state = response.json()
        self.stats.qualified = state["status"]
        return state["status"]

    def work(self, job_id: str, *, stop: Callable[[], bool] = lambda: False) -> int:
        """Take and answer tasks of ``job_id`` until none is left; returns how
        many were answered."""
        response = self._post(f"/api/labeler/jobs/{job_id}/tasks/next/")
        if response.status_code in (403, 409):
            return 0
        response.raise_for_status()
        task = response.json()["task"]
        answered = 0
        while task is not None and not stop():
            truth = self.oracle.for_task(task["id"])
            body = {"response": answer(task, truth, good=self._good(), rng=self.rng)}
            response = self._post(f"/api/labeler/tasks/{task['id']}/submit/", body)
            if response.status_code == 429:  # rate limited: wait as asked, try again
                time.sleep(float(response.headers.get("Retry-After", "1")))
                continue
            if response.status_code in (403, 409):
                self.stats.rejected += 1
                if response.status_code == 403:  # dropped from the audience
                    return answered
                response = self._post(f"/api/labeler/jobs/{job_id}/tasks/next/")
                if response.status_code in (403, 409):
                    return answered
                task = response.json()["task"]
                continue
            response.raise_for_status()
            answered += 1
            self.stats.answers += 1
            task = response.json()["next"]
        return answered


def create_labelers(count: int, *, prefix: str) -> list[tuple[str, str]]:
    """Make ``count`` labeler accounts with API tokens: [(username, token)]."""
    import secrets

    from labeling.services import labeler_create
    from labeling.tokens import token_create

    made = []
    for index in range(count):
        username = f"{prefix}-{index}-{secrets.token_hex(3)}"
        user = labeler_create(username=username, password=secrets.token_urlsafe(18))
        made.append((username, token_create(user=user)[1]))
    return made
