"""The JSON parser of every API view (``DEFAULT_PARSER_CLASSES``).

Kept apart from the views: DRF imports parsers while ``rest_framework.views``
is being imported.
"""

from __future__ import annotations

import codecs
import json
import math
from typing import Any

from rest_framework import exceptions, parsers

MAX_JSON_INTEGER = 2**63 - 1


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON; numbers must be finite.")


def _finite_float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(f"number {text[:40]} is out of range.")
    return number


def _bounded_int(text: str) -> int:
    number = int(text)
    if abs(number) > MAX_JSON_INTEGER:
        raise ValueError(f"integer {text[:40]}... is out of range.")
    return number


def json_loads(text: str | bytes) -> Any:
    """Parse JSON strictly: ``NaN``/``Infinity``, numbers that overflow a
    double (``1e999``) or a 64-bit integer, and nesting too deep for the
    parser are ``ValueError``s, never a crash further on."""
    try:
        return json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float, parse_int=_bounded_int)
    except RecursionError:
        raise ValueError("JSON is nested too deeply.") from None


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser with :func:`json_loads`' strictness: every bad body
    is a 400 ``{"detail": "JSON parse error - ..."}``."""

    def parse(self, stream, media_type=None, parser_context=None):
        encoding = parsers.get_encoding(parser_context or {})
        try:
            text = codecs.getreader(encoding)(stream).read()
            return json_loads(text)
        except ValueError as exc:  # includes UnicodeDecodeError
            raise exceptions.ParseError(f"JSON parse error - {exc}") from None
