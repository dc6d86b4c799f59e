"""Job definitions and datapoints, with their items, cached per process.

Neither ever changes once created: no service changes them, the admin shows
them read-only, and assets are stored once under their hash. A deleted row's
id is never given again (PostgreSQL sequences; Django's SQLite tables are
AUTOINCREMENT). So the task feed, which shows a datapoint on every task, reads
them from here instead of joining four tables into each of its statements.
"""

from __future__ import annotations

from functools import lru_cache

from .models import Datapoint, JobDefinition


@lru_cache(maxsize=1024)
def definition(pk: int) -> JobDefinition:
    return JobDefinition.objects.get(pk=pk)


@lru_cache(maxsize=16384)
def datapoint(pk: int) -> Datapoint:
    """The datapoint with its items and media context loaded."""
    return Datapoint.objects.select_related("asset", "asset_b", "media_context").get(pk=pk)


def clear() -> None:
    """Forget everything (tests whose rolled-back rows may share ids)."""
    definition.cache_clear()
    datapoint.cache_clear()
