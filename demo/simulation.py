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

A request that fails to connect, loses its connection (a server
restarting) or gets a 5xx reply is sent again with backoff for up to
``retry_seconds`` (``None``: until told to stop), each resend counted in
``Stats.retries``; a 429 is sent again after its ``Retry-After``. An
answer whose reply was lost may have been stored: sent again it is a 409,
and the labeler moves on, as a person reloading the page would. 403 and
409 replies are counted per status in ``Stats.refusals``.
"""

from __future__ import annotations

import hashlib
import logging
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace

import httpx

logger = logging.getLogger("crowdcanvas.simulation")

RETRIED_STATUSES = frozenset({500, 502, 503, 504})
MAX_BACKOFF = 2.0
MAX_RETRY_AFTER = 60.0


class Stopped(Exception):
    """The labeler's stop event was set while it waited to send again."""


def _stable_random(*parts: object) -> random.Random:
    digest = hashlib.sha256("\x00".join(map(str, parts)).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


@dataclass(frozen=True)
class Truth:
    """What a good labeler would answer: boxes to color in (draw; empty means
    nothing to color) or the value of the better item (compare)."""

    boxes: tuple[dict, ...] = ()
    choice: str | None = None
    gold: bool = False  # the task is a quality check (an example), not a job datapoint


class Oracle:
    """Looks up, on the server's database, what a good answer to a task is."""

    def __init__(self, *, workers: int | None = None) -> None:
        """``workers``: look up on a pool of that many threads (each keeping
        one database connection) rather than in the caller's thread, so that
        many labeler threads hold few connections."""
        self._lock = threading.Lock()
        self._cache: dict[tuple[str, int], Truth] = {}
        self._workers = workers or 0
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="oracle") if workers else None

    def _run(self, lookup: Callable[[str], Truth], task_id: str) -> Truth:
        if self._pool is None:
            return lookup(task_id)
        return self._pool.submit(lookup, task_id).result()

    def close(self) -> None:
        """Close the pool's database connections (each of its threads runs
        one close: they wait for each other) and stop the pool."""
        if self._pool is None:
            return
        from django.db import connection

        barrier = threading.Barrier(self._workers)

        def close_one() -> None:
            connection.close()
            try:
                barrier.wait(10)
            except threading.BrokenBarrierError:
                pass

        for future in [self._pool.submit(close_one) for _ in range(self._workers)]:
            future.result()
        self._pool.shutdown()
        self._pool = None

    def for_qualification(self, task_id: str) -> Truth:
        return self._run(self._for_qualification, task_id)

    def for_task(self, task_id: str) -> Truth:
        return self._run(self._for_task, task_id)

    def _for_qualification(self, task_id: str) -> Truth:
        from audiences.models import Membership

        membership = Membership.objects.select_related(
            "current_example__asset", "current_example__asset_b", "current_example__truth_asset"
        ).get(current_task_id=task_id)
        return self._example_truth(membership.current_example)

    def _for_task(self, task_id: str) -> Truth:
        from jobs.models import Lease

        lease = Lease.objects.select_related(
            "example__truth_asset", "job_datapoint__datapoint__asset", "job_datapoint__datapoint__asset_b"
        ).get(public_id=task_id)
        if lease.example_id:
            return replace(self._example_truth(lease.example), gold=True)
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
        for x in (x0, x1) if row % 2 == 0 else (x1, x0):
            jitter_x = rng.uniform(-0.25, 0.25) * margin
            jitter_y = rng.uniform(-0.25, 0.25) * margin
            points.append(
                {"x": round(min(max(x + jitter_x, x0), x1), 5), "y": round(min(max(y + jitter_y, y0), y1), 5)}
            )
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
    answers: int = 0  # accepted answers to tasks, quality checks included
    gold: int = 0  # of which quality checks
    rejected: int = 0  # answers refused (403 or 409 to a submit)
    retries: int = 0  # requests sent again after a 5xx or a lost connection
    throttled: int = 0  # 429s waited out
    refusals: Counter = field(default_factory=Counter)  # 403s and 409s to any request, per status
    latencies: list[float] = field(default_factory=list)


def retry_after(response: httpx.Response) -> float:
    """The seconds a 429 asks to wait (1 when it does not say)."""
    try:
        seconds = float(response.headers.get("Retry-After", "1"))
    except ValueError:  # an HTTP date: not sent by this server
        seconds = 1.0
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


class SimulatedLabeler:
    """One labeler driving the labeler API over HTTP with its API token.

    ``stopping``: an event that, once set, ends the waits between resends
    (``Stopped`` is raised) and ``work``. ``retry_seconds=None`` resends
    until then."""

    def __init__(
        self,
        *,
        base_url: str,
        token: str,
        accuracy: float,
        oracle: Oracle,
        seed: object,
        timeout: float = 30.0,
        record_latency: bool = False,
        retry_seconds: float | None = 60.0,
        stopping: threading.Event | None = None,
    ) -> None:
        self.http = httpx.Client(
            base_url=base_url.rstrip("/"), timeout=timeout, headers={"Authorization": f"Token {token}"}
        )
        self.accuracy = accuracy
        self.oracle = oracle
        self.rng = _stable_random("labeler", seed)
        self.stats = Stats()
        self.record_latency = record_latency
        self.retry_seconds = retry_seconds
        self.stopping = stopping
        self.job_answers: Counter[str] = Counter()  # accepted answers per job, quality checks left out
        self.last_refusal: tuple[int, str] | None = None  # why the last ``work`` ended early

    def close(self) -> None:
        self.http.close()

    def _wait(self, seconds: float) -> None:
        if self.stopping is None:
            time.sleep(seconds)
        elif self.stopping.wait(seconds):
            raise Stopped

    def _post(self, path: str, body: dict | None = None) -> httpx.Response:
        deadline = None if self.retry_seconds is None else time.monotonic() + self.retry_seconds
        backoff = 0.05
        while True:
            started = time.perf_counter()
            try:
                response = self.http.post(path, json=body)
            except httpx.TransportError:  # refused, reset or timed out: the server may be restarting
                if deadline is not None and time.monotonic() + backoff > deadline:
                    raise
            else:
                if response.status_code == 429:  # rate limited: wait as asked, send again
                    self.stats.throttled += 1
                    self._wait(retry_after(response))
                    continue
                if response.status_code not in RETRIED_STATUSES:
                    break
                if deadline is not None and time.monotonic() + backoff > deadline:
                    break  # the caller's raise_for_status reports it
                logger.debug("%s answered %s: sending again", path, response.status_code)
            self.stats.retries += 1
            self._wait(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF)
        if self.record_latency:
            self.stats.latencies.append(time.perf_counter() - started)
        if response.status_code in (403, 409):
            self.stats.refusals[response.status_code] += 1
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

    def _refused(self, response: httpx.Response) -> bool:
        """Note a 403 or 409 reply as why ``work`` ends."""
        if response.status_code not in (403, 409):
            return False
        try:
            code = str(response.json().get("code", ""))
        except ValueError:
            code = ""
        self.last_refusal = (response.status_code, code)
        return True

    def work(self, job_id: str, *, stop: Callable[[], bool] = lambda: False) -> int:
        """Take and answer tasks of ``job_id`` until none is left; returns how
        many were answered. When it returns early, ``last_refusal`` tells the
        403 or 409 that ended it."""
        self.last_refusal = None
        response = self._post(f"/api/labeler/jobs/{job_id}/tasks/next/")
        if self._refused(response):
            return 0
        response.raise_for_status()
        task = response.json()["task"]
        answered = 0
        while task is not None:
            if stop():
                self.release(task["id"])
                break
            truth = self.oracle.for_task(task["id"])
            body = {"response": answer(task, truth, good=self._good(), rng=self.rng)}
            try:
                response = self._post(f"/api/labeler/tasks/{task['id']}/submit/", body)
            except Stopped:
                self.release(task["id"])  # a 409 if the answer was stored after all
                raise
            if response.status_code in (403, 409):
                self.stats.rejected += 1
                if response.status_code == 403:  # dropped from the audience
                    self._refused(response)
                    return answered
                response = self._post(f"/api/labeler/jobs/{job_id}/tasks/next/")
                if self._refused(response):
                    return answered
                response.raise_for_status()
                task = response.json()["task"]
                continue
            response.raise_for_status()
            answered += 1
            self.stats.answers += 1
            if truth.gold:
                self.stats.gold += 1
            else:
                self.job_answers[job_id] += 1
            task = response.json()["next"]
        return answered

    def release(self, task_id: str) -> bool:
        """Give the task in hand back, as a page does when it closes, so its
        datapoint is served at once rather than when the lease runs out.
        Once, with a short timeout: a labeler that stops does not wait."""
        try:
            return self.http.post(f"/api/labeler/tasks/{task_id}/release/", timeout=5).status_code == 200
        except httpx.HTTPError:
            return False


def create_labelers(count: int, *, prefix: str) -> list[tuple[str, str]]:
    """Make ``count`` labeler accounts with API tokens: [(username, token)].
    They have no password (nothing to hash: 40 accounts are made at once)."""
    import secrets

    from labeling.services import labeler_create
    from labeling.tokens import token_create

    made = []
    for index in range(count):
        username = f"{prefix}-{index}-{secrets.token_hex(3)}"
        user = labeler_create(username=username, password=None)
        made.append((username, token_create(user=user)[1]))
    return made
