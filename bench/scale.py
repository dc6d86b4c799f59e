"""Scale benchmark: a job of 100,000 datapoints and millions of responses,
in one run on PostgreSQL and Redis servers and the ASGI server started here.

    python -m bench.scale [--datapoints 100000] [--responses 5] [--fill-responses 5000000] [--fill-leases 1000000]

1. Ranking (no database): Bradley-Terry from sparse pair counts at 200 items
   x 200,000 comparisons against choix (the MLE) and evalica (time), and at
   20,000 items x 1,000,000 comparisons in a process of its own: its time
   and its peak memory (``ru_maxrss``, the whole process, imports included).
2. EM: what the draw consensus costs per new response with 10 and with 1,000
   responses in: the weighted vote (live) and EM (run once, at close).
3. Task feed, empty: next + submit latency (service calls on PostgreSQL)
   for labelers working a small draw job, before any large table exists.
4. Creating a job of ``--datapoints`` URL datapoints through the client
   (batches of 5,000, through the ASGI server): its time.
5. Downloads: a draw job of ``--datapoints`` x ``--responses`` (JSON, COCO)
   and a compare job of as many pairs (CSV), their rows written with bulk SQL;
   the server process's peak resident memory (``VmHWM`` of the uvicorn
   process, which serves nothing else) after each download. The compare
   job's ranking, computed from the database as the worker does.
6. Task feed, full: the tables filled with bulk SQL (``INSERT ... SELECT``
   over every datapoint times a set of labelers, in one statement) to
   ``--fill-responses`` responses and ``--fill-leases`` leases, then the
   same feed measurement on a new job of the same size: the ratio to the
   empty one. Then, as this machine is shared and its speed varies, three
   rounds alternating between this database and an empty one on the same
   server (each round a new job, in a process of its own): the ratio of
   their medians is the figure that counts.
7. Labeler home: whether a job has work for a labeler (``has_work_for``, run
   per running job on every load) on the small job and on running jobs of
   ``--datapoints`` (all open; all closed): the ratio.

Writes ``bench/results/scale.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.stack import AsgiServer, PostgresServer, RedisServer, django_env  # noqa: E402

RESULTS = ROOT / "bench" / "results"
LINE = {"size": 0.02, "points": [{"x": 0.2, "y": 0.2}, {"x": 0.4, "y": 0.35}]}


def simulated_comparisons(items: int, comparisons: int, seed: int = 11):
    import numpy as np

    rng = np.random.default_rng(seed)
    theta = rng.normal(0, 1.0, items)
    a = rng.integers(0, items, comparisons)
    b = (a + rng.integers(1, items, comparisons)) % items
    a_wins = rng.random(comparisons) < 1 / (1 + np.exp(theta[b] - theta[a]))
    return np.where(a_wins, a, b), np.where(a_wins, b, a)


def best_of(fn, repeats: int = 3):
    times, value = [], None
    for _ in range(repeats):
        started = time.perf_counter()
        value = fn()
        times.append(time.perf_counter() - started)
    return min(times), value


# --- 1. ranking ------------------------------------------------------------------------------------------


def ranking_small() -> dict:
    import choix
    import evalica
    import numpy as np
    import pandas as pd

    from jobs import aggregation

    items, comparisons = 200, 200_000
    winners, losers = simulated_comparisons(items, comparisons)
    pairs = list(zip(winners.tolist(), losers.tolist()))
    choix_s, mle = best_of(lambda: choix.ilsr_pairwise(items, pairs, alpha=0.0, tol=1e-12, max_iter=10_000))
    mle = mle - mle.mean()
    ours_s, ours = best_of(lambda: aggregation.bradley_terry(items, winners, losers))
    evalica_s, _ = best_of(
        lambda: evalica.bradley_terry(winners, losers, [evalica.Winner.X] * comparisons, index=pd.RangeIndex(items))
    )
    return {
        "items": items,
        "comparisons": comparisons,
        "ours_s": round(ours_s, 4),
        "evalica_s": round(evalica_s, 4),
        "choix_s": round(choix_s, 4),
        "ours_vs_evalica_time": round(ours_s / evalica_s, 3),
        "max_abs_error_vs_choix_mle": float(np.abs(ours.log_scores - mle).max()),
        "targets": {"max_abs_error_at_most": 1e-6, "time_vs_evalica_at_most": 1.0},
    }


LARGE_RANKING = """
import json, resource, sys, time
sys.path.insert(0, {root!r})
from bench.scale import simulated_comparisons
from jobs import aggregation
winners, losers = simulated_comparisons({items}, {comparisons})
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
started = time.perf_counter()
ranking = aggregation.bradley_terry({items}, winners, losers)
seconds = time.perf_counter() - started
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({{"seconds": seconds, "peak_kb": peak, "before_kb": before, "iterations": ranking.iterations,
                  "regularized": ranking.regularized}}))
"""


def ranking_large(items: int = 20_000, comparisons: int = 1_000_000) -> dict:
    code = LARGE_RANKING.format(root=str(ROOT), items=items, comparisons=comparisons)
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    figures = json.loads(out.stdout.strip().splitlines()[-1])
    return {
        "items": items,
        "comparisons": comparisons,
        "seconds": round(figures["seconds"], 3),
        "iterations": figures["iterations"],
        "process_peak_mb": round(figures["peak_kb"] / 1024, 1),
        "process_mb_before_ranking": round(figures["before_kb"] / 1024, 1),
        "targets": {"seconds_at_most": 10, "process_peak_mb_at_most": 300},
    }


# --- 2. EM ---------------------------------------------------------------------------------------------------


def em_cost() -> dict:
    import random

    import numpy as np

    from assets.raster import rasterize_lines
    from bench.aggregation import SHAPE, realistic_response
    from demo.simulation import pseudo_region
    from jobs import aggregation
    from jobs.result_updates import _draw_data

    rng = random.Random(5)
    regions = [pseudo_region((5, 0, k)) for k in range(2)]
    report = {}
    for count in (10, 1000):
        state = aggregation.DrawState.empty(SHAPE)
        for _ in range(count):
            lines, score = realistic_response(regions, rng)
            state.add(rasterize_lines(lines, SHAPE), aggregation.weight_units(score))
        live_s, _ = best_of(lambda state=state: _draw_data(state, "em", closed=False), repeats=5)
        em_s, _ = best_of(lambda state=state: _draw_data(state, "em", closed=True), repeats=2)
        report[f"responses_in_{count}"] = {
            "live_weighted_vote_ms": round(live_s * 1000, 3),
            "em_ms": round(em_s * 1000, 3),
        }
    small, large = report["responses_in_10"], report["responses_in_1000"]
    report["live_ms_ratio_1000_vs_10"] = round(large["live_weighted_vote_ms"] / small["live_weighted_vote_ms"], 2)
    report["em_ms_ratio_1000_vs_10"] = round(large["em_ms"] / small["em_ms"], 2)
    report["note"] = (
        "EM runs once per datapoint, when it closes; each response before costs the live figure. "
        "Both include agreement and regions over the stored masks."
    )
    del np
    return report


# --- 3/6. the task feed ------------------------------------------------------------------------------------


def feed_job(owner, tag: str, datapoints: int, responses: int):
    from audiences.selectors import global_audience
    from jobs import services

    definition = services.job_definition_create_draw(
        owner=owner,
        name=f"Feed {tag}",
        instruction="Color in all the blue books",
        datapoints=[f"https://assets.example.org/feed-{tag}-{i}.jpg" for i in range(datapoints)],
        responses_per_datapoint=responses,
    )
    return services.job_create(owner=owner, definition=definition, audience=global_audience())


def feed_latency(job, labelers, cycles_per_labeler: int) -> dict:
    """Next + submit, one labeler after another, as service calls: the
    time of each pair."""
    from jobs import feed

    times = []
    for _ in range(cycles_per_labeler):
        for labeler in labelers:
            started = time.perf_counter()
            lease = feed.task_next(labeler=labeler, job=job)
            feed.task_submit(labeler=labeler, task_id=lease.public_id, response={"lines": [LINE]})
            times.append(time.perf_counter() - started)
    ms = sorted(t * 1000 for t in times)
    return {
        "cycles": len(ms),
        "median_ms": round(statistics.median(ms), 3),
        "p90_ms": round(ms[int(0.9 * (len(ms) - 1))], 3),
        "mean_ms": round(statistics.fmean(ms), 3),
    }


def feed_measure(owner, labelers, tag: str) -> dict:
    feed_latency(feed_job(owner, f"{tag}-warm", 100, 5), labelers, 5)  # warm-up: caches, plans
    return feed_latency(feed_job(owner, tag, 200, 5), labelers, 10)


FEED_ROUND = """
import json, os, sys
sys.path.insert(0, {root!r})
os.environ["DATABASE_URL"] = {url!r}
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
import django
django.setup()
from django.contrib.auth import get_user_model
from bench.scale import feed_measure
from labeling.services import requester_create
from demo.simulation import create_labelers
owner, _ = requester_create(username="feed-{tag}")
names = [name for name, _ in create_labelers(20, prefix="feed-{tag}")]
labelers = list(get_user_model().objects.filter(username__in=names).order_by("pk"))
print(json.dumps(feed_measure(owner, labelers, "{tag}")))
"""


def feed_rounds(env: dict, urls: dict[str, str], rounds: int) -> dict:
    """The feed measured on each database in turn, ``rounds`` times, each
    round in a process of its own on a new job: the median of each
    database's medians (alternating, so that a slow moment of this shared
    machine weighs on both alike)."""
    runs: dict[str, list] = {name: [] for name in urls}
    for number in range(rounds):
        for name, url in urls.items():
            code = FEED_ROUND.format(root=str(ROOT), url=url, tag=f"{name}-{number}")
            out = subprocess.run(
                [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True
            )
            runs[name].append(json.loads(out.stdout.strip().splitlines()[-1]))
    report = {
        name: {
            "median_ms": statistics.median(run["median_ms"] for run in values),
            "p90_ms": statistics.median(run["p90_ms"] for run in values),
            "rounds_median_ms": [run["median_ms"] for run in values],
        }
        for name, values in runs.items()
    }
    return report


# --- 5/6. bulk fills -----------------------------------------------------------------------------------------


def fill_responses(job_id: int, labeler_ids: list[int], payload_sql: str, *, closed: bool) -> int:
    """One response per datapoint of the job per labeler, in one statement."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO jobs_response (public_id, job_id, job_datapoint_id, labeler_id, payload, user_score,"
            f" graded_answers, time_spent_ms, created_at)"
            f" SELECT 'rsp_f' || jd.id || 'x' || l.id, jd.job_id, jd.id, l.id, {payload_sql}, 0.5, 4, 1000,"
            f" now() - interval '1 hour'"
            f" FROM jobs_jobdatapoint jd JOIN jobs_datapoint d ON d.id = jd.datapoint_id"
            f" JOIN jobs_asset a ON a.id = d.asset_id CROSS JOIN unnest(%s::int[]) AS l(id)"
            f" WHERE jd.job_id = %s",
            [labeler_ids, job_id],
        )
        added = cursor.rowcount
        cursor.execute(
            "UPDATE jobs_jobdatapoint SET response_count = %s, closed = %s, last_response_at = now() WHERE job_id = %s",
            [len(labeler_ids), closed, job_id],
        )
    return added


def fill_leases(job_id: int, labeler_ids: list[int]) -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO jobs_lease (public_id, job_id, job_datapoint_id, example_id, labeler_id, status, leased_at,"
            " expires_at)"
            " SELECT 'tsk_f' || jd.id || 'x' || l.id, jd.job_id, jd.id, NULL, l.id, 'submitted',"
            " now() - interval '2 hours', now() - interval '1 hour'"
            " FROM jobs_jobdatapoint jd CROSS JOIN unnest(%s::int[]) AS l(id) WHERE jd.job_id = %s",
            [labeler_ids, job_id],
        )
        return cursor.rowcount


def fill_results(job_id: int, data_sql: str) -> int:
    from django.db import connection

    from jobs.result_updates import AGGREGATOR_VERSION

    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO jobs_datapointresult (job_datapoint_id, job_id, response_count, data, state,"
            f" aggregator_version, updated_at)"
            f" SELECT jd.id, jd.job_id, jd.response_count, {data_sql}, NULL, %s, now()"
            f" FROM jobs_jobdatapoint jd JOIN jobs_datapoint d ON d.id = jd.datapoint_id"
            f" JOIN jobs_asset a ON a.id = d.asset_id LEFT JOIN jobs_asset b ON b.id = d.asset_b_id"
            f" WHERE jd.job_id = %s",
            [AGGREGATOR_VERSION, job_id],
        )
        return cursor.rowcount


def analyze() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def table_rows() -> dict:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT (SELECT count(*) FROM jobs_response), (SELECT count(*) FROM jobs_lease),"
            " (SELECT count(*) FROM jobs_jobdatapoint)"
        )
        responses, leases, job_datapoints = cursor.fetchone()
    return {"responses": responses, "leases": leases, "job_datapoints": job_datapoints}


DRAW_RESULT_SQL = (
    "jsonb_build_object('algorithm', 'majority', 'gridSize', jsonb_build_array(192, 256),"
    " 'consensusMask', jsonb_build_object('size', jsonb_build_array(192, 256),"
    " 'counts', jsonb_build_array(8000 + jd.position %% 500, 1200, 39952 - jd.position %% 500)),"
    " 'consensusBoxes', jsonb_build_array(jsonb_build_object('x_min', 0.16, 'y_min', 0.2, 'x_max', 0.2,"
    " 'y_max', 0.4)), 'agreement', 0.8, 'summedUserScores', 2.5)"
)
COMPARE_RESULT_SQL = (
    "jsonb_build_object('aggregatedResults', jsonb_build_object(a.text, 3, b.text, 2),"
    " 'aggregatedResultsRatios', jsonb_build_object(a.text, 0.6, b.text, 0.4),"
    " 'summedUserScores', jsonb_build_object(a.text, 1.5, b.text, 1.0),"
    " 'summedUserScoresRatios', jsonb_build_object(a.text, 0.6, b.text, 0.4),"
    " 'winner', a.text, 'weightedWinner', a.text, 'confidence', 0.7)"
)


# --- 5. downloads ------------------------------------------------------------------------------------------


def peak_rss_mb(pid: int) -> dict:
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmHWM", "VmRSS"):
            fields[name] = round(int(value.split()[0]) / 1024, 1)
    return fields


def download(server: AsgiServer, token: str, job_id: str, fmt: str) -> dict:
    import httpx

    started = time.perf_counter()
    size = 0
    with (
        httpx.Client(timeout=600) as client,
        client.stream(
            "GET",
            f"{server.url}/api/jobs/{job_id}/results/download/",
            params={"format": fmt},
            headers={"Authorization": f"Token {token}"},
        ) as response,
    ):
        response.raise_for_status()
        for chunk in response.iter_bytes():
            size += len(chunk)
    return {
        "format": fmt,
        "megabytes": round(size / 2**20, 1),
        "seconds": round(time.perf_counter() - started, 1),
        "server_after": peak_rss_mb(server.process.pid),
    }


# --- 7. labeler home -----------------------------------------------------------------------------------------


def has_work_ms(job, labeler, repeats: int = 50) -> float:
    from django.utils import timezone

    from jobs.feed import has_work_for

    now = timezone.now()
    has_work_for(job=job, labeler=labeler, now=now)
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        has_work_for(job=job, labeler=labeler, now=now)
        times.append(time.perf_counter() - started)
    return round(statistics.median(times) * 1000, 3)


def open_slot_plan(job, labeler) -> dict:
    """``EXPLAIN ANALYZE`` of the open-slot search ``has_work_for`` runs:
    the database's own time, and the plan's first line."""
    from django.db import connection
    from django.utils import timezone

    from jobs.feed.room import FEED_ORDER, OPEN_DATAPOINT_COLUMNS, open_datapoint_sql

    sql, params = open_datapoint_sql(
        select=OPEN_DATAPOINT_COLUMNS, job=job, labeler=labeler, now=timezone.now(), tail=FEED_ORDER
    )
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN ANALYZE " + sql, params)
        lines = [row[0] for row in cursor.fetchall()]
    execution = next(line for line in lines if line.startswith("Execution Time"))
    return {"execution_ms": float(execution.split(":")[1].split()[0]), "plan": lines[:6]}


# --- the run -------------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datapoints", type=int, default=100_000)
    parser.add_argument("--responses", type=int, default=5)
    parser.add_argument("--fill-responses", type=int, default=5_000_000)
    parser.add_argument("--fill-leases", type=int, default=1_000_000)
    args = parser.parse_args(argv)
    report: dict = {}

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    report["ranking"] = {"small": ranking_small(), "large": ranking_large()}
    print(json.dumps(report["ranking"], indent=2), flush=True)

    tmp = Path(tempfile.mkdtemp(prefix="crowdcanvas-scale-"))
    postgres = PostgresServer(durable=True).start()
    redis = RedisServer().start()
    server = None
    finished = False
    try:
        env = django_env(
            postgres.url(),
            redis.url,
            MEDIA_ROOT=str(tmp / "media"),
            LOG_LEVEL="WARNING",
            CROWDCANVAS_VAR_DIR=str(tmp),
            DB_POOL="1",
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
        import django

        django.setup()
        from django.contrib.auth import get_user_model

        from audiences.selectors import global_audience
        from demo.simulation import create_labelers
        from jobs import result_updates, services
        from jobs.models import Job
        from labeling.services import requester_create

        report["em"] = em_cost()
        owner, token = requester_create(username="scale-owner")
        users = get_user_model().objects
        fill_count = max(1, args.fill_responses // args.datapoints)  # labelers answering every datapoint
        accounts = create_labelers(max(20, fill_count, args.responses), prefix="scale")
        labelers = list(users.filter(username__in=[name for name, _ in accounts]).order_by("pk"))

        # 3. the feed on an empty database
        report["feed"] = {"empty": feed_measure(owner, labelers[:20], "empty"), "empty_tables": table_rows()}
        print(json.dumps(report["feed"], indent=2), flush=True)

        # 4. a job of --datapoints URLs through the client
        from django.db import connection

        connection.close()
        server = AsgiServer(env, tmp / "server.log").start()
        from crowdcanvas import CrowdCanvasClient

        urls = [f"https://assets.example.org/scale/{i}.jpg" for i in range(args.datapoints)]
        started = time.perf_counter()
        with CrowdCanvasClient(server.url, token, timeout=120) as client:
            definition = client.job.create_draw_job_definition(
                "Scale",
                "Color in all the blue books",
                urls,
                responses_per_datapoint=args.responses,
                url_assets="link",  # what is measured is making the definition, not fetching its images
            )
            made = time.perf_counter() - started
            job = client.job.get_job_definition_by_id(definition.id)
        report["client_create"] = {
            "datapoints": definition.datapoint_count,
            "seconds": round(made, 1),
            "requests": -(-args.datapoints // 5000),
            "targets": {"seconds_at_most": 120},
        }
        del job
        print(json.dumps(report["client_create"]), flush=True)

        # 5. downloads of a draw and a compare job of --datapoints x --responses
        from jobs.models import JobDefinition

        draw_definition = JobDefinition.objects.get(public_id=definition.id)
        draw_job = services.job_create(owner=owner, definition=draw_definition, audience=global_audience())
        ids = [user.pk for user in labelers]
        draw_rows = fill_responses(
            draw_job.pk,
            ids[: args.responses],
            "jsonb_build_object('lines', jsonb_build_array(jsonb_build_object('size', 0.02,"
            " 'points', jsonb_build_array(jsonb_build_object('x', 0.2, 'y', 0.2),"
            " jsonb_build_object('x', 0.4, 'y', 0.35)))))",
            closed=True,
        )
        fill_results(draw_job.pk, DRAW_RESULT_SQL)
        started = time.perf_counter()
        compare_definition = services.job_definition_create_compare(
            owner=owner,
            name="Scale pairs",
            instruction="Which caption fits better?",
            datapoints=[[f"caption {i} a", f"caption {i} b"] for i in range(args.datapoints)],
            responses_per_datapoint=args.responses,
        )
        compare_job = services.job_create(owner=owner, definition=compare_definition, audience=global_audience())
        compare_made = time.perf_counter() - started
        compare_rows = fill_responses(
            compare_job.pk, ids[: args.responses], "jsonb_build_object('choice', a.text)", closed=True
        )
        fill_results(compare_job.pk, COMPARE_RESULT_SQL)
        analyze()
        connection.close()
        baseline = peak_rss_mb(server.process.pid)
        downloads = [
            download(server, token, draw_job.public_id, "json"),
            download(server, token, draw_job.public_id, "coco"),
            download(server, token, compare_job.public_id, "csv"),
        ]
        peak = max(item["server_after"]["VmHWM"] for item in downloads)
        started = time.perf_counter()
        ranked = result_updates.job_summary_refresh(job=Job.objects.get(pk=compare_job.pk))
        ranking_db_s = time.perf_counter() - started
        report["downloads"] = {
            "datapoints": args.datapoints,
            "responses_per_datapoint": args.responses,
            "draw_responses": draw_rows,
            "compare_responses": compare_rows,
            "server_before": baseline,
            "runs": downloads,
            "server_peak_mb": peak,
            "compare_definition_made_in_process_s": round(compare_made, 1),
            "compare_ranking_from_database_s": round(ranking_db_s, 2),
            "compare_ranking_items": len(ranked["ranking"]["items"]),
            "targets": {"server_peak_mb_at_most": 200},
        }
        print(json.dumps(report["downloads"], indent=2), flush=True)

        # 6. fill to --fill-responses responses and --fill-leases leases, then the feed again
        started = time.perf_counter()
        filler = services.job_create(owner=owner, definition=draw_definition, audience=global_audience())
        have = table_rows()
        missing = max(0, args.fill_responses - have["responses"])
        per = min(len(ids), -(-missing // args.datapoints))
        fill_responses(filler.pk, ids[:per], "'{\"lines\": []}'::jsonb", closed=True)
        lease_labelers = min(len(ids), -(-(args.fill_leases - have["leases"]) // args.datapoints))
        fill_leases(filler.pk, ids[:lease_labelers])
        open_job = services.job_create(owner=owner, definition=draw_definition, audience=global_audience())
        analyze()
        fill_s = time.perf_counter() - started
        filled_tables = table_rows()
        report["feed"]["full_first"] = feed_measure(owner, labelers[:20], "full")
        report["feed"]["full_tables"] = filled_tables
        report["feed"]["fill_seconds"] = round(fill_s, 1)
        report["feed"]["median_ratio_full_vs_empty_first"] = round(
            report["feed"]["full_first"]["median_ms"] / report["feed"]["empty"]["median_ms"], 3
        )
        # Then, alternating, on this database and on an empty one of the same server.
        subprocess.run(
            [
                str(postgres.bindir / "createdb"),
                "-h",
                "127.0.0.1",
                "-p",
                str(postgres.port),
                "-U",
                postgres.user,
                "crowdcanvas_empty",
            ],
            check=True,
        )
        empty_env = {**env, "DATABASE_URL": postgres.url("crowdcanvas_empty")}
        subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=empty_env, check=True)
        connection.close()
        rounds = feed_rounds(env, {"empty": postgres.url("crowdcanvas_empty"), "full": postgres.url()}, 3)
        report["feed"]["alternating"] = rounds
        report["feed"]["median_ratio_full_vs_empty"] = round(
            rounds["full"]["median_ms"] / rounds["empty"]["median_ms"], 3
        )
        report["feed"]["targets"] = {
            "median_ratio_at_most": 1.2,
            "responses_at_least": args.fill_responses,
            "leases_at_least": args.fill_leases,
        }
        print(json.dumps(report["feed"], indent=2), flush=True)

        # 7. the labeler home's per-job look
        newcomer = users.get(username=create_labelers(1, prefix="home")[0][0])
        small = Job.objects.filter(definition__name="Feed full-warm").select_related("definition").get()
        small_ms = has_work_ms(small, newcomer)
        open_ms = has_work_ms(Job.objects.select_related("definition").get(pk=open_job.pk), newcomer)
        closed_ms = has_work_ms(Job.objects.select_related("definition").get(pk=filler.pk), labelers[-1])
        big_open = Job.objects.select_related("definition").get(pk=open_job.pk)
        big_closed = Job.objects.select_related("definition").get(pk=filler.pk)
        report["labeler_home"] = {
            "has_work_for_ms": {
                "small_job_100": small_ms,
                f"open_job_{args.datapoints}": open_ms,
                f"closed_job_{args.datapoints}": closed_ms,
            },
            "open_slot_explain_analyze": {
                "small_job_100": open_slot_plan(small, newcomer),
                f"open_job_{args.datapoints}": open_slot_plan(big_open, newcomer),
                f"closed_job_{args.datapoints}": open_slot_plan(big_closed, newcomer),
            },
            "ratio_large_open_vs_small": round(open_ms / small_ms, 2),
            "ratio_large_closed_vs_small": round(closed_ms / small_ms, 2),
        }
        print(json.dumps(report["labeler_home"], indent=2), flush=True)
        finished = True
    finally:
        if server is not None:
            server.stop()
        redis.close()
        postgres.stop()
        if finished:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print(f"server log kept in {tmp}", file=sys.stderr)
    report["machine"] = {
        "cpus": os.cpu_count(),
        "max_rss_of_this_process_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "scale.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))
    return report


if __name__ == "__main__":
    main()
