"""Benchmarks (``make bench``). Figures go to stdout and bench/results/."""
