"""The bar a graduated labeler's gold answers are held to (issue 14):
a labeler who keeps answering at the audience's target accuracy stays; one
clearly below it is dropped once the evidence says so."""

from __future__ import annotations

import math
import random

import pytest

from audiences import grading
from audiences import services as audience_services
from audiences.models import Membership
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def membership(requester, labeler):
    def make(*, target: float, answers: int, correct: int, kind: str = "draw") -> Membership:
        audience = factories.draw_audience(
            requester, name=f"Bar {target} {answers} {correct} {kind}", target_accuracy=target
        )
        chance_sum = grading.CHANCE[kind] * answers
        return Membership.objects.create(
            labeler=labeler,
            audience=audience,
            state=Membership.State.GRADUATED,
            answers=answers,
            correct=correct,
            chance_sum=chance_sum,
            user_score=grading.user_score(answers=answers, correct=correct, chance_sum=chance_sum),
        )

    return make


@pytest.mark.parametrize(
    ("target", "answers", "correct"),
    [
        (0.9, 6, 6),  # graduated 5 of 5 at 0.9, then one more right (smoothed score 0.875)
        (0.75, 12, 9),  # exactly at target (smoothed score 0.714)
        (1.0, 10, 10),  # target 1.0, never wrong (the smoothed score never reaches 1.0)
        (0.75, 8, 6),
    ],
)
def test_a_labeler_at_or_above_target_stays(membership, target, answers, correct):
    member = membership(target=target, answers=answers, correct=correct)
    assert audience_services.membership_drop_if_below_bar(membership=member) is True
    member.refresh_from_db()
    assert member.state == Membership.State.GRADUATED


@pytest.mark.parametrize(
    ("target", "answers", "correct", "kind"),
    [
        (0.9, 15, 5, "draw"),  # graduated 5 of 5, then 10 wrong
        (0.75, 40, 16, "draw"),  # 40% right at target 75%
        (0.75, 40, 20, "compare"),  # coin flips at target 75%
        (1.0, 10, 9, "draw"),  # target 1.0: one wrong answer is below it for sure
    ],
)
def test_a_labeler_clearly_below_target_is_dropped(membership, target, answers, correct, kind):
    member = membership(target=target, answers=answers, correct=correct, kind=kind)
    assert audience_services.membership_drop_if_below_bar(membership=member) is False
    member.refresh_from_db()
    assert member.state == Membership.State.DROPPED


def simulate(member: Membership, *, accuracy: float, labelers: int, golds: int, kind: str, seed: int) -> int:
    """How many of ``labelers`` simulated labelers, each graduated with the
    first ``min_tasks`` qualification answers at the target and then
    answering ``golds`` gold tasks right with probability ``accuracy``, the
    bar drops. (One membership row, its record reset in memory for each.)"""
    audience = member.audience
    rng = random.Random(seed)
    dropped = 0
    for _ in range(labelers):
        qualified = audience.min_tasks
        correct = math.ceil(audience.target_accuracy * qualified - 1e-9)
        member.state = Membership.State.GRADUATED
        member.answers, member.correct = qualified, correct
        member.chance_sum = grading.CHANCE[kind] * qualified
        for _ in range(golds):
            audience_services.membership_record_grade(membership=member, kind=kind, correct=rng.random() < accuracy)
            if not audience_services.membership_drop_if_below_bar(membership=member):
                dropped += 1
                break
    return dropped


@pytest.mark.parametrize(("target", "kind"), [(0.9, "draw"), (0.75, "draw"), (0.75, "compare"), (0.6, "compare")])
def test_labelers_at_target_stay_and_labelers_well_below_are_dropped(membership, target, kind):
    member = membership(target=target, answers=0, correct=0, kind=kind)
    at_target = simulate(member, accuracy=target, labelers=200, golds=100, kind=kind, seed=1)
    assert at_target <= 10, at_target  # at most 5% (the bar promises at most 5% over any number of answers)
    below = simulate(member, accuracy=target - 0.3, labelers=200, golds=100, kind=kind, seed=2)
    assert below >= 180, below  # at least 90%, within 100 gold answers
