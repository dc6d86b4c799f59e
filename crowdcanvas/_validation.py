"""Client-side checks, mirroring the server's (``assets/wire.py`` and the
services), so bad input is a ``ValueError`` before any request."""

from __future__ import annotations

import math
import numbers
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from . import _limits
from .box import Box

# Same pattern as assets/wire.py: a string starting with scheme:// is a URL.
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*)://")
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".gif")


def check_text(value: Any, where: str, *, max_length: int, required: bool) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise ValueError(f"{where} must be a string, got {type(value).__name__}.")
    if required and not value.strip():
        raise ValueError(f"{where} must not be empty.")
    if len(value) > max_length:
        raise ValueError(f"{where} must be at most {max_length} characters (got {len(value)}).")
    if "\x00" in value:
        raise ValueError(f"{where} must not contain NUL characters.")
    return value


def check_ratio(
    value: Any, where: str, *, low: float = 0.0, high: float = 1.0, low_open: bool = False, high_open: bool = False
) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{where} must be a number, got {type(value).__name__}.")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{where} must be a finite number.")
    too_low = number <= low if low_open else number < low
    too_high = number >= high if high_open else number > high
    if too_low or too_high:
        left, right = ("(" if low_open else "["), (")" if high_open else "]")
        raise ValueError(f"{where} must be in {left}{low:g}, {high:g}{right}, got {number:g}.")
    return number


def check_int(value: Any, where: str, *, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{where} must be an integer, got {type(value).__name__}.")
    if not low <= value <= high:
        raise ValueError(f"{where} must be between {low} and {high}, got {value}.")
    return int(value)


URL_ASSETS = ("fetch", "link")


def check_url_assets(value: Any) -> str:
    """How URL items are sent: ``"fetch"`` (the server fetches and stores
    them) or ``"link"`` (labelers' browsers load them)."""
    if value not in URL_ASSETS:
        raise ValueError(f"url_assets must be 'fetch' or 'link', got {value!r}.")
    return value


def fetch_url_items(http: Any, items: Sequence[Item], url_assets: str) -> dict[str, str] | None:
    """With ``"fetch"``, the server's asset id of each URL item (``None``
    with ``"link"``, or when there is no URL): called once every item is
    checked, so bad input sends nothing."""
    urls = [item.value for item in items if item.kind == "url"]
    if url_assets != "fetch" or not urls:
        return None
    return http.fetch_urls(urls)


def check_list(value: Any, where: str) -> list:
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Sequence):
        raise ValueError(f"{where} must be a list, got {type(value).__name__}.")
    return list(value)


# --- items ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Item:
    """A datapoint item before it is sent: ``url``, ``text``, ``file`` (a
    local path, uploaded first) or ``asset`` (already uploaded)."""

    kind: str
    value: str


@dataclass(frozen=True)
class File(os.PathLike):
    """A local image file to upload, said explicitly: ``File("cat.png")`` is
    the same as ``pathlib.Path("cat.png")``."""

    path: str | os.PathLike

    def __fspath__(self) -> str:
        return os.fspath(self.path)


@dataclass(frozen=True)
class Text:
    """A text item of a compare datapoint, said explicitly: ``Text("cat.png")``
    is the text "cat.png", whatever files exist."""

    value: str


def _url_has_host(url: str) -> bool:
    try:
        return bool(urlsplit(url).hostname)
    except ValueError:
        return False


def _looks_like_an_image_path(value: str) -> bool:
    return value.lower().endswith(IMAGE_EXTENSIONS) and not any(ch.isspace() for ch in value)


def _text_item(value: str, where: str) -> Item:
    if len(value) > _limits.MAX_TEXT_ITEM_LENGTH:
        raise ValueError(f"{where}: text is longer than {_limits.MAX_TEXT_ITEM_LENGTH} characters.")
    if "\x00" in value:
        raise ValueError(f"{where}: text must not contain NUL characters.")
    return Item("text", value)


def plan_item(value: Any, where: str, *, allow_text: bool) -> Item:
    """Classify one item as the server will, checking it on the way.

    - a ``pathlib.Path`` (any ``os.PathLike``) or :class:`File`: a local image
      to upload;
    - :class:`Text`: a text item (compare only);
    - ``{"asset_id": ...}``: an image uploaded before;
    - a plain string with ``scheme://``: a URL (http or https only);
    - any other plain string: for a draw item (an image, never text) a local
      file path; for a compare item, text, even if a file of that name exists.
      A plain compare string that looks like an image path (``cat.png``) is
      ambiguous and refused: say ``File(...)`` or ``Text(...)``.
    """
    if isinstance(value, Mapping):
        if set(value) != {"asset_id"} or not isinstance(value["asset_id"], str) or not value["asset_id"]:
            raise ValueError(f'{where} must be a URL, a file path, a text string or {{"asset_id": "..."}}.')
        return Item("asset", value["asset_id"])
    if isinstance(value, os.PathLike):
        path = Path(value)
        if not path.is_file():
            raise ValueError(f"{where}: no such file: {str(path)!r}.")
        return Item("file", str(path))
    if isinstance(value, Text):
        if not allow_text:
            raise ValueError(f"{where} must be an image (a URL or a file), not text: {value.value[:80]!r}.")
        if not isinstance(value.value, str) or not value.value.strip():
            raise ValueError(f"{where}: Text(...) takes a non-empty string.")
        return _text_item(value.value, where)
    if not isinstance(value, str):
        raise ValueError(f"{where} must be a URL, a file path or a text string, got {type(value).__name__}.")
    if not value.strip():
        raise ValueError(f"{where} must not be empty.")
    match = _SCHEME.match(value)
    if match:
        scheme = match.group(1).lower()
        if scheme not in ("http", "https"):
            raise ValueError(
                f"{where}: URL scheme {scheme!r} is not allowed; use http or https (or give a local file path)."
            )
        if len(value) > _limits.MAX_URL_LENGTH:
            raise ValueError(f"{where}: URL is longer than {_limits.MAX_URL_LENGTH} characters.")
        if any(ch.isspace() for ch in value) or not _url_has_host(value):
            raise ValueError(f"{where}: {value[:80]!r} is not a valid URL.")
        return Item("url", value)
    if not allow_text:  # a draw item is an image: a plain string is a path
        if "\x00" not in value and len(value) < 4096 and os.path.isfile(value):
            return Item("file", value)
        if _looks_like_an_image_path(value):
            raise ValueError(f"{where}: no such file: {value!r}.")
        raise ValueError(f"{where} must be an image (a URL or an existing file path), not text: {value[:80]!r}.")
    if _looks_like_an_image_path(value):
        exists = "\x00" not in value and len(value) < 4096 and os.path.isfile(value)
        raise ValueError(
            f"{where}: {value[:80]!r} could be a text item or a local image"
            f"{'' if exists else ' (no such file)'}; say which: crowdcanvas.File({value[:80]!r}) (or a "
            f"pathlib.Path) uploads the file, crowdcanvas.Text({value[:80]!r}) sends the text."
        )
    return _text_item(value, where)


def _same(first: Item, second: Item) -> bool:
    if first.kind == second.kind == "file":
        return os.path.realpath(first.value) == os.path.realpath(second.value)
    return first == second


def plan_pair(value: Any, where: str) -> tuple[Item, Item]:
    """A compare datapoint: exactly two distinct items."""
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Sequence) or len(value) != 2:
        raise ValueError(f"{where} must be a list of exactly 2 items.")
    first = plan_item(value[0], f"{where}[0]", allow_text=True)
    second = plan_item(value[1], f"{where}[1]", allow_text=True)
    if _same(first, second):
        raise ValueError(f"{where} has the same item twice; the two items must differ.")
    return first, second


def plan_image(value: Any, where: str) -> Item:
    """A draw datapoint: one image (a list of exactly one is accepted too)."""
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        if len(value) != 1:
            raise ValueError(f"{where}: a draw datapoint is exactly one image.")
        value = value[0]
    return plan_item(value, where, allow_text=False)


def plan_boxes(value: Any, where: str) -> list[Box]:
    """1 to ``MAX_BOXES`` boxes, each a :class:`Box` or a mapping with its four keys."""
    if isinstance(value, (Box, Mapping)):
        raise ValueError(f"{where} must be a list of boxes (wrap a single box in a list).")
    boxes = check_list(value, where)
    if not boxes:
        raise ValueError(f"{where} needs at least one box.")
    if len(boxes) > _limits.MAX_BOXES:
        raise ValueError(f"{where} has {len(boxes)} boxes; at most {_limits.MAX_BOXES} are allowed.")
    checked = []
    for index, box in enumerate(boxes):
        try:
            checked.append(box if isinstance(box, Box) else Box.from_dict(box))
        except ValueError as exc:
            raise ValueError(f"{where}[{index}]: {exc}") from None
    return checked


def check_contexts(contexts: Any, count: int, where: str = "contexts") -> list[str]:
    if contexts is None:
        return [""] * count
    values = check_list(contexts, where)
    if len(values) != count:
        raise ValueError(f"{where} has {len(values)} entries but there are {count} datapoints.")
    return [
        check_text(value, f"{where}[{index}]", max_length=_limits.MAX_CONTEXT_LENGTH, required=False)
        for index, value in enumerate(values)
    ]


def check_datapoint_count(datapoints: Any, where: str = "datapoints") -> list:
    values = check_list(datapoints, where)
    if not values:
        raise ValueError(f"{where} must not be empty.")
    if len(values) > _limits.MAX_DATAPOINTS:
        raise ValueError(f"{where}: at most {_limits.MAX_DATAPOINTS} datapoints per definition.")
    return values


def path_id(public_id: Any, what: str = "id") -> str:
    """An object id as one URL path segment."""
    from urllib.parse import quote

    if not isinstance(public_id, str) or not public_id.strip():
        raise ValueError(f"{what} must be a non-empty string.")
    return quote(public_id, safe="")


def check_paging(amount: Any, page: Any) -> tuple[int, int]:
    return (
        check_int(amount, "amount", low=1, high=_limits.MAX_PAGE_SIZE),
        check_int(page, "page", low=1, high=1_000_000),
    )
