"""Run every benchmark: ``python -m bench`` (``make bench``)."""

import importlib
import sys

BENCHMARKS = ["bench.aggregation", "bench.load"]


def main() -> None:
    for name in BENCHMARKS:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue
            raise
        print(f"== {name}", flush=True)
        module.main(sys.argv[1:] if len(BENCHMARKS) == 1 else [])


if __name__ == "__main__":
    main()
