"""Waiting in tests for something to happen, with a deadline."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def wait_until(
    predicate: Callable[[], Any],
    timeout: float = 10.0,
    what: str = "the condition",
    log: Callable[[], str] = lambda: "",
    interval: float = 0.05,
) -> Any:
    """``predicate()`` once it is truthy, asked every ``interval`` seconds;
    an ``AssertionError`` naming ``what`` (and the end of ``log()``) after
    ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"{what} not seen in {timeout:g}s\n{log()[-3000:]}")
