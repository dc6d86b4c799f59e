"""Grading answers to qualification examples, the graduation rule, and the
user score. Pure functions: no database access.

Draw answers
    The strokes are rasterized on the response grid (``jobs.raster``).
    *precision* is the share of inked cells inside the union of the truth
    boxes; *completeness* is the share of truth boxes the ink touches. An
    answer is correct when both reach the example's ``required_precision``
    (default 0.8) and ``required_completeness`` (default 1.0: every box).
    An empty drawing has precision 0: examples always have a region to find.

Compare answers
    Correct when the choice is the truth item.

Graduation (DESIGN.md, "Qualification")
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

Score bar (ongoing quality checks)
    A graduated labeler whose score falls below the chance-corrected target,
    ``(target_accuracy - c) / (1 - c)`` with ``c`` the mean chance of their
    graded answers, is dropped from the audience.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from jobs.raster import box_cells, boxes_mask, rasterize_lines
from jobs.wire import Box

CHANCE = {"draw": 0.0, "compare": 0.5}
SCORE_PRIOR = 0.5
SCORE_PSEUDO_ANSWERS = 2.0
SCORE_QUANTUM = 4096


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


def graduation_decision(*, answers: int, correct: int, examples: int, min_tasks: int, max_tasks: int,
                        target_accuracy: float) -> str:
    low, high = graduation_bounds(examples=examples, min_tasks=min_tasks, max_tasks=max_tasks)
    eps = 1e-9
    if answers >= low and correct >= target_accuracy * answers - eps:
        return Decision.GRADUATED
    best_possible = correct + max(0, high - answers)
    if answers >= high or best_possible < target_accuracy * high - eps:
        return Decision.DROPPED
    return Decision.QUALIFYING


def user_score(*, answers: int, correct: int, chance_sum: float) -> float:
    numerator = (correct - chance_sum) + SCORE_PSEUDO_ANSWERS * SCORE_PRIOR
    denominator = (answers - chance_sum) + SCORE_PSEUDO_ANSWERS
    score = min(1.0, max(0.0, numerator / denominator))
    return round(score * SCORE_QUANTUM) / SCORE_QUANTUM


def score_bar(*, target_accuracy: float, answers: int, chance_sum: float) -> float:
    chance = chance_sum / answers if answers else 0.0
    if chance >= 1.0:
        return 0.0
    return max(0.0, (target_accuracy - chance) / (1.0 - chance))
