"""Aggregation functions against references and hand-computed cases."""

from __future__ import annotations

import io
import math

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from assets.raster import rasterize_lines
from jobs import aggregation
from jobs.aggregation import DrawState, weight_units

SHAPE = (48, 64)


def stroke(cx, cy, rng, size=0.06, points=15):
    return [
        {
            "size": size,
            "points": [
                {
                    "x": float(np.clip(cx + rng.normal(0, 0.04), 0, 1)),
                    "y": float(np.clip(cy + rng.normal(0, 0.04), 0, 1)),
                }
                for _ in range(points)
            ],
        }
    ]


def random_tasks(seed=3, tasks=12, workers=9):
    """Masks from jittered strokes around a per-task centre, with dyadic
    user scores (as stored): [(task, worker, mask, score)]."""
    rng = np.random.default_rng(seed)
    rows = []
    for task in range(tasks):
        cx, cy = rng.uniform(0.25, 0.75, 2)
        for worker in range(workers):
            mask = rasterize_lines(stroke(cx, cy, rng) if rng.random() > 0.15 else [], SHAPE)
            score = weight_units(float(rng.uniform(0.05, 1.0))) / aggregation.WEIGHT_UNITS
            rows.append((task, f"w{worker}", mask, score))
    return rows


def states_of(rows):
    states = {}
    for task, _, mask, score in rows:
        states.setdefault(task, DrawState.empty(SHAPE)).add(mask, weight_units(score))
    return states


# --- draw: references ---------------------------------------------------------------------


def test_consensus_equals_crowdkit_weighted_majority_vote():
    from crowdkit.aggregation import SegmentationMajorityVote

    rows = random_tasks()
    frame = pd.DataFrame([(t, w, m) for t, w, m, _ in rows], columns=["task", "worker", "segmentation"])
    # crowd-kit takes one skill per worker; give every (task, worker) its own worker id.
    frame["worker"] = [f"{w}-{t}" for t, w, _, _ in rows]
    skills = pd.Series({f"{w}-{t}": s for t, w, _, s in rows})
    reference = SegmentationMajorityVote().fit_predict(frame, skills)
    states = states_of(rows)
    for task, state in states.items():
        ours = aggregation.consensus_mask(state)
        assert np.array_equal(ours, reference[task]), task
    assert any(aggregation.consensus_mask(s).any() for s in states.values())


def test_em_option_equals_crowdkit_segmentation_em():
    from crowdkit.aggregation import SegmentationEM

    rows = random_tasks(seed=5)
    frame = pd.DataFrame([(t, f"{w}-{t}", m) for t, w, m, _ in rows], columns=["task", "worker", "segmentation"])
    reference = SegmentationEM().fit_predict(frame)
    for task, state in states_of(rows).items():
        assert np.array_equal(aggregation.em_consensus(state.mask_stack()), reference[task]), task


def test_ties_are_in_the_consensus_and_exact():
    # Weights 0.25 + 0.25 vs 0.5: a cell inked by the two small ones has exactly half.
    state = DrawState.empty((1, 3))
    state.add(np.array([[1, 0, 0]], bool), weight_units(0.25))
    state.add(np.array([[1, 0, 1]], bool), weight_units(0.25))
    state.add(np.array([[0, 1, 1]], bool), weight_units(0.5))
    assert aggregation.consensus_mask(state).tolist() == [[True, True, True]]
    assert aggregation.heatmap(state).tolist() == [[0.5, 0.5, 0.75]]


def test_without_weight_every_response_counts_once():
    state = DrawState.empty((1, 3))
    for mask in ([1, 1, 0], [1, 0, 0], [0, 0, 1]):
        state.add(np.array([mask], bool), 0)
    assert aggregation.consensus_mask(state).tolist() == [[True, False, False]]


def test_incremental_state_equals_one_pass_and_survives_serialization():
    rows = list(random_tasks(tasks=1, workers=20))
    incremental = DrawState.empty(SHAPE)
    for _, _, mask, score in rows:
        incremental = DrawState.load(incremental.dump())  # as stored between responses
        incremental.add(mask, weight_units(score))
    masks = np.stack([m for _, _, m, _ in rows])
    units = np.array([weight_units(s) for *_, s in rows])
    assert np.array_equal(incremental.votes, np.tensordot(units, masks.astype(np.int64), axes=1))
    assert incremental.weight == units.sum()
    assert np.array_equal(incremental.mask_stack(), masks)


# --- draw: derived outputs ------------------------------------------------------------------------


def test_regions_are_boxes_of_connected_components():
    mask = np.zeros((10, 20), bool)
    mask[1:4, 2:6] = True  # 12 cells
    mask[6:10, 10:20] = True  # 40 cells
    mask[4, 6] = True  # diagonal neighbour of the first: same region (8-connected)
    boxes = aggregation.regions(mask)
    assert boxes == [
        {"x_min": 0.5, "y_min": 0.6, "x_max": 1.0, "y_max": 1.0},
        {"x_min": 0.1, "y_min": 0.1, "x_max": 0.35, "y_max": 0.5},
    ]
    assert aggregation.regions(np.zeros((5, 5), bool)) == []


def test_agreement_is_mean_iou_with_consensus():
    state = DrawState.empty((1, 4))
    state.add(np.array([[1, 1, 0, 0]], bool), 1)
    state.add(np.array([[1, 1, 1, 1]], bool), 1)
    state.add(np.array([[0, 0, 0, 0]], bool), 1)
    consensus = np.array([[1, 1, 0, 0]], bool)
    assert aggregation.agreement(state, consensus) == pytest.approx((1 + 0.5 + 0) / 3)
    empty = DrawState.empty((1, 4))
    empty.add(np.zeros((1, 4), bool), 1)
    assert aggregation.agreement(empty, np.zeros((1, 4), bool)) == 1.0


def test_rle_is_coco_column_major_and_round_trips():
    mask = np.array([[0, 1, 1], [0, 1, 0]], bool)
    # column-major: col0 = 0,0 ; col1 = 1,1 ; col2 = 1,0  ->  0 0 1 1 1 0
    assert aggregation.rle_encode(mask) == {"size": [2, 3], "counts": [2, 3, 1]}
    starts_inked = np.array([[1, 0]], bool)
    assert aggregation.rle_encode(starts_inked)["counts"] == [0, 1, 1]
    rng = np.random.default_rng(0)
    for _ in range(20):
        random_mask = rng.random((17, 23)) > 0.6
        assert np.array_equal(aggregation.rle_decode(aggregation.rle_encode(random_mask)), random_mask)


def test_heatmap_png_is_transparent_where_nobody_drew():
    share = np.zeros((10, 10))
    share[2:5, 2:5] = 1.0
    share[7, 7] = 0.3
    image = Image.open(io.BytesIO(aggregation.heatmap_png(share)))
    assert image.mode == "RGBA" and image.size == (10, 10)
    pixels = np.asarray(image)
    assert pixels[0, 0, 3] == 0
    assert pixels[3, 3, 3] > 200 and pixels[3, 3, 0] > 200  # opaque, red end of the ramp
    assert 0 < pixels[7, 7, 3] < pixels[3, 3, 3]


# --- compare -------------------------------------------------------------------------------------------


def test_accuracy_from_score():
    assert aggregation.accuracy_from_score(0.0) == 0.5
    assert aggregation.accuracy_from_score(0.6) == 0.8
    assert aggregation.accuracy_from_score(1.0) == 0.99


@pytest.mark.parametrize(
    ("votes", "leader", "confidence"),
    [
        ([], None, 0.5),
        ([(0, 0.6)], 0, 0.8),  # one vote at accuracy 0.8: odds 4 -> 0.8
        ([(0, 0.6), (0, 0.6)], 0, 16 / 17),  # odds 4 * 4
        ([(0, 0.6), (1, 0.6)], None, 0.5),  # cancel out
        ([(1, 0.6), (1, 0.6), (0, 0.0)], 1, 16 / 17),  # a guesser's vote carries no evidence
        ([(0, 1.0), (1, 0.6)], 0, 99 / 4 / (1 + 99 / 4)),  # odds 99 / 4
    ],
)
def test_leader_confidence_hand_computed(votes, leader, confidence):
    got_leader, got_confidence = aggregation.leader_confidence(votes)
    assert got_leader == leader
    assert got_confidence == pytest.approx(confidence, abs=1e-12)


def test_compare_summary_counts_ratios_and_winners():
    summary = aggregation.compare_summary(["a", "b"], [(0, 0.5), (0, 0.25), (1, 1.0)])
    assert summary["aggregatedResults"] == {"a": 2, "b": 1}
    assert summary["aggregatedResultsRatios"] == {"a": 2 / 3, "b": 1 / 3}
    assert summary["summedUserScores"] == {"a": 0.75, "b": 1.0}
    assert summary["summedUserScoresRatios"] == pytest.approx({"a": 0.75 / 1.75, "b": 1 / 1.75})
    assert summary["winner"] == "a" and summary["weightedWinner"] == "b"


def test_compare_winners_are_null_on_ties_and_without_votes():
    tied = aggregation.compare_summary(["a", "b"], [(0, 0.5), (1, 0.5)])
    assert tied["winner"] is None and tied["weightedWinner"] is None
    empty = aggregation.compare_summary(["a", "b"], [])
    assert empty["winner"] is None and empty["weightedWinner"] is None
    assert empty["aggregatedResultsRatios"] == {"a": 0.0, "b": 0.0}


# --- ranking ---------------------------------------------------------------------------------------------


def simulated_comparisons(n=30, m=4000, seed=2):
    rng = np.random.default_rng(seed)
    theta = rng.normal(0, 1.2, n)
    a = rng.integers(0, n, m)
    b = (a + rng.integers(1, n, m)) % n
    a_wins = rng.random(m) < 1 / (1 + np.exp(theta[b] - theta[a]))
    return n, np.where(a_wins, a, b), np.where(a_wins, b, a)


def test_bradley_terry_matches_the_mle_of_choix():
    import choix

    n, winners, losers = simulated_comparisons()
    ours = aggregation.bradley_terry(n, winners, losers)
    reference = choix.ilsr_pairwise(
        n, list(zip(winners.tolist(), losers.tolist())), alpha=0.0, tol=1e-12, max_iter=10_000
    )
    reference = reference - reference.mean()
    assert not ours.regularized
    assert np.abs(ours.log_scores - reference).max() < 1e-4
    assert ours.log_scores.mean() == pytest.approx(0.0, abs=1e-12)


def test_bradley_terry_stays_finite_when_the_mle_does_not_exist():
    # Three separate pairs, each won outright: no finite MLE.
    winners = np.array([0, 0, 2, 4, 4, 4])
    losers = np.array([1, 1, 3, 5, 5, 5])
    ranking = aggregation.bradley_terry(6, winners, losers)
    assert ranking.regularized
    scores = ranking.log_scores
    assert all(math.isfinite(s) for s in scores)
    assert scores[0] > scores[1] and scores[2] > scores[3] and scores[4] > scores[5]
    assert scores[4] > scores[0] > scores[2]  # 3 wins beat 2 beat 1


def test_bradley_terry_without_comparisons_is_flat():
    assert aggregation.bradley_terry(3, np.array([]), np.array([])).log_scores.tolist() == [0.0, 0.0, 0.0]


def test_all_at_once_equals_one_by_one():
    rows = random_tasks(tasks=1, workers=25, seed=9)
    one_by_one = DrawState.empty(SHAPE)
    for _, _, mask, score in rows:
        one_by_one.add(mask, weight_units(score))
    at_once = DrawState.from_masks(np.stack([m for _, _, m, _ in rows]), [weight_units(s) for *_, s in rows])
    assert np.array_equal(at_once.votes, one_by_one.votes)
    assert (at_once.weight, at_once.units, at_once.masks) == (one_by_one.weight, one_by_one.units, one_by_one.masks)
    assert at_once.dump() == one_by_one.dump()


def test_votes_of_labelers_nobody_graded_carry_no_evidence():
    ungraded = [(0, 0.5, 0)] * 20
    assert aggregation.leader_confidence(ungraded) == (None, 0.5)
    graded = [(0, 0.5, 4), (0, 0.5, 4)]
    assert aggregation.leader_confidence(graded + ungraded) == aggregation.leader_confidence(graded)
    assert aggregation.leader_confidence(graded)[1] == pytest.approx(0.9)
    assert aggregation.leader_confidence([(0, 0.5)]) == aggregation.leader_confidence([(0, 0.5, 1)])
    summary = aggregation.compare_summary(["a", "b"], [(0, 0.5, 0), (0, 0.5, 0), (1, 0.5, 0)])
    assert summary["aggregatedResults"] == {"a": 2, "b": 1}
    assert summary["summedUserScores"] == {"a": 1.0, "b": 0.5}
    assert (summary["winner"], summary["weightedWinner"]) == ("a", "a")
    assert (summary["leader"], summary["confidence"]) == (None, 0.5)
