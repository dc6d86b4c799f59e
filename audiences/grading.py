"""Grading answers to qualification examples, the graduation rule, and the
user score. Pure functions: no database access.

Draw answers
    The strokes are rasterized on the response grid (``assets.raster``).
    *precision* is the share of inked cells inside the union of the truth
    boxes; *completeness* is the share of truth boxes the ink touches. An
    answer is correct when both reach the example's ``required_precision``
    (default 0.8) and ``required_completeness`` (default 1.0: every box).
    An empty drawing has precision 0: examples always have a region to find.

Compare answers
    Correct when the choice is the truth item.

Graduation (README.md, "How it works": qualification)
    With ``n`` examples, ``low = min(min_tasks, n)`` and
    ``high = min(max(max_tasks, min_tasks), n)``: graduated as soon as at
    least ``low`` answers reach ``target_accuracy``; dropped as soon as even
    all-correct answers up to ``high`` could not reach it.

User score
    Chance-corrected and smoothed accuracy. Each graded answer ``i`` has a
    chance ``c_i`` of being right by guessing (compare 1/2, draw 0). With
    ``alpha`` pseudo-answers at a neutral prior score ``s0``::

        score = clamp((sum(correct_i - c_i) + alpha * s0) / (sum(1 - c_i) + alpha), 0, 1)

    A labeler with no graded answers scores ``s0`` (0.5); one who guesses on
    compare examples drifts to 0 as answers accumulate (their correct answers
    match the chance term); a perfect one approaches 1. Scores are rounded to
    multiples of 1/4096 so that sums of them (aggregation weights) are exact.

Staying in the audience (ongoing quality checks)
    A graduated labeler's graded answers (qualification and gold) are held
    to the audience's ``target_accuracy`` like with like: their raw
    accuracy, as graduation measures it, never the smoothed score (which
    the prior pulls below a perfect record: 6 of 6 scores 0.875). They are
    dropped only once the evidence says their accuracy is below target: a
    sequential test of "accuracy = target" against "accuracy below target"
    (a uniform prior over ``[0, target)``), whose likelihood ratio after
    ``n`` answers with ``k`` right is::

        LR = (1 / t) * integral over p in [0, t) of p^k (1 - p)^(n - k) dp / (t^k (1 - t)^(n - k))

    Dropped when ``LR >= 1 / BAR_ALPHA``. LR is a nonnegative martingale for
    a labeler whose answers are right with probability ``t`` (and a
    supermartingale above it), so by Ville's inequality such a labeler is
    *ever* dropped with probability at most ``BAR_ALPHA`` (5%), however many
    gold answers they give; one clearly below target is dropped after a
    few dozen (at target 0.9, accuracy 0.7: half within about 35). At
    target 1.0 any wrong answer drops.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.special import betainc, betaln

from assets.raster import box_cells, boxes_mask, rasterize_lines
from assets.wire import Box

CHANCE = {"draw": 0.0, "compare": 0.5}
SCORE_PRIOR = 0.5
SCORE_PSEUDO_ANSWERS = 2.0
SCORE_QUANTUM = 4096
BAR_ALPHA = 0.05


@dataclass(frozen=True)
class DrawGrade:
    precision: float
    completeness: float

    def passes(self, *, required_precision: float, required_completeness: float) -> bool:
        eps = 1e-9
        return self.precision + eps >= required_precision and self.completeness + eps >= required_completeness


def grade_draw(lines: Sequence[dict], boxes: Sequence[Box], shape: tuple[int, int]) -> DrawGrade:
    ink = rasterize_lines(lines, shape)
    inked = int(ink.sum())
    if inked == 0 or not boxes:
        return DrawGrade(precision=0.0, completeness=0.0)
    inside = boxes_mask(boxes, shape)
    precision = float(np.logical_and(ink, inside).sum()) / inked
    touched = sum(1 for box in boxes if ink[box_cells(box, shape)].any())
    return DrawGrade(precision=precision, completeness=touched / len(boxes))


class Decision:
    QUALIFYING = "qualifying"
    GRADUATED = "graduated"
    DROPPED = "dropped"


def graduation_bounds(*, examples: int, min_tasks: int, max_tasks: int) -> tuple[int, int]:
    """(answers needed before graduating, answers after which it is decided)."""
    low = max(1, min(min_tasks, examples))
    high = max(low, min(max(max_tasks, min_tasks), examples))
    return low, high


def graduation_decision(
    *, answers: int, correct: int, examples: int, min_tasks: int, max_tasks: int, target_accuracy: float
) -> str:
    low, high = graduation_bounds(examples=examples, min_tasks=min_tasks, max_tasks=max_tasks)
    eps = 1e-9
    if answers >= low and correct >= target_accuracy * answers - eps:
        return Decision.GRADUATED
    best_possible = correct + max(0, high - answers)
    if answers >= high or best_possible < target_accuracy * high - eps:
        return Decision.DROPPED
    return Decision.QUALIFYING


def chance_sum(answers_by_kind: Mapping[str, int]) -> float:
    """What answers (counted per task kind) would get right by guessing:
    the ``chance_sum`` of ``user_score``."""
    return sum(CHANCE[kind] * count for kind, count in answers_by_kind.items())


def user_score(*, answers: int, correct: int, chance_sum: float) -> float:
    numerator = (correct - chance_sum) + SCORE_PSEUDO_ANSWERS * SCORE_PRIOR
    denominator = (answers - chance_sum) + SCORE_PSEUDO_ANSWERS
    score = min(1.0, max(0.0, numerator / denominator))
    return round(score * SCORE_QUANTUM) / SCORE_QUANTUM


def below_target_log_evidence(*, answers: int, correct: int, target_accuracy: float) -> float:
    """log LR of "accuracy below target" over "accuracy = target" (see the
    module's docstring); ``inf`` when a wrong answer rules out target 1.0."""
    t, n, k = target_accuracy, answers, correct
    if t >= 1.0:
        return math.inf if k < n else -math.log(n + 1)
    below = float(betainc(k + 1, n - k + 1, t))  # share of the Beta(k+1, n-k+1) mass under t
    if below <= 0.0:
        return -math.inf
    return float(betaln(k + 1, n - k + 1)) + math.log(below) - math.log(t) - k * math.log(t) - (n - k) * math.log1p(-t)


def below_target(*, answers: int, correct: int, target_accuracy: float) -> bool:
    """Whether the graded record shows, with the evidence ``BAR_ALPHA`` asks
    for, an accuracy below ``target_accuracy``."""
    if answers <= 0:
        return False
    evidence = below_target_log_evidence(answers=answers, correct=correct, target_accuracy=target_accuracy)
    return evidence >= math.log(1.0 / BAR_ALPHA)
