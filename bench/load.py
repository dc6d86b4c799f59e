"""Load benchmark on the real stack: PostgreSQL, Redis, a Celery worker and
the ASGI server (uvicorn, one process per core), all started here.

    python -m bench.load [--labelers 50] [--datapoints 200] [--responses 5] [--ceiling-seconds 10]

1. Ceiling: the labelers hammer a trivial authenticated endpoint that inserts
   one row (``POST /api/labeler/heartbeat/``): its requests per second are
   the most this stack serves. Measured after a warm-up, twice (before each
   run of the work); the higher figure counts.
2. Work: the same labelers, concurrently and without pauses, work a draw job
   and a compare job of ``--datapoints`` x ``--responses`` to completion over
   HTTP, twice (a pair of jobs each time, once the worker has aggregated the
   previous run's answers); the higher rate counts, as for the ceiling, so
   that a slow moment of this shared machine in one measurement does not
   decide the ratio (every figure is in the report). Then, pausing
   between tasks so that together they ask for half the rate the saturated
   run reached (arriving spread over one pause, not all at once), a smaller
   pair: the latency labelers see when the stack is not at its limit.
   A *task cycle* is one task answered: fetching it and submitting the
   answer (the labeler API returns the next task with each submission, so a
   cycle is one request once a labeler is under way). Reports cycles per
   second and request latency percentiles.
3. Checks (all six jobs): exactly ``--responses`` responses per datapoint,
   none twice from one labeler, and every job completed (every result
   aggregated).

Good answers come from the images' known regions and a fixed preference per
pair, made and encoded before the run, so the load generator neither touches
the database nor draws strokes while it measures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.stack import AsgiServer, CeleryWorker, PostgresServer, RedisServer, django_env  # noqa: E402

RESULTS = ROOT / "bench" / "results"
JSON_BODY = {"Content-Type": "application/json"}


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def latency_summary(latencies: list[float]) -> dict:
    ms = [value * 1000 for value in latencies]
    return {
        "requests": len(ms),
        "p50_ms": round(percentile(ms, 50), 2),
        "p95_ms": round(percentile(ms, 95), 2),
        "p99_ms": round(percentile(ms, 99), 2),
        "mean_ms": round(statistics.fmean(ms), 2) if ms else None,
    }


# --- set-up (in this process, on the benchmark's database) ----------------------------------


def set_up(datapoints: int, responses: int, labelers: int, *, paced_datapoints: int) -> dict:
    """Jobs, labelers and the answers a good labeler gives, keyed by what the
    task shows (its items' values): a draw and a compare job for each of
    the two saturated runs, a smaller pair for the paced one."""
    import django

    django.setup()
    from demo.simulation import create_labelers
    from labeling.services import requester_create

    owner, _ = requester_create(username="bench-owner")
    answers: dict = {}
    saturated = [_job_pair(owner, datapoints, responses, answers, tag=f"saturated-{run}") for run in (1, 2)]
    paced = _job_pair(owner, paced_datapoints, responses, answers, tag="paced")
    accounts = create_labelers(labelers, prefix="bench")
    return {"saturated_jobs": saturated, "paced_jobs": paced, "tokens": [t for _, t in accounts], "answers": answers}


def _job_pair(owner, datapoints: int, responses: int, answers: dict, *, tag: str) -> list[str]:
    from assets import services
    from audiences.selectors import global_audience
    from demo.images import book_scene, png_bytes
    from demo.simulation import fill_box

    rng = random.Random(tag)
    images = []
    for index in range(datapoints):
        image, boxes = book_scene(seed=f"{tag}-{index}", width=320, height=240, blue=1 + index % 2)
        asset = services.asset_create_image(
            owner=owner, data=png_bytes(image), name=f"{tag}-{index}.png", known_regions=boxes
        )
        images.append({"asset_id": asset.public_id})
        answers[asset.labeler_value] = [
            _answer_body({"lines": [fill_box(box, rng) for box in boxes]}) for _ in range(ANSWER_VARIANTS)
        ]
    draw_definition = services.job_definition_create_draw(
        owner=owner,
        name=f"Load ({tag}): blue books",
        instruction="Color in all the blue books",
        datapoints=images,
        responses_per_datapoint=responses,
    )
    pairs = [[f"{tag} caption {i} with a blue book", f"{tag} caption {i} with a red book"] for i in range(datapoints)]
    compare_definition = services.job_definition_create_compare(
        owner=owner,
        name=f"Load ({tag}): captions",
        instruction="Which caption fits the picture better?",
        datapoints=pairs,
        responses_per_datapoint=responses,
    )
    for pair in pairs:
        answers["\x00".join(sorted(pair))] = [_answer_body({"choice": pair[0]})]
    audience = global_audience()
    return [
        services.job_create(owner=owner, definition=definition, audience=audience).public_id
        for definition in (draw_definition, compare_definition)
    ]


ANSWER_VARIANTS = 5


def _answer_body(response: dict) -> bytes:
    return json.dumps({"response": response}).encode()


def good_answer(task: dict, answers: dict, rng: random.Random) -> bytes:
    """A submission body with a good answer to ``task``: made before the run
    (strokes over the image's known regions, a few jittered variants; the
    preferred caption), so the load generator spends its share of the
    machine's cores on requests, not on drawing."""
    if task["kind"] == "draw":
        return rng.choice(answers[task["items"][0]["value"]])
    values = [item["value"] for item in task["items"]]
    return answers["\x00".join(sorted(values))][0]


# --- load ----------------------------------------------------------------------------------------


def _session(token: str) -> aiohttp.ClientSession:
    connector = aiohttp.TCPConnector(limit=1, force_close=False)
    return aiohttp.ClientSession(
        headers={"Authorization": f"Token {token}"}, connector=connector, timeout=aiohttp.ClientTimeout(total=60)
    )


async def ceiling(base_url: str, tokens: list[str], seconds: float) -> dict:
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds
    errors = 0

    async def client(token: str) -> None:
        nonlocal errors
        async with _session(token) as http:
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                async with http.post(f"{base_url}/api/labeler/heartbeat/") as response:
                    await response.read()
                    status = response.status
                latencies.append(time.perf_counter() - started)
                if status != 201:
                    errors += 1

    started = time.perf_counter()
    await asyncio.gather(*(client(token) for token in tokens))
    elapsed = time.perf_counter() - started
    return {
        "requests_per_second": round(len(latencies) / elapsed, 1),
        "errors": errors,
        "seconds": round(elapsed, 2),
        **latency_summary(latencies),
    }


async def work(base_url: str, tokens: list[str], jobs: list[str], answers: dict, *, think: float = 0.0) -> dict:
    """Labelers work the jobs to completion, one after another; each spends
    ``think`` seconds (on average, jittered) on a task before answering it,
    as people do, the first included, and as long choosing the next job when
    one has no more work for them (they all run out of one job at about the
    same time); 0 saturates."""
    latencies: list[float] = []
    cycles = 0
    errors: dict[int, int] = {}

    async def labeler(index: int, token: str) -> None:
        nonlocal cycles
        rng = random.Random(index)

        async def post(http, path: str, body: bytes | None = None) -> tuple[int, dict]:
            started = time.perf_counter()
            async with http.post(base_url + path, data=body, headers=JSON_BODY if body else None) as response:
                payload = await response.json()
                status = response.status
            latencies.append(time.perf_counter() - started)
            return status, payload

        async with _session(token) as http:
            if think:  # people do not all arrive in the same millisecond
                await asyncio.sleep(rng.uniform(0, think))
            for number, job in enumerate(jobs):
                if think and number:  # out of work here, back to the job list to pick the next one
                    await asyncio.sleep(rng.uniform(0.5, 1.5) * think)
                _, payload = await post(http, f"/api/labeler/jobs/{job}/tasks/next/")
                task = payload["task"]
                while task is not None:
                    if think:  # looking at the task and drawing or choosing
                        await asyncio.sleep(rng.uniform(0.5, 1.5) * think)
                    status, payload = await post(
                        http, f"/api/labeler/tasks/{task['id']}/submit/", good_answer(task, answers, rng)
                    )
                    if status != 200:
                        errors[status] = errors.get(status, 0) + 1
                        _, payload = await post(http, f"/api/labeler/jobs/{job}/tasks/next/")
                        task = payload.get("task")
                        continue
                    cycles += 1
                    task = payload["next"]

    started = time.perf_counter()
    await asyncio.gather(*(labeler(i, token) for i, token in enumerate(tokens)))
    elapsed = time.perf_counter() - started
    return {
        "cycles": cycles,
        "seconds": round(elapsed, 2),
        "cycles_per_second": round(cycles / elapsed, 1),
        "errors": errors,
        **latency_summary(latencies),
    }


def verify(job_ids: list[str], responses: int, timeout: float = 300.0) -> dict:
    from django.db.models import Count

    from jobs.models import Job, JobDatapoint, Response

    per_datapoint = sorted(
        set(JobDatapoint.objects.filter(job__public_id__in=job_ids).values_list("response_count", flat=True))
    )
    stored = sorted(
        set(
            Response.objects.filter(job__public_id__in=job_ids)
            .values("job_datapoint")
            .annotate(n=Count("id"))
            .values_list("n", flat=True)
        )
    )
    duplicates = (
        Response.objects.filter(job__public_id__in=job_ids)
        .values("job_datapoint", "labeler")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
        .count()
    )
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        states = set(Job.objects.filter(public_id__in=job_ids).values_list("state", flat=True))
        if states == {Job.State.COMPLETED}:
            break
        time.sleep(0.5)
    return {
        "responses_per_datapoint": stored,
        "counted_per_datapoint": per_datapoint,
        "exact": stored == [responses] and per_datapoint == [responses],
        "duplicate_answers": duplicates,
        "jobs_completed": states == {Job.State.COMPLETED},
        "results_done_after_s": round(time.monotonic() - started, 1),
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--labelers", type=int, default=50)
    parser.add_argument("--datapoints", type=int, default=200)
    parser.add_argument("--responses", type=int, default=5)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2, help="ASGI server processes")
    parser.add_argument("--ceiling-seconds", type=float, default=10.0)
    parser.add_argument(
        "--paced-datapoints",
        type=int,
        default=100,
        help="datapoints per job of the paced run (labelers at half the saturated rate)",
    )
    args = parser.parse_args(argv)

    tmp = Path(tempfile.mkdtemp(prefix="crowdcanvas-bench-"))
    postgres = PostgresServer(durable=True).start()
    redis = RedisServer().start()
    processes = []
    finished = False
    try:
        env = django_env(
            postgres.url(),
            redis.url,
            MEDIA_ROOT=str(tmp / "media"),
            LOG_LEVEL="WARNING",
            SUBMIT_RATE="1000000/min",
            DB_POOL="1",
            CROWDCANVAS_VAR_DIR=str(tmp),
        )
        subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
        os.environ.update(
            {
                k: env[k]
                for k in (
                    "DATABASE_URL",
                    "REDIS_URL",
                    "SECRET_KEY",
                    "MEDIA_ROOT",
                    "CROWDCANVAS_VAR_DIR",
                    "ALLOWED_HOSTS",
                )
            }
        )
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
        setup = set_up(args.datapoints, args.responses, args.labelers, paced_datapoints=args.paced_datapoints)
        from django.db import connection

        connection.close()
        worker = CeleryWorker(env, tmp / "worker.log", concurrency=1, beat=True).start()
        processes.append(worker)
        server = AsgiServer(env, tmp / "server.log", workers=args.workers).start()
        processes.append(server)
        worker.wait_ready()

        asyncio.run(ceiling(server.url, setup["tokens"], 2.0))  # warm-up: connections, caches
        ceilings, works, results_done = [], [], []
        for jobs in setup["saturated_jobs"]:
            ceilings.append(asyncio.run(ceiling(server.url, setup["tokens"], args.ceiling_seconds)))
            works.append(asyncio.run(work(server.url, setup["tokens"], jobs, setup["answers"])))
            results_done.append(verify(jobs, args.responses)["results_done_after_s"])  # the worker caught up
        ceiling_report = max(ceilings, key=lambda report: report["requests_per_second"])
        ceiling_report["runs_requests_per_second"] = [report["requests_per_second"] for report in ceilings]
        work_report = max(works, key=lambda report: report["cycles_per_second"])
        work_report["runs_cycles_per_second"] = [report["cycles_per_second"] for report in works]
        # The same labelers, pausing so that together they ask half of what
        # the stack served saturated: the latency a labeler sees in normal use.
        think = args.labelers / (0.5 * work_report["cycles_per_second"])
        paced_report = asyncio.run(
            work(server.url, setup["tokens"], setup["paced_jobs"], setup["answers"], think=think)
        )
        paced_report["think_seconds"] = round(think, 3)
        all_jobs = [job for jobs in setup["saturated_jobs"] for job in jobs] + setup["paced_jobs"]
        checks = verify(all_jobs, args.responses)
        checks["saturated_results_done_after_s"] = results_done
        report = {
            "machine": {"cpus": os.cpu_count(), "asgi_workers": args.workers, "celery_workers": 1},
            "load": {
                "labelers": args.labelers,
                "datapoints_per_job": args.datapoints,
                "paced_datapoints_per_job": args.paced_datapoints,
                "responses_per_datapoint": args.responses,
                "jobs": 6,
            },
            "ceiling": ceiling_report,
            "work": work_report,
            "paced_work": paced_report,
            "cycles_vs_ceiling": round(work_report["cycles_per_second"] / ceiling_report["requests_per_second"], 3),
            # each run against the ceiling measured just before it
            "cycles_vs_ceiling_runs": [
                round(w["cycles_per_second"] / c["requests_per_second"], 3)
                for w, c in zip(works, ceilings, strict=True)
            ],
            "checks": checks,
            "targets": {"cycles_vs_ceiling_at_least": 0.5, "p99_ms_below": 100},
        }
        finished = True
    finally:
        for process in reversed(processes):
            process.stop()
        redis.close()
        postgres.stop()
        if finished:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print(f"server and worker logs kept in {tmp}", file=sys.stderr)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "load.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))
    return report


if __name__ == "__main__":
    main()
