"""Can a labeler tell a quality check from a job task by how long the server
takes? Measured over HTTP, as a labeler's browser sees it, on the embedded
default (SQLite, ``runserver``) and on the real stack (PostgreSQL, Redis, a
Celery worker, uvicorn).

    python -m bench.gold_timing [--labelers 4] [--datapoints 150] [--gold-rate 0.3]

A custom audience with as many compare examples as the job has datapoints,
all asking what the job asks, so checks are served at ``--gold-rate`` for as
long as the job lasts. The labelers qualify, then work the job one after
another (one request at a time on the server: what is timed is the server's
path, not queueing). Each answer's reply carries the next task, so its
latency is what a labeler sees before they know the next task; the first
task of each labeler comes from ``tasks/next/``.

Per stack: the median latency of replies that carried a check and of those
that carried a job task (and their ratio), and the balanced accuracy of the
best timing rule ("a reply slower than t carries a check", or faster), its
threshold and direction chosen on half the replies and scored on the other
half: 0.5 is chance, 1.0 tells every check. The same for the reply to the
answer of a check against that of a job task (what a labeler learns after
answering). Figures go to stdout and ``bench/results/gold_timing.json``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.demo_stack import Demo  # noqa: E402

RESULTS = ROOT / "bench" / "results"
INSTRUCTION = "Which image follows the prompt?"

# Makes, on the server's database, the audience, its examples, the job and
# the labelers; prints what the run needs.
_SET_UP = """
import json, secrets, sys
import django
django.setup()
from audiences import services as audiences
from jobs import services as jobs
from labeling.services import requester_create
from labeling.simulation import create_labelers

labelers, datapoints, gold_rate = %d, %d, %r
owner, _ = requester_create(username="gold-timing-" + secrets.token_hex(3))
def image():
    return "https://assets.example.org/" + secrets.token_hex(8) + ".jpg"
audience = audiences.audience_create(owner=owner, name="Prompt judges", min_tasks=2, max_tasks=2,
                                     target_accuracy=0.5, gold_rate=gold_rate)
truths = {}
for index in range(datapoints + 2 * labelers):
    truth, other = image(), image()
    audiences.example_add_compare(audience=audience, owner=owner, instruction=%r, datapoint=[truth, other],
                                  truth=truth, context=f"prompt {index}")
    truths[truth] = truth
    truths[other] = truth
definition = jobs.job_definition_create_compare(
    owner=owner, name="Prompt alignment", instruction=%r, datapoints=[[image(), image()] for _ in range(datapoints)],
    contexts=[f"prompt {i}" for i in range(datapoints)], responses_per_datapoint=labelers)
job = jobs.job_create(owner=owner, definition=definition, audience=audience)
print(json.dumps({"audience": audience.public_id, "job": job.public_id, "truths": truths,
                  "tokens": [token for _, token in create_labelers(labelers, prefix="timing")]}))
"""

# Prints the ids of the tasks of a job that were quality checks.
_CHECKS = """
import json
import django
django.setup()
from jobs.models import Lease
print(json.dumps(list(Lease.objects.filter(job__public_id=%r, example__isnull=False)
                      .values_list("public_id", flat=True))))
"""


def _post(http: httpx.Client, path: str, body: dict | None = None) -> tuple[dict, float]:
    started = time.perf_counter()
    response = http.post(path, json=body)
    seconds = time.perf_counter() - started
    if response.status_code != 200:
        raise RuntimeError(f"{path}: {response.status_code} {response.text[:500]}")
    return response.json(), seconds


def work(demo: Demo, setup: dict) -> tuple[list[tuple[str, float]], list[tuple[str, float]]]:
    """Every labeler qualifies and works the job to its end. Returns
    (task id, latency of the reply that carried it) and (task id, latency
    of the reply to its answer)."""
    truths = setup["truths"]
    carried: list[tuple[str, float]] = []
    answered: list[tuple[str, float]] = []
    for token in setup["tokens"]:
        with httpx.Client(base_url=demo.url, headers={"Authorization": f"Token {token}"}, timeout=60) as http:
            base = f"/api/labeler/audiences/{setup['audience']}/qualification"
            state, _ = _post(http, f"{base}/next/")
            while state["task"]:
                task = state["task"]
                state, _ = _post(
                    http,
                    f"{base}/answer/",
                    {"task_id": task["id"], "response": {"choice": truths[task["items"][0]["value"]]}},
                )
            if state["status"] != "graduated":
                raise RuntimeError(f"a labeler answering every example right did not graduate: {state}")
            reply, seconds = _post(http, f"/api/labeler/jobs/{setup['job']}/tasks/next/")
            task = reply["task"]
            while task is not None:
                carried.append((task["id"], seconds))
                values = [item["value"] for item in task["items"]]
                choice = truths.get(values[0], values[0])  # a check's truth, or any item of a job task
                reply, seconds = _post(
                    http, f"/api/labeler/tasks/{task['id']}/submit/", {"response": {"choice": choice}}
                )
                answered.append((task["id"], seconds))
                task = reply["next"]
    return carried, answered


def best_rule_accuracy(samples: list[tuple[float, bool]]) -> dict:
    """Balanced accuracy, on the odd-numbered samples, of the threshold rule
    that does best on the even-numbered ones."""
    train, test = samples[0::2], samples[1::2]

    def balanced(rule, data) -> float:
        checks = [rule(s) for s, gold in data if gold]
        others = [not rule(s) for s, gold in data if not gold]
        if not checks or not others:
            return 0.5
        return (sum(checks) / len(checks) + sum(others) / len(others)) / 2

    best = (0.0, None, None)
    for threshold in sorted({s for s, _ in train}):
        for slower in (True, False):

            def rule(s, t=threshold, up=slower):
                return s > t if up else s <= t

            score = balanced(rule, train)
            if score > best[0]:
                best = (score, threshold, slower)
    _, threshold, slower = best
    if threshold is None:
        return {"balanced_accuracy": 0.5}
    rule = (lambda s: s > threshold) if slower else (lambda s: s <= threshold)
    return {
        "balanced_accuracy": round(balanced(rule, test), 3),
        "threshold_ms": round(threshold * 1000, 2),
        "checks_are": "slower" if slower else "faster",
    }


def summary(latencies: list[tuple[str, float]], checks: set[str]) -> dict:
    gold = [s for task, s in latencies if task in checks]
    other = [s for task, s in latencies if task not in checks]
    if not gold or not other:
        raise RuntimeError(f"need both kinds of task: {len(gold)} checks, {len(other)} job tasks")
    gold_median, other_median = statistics.median(gold), statistics.median(other)
    return {
        "checks": len(gold),
        "job_tasks": len(other),
        "check_median_ms": round(gold_median * 1000, 2),
        "job_median_ms": round(other_median * 1000, 2),
        "median_ratio_check_to_job": round(gold_median / other_median, 3),
        "best_timing_rule": best_rule_accuracy([(s, task in checks) for task, s in latencies]),
    }


def measure(stack: str, *, labelers: int, datapoints: int, gold_rate: float, workdir: Path) -> dict:
    with Demo(workdir / stack, stack=stack, SUBMIT_RATE="none") as demo:
        setup = json.loads(
            demo.django(_SET_UP % (labelers, datapoints, gold_rate, INSTRUCTION, INSTRUCTION)).splitlines()[-1]
        )
        carried, answered = work(demo, setup)
        checks = set(json.loads(demo.django(_CHECKS % setup["job"]).splitlines()[-1]))
        errors = demo.server_errors()
    if errors:
        raise RuntimeError(f"{stack}: 5xx\n" + "\n".join(errors[:20]))
    result = {"reply_carrying_the_task": summary(carried, checks), "reply_to_its_answer": summary(answered, checks)}
    for name, figures in result.items():
        rule = figures["best_timing_rule"]
        print(
            f"  {stack}, {name}: checks {figures['check_median_ms']} ms, job tasks {figures['job_median_ms']} ms"
            f" (median ratio {figures['median_ratio_check_to_job']}); best timing rule's balanced accuracy"
            f" {rule['balanced_accuracy']} (0.5 is chance)",
            flush=True,
        )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--labelers", type=int, default=4)
    parser.add_argument("--datapoints", type=int, default=150)
    parser.add_argument("--gold-rate", type=float, default=0.3)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="crowdcanvas-gold-timing-"))
    try:
        report = {
            "labelers": args.labelers,
            "datapoints": args.datapoints,
            "gold_rate": args.gold_rate,
            **{
                stack: measure(
                    stack, labelers=args.labelers, datapoints=args.datapoints, gold_rate=args.gold_rate, workdir=workdir
                )
                for stack in ("embedded", "real")
            },
        }
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "gold_timing.json").write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
