"""Helpers to turn domain validation failures into per-field errors."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.core.exceptions import ValidationError


@contextmanager
def field(name: str) -> Iterator[None]:
    """Re-raise a plain ``ValidationError`` raised inside as ``{name: [messages]}``."""
    try:
        yield
    except ValidationError as exc:
        if hasattr(exc, "error_dict"):
            raise
        raise ValidationError({name: exc.messages}) from exc


def ratio(
    value, name: str, *, low: float = 0.0, high: float = 1.0, low_open: bool = False, high_open: bool = False
) -> float:
    """A finite number within [low, high] (ends open when asked)."""
    import math

    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValidationError({name: [f"must be a number, got {type(value).__name__}."]})
    number = float(value)
    if not math.isfinite(number):
        raise ValidationError({name: ["must be a finite number."]})
    too_low = number <= low if low_open else number < low
    too_high = number >= high if high_open else number > high
    if too_low or too_high:
        left = "(" if low_open else "["
        right = ")" if high_open else "]"
        raise ValidationError({name: [f"must be in {left}{low:g}, {high:g}{right}, got {number:g}."]})
    return number


def integer(value, name: str, *, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError({name: [f"must be an integer, got {type(value).__name__}."]})
    if not low <= value <= high:
        raise ValidationError({name: [f"must be between {low} and {high}, got {value}."]})
    return value
