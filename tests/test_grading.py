"""Draw grading, the graduation rule and the user score (pure functions)."""

from __future__ import annotations

import pytest

from assets.raster import box_cells, grid_shape, rasterize_lines
from assets.wire import Box
from audiences.grading import (
    Decision,
    DrawGrade,
    below_target,
    below_target_log_evidence,
    grade_draw,
    graduation_bounds,
    graduation_decision,
    user_score,
)

SHAPE = (100, 100)
LEFT = Box(0.1, 0.1, 0.4, 0.4)
RIGHT = Box(0.6, 0.6, 0.9, 0.9)


def line(points, size=0.02):
    return {"size": size, "points": [{"x": x, "y": y} for x, y in points]}


# --- rasterizing -------------------------------------------------------------------


def test_grid_keeps_aspect_ratio_with_long_side():
    assert grid_shape(800, 600, 256) == (192, 256)
    assert grid_shape(600, 800, 256) == (256, 192)
    assert grid_shape(None, None, 256) == (256, 256)


def test_a_dot_is_a_disc_of_the_brush_size():
    mask = rasterize_lines([line([(0.5, 0.5)], size=0.2)], SHAPE)
    # a disc of diameter 20 cells: area close to pi * 10^2
    assert 280 <= mask.sum() <= 350
    assert mask[50, 50] and not mask[50, 75] and not mask[20, 50]


def test_a_stroke_covers_its_path_with_round_caps():
    mask = rasterize_lines([line([(0.2, 0.5), (0.8, 0.5)], size=0.1)], SHAPE)
    assert mask[50, 20:80].all()  # along the path
    assert mask[50, 16] and not mask[50, 10]  # round cap reaches radius 5 beyond the end
    assert not mask[40, 50] and mask[46, 50]  # thickness about 10 cells


def test_box_cells_include_partly_covered_cells():
    rows, cols = box_cells(Box(0.105, 0.2, 0.301, 0.3), SHAPE)
    assert (rows.start, rows.stop, cols.start, cols.stop) == (20, 30, 10, 31)


# --- precision and completeness --------------------------------------------------------


def test_ink_inside_the_only_box_is_precise_and_complete():
    grade = grade_draw([line([(0.15, 0.15), (0.35, 0.35)])], [LEFT], SHAPE)
    assert grade == DrawGrade(precision=1.0, completeness=1.0)


def test_ink_outside_every_box_has_zero_precision_and_completeness():
    grade = grade_draw([line([(0.5, 0.05), (0.5, 0.5)], size=0.01)], [LEFT, RIGHT], SHAPE)
    assert grade.precision == 0.0 and grade.completeness == 0.0


def test_touching_one_of_two_boxes_is_half_complete():
    grade = grade_draw([line([(0.2, 0.2), (0.3, 0.3)])], [LEFT, RIGHT], SHAPE)
    assert grade.precision == 1.0 and grade.completeness == 0.5


def test_precision_is_the_share_of_ink_inside():
    # A horizontal stroke from x=0.2 to 0.6 across the LEFT box's right edge (0.4):
    # about half of it lies inside.
    grade = grade_draw([line([(0.2, 0.25), (0.6, 0.25)], size=0.02)], [LEFT], SHAPE)
    assert 0.45 < grade.precision < 0.6
    assert grade.completeness == 1.0


def test_empty_drawing_scores_zero():
    assert grade_draw([], [LEFT], SHAPE) == DrawGrade(0.0, 0.0)


def test_brush_spill_over_the_edge_counts_against_precision():
    thin = grade_draw([line([(0.39, 0.15), (0.39, 0.35)], size=0.01)], [LEFT], SHAPE)
    fat = grade_draw([line([(0.39, 0.15), (0.39, 0.35)], size=0.08)], [LEFT], SHAPE)
    assert thin.precision == 1.0
    assert fat.precision < 0.7


@pytest.mark.parametrize(
    ("grade", "precision", "completeness", "passes"),
    [
        (DrawGrade(0.8, 1.0), 0.8, 1.0, True),  # exactly at the bar
        (DrawGrade(0.79, 1.0), 0.8, 1.0, False),
        (DrawGrade(1.0, 0.5), 0.8, 1.0, False),
        (DrawGrade(1.0, 0.5), 0.8, 0.5, True),
        (DrawGrade(0.0, 0.0), 0.0, 0.0, True),
    ],
)
def test_pass_threshold(grade, precision, completeness, passes):
    assert grade.passes(required_precision=precision, required_completeness=completeness) is passes


# --- graduation rule ------------------------------------------------------------------------


def decide(answers, correct, examples=8, min_tasks=5, max_tasks=10, target=0.75):
    return graduation_decision(
        answers=answers,
        correct=correct,
        examples=examples,
        min_tasks=min_tasks,
        max_tasks=max_tasks,
        target_accuracy=target,
    )


def test_bounds_are_clamped_to_the_number_of_examples():
    assert graduation_bounds(examples=8, min_tasks=5, max_tasks=10) == (5, 8)
    assert graduation_bounds(examples=3, min_tasks=5, max_tasks=10) == (3, 3)
    assert graduation_bounds(examples=20, min_tasks=5, max_tasks=10) == (5, 10)
    assert graduation_bounds(examples=20, min_tasks=6, max_tasks=4) == (6, 6)


def test_no_decision_before_min_tasks_even_when_perfect():
    assert decide(4, 4) == Decision.QUALIFYING
    assert decide(5, 5) == Decision.GRADUATED


def test_graduates_when_accuracy_reaches_target_after_min_tasks():
    assert decide(5, 4) == Decision.GRADUATED  # 0.8 >= 0.75
    assert decide(6, 4) == Decision.QUALIFYING  # 0.67, but 4+2 of 8 = 0.75 still possible
    assert decide(8, 6) == Decision.GRADUATED  # exactly 0.75


def test_dropped_once_target_is_out_of_reach_within_max_tasks():
    # 8 answers at most (clamped); 0.75 * 8 = 6 correct needed at best.
    assert decide(2, 0) == Decision.QUALIFYING  # 6 of 8 still possible: exactly 0.75
    assert decide(3, 0) == Decision.DROPPED  # 5 of 8 at best
    assert decide(4, 1) == Decision.DROPPED
    assert decide(8, 5) == Decision.DROPPED  # all answered, 0.625


def test_three_examples_need_all_right_at_target_075():
    assert decide(3, 3, examples=3) == Decision.GRADUATED
    assert decide(1, 0, examples=3) == Decision.DROPPED  # 2/3 < 0.75


# --- user score ---------------------------------------------------------------------------------


def test_no_answers_is_the_neutral_prior():
    assert user_score(answers=0, correct=0, chance_sum=0.0) == 0.5


QUANTUM = 1 / 4096


def test_guessing_on_compare_scores_near_zero():
    # 50 compare answers, half right: exactly chance.
    assert user_score(answers=50, correct=25, chance_sum=25.0) == pytest.approx(1 / 27, abs=QUANTUM)
    assert user_score(answers=50, correct=20, chance_sum=25.0) == 0.0  # clamped


def test_perfect_labeler_approaches_one():
    assert user_score(answers=8, correct=8, chance_sum=4.0) == pytest.approx(5 / 6, abs=QUANTUM)
    assert user_score(answers=200, correct=200, chance_sum=100.0) > 0.99
    assert user_score(answers=7, correct=7, chance_sum=0.0) == pytest.approx(8 / 9, abs=QUANTUM)


def test_score_grows_with_accuracy():
    scores = [user_score(answers=10, correct=k, chance_sum=0.0) for k in range(11)]
    assert scores == sorted(scores)
    assert scores[0] == pytest.approx(1 / 12, abs=QUANTUM) and scores[-1] == pytest.approx(11 / 12, abs=QUANTUM)


def test_scores_are_multiples_of_the_quantum():
    for answers in range(1, 30):
        for correct in range(answers + 1):
            score = user_score(answers=answers, correct=correct, chance_sum=answers / 3)
            assert (score * 4096).is_integer()


def test_the_bar_compares_raw_accuracy_with_the_target_given_enough_evidence():
    # At or above target: never below it, however many answers.
    assert not below_target(answers=6, correct=6, target_accuracy=0.9)
    assert not below_target(answers=12, correct=9, target_accuracy=0.75)
    assert not below_target(answers=400, correct=300, target_accuracy=0.75)
    assert not below_target(answers=50, correct=50, target_accuracy=1.0)
    assert not below_target(answers=0, correct=0, target_accuracy=0.75)
    # A little below target on little evidence: not yet.
    assert not below_target(answers=8, correct=5, target_accuracy=0.75)
    # Clearly below: dropped; at target 1.0 one wrong answer is enough.
    assert below_target(answers=40, correct=16, target_accuracy=0.75)
    assert below_target(answers=400, correct=260, target_accuracy=0.75)
    assert below_target(answers=5, correct=4, target_accuracy=1.0)


def test_evidence_of_a_record_below_target_grows_with_wrong_answers():
    evidence = [below_target_log_evidence(answers=5 + wrong, correct=5, target_accuracy=0.9) for wrong in range(8)]
    assert evidence == sorted(evidence)
    drop_after = next(wrong for wrong in range(8) if below_target(answers=5 + wrong, correct=5, target_accuracy=0.9))
    assert drop_after == 5  # graduated 5 of 5 at 0.9, then wrong five times in a row
