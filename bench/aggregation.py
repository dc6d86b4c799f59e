"""Aggregation benchmark: draw consensus against crowd-kit, rankings against
choix and evalica, in one run on identical inputs.

    python -m bench.aggregation [--datapoints 1000] [--responses 35] [--items 200] [--comparisons 200000]

Draw: realistic strokes (zig-zag fills of a few target regions with jitter,
plus careless scribbles) on a 256-cell grid at 4:3, weighted by user scores.
Reports our per-response incremental cost (rasterize, fold into the vote
sum, rebuild consensus, regions, agreement and RLE), our full
re-aggregation of every datapoint from the masks, and crowd-kit's
``SegmentationMajorityVote`` on the identical masks with the same weights,
and checks that both masks are equal. crowd-kit runs in chunks of 100
datapoints: on all 35,000 masks at once its float64 products would need
about 14 GB; its work per datapoint is independent, so the sum of the chunk
times is its time.

Ranking: Bradley-Terry over 200 items and 200,000 comparisons: ours
(``jobs.aggregation.bradley_terry``), choix's ``ilsr_pairwise`` (the MLE
reference) and evalica, with the largest deviation of each from the MLE in
centered log-scores.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("DEBUG", "1")

import django  # noqa: E402
import numpy as np  # noqa: E402

import labeling  # noqa: E402,F401 - the servers' process settings (BLAS threads) before numpy loads

django.setup()

from assets.raster import grid_shape, rasterize_lines  # noqa: E402
from demo.simulation import fill_box, pseudo_region, scribble  # noqa: E402
from jobs import aggregation  # noqa: E402

SHAPE = grid_shape(800, 600, 256)  # (192, 256)


def realistic_response(regions: list[dict], rng: random.Random) -> tuple[list[dict], float]:
    """Lines of one labeler and their user score: most fill the regions with
    some jitter and their own brush, some miss one, a few scribble."""
    roll = rng.random()
    if roll < 0.1:
        lines = [scribble(rng) for _ in range(rng.randint(1, 3))]
        score = rng.uniform(0.0, 0.3)
    else:
        size = rng.choice([0.015, 0.02, 0.03, 0.04])
        lines = []
        for box in regions:
            if roll < 0.25 and len(lines) == len(regions) - 1:
                break  # misses the last region
            pad = rng.uniform(-0.03, 0.03)
            shifted = {
                "x_min": max(0.0, box["x_min"] + pad),
                "y_min": max(0.0, box["y_min"] - pad),
                "x_max": min(1.0, box["x_max"] + pad),
                "y_max": min(1.0, box["y_max"] - pad),
            }
            lines.append(fill_box(shifted, rng, size=size))
        score = rng.uniform(0.5, 0.98)
    return lines, aggregation.weight_units(score) / aggregation.WEIGHT_UNITS


def draw_benchmark(datapoints: int, responses: int, seed: int = 7) -> dict:
    rng = random.Random(seed)
    all_lines, all_scores = [], []
    for index in range(datapoints):
        regions = [pseudo_region((seed, index, k)) for k in range(rng.randint(1, 3))]
        rows = [realistic_response(regions, rng) for _ in range(responses)]
        all_lines.append([lines for lines, _ in rows])
        all_scores.append([score for _, score in rows])
    points = [sum(len(line["points"]) for line in lines) for per in all_lines for lines in per]

    # Incremental: what one accepted response costs, the stored state in memory.
    rasterize = fold = derive = 0.0
    masks = np.zeros((datapoints, responses, *SHAPE), dtype=bool)
    states = []
    for index in range(datapoints):
        state = aggregation.DrawState.empty(SHAPE)
        for r in range(responses):
            t0 = time.perf_counter()
            mask = rasterize_lines(all_lines[index][r], SHAPE)
            t1 = time.perf_counter()
            state.add(mask, aggregation.weight_units(all_scores[index][r]))
            t2 = time.perf_counter()
            consensus = aggregation.consensus_mask(state)
            aggregation.regions(consensus)
            aggregation.agreement(state, consensus)
            aggregation.rle_encode(consensus)
            t3 = time.perf_counter()
            rasterize += t1 - t0
            fold += t2 - t1
            derive += t3 - t2
            masks[index, r] = mask
        states.append(state)
    total = datapoints * responses
    blob = states[0].dump()
    t0 = time.perf_counter()
    for _ in range(50):
        aggregation.DrawState.load(aggregation.DrawState.dump(states[0]))
    serialize_ms = (time.perf_counter() - t0) / 50 * 1000

    # Full re-aggregation from the identical masks: every datapoint from scratch.
    gc.collect()
    t0 = time.perf_counter()
    ours = []
    for index in range(datapoints):
        units = [aggregation.weight_units(score) for score in all_scores[index]]
        state = aggregation.DrawState.from_masks(masks[index], units)
        ours.append(aggregation.consensus_mask(state))
    full_ours = time.perf_counter() - t0

    # crowd-kit on the same masks and weights.
    import pandas as pd
    from crowdkit.aggregation import SegmentationMajorityVote

    full_crowdkit = 0.0
    equal = True
    chunk = 100
    for start in range(0, datapoints, chunk):
        stop = min(datapoints, start + chunk)
        rows = [(i, f"w{i}-{r}", masks[i, r]) for i in range(start, stop) for r in range(responses)]
        frame = pd.DataFrame(rows, columns=["task", "worker", "segmentation"])
        skills = pd.Series({f"w{i}-{r}": all_scores[i][r] for i in range(start, stop) for r in range(responses)})
        gc.collect()
        t0 = time.perf_counter()
        reference = SegmentationMajorityVote().fit_predict(frame, skills)
        full_crowdkit += time.perf_counter() - t0
        equal &= all(np.array_equal(reference[i], ours[i]) for i in range(start, stop))
        del frame, reference

    return {
        "datapoints": datapoints,
        "responses_per_datapoint": responses,
        "grid": list(SHAPE),
        "points_per_response_mean": round(float(np.mean(points)), 1),
        "incremental_ms_per_response": round((rasterize + fold + derive) / total * 1000, 4),
        "incremental_breakdown_ms": {
            "rasterize": round(rasterize / total * 1000, 4),
            "fold_into_votes": round(fold / total * 1000, 4),
            "consensus_regions_agreement_rle": round(derive / total * 1000, 4),
        },
        "state_store_and_load_ms": round(serialize_ms, 4),
        "state_bytes_compressed": len(blob),
        "full_aggregation_s": round(full_ours, 4),
        "crowdkit_majority_vote_s": round(full_crowdkit, 4),
        "speedup_vs_crowdkit": round(full_crowdkit / full_ours, 1),
        "masks_identical": bool(equal),
        "targets": {"speedup_at_least": 10, "incremental_ms_at_most": 1.0},
    }


def ranking_benchmark(items: int, comparisons: int, seed: int = 11, repeats: int = 3) -> dict:
    import choix
    import evalica
    import pandas as pd

    rng = np.random.default_rng(seed)
    theta = rng.normal(0, 1.0, items)
    a = rng.integers(0, items, comparisons)
    b = (a + rng.integers(1, items, comparisons)) % items
    a_wins = rng.random(comparisons) < 1 / (1 + np.exp(theta[b] - theta[a]))
    winners, losers = np.where(a_wins, a, b), np.where(a_wins, b, a)

    def best(fn):
        times, value = [], None
        for _ in range(repeats):
            t0 = time.perf_counter()
            value = fn()
            times.append(time.perf_counter() - t0)
        return min(times), value

    pairs = list(zip(winners.tolist(), losers.tolist()))
    choix_s, mle = best(lambda: choix.ilsr_pairwise(items, pairs, alpha=0.0, tol=1e-12, max_iter=10_000))
    mle = mle - mle.mean()
    ours_s, ours = best(lambda: aggregation.bradley_terry(items, winners, losers))

    def evalica_default():
        result = evalica.bradley_terry(winners, losers, [evalica.Winner.X] * comparisons, index=pd.RangeIndex(items))
        scores = np.log(result.scores.reindex(pd.RangeIndex(items)).to_numpy())
        return scores - scores.mean()

    evalica_s, evalica_scores = best(evalica_default)
    return {
        "items": items,
        "comparisons": comparisons,
        "ours_s": round(ours_s, 4),
        "choix_s": round(choix_s, 4),
        "evalica_s": round(evalica_s, 4),
        "ours_vs_evalica_time": round(ours_s / evalica_s, 3),
        "ours_max_abs_error_vs_mle": float(np.abs(ours.log_scores - mle).max()),
        "evalica_max_abs_error_vs_mle": float(np.abs(evalica_scores - mle).max()),
        "targets": {"max_abs_error_at_most": 1e-4, "time_vs_evalica_at_most": 1.0},
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datapoints", type=int, default=1000)
    parser.add_argument("--responses", type=int, default=35)
    parser.add_argument("--items", type=int, default=200)
    parser.add_argument("--comparisons", type=int, default=200_000)
    args = parser.parse_args(argv)
    report = {
        "draw": draw_benchmark(args.datapoints, args.responses),
        "ranking": ranking_benchmark(args.items, args.comparisons),
    }
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "aggregation.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))
    return report


if __name__ == "__main__":
    main()
