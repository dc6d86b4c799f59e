"""Run every benchmark: ``python -m bench`` (``make bench``).

Each runs in a process of its own: they configure Django differently (the
aggregation benchmark on the embedded defaults, the load benchmark on the
PostgreSQL and Redis servers it starts), and settings are configured once
per process. Options go to each module directly: ``python -m bench.load --help``.
"""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS = ["bench.aggregation", "bench.load", "bench.seed_run", "bench.gold_timing", "bench.scale"]


def main() -> None:
    failed = []
    for name in BENCHMARKS:
        print(f"== {name}", flush=True)
        if subprocess.run([sys.executable, "-m", name], cwd=ROOT).returncode != 0:
            failed.append(name)
    if failed:
        sys.exit(f"failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
