"""Job definitions and datapoints, with their items, cached per process.

Neither ever changes once created: no service changes them, the admin shows
them read-only, and assets are stored once under their hash. A deleted row's
id is never given again (PostgreSQL sequences; Django's SQLite tables are
AUTOINCREMENT). So the task feed, which shows a datapoint on every task, reads
them from here instead of joining four tables into each of its statements.

Datapoints are read in runs of ``DATAPOINT_BATCH`` consecutive ids: a job's
datapoints are created together, so their ids follow each other, and the
feed hands them out roughly in that order. One read then serves the tasks
that follow instead of one read per datapoint.

A quality check shows an example in place of a datapoint, and its answer is
graded against the example's truth: examples are read from here as well, in
runs of ``EXAMPLE_BATCH`` ids around the one asked for (an audience's
examples are mostly added together), so that a check takes about as long to
show and to answer as a job task. An example's items never change, but its
context, truth boxes and required precision may be edited in the admin: an
example is kept ``EXAMPLE_SECONDS``, so an edit reaches checks within that.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from functools import lru_cache

from cachetools import TTLCache

from audiences.models import QualificationExample

from .models import Datapoint, JobDefinition

DATAPOINT_BATCH = 64
DATAPOINTS_KEPT = 16384
EXAMPLE_BATCH = 128
EXAMPLE_SECONDS = 60
EXAMPLES_KEPT = 4096


@lru_cache(maxsize=1024)
def definition(pk: int) -> JobDefinition:
    return JobDefinition.objects.get(pk=pk)


@lru_cache(maxsize=1024)
def shows_media_context(definition_pk: int) -> bool:
    """Whether a datapoint of the definition shows a media context."""
    return Datapoint.objects.filter(definition_id=definition_pk, media_context__isnull=False).exists()


_datapoints: OrderedDict[int, Datapoint] = OrderedDict()
_lock = threading.Lock()


def datapoint(pk: int) -> Datapoint:
    """The datapoint with its items and media context loaded."""
    with _lock:
        found = _datapoints.get(pk)
        if found is not None:
            _datapoints.move_to_end(pk)
            return found
    batch = list(
        Datapoint.objects.select_related("asset", "asset_b", "media_context").filter(
            pk__gte=pk, pk__lt=pk + DATAPOINT_BATCH
        )
    )
    with _lock:
        for item in batch:
            _datapoints[item.pk] = item
            _datapoints.move_to_end(item.pk)
        while len(_datapoints) > DATAPOINTS_KEPT:
            _datapoints.popitem(last=False)
    for item in batch:
        if item.pk == pk:
            return item
    raise Datapoint.DoesNotExist(f"Datapoint {pk} does not exist.")


_examples: TTLCache = TTLCache(maxsize=EXAMPLES_KEPT, ttl=EXAMPLE_SECONDS)
_examples_lock = threading.Lock()


def example(pk: int) -> QualificationExample:
    """The example with its items, truth item and truth boxes loaded."""
    with _examples_lock:
        found = _examples.get(pk)
    if found is not None:
        return found
    batch = list(
        QualificationExample.objects.select_related("asset", "asset_b", "truth_asset")
        .prefetch_related("truth_boxes")
        .filter(pk__gte=pk - EXAMPLE_BATCH // 2, pk__lt=pk + EXAMPLE_BATCH // 2)
    )
    with _examples_lock:
        for item in batch:
            _examples[item.pk] = item
    for item in batch:
        if item.pk == pk:
            return item
    raise QualificationExample.DoesNotExist(f"Example {pk} does not exist.")


def clear() -> None:
    """Forget everything (tests whose rolled-back rows may share ids)."""
    definition.cache_clear()
    shows_media_context.cache_clear()
    with _lock:
        _datapoints.clear()
    with _examples_lock:
        _examples.clear()
