"""How labelers do on each qualification example of a requester's audience.

An example that most good labelers (the audience's graduates) get wrong is
more likely wrong itself (a box in the wrong place, the other item marked
right) than hard: the dashboard flags it for the requester to look at.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Count, Q

from audiences.models import Audience, Membership, QualificationAnswer, QualificationExample
from audiences.selectors import example_list

from .selectors import THUMBNAIL_SIZE, image_src

# Flag an example once this many graduates answered it and fewer than this share passed.
FLAG_MIN_GOOD_ANSWERS = 3
FLAG_BELOW = 0.5


def owned_audience(*, user: AbstractBaseUser, public_id: str) -> Audience:
    """The requester's own custom audience ``public_id``; ``Audience.DoesNotExist``
    for any other (another requester's, curated, global)."""
    return Audience.objects.get(public_id=public_id, kind=Audience.Kind.CUSTOM, owner_id=user.pk)


@dataclass(frozen=True)
class ExampleRate:
    example: QualificationExample
    thumbnails: list[str]  # the image, or the two items ("" for a text item)
    answers: int
    passed: int
    good_answers: int
    good_passed: int

    @staticmethod
    def _rate(passed: int, answers: int) -> float | None:
        return passed / answers if answers else None

    @property
    def pass_rate(self) -> float | None:
        return self._rate(self.passed, self.answers)

    @property
    def good_pass_rate(self) -> float | None:
        return self._rate(self.good_passed, self.good_answers)

    @property
    def flagged(self) -> bool:
        return self.good_answers >= FLAG_MIN_GOOD_ANSWERS and self.good_passed < FLAG_BELOW * self.good_answers


def example_pass_rates(*, audience: Audience) -> list[ExampleRate]:
    """Every example of ``audience`` with its graded answers (qualification
    and gold alike): all of them, and those of the audience's graduates. Two
    queries."""
    graduate = Q(membership__state=Membership.State.GRADUATED)
    counts = {
        row["example_id"]: row
        for row in QualificationAnswer.objects.filter(example__audience=audience)
        .order_by()
        .values("example_id")
        .annotate(
            answers=Count("id"),
            passed=Count("id", filter=Q(correct=True)),
            good_answers=Count("id", filter=graduate),
            good_passed=Count("id", filter=graduate & Q(correct=True)),
        )
    }
    empty = {"answers": 0, "passed": 0, "good_answers": 0, "good_passed": 0}
    rates = []
    for example in example_list(audience=audience):
        row = counts.get(example.pk, empty)
        rates.append(
            ExampleRate(
                example=example,
                thumbnails=[image_src(asset, THUMBNAIL_SIZE) for asset in (example.asset, example.asset_b) if asset],
                answers=row["answers"],
                passed=row["passed"],
                good_answers=row["good_answers"],
                good_passed=row["good_passed"],
            )
        )
    return rates
