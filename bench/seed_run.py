"""The seed run as a benchmark: the seed documents' simple draw workflow
(4 images x 35 responses on the global audience, through the client, as
written) timed to its printed results while 40 simulated labelers
(``simulate_labelers --watch``) work beside it, on the embedded default
(SQLite, ``runserver``, as ``make demo`` serves it) and on the real stack
(PostgreSQL, Redis, a Celery worker, uvicorn).

    python -m bench.seed_run [--labelers 40] [--runs 2]

Each stack runs the workflow ``--runs`` times on one database, the crowd
already waiting; the best run counts, and every run is in the report. The
figure that matters is the ratio of the two stacks, measured in one
sitting on the same machine. Figures go to stdout and
``bench/results/seed_run.json``; the run fails when a job does not complete
exactly or the server answers a 5xx.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.demo_stack import Demo  # noqa: E402
from tests.seeds import DRAW_SIMPLE  # noqa: E402

RESULTS = ROOT / "bench" / "results"
TIMEOUT = 600.0


def measure(stack: str, *, labelers: int, runs: int, workdir: Path) -> dict:
    with Demo(workdir / stack, stack=stack) as demo:
        token = demo.requester_token("bench")
        crowd = demo.crowd(labelers=labelers, accuracy=0.95, timeout=TIMEOUT * (runs + 1))
        demo.wait_watching(crowd)  # its start (making 40 accounts) is not part of a run
        seconds = []
        for index in range(runs):
            run = demo.run_seed(DRAW_SIMPLE, token, f"{stack}-{index}").wait(TIMEOUT)
            if run.process.returncode != 0:
                raise RuntimeError(f"{stack}: the seed failed\n{run.output()[-3000:]}")
            seconds.append(round(run.seconds, 2))
            print(f"  {stack} run {index + 1}: {run.seconds:.1f} s", flush=True)
        crowd.stop()
        census = demo.census("bench")
        errors = demo.server_errors()
    exact = (
        all(
            job["state"] == "completed" and job["responses"] == [35] * 4 and not job["twice"] for job in census.values()
        )
        and len(census) == runs
    )
    if errors or not exact:
        raise RuntimeError(f"{stack}: not exact or 5xx\n{json.dumps(census)[:2000]}\n" + "\n".join(errors[:20]))
    return {
        "seconds": seconds,
        "best": min(seconds),
        "jobs": len(census),
        "server_errors": len(errors),
        "crowd_summary": crowd.log().strip().splitlines()[-12:],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--labelers", type=int, default=40)
    parser.add_argument("--runs", type=int, default=2)
    options = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="crowdcanvas-bench-seed-"))
    try:
        report = {"workflow": "simple draw, 4 images x 35 responses, global audience", "labelers": options.labelers}
        for stack in ("embedded", "real"):
            print(f"{stack}:", flush=True)
            report[stack] = measure(stack, labelers=options.labelers, runs=options.runs, workdir=workdir)
        report["embedded_to_real"] = round(report["embedded"]["best"] / report["real"]["best"], 2)
    except BaseException:
        print(f"kept {workdir} for a look", file=sys.stderr)
        raise
    shutil.rmtree(workdir, ignore_errors=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "seed_run.json").write_text(json.dumps(report, indent=2) + "\n")
    print(
        f"seed run to results: embedded {report['embedded']['best']:.1f} s, real stack "
        f"{report['real']['best']:.1f} s; embedded / real = {report['embedded_to_real']}"
    )


if __name__ == "__main__":
    main()
