"""Boxes: the regions of an image a correct draw answer colors in."""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

_FIELDS = ("x_min", "y_min", "x_max", "y_max")


def _coordinate(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"Box.{name} must be a number, got {type(value).__name__}.")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"Box.{name} must be a finite number, got {number}.")
    if not 0.0 <= number <= 1.0:
        raise ValueError(f"Box.{name} must be between 0 and 1 (a ratio of the image), got {number}.")
    return number


@dataclass(frozen=True)
class Box:
    """A rectangle as ratios of the image: 0..1 from the left (x) and from the
    top (y), with ``x_min < x_max`` and ``y_min < y_max``.

    >>> Box(x_min=0.44, y_min=0.42, x_max=0.58, y_max=0.63)

    Raises ``ValueError`` for a coordinate that is not a finite number in
    0..1, or for an empty box.
    """

    x_min: float
    y_min: float
    x_max: float
    y_max: float

    def __post_init__(self) -> None:
        for name in _FIELDS:
            object.__setattr__(self, name, _coordinate(getattr(self, name), name))
        if not self.x_min < self.x_max:
            raise ValueError(f"Box: x_min ({self.x_min}) must be less than x_max ({self.x_max}).")
        if not self.y_min < self.y_max:
            raise ValueError(f"Box: y_min ({self.y_min}) must be less than y_max ({self.y_max}).")

    @classmethod
    def from_dict(cls, value: Mapping[str, Any]) -> Box:
        """A Box from ``{"x_min", "y_min", "x_max", "y_max"}`` (exactly those keys)."""
        if not isinstance(value, Mapping):
            raise ValueError(f"a box must be a Box or a mapping, got {type(value).__name__}.")
        missing = [key for key in _FIELDS if key not in value]
        extra = sorted(str(key) for key in value if key not in _FIELDS)
        if missing or extra:
            problems = ([f"missing {', '.join(missing)}"] if missing else []) + (
                [f"unknown {', '.join(extra)}"] if extra else []
            )
            raise ValueError(f"a box needs exactly x_min, y_min, x_max, y_max ({'; '.join(problems)}).")
        return cls(**{key: value[key] for key in _FIELDS})

    def to_dict(self) -> dict[str, float]:
        """The wire format: ``{"x_min": .., "y_min": .., "x_max": .., "y_max": ..}``."""
        return {name: getattr(self, name) for name in _FIELDS}
