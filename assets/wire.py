"""Wire formats shared by the API, the services and the client's mirror.

Every rule about the shape of a Box, a draw response, a compare response or a
datapoint item lives here, once. Each parser returns a normalized value or
raises ``django.core.exceptions.ValidationError`` with a message that names
the field and says what is wrong.

Box
    ``{"x_min": .., "y_min": .., "x_max": .., "y_max": ..}``, ratios of the
    image in 0..1 with min < max.
Draw response
    ``{"lines": [{"size": s, "points": [{"x": x, "y": y}, ...]}, ...]}``; x and
    y are ratios of the image (0..1), ``size`` is the brush diameter as a
    ratio of the image width (``MIN_BRUSH``..``MAX_BRUSH``). At most
    ``MAX_LINES`` lines, ``MAX_POINTS_PER_LINE`` points per line and
    ``MAX_TOTAL_POINTS`` points in all. An empty ``lines`` list is the
    explicit answer "nothing to color".
Compare response
    ``{"choice": <one of the datapoint's two items, exactly>}``.
Item
    A string: ``http(s)://...`` is a URL asset (stored, never fetched by the
    server); any other ``scheme://`` is refused; everything else is a text
    item. Or ``{"asset_id": "ast_..."}``, an image uploaded before.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError

MAX_LINES = 200
MAX_POINTS_PER_LINE = 5000
MAX_TOTAL_POINTS = 20000
MIN_BRUSH = 0.002
MAX_BRUSH = 0.25
MAX_BOXES = 50

MAX_INSTRUCTION_LENGTH = 250
MAX_NAME_LENGTH = 200
MAX_CONTEXT_LENGTH = 2000
MAX_TEXT_ITEM_LENGTH = 5000
MAX_URL_LENGTH = 2048
MAX_EXPLANATION_LENGTH = 2000

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*)://")


def _number(value: Any, where: str) -> float:
    """A finite JSON number (bool is not a number)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValidationError(f"{where} must be a number, got {type(value).__name__}.")
    number = float(value)
    if not math.isfinite(number):
        raise ValidationError(f"{where} must be a finite number.")
    return number


def _ratio(value: Any, where: str) -> float:
    number = _number(value, where)
    if not 0.0 <= number <= 1.0:
        raise ValidationError(f"{where} must be between 0 and 1, got {number}.")
    return number


def _exact_keys(obj: Any, keys: set[str], where: str) -> dict:
    if not isinstance(obj, dict):
        raise ValidationError(f"{where} must be an object.")
    missing = sorted(keys - obj.keys())
    if missing:
        raise ValidationError(f"{where} is missing {', '.join(missing)}.")
    extra = sorted(set(obj) - keys)
    if extra:
        raise ValidationError(f"{where} has unknown field(s) {', '.join(map(str, extra))}.")
    return obj


# --- Box ----------------------------------------------------------------------


@dataclass(frozen=True)
class Box:
    x_min: float
    y_min: float
    x_max: float
    y_max: float

    def as_dict(self) -> dict[str, float]:
        return {"x_min": self.x_min, "y_min": self.y_min, "x_max": self.x_max, "y_max": self.y_max}


def parse_box(value: Any, where: str = "box") -> Box:
    obj = _exact_keys(value, {"x_min", "y_min", "x_max", "y_max"}, where)
    box = Box(**{key: _ratio(obj[key], f"{where}.{key}") for key in ("x_min", "y_min", "x_max", "y_max")})
    if not box.x_min < box.x_max:
        raise ValidationError(f"{where}: x_min must be less than x_max.")
    if not box.y_min < box.y_max:
        raise ValidationError(f"{where}: y_min must be less than y_max.")
    return box


def parse_boxes(value: Any, where: str = "truths") -> list[Box]:
    if not isinstance(value, list):
        raise ValidationError(f"{where} must be a list of boxes.")
    if not value:
        raise ValidationError(f"{where} needs at least one box.")
    if len(value) > MAX_BOXES:
        raise ValidationError(f"{where} has {len(value)} boxes; at most {MAX_BOXES} are allowed.")
    return [parse_box(item, f"{where}[{index}]") for index, item in enumerate(value)]


# --- Draw response -----------------------------------------------------------------


def parse_draw_response(value: Any) -> dict:
    """Validate a draw response; return it normalized (floats, no extra keys)."""
    obj = _exact_keys(value, {"lines"}, "response")
    lines = obj["lines"]
    if not isinstance(lines, list):
        raise ValidationError("response.lines must be a list.")
    if len(lines) > MAX_LINES:
        raise ValidationError(f"response.lines has {len(lines)} lines; at most {MAX_LINES} are allowed.")
    total = 0
    normalized = []
    for line_index, line in enumerate(lines):
        where = f"response.lines[{line_index}]"
        line = _exact_keys(line, {"size", "points"}, where)
        size = _number(line["size"], f"{where}.size")
        if not MIN_BRUSH <= size <= MAX_BRUSH:
            raise ValidationError(
                f"{where}.size must be between {MIN_BRUSH} and {MAX_BRUSH} (a ratio of the image width), got {size}."
            )
        points = line["points"]
        if not isinstance(points, list) or not points:
            raise ValidationError(f"{where}.points must be a non-empty list.")
        if len(points) > MAX_POINTS_PER_LINE:
            raise ValidationError(
                f"{where}.points has {len(points)} points; at most {MAX_POINTS_PER_LINE} are allowed."
            )
        total += len(points)
        if total > MAX_TOTAL_POINTS:
            raise ValidationError(f"response has more than {MAX_TOTAL_POINTS} points in all.")
        clean_points = []
        for point_index, point in enumerate(points):
            pwhere = f"{where}.points[{point_index}]"
            point = _exact_keys(point, {"x", "y"}, pwhere)
            clean_points.append({"x": _ratio(point["x"], f"{pwhere}.x"), "y": _ratio(point["y"], f"{pwhere}.y")})
        normalized.append({"size": size, "points": clean_points})
    return {"lines": normalized}


# --- Compare response ----------------------------------------------------------------


def parse_compare_response(value: Any, items: list[str]) -> dict:
    """Validate a compare response against the datapoint's two item values."""
    obj = _exact_keys(value, {"choice"}, "response")
    choice = obj["choice"]
    if not isinstance(choice, str):
        raise ValidationError("response.choice must be a string, one of the two items.")
    if choice not in items:
        raise ValidationError("response.choice must be exactly one of the two items shown.")
    return {"choice": choice}


# --- Items -----------------------------------------------------------------------


@dataclass(frozen=True)
class ItemSpec:
    """A datapoint item as a requester gives it, before it becomes an Asset."""

    kind: str  # "url" | "text" | "asset"
    value: str  # the URL, the text, or the uploaded asset's public id


def parse_item(value: Any, where: str = "datapoint") -> ItemSpec:
    if isinstance(value, dict):
        obj = _exact_keys(value, {"asset_id"}, where)
        asset = obj["asset_id"]
        if not isinstance(asset, str) or not asset:
            raise ValidationError(f"{where}.asset_id must be the id of an uploaded asset.")
        return ItemSpec("asset", asset)
    if not isinstance(value, str):
        raise ValidationError(
            f'{where} must be a URL, a text string or {{"asset_id": ...}}, got {type(value).__name__}.'
        )
    if not value.strip():
        raise ValidationError(f"{where} must not be empty.")
    match = _SCHEME.match(value)
    if match:
        scheme = match.group(1).lower()
        if scheme not in ("http", "https"):
            raise ValidationError(f"{where}: URL scheme {scheme!r} is not allowed; use http or https.")
        if len(value) > MAX_URL_LENGTH:
            raise ValidationError(f"{where}: URL is longer than {MAX_URL_LENGTH} characters.")
        if any(ch.isspace() for ch in value) or not _url_has_host(value):
            raise ValidationError(f"{where}: {value[:80]!r} is not a valid URL.")
        return ItemSpec("url", value)
    if len(value) > MAX_TEXT_ITEM_LENGTH:
        raise ValidationError(f"{where}: text is longer than {MAX_TEXT_ITEM_LENGTH} characters.")
    if "\x00" in value:
        raise ValidationError(f"{where}: text must not contain NUL characters.")
    return ItemSpec("text", value)


def _url_has_host(url: str) -> bool:
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        return bool(parts.hostname)
    except ValueError:
        return False


def check_text(value: Any, where: str, *, max_length: int, required: bool) -> str:
    """A plain text field: a string within its length; ``required`` means non-blank."""
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise ValidationError(f"{where} must be a string.")
    if required and not value.strip():
        raise ValidationError(f"{where} must not be empty.")
    if len(value) > max_length:
        raise ValidationError(f"{where} must be at most {max_length} characters (got {len(value)}).")
    if "\x00" in value:
        raise ValidationError(f"{where} must not contain NUL characters.")
    return value
