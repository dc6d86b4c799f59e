"""Aggregating responses: draw consensus, compare votes, rankings.

Pure functions over numpy arrays; the services in ``jobs.result_updates`` load and
store their state. Every result is deterministic, so it is the same whichever
worker computes it, and recomputing changes nothing.

Draw
    Each response is rasterized once (``assets.raster``) into a mask on the
    datapoint's grid. Its weight is its user score at submission, which is a
    multiple of 1/4096 (``audiences.grading.user_score`` quantizes it), so
    weights are kept as integer *units* and every sum is exact in any order.
    ``votes`` holds, per cell, the units of the responses that inked it and
    ``weight`` the units of all responses: adding a response costs one
    rasterization and one array addition.

    heatmap     votes / weight per cell (PNG overlay)
    consensus   cells with at least half of the weight: ``2 * votes >= weight``
                (crowd-kit's ``SegmentationMajorityVote`` with the user scores
                as skills gives the same mask). When no response carries
                weight (every user score 0), every response counts as one.
    boxes       the consensus's 8-connected regions, as image-ratio boxes
    agreement   the mean IoU of each response's mask with the consensus
                (two empty masks agree fully)
    em          optional: the EM algorithm of crowd-kit's ``SegmentationEM``
                over the stored masks, replacing the consensus

Compare
    Votes, their ratios, summed user scores and their ratios per item; the
    winner (most votes) and weighted winner (highest summed user score), both
    ``None`` on a tie or without votes; the leader's posterior confidence
    (see ``leader_confidence``: only votes of labelers with graded answers
    move it); a Bradley-Terry ranking over every item of a job
    (``bradley_terry``).
"""

from __future__ import annotations

import io
import math
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field

import evalica
import numpy as np
import pandas as pd
from PIL import Image
from scipy import ndimage
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from audiences.grading import SCORE_QUANTUM as WEIGHT_UNITS

MAX_ACCURACY = 0.99


def weight_units(user_score: float) -> int:
    return int(round(user_score * WEIGHT_UNITS))


# --- draw --------------------------------------------------------------------------------


@dataclass
class DrawState:
    """Everything the draw aggregate of one datapoint is rebuilt from."""

    shape: tuple[int, int]
    votes: np.ndarray  # int64 (rows, cols): summed weight units of inking responses
    weight: int = 0  # summed weight units of all responses
    units: list[int] = field(default_factory=list)  # per response, in order
    masks: list[bytes] = field(default_factory=list)  # per response: np.packbits of its mask

    @classmethod
    def empty(cls, shape: tuple[int, int]) -> DrawState:
        return cls(shape=tuple(shape), votes=np.zeros(shape, dtype=np.int64))

    @property
    def count(self) -> int:
        return len(self.units)

    @classmethod
    def from_masks(cls, masks: np.ndarray, units: Sequence[int]) -> DrawState:
        """All responses at once (a full re-aggregation): one matrix product."""
        masks = np.asarray(masks, dtype=bool)
        count = len(masks)
        if count == 0:
            return cls.empty(tuple(masks.shape[1:]))
        shape = tuple(masks.shape[1:])
        flat = masks.reshape(count, -1).view(np.uint8)
        units_arr = np.asarray(units, dtype=np.int64)
        return cls(
            shape=shape,
            votes=_weighted_votes(flat, units_arr).reshape(shape),
            weight=int(units_arr.sum()),
            units=units_arr.tolist(),
            masks=[row.tobytes() for row in np.packbits(flat, axis=1)],
        )

    def add(self, mask: np.ndarray, units: int) -> None:
        if mask.shape != self.shape:
            raise ValueError(f"mask shape {mask.shape} does not match the grid {self.shape}")
        if units:
            self.votes += mask.astype(np.int64) * units
        self.weight += units
        self.units.append(units)
        self.masks.append(np.packbits(mask, axis=None).tobytes())

    def mask_stack(self) -> np.ndarray:
        """All response masks, (n, rows, cols) bool."""
        size = self.shape[0] * self.shape[1]
        if not self.masks:
            return np.zeros((0, *self.shape), dtype=bool)
        packed = np.frombuffer(b"".join(self.masks), dtype=np.uint8).reshape(len(self.masks), -1)
        return np.unpackbits(packed, axis=1, count=size).reshape(len(self.masks), *self.shape).astype(bool)

    # Stored as one zlib-compressed blob: a small header, the weights and the
    # packed masks. The vote grid is not stored: rebuilding it from the masks
    # (one matrix product) is cheaper than compressing it.
    def dump(self) -> bytes:
        rows, cols = self.shape
        header = np.array([rows, cols, self.weight, len(self.units)], dtype=np.int64)
        units = np.asarray(self.units, dtype=np.int64)
        return zlib.compress(header.tobytes() + units.tobytes() + b"".join(self.masks), 1)

    @classmethod
    def load(cls, blob: bytes) -> DrawState:
        body = zlib.decompress(blob)
        rows, cols, weight, count = (int(v) for v in np.frombuffer(body[:32], dtype=np.int64))
        units = np.frombuffer(body[32 : 32 + 8 * count], dtype=np.int64)
        packed_len = (rows * cols + 7) // 8
        packed = np.frombuffer(body[32 + 8 * count :], dtype=np.uint8).reshape(count, packed_len)
        if count:
            flat = np.unpackbits(packed, axis=1, count=rows * cols)
            votes = _weighted_votes(flat, units).reshape(rows, cols)
        else:
            votes = np.zeros((rows, cols), dtype=np.int64)
        masks = [row.tobytes() for row in packed]
        return cls(shape=(rows, cols), votes=votes, weight=weight, units=units.tolist(), masks=masks)


def _weighted_votes(flat: np.ndarray, units: np.ndarray) -> np.ndarray:
    """Per cell, the summed units of the 0/1 ``flat`` masks (n, cells) that ink
    it, as int64. float32 holds every integer below 2**24 exactly and no sum
    can exceed ``sum(units)``, so below that bound one buffered float32
    matrix product (no float copy of the masks) is exact."""
    if int(units.sum()) < 2**24:
        votes = np.matmul(units.astype(np.float32), flat, dtype=np.float32, casting="unsafe")
        return votes.astype(np.int64)
    return np.tensordot(units.astype(np.int64), flat.astype(np.int64), axes=1)


def consensus_mask(state: DrawState) -> np.ndarray:
    if state.count == 0:
        return np.zeros(state.shape, dtype=bool)
    if state.weight == 0:
        counts = state.mask_stack().sum(axis=0)
        return 2 * counts >= state.count
    return 2 * state.votes >= state.weight


def heatmap(state: DrawState) -> np.ndarray:
    """Share of the weight (or, with no weight, of responses) inking each cell."""
    if state.count == 0:
        return np.zeros(state.shape, dtype=np.float64)
    if state.weight == 0:
        return state.mask_stack().mean(axis=0)
    return state.votes / state.weight


_EIGHT_CONNECTED = np.ones((3, 3), dtype=bool)


def regions(mask: np.ndarray) -> list[dict[str, float]]:
    """Bounding boxes (image ratios) of the mask's 8-connected regions,
    largest first."""
    rows, cols = mask.shape
    labels, count = ndimage.label(mask, structure=_EIGHT_CONNECTED)
    if count == 0:
        return []
    sizes = np.bincount(labels.ravel())[1:]
    boxes = []
    for index, (row_slice, col_slice) in enumerate(ndimage.find_objects(labels)):
        boxes.append(
            (
                int(sizes[index]),
                {
                    "x_min": col_slice.start / cols,
                    "y_min": row_slice.start / rows,
                    "x_max": col_slice.stop / cols,
                    "y_max": row_slice.stop / rows,
                },
            )
        )
    boxes.sort(key=lambda pair: (-pair[0], pair[1]["y_min"], pair[1]["x_min"]))
    return [box for _, box in boxes]


def agreement(state: DrawState, consensus: np.ndarray) -> float | None:
    """Mean IoU of the responses' masks with the consensus."""
    if state.count == 0:
        return None
    packed = np.frombuffer(b"".join(state.masks), dtype=np.uint8).reshape(state.count, -1)
    target = np.packbits(consensus, axis=None)
    inter = np.bitwise_count(packed & target).sum(axis=1, dtype=np.int64)
    union = np.bitwise_count(packed | target).sum(axis=1, dtype=np.int64)
    ious = np.where(union == 0, 1.0, inter / np.maximum(union, 1))
    return float(ious.mean())


def em_consensus(masks: np.ndarray, *, n_iter: int = 10, tol: float = 1e-5, eps: float = 1e-15) -> np.ndarray:
    """EM over binary masks (n, rows, cols), as crowd-kit's ``SegmentationEM``
    computes it: per-labeler error rates and per-cell posteriors."""
    if len(masks) == 0:
        return np.zeros(masks.shape[1:], dtype=bool)
    seg = masks.astype(bool)
    priors = seg.sum(axis=0) / len(seg)
    region = int(seg.any(axis=0).sum())
    if region == 0:
        return np.zeros(seg.shape[1:], dtype=bool)
    sizes = seg.sum(axis=(1, 2))
    segf = seg.astype(float)

    def m_step(posteriors):
        return 1 - (sizes + posteriors.sum() - 2 * (segf * posteriors).sum(axis=(1, 2))) / region

    def weighted(errors):
        return errors[:, None, None] * segf + (1 - errors)[:, None, None] * (1 - segf)

    errors = m_step(np.round(priors))
    loss = -np.inf
    for _ in range(n_iter):
        weighted_seg = weighted(errors)
        with np.errstate(divide="ignore", invalid="ignore"):
            pos = np.log(priors) + np.log(weighted_seg).sum(axis=0)
            neg = np.log(1 - priors) + np.log(1 - weighted_seg).sum(axis=0)
            posteriors = np.nan_to_num(np.exp(pos) / (np.exp(pos) + np.exp(neg)), nan=0)
        posteriors[posteriors < eps] = 0
        errors = m_step(posteriors)
        weighted_seg = weighted(errors)
        with np.errstate(divide="ignore", invalid="ignore"):
            expectation = (
                np.nan_to_num((np.log(weighted_seg) + np.log(priors)[None, ...]) * posteriors, nan=0).sum()
                + np.nan_to_num(
                    (np.log(1 - weighted_seg) + np.log(1 - priors)[None, ...]) * (1 - posteriors), nan=0
                ).sum()
            )
            new_loss = (expectation - float(np.nan_to_num(np.log(posteriors) * posteriors, nan=0).sum())) / (
                len(seg) * seg[0].size
            )
        priors = posteriors
        if new_loss - loss < tol:
            break
        loss = new_loss
    return priors > 0.5


def rle_encode(mask: np.ndarray) -> dict:
    """COCO uncompressed RLE: column-major run lengths, starting with zeros."""
    flat = np.asarray(mask, dtype=np.uint8).ravel(order="F")
    change = np.flatnonzero(np.diff(flat)) + 1
    bounds = np.concatenate([[0], change, [flat.size]])
    counts = np.diff(bounds).tolist()
    if flat.size and flat[0] == 1:
        counts = [0, *counts]
    return {"size": [int(mask.shape[0]), int(mask.shape[1])], "counts": [int(c) for c in counts]}


def rle_decode(rle: dict) -> np.ndarray:
    rows, cols = rle["size"]
    values = np.zeros(len(rle["counts"]), dtype=np.uint8)
    values[1::2] = 1
    flat = np.repeat(values, rle["counts"])
    return flat.reshape((rows, cols), order="F").astype(bool)


def resize_mask(mask: np.ndarray, width: int, height: int) -> np.ndarray:
    """Nearest-neighbour resize of a grid mask to the image's pixel size."""
    image = Image.fromarray(mask.astype(np.uint8) * 255).resize((width, height), Image.Resampling.NEAREST)
    return np.asarray(image) > 127


_RAMP = np.array([[37, 99, 235], [16, 185, 129], [250, 204, 21], [239, 68, 68]], dtype=np.float64)


def heatmap_png(share: np.ndarray) -> bytes:
    """An RGBA overlay: transparent where nobody drew, blue to red with the
    share of weight, more opaque as it grows."""
    share = np.clip(share, 0.0, 1.0)
    position = share * (len(_RAMP) - 1)
    low = np.floor(position).astype(int).clip(0, len(_RAMP) - 2)
    frac = (position - low)[..., None]
    rgb = _RAMP[low] * (1 - frac) + _RAMP[low + 1] * frac
    alpha = np.where(share > 0, 70 + 150 * share, 0)
    rgba = np.dstack([rgb, alpha]).round().astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(buffer, "PNG", optimize=False, compress_level=6)
    return buffer.getvalue()


# --- compare --------------------------------------------------------------------------------


def accuracy_from_score(user_score: float) -> float:
    """The probability that a labeler picks the better of two items, from
    their chance-corrected user score: 1/2 + score/2, capped at 0.99 so one
    vote never makes a certainty."""
    return min(MAX_ACCURACY, 0.5 + 0.5 * max(0.0, min(1.0, user_score)))


def evidence_score(user_score: float, graded_answers: int | None) -> float:
    """The score a vote's weight in a posterior may rest on: the user score
    when graded answers stand behind it, else 0 (a labeler nobody graded
    carries the prior, 0.5, which is no evidence of any accuracy: their
    vote counts as a random labeler's would). ``None``: graded, as the
    two-element votes of callers that know only graded scores."""
    if graded_answers is not None and graded_answers <= 0:
        return 0.0
    return user_score


Vote = tuple[int, float] | tuple[int, float, int]


def leader_confidence(votes: Sequence[Vote]) -> tuple[int | None, float]:
    """Posterior probability that the leading item is the better one.

    ``votes`` are ``(item index 0 or 1, user score, graded answers)`` (or,
    for graded scores, ``(index, user score)``). With a uniform prior over
    which item is better and each labeler right with probability
    ``a = accuracy_from_score(evidence_score(score, graded))``
    independently, the posterior log-odds of item 0 over item 1 are::

        L = sum over votes for 0 of log(a / (1 - a)) - sum over votes for 1 of log(a / (1 - a))

    and the leader's confidence is ``1 / (1 + exp(-|L|))``. A vote of a
    labeler with no graded answers has ``a = 1/2``: log-odds 0. No votes, or
    evidence that cancels out, gives ``(None, 0.5)``.
    """
    log_odds = 0.0
    for index, score, *graded in votes:
        accuracy = accuracy_from_score(evidence_score(score, graded[0] if graded else None))
        evidence = math.log(accuracy / (1 - accuracy))
        log_odds += evidence if index == 0 else -evidence
    if abs(log_odds) < 1e-12:
        return None, 0.5
    return (0 if log_odds > 0 else 1), 1.0 / (1.0 + math.exp(-abs(log_odds)))


def _ratios(values: dict[str, float]) -> dict[str, float]:
    total = sum(values.values())
    return {key: (value / total if total else 0.0) for key, value in values.items()}


def _unique_max(values: dict[str, float]) -> str | None:
    best = max(values.values(), default=0)
    leaders = [key for key, value in values.items() if value == best]
    return leaders[0] if len(leaders) == 1 and best > 0 else None


def compare_summary(items: Sequence[str], votes: Sequence[Vote]) -> dict:
    """Per-datapoint compare results (``items`` are the two item names;
    ``votes`` as ``leader_confidence`` takes them). Counts and summed user
    scores take every vote; the confidence only graded ones."""
    counts = dict.fromkeys(items, 0)
    scores = dict.fromkeys(items, 0.0)
    for index, score, *_ in votes:
        counts[items[index]] += 1
        scores[items[index]] += score
    scores = {key: round(value, 6) for key, value in scores.items()}
    leader, confidence = leader_confidence(votes)
    return {
        "aggregatedResults": counts,
        "aggregatedResultsRatios": _ratios(counts),
        "summedUserScores": scores,
        "summedUserScoresRatios": _ratios(scores),
        "winner": _unique_max(counts),
        "weightedWinner": _unique_max(scores),
        "confidence": round(confidence, 6),
        "leader": None if leader is None else items[leader],
    }


# --- ranking --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Ranking:
    log_scores: np.ndarray  # centered (mean 0)
    regularized: bool  # a weak prior was needed for finite scores
    iterations: int


def _mle_exists(n_items: int, winners: np.ndarray, losers: np.ndarray) -> bool:
    """A finite maximum-likelihood estimate exists iff the graph with an edge
    from each loser to its winner is strongly connected (Zermelo, Ford)."""
    if n_items <= 1:
        return True
    graph = coo_matrix((np.ones(len(winners)), (losers, winners)), shape=(n_items, n_items)).tocsr()
    count, _ = connected_components(graph, directed=True, connection="strong")
    return count == 1


def bradley_terry(
    n_items: int, winners: np.ndarray, losers: np.ndarray, *, tolerance: float = 1e-9, limit: int = 10_000
) -> Ranking:
    """Bradley-Terry log-strengths of ``n_items`` items (centered) from
    comparisons given as integer arrays of winner and loser indices.

    The maximum-likelihood estimate, computed by evalica (Newman's iteration)
    to ``tolerance``. Repeated (winner, loser) pairs are passed once with
    their count as weight: the same likelihood, a fraction of the input.
    When the comparisons do not determine a finite estimate (an item that
    never won or never lost, or groups never compared with each other), every
    item also gets one virtual win and one virtual loss against a reference
    item (Newman 2023), which keeps all scores finite and ranks unbeaten items
    first.
    """
    winners = np.asarray(winners, dtype=np.int64)
    losers = np.asarray(losers, dtype=np.int64)
    if n_items == 0:
        return Ranking(np.zeros(0), False, 0)
    if len(winners) == 0:
        return Ranking(np.zeros(n_items), False, 0)
    counts = np.bincount(winners * n_items + losers, minlength=n_items * n_items)
    pairs = np.flatnonzero(counts)
    pair_winners, pair_losers, weights = pairs // n_items, pairs % n_items, counts[pairs].astype(np.float64)
    regularized = not _mle_exists(n_items, pair_winners, pair_losers)
    if regularized:
        reference, items = n_items, np.arange(n_items, dtype=np.int64)
        pair_winners = np.concatenate([pair_winners, items, np.full(n_items, reference)])
        pair_losers = np.concatenate([pair_losers, np.full(n_items, reference), items])
        weights = np.concatenate([weights, np.ones(2 * n_items)])
    total = n_items + int(regularized)
    result = evalica.bradley_terry(
        pair_winners,
        pair_losers,
        [evalica.Winner.X] * len(pair_winners),
        index=pd.RangeIndex(total),
        weights=weights,
        tolerance=tolerance,
        limit=limit,
    )
    scores = result.scores.reindex(pd.RangeIndex(total)).to_numpy(dtype=np.float64)
    log_scores = np.log(scores[:n_items])
    return Ranking(log_scores - log_scores.mean(), regularized, int(result.iterations))
