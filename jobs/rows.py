"""Rows read and written by hand-written SQL, as the ORM would.

The task feed's statements run on every task a labeler takes and answers;
building them with the ORM cost more than running them (see
``jobs.feed``). These helpers keep that SQL honest on both databases:
values go in as Django would send them and come back as Django would
return them, and models built from a partial row load any other field on
first access, as ``QuerySet.only`` does, instead of holding a default.
"""

from __future__ import annotations

import datetime as dt
import logging
from functools import lru_cache
from typing import Any, TypeVar

from django.db import connection, transaction
from django.db.models import Model
from django.db.models.base import DEFERRED

M = TypeVar("M", bound=Model)

logger = logging.getLogger("crowdcanvas.db")


def instance(model: type[M], **values: Any) -> M:
    """A ``model`` loaded from the database with ``values`` (attribute
    names, e.g. ``job_id``); fields not given are deferred."""
    new = model(*[values.get(field.attname, DEFERRED) for field in model._meta.concrete_fields])
    new._state.adding = False
    new._state.db = connection.alias
    return new


def to_db(model: type[Model], name: str, value: Any) -> Any:
    """``value`` of ``model``'s field ``name`` as a statement parameter."""
    return model._meta.get_field(name).get_db_prep_save(value, connection)


def datetime_param(value: dt.datetime) -> Any:
    """A datetime as the database compares it with stored ones (SQLite keeps
    them as text)."""
    return connection.ops.adapt_datetimefield_value(value)


def value(model: type[Model], name: str, raw: Any) -> Any:
    """A value of ``model``'s field ``name`` as a cursor read it, converted
    as the ORM converts it (SQLite's datetimes and booleans, for one)."""
    if raw is None:
        return None
    field, converters = _converters(model, name)
    for converter in converters:
        raw = converter(raw, field, connection)
    return raw


@lru_cache(maxsize=256)
def _converters(model: type[Model], name: str) -> tuple[Any, tuple]:
    column = model._meta.get_field(name).get_col(model._meta.db_table)
    return column, (*connection.ops.get_db_converters(column), *column.field.get_db_converters(connection))


def write_together(statements: list[tuple[str, list]]) -> None:
    """Run INSERT/UPDATE ``statements`` that touch different rows as one
    round trip on PostgreSQL (data-modifying ``WITH`` queries: one snapshot,
    every part runs), one after another elsewhere."""
    with connection.cursor() as cursor:
        if connection.vendor != "postgresql" or len(statements) == 1:
            for sql, params in statements:
                cursor.execute(sql, params)
            return
        *first, (last_sql, last_params) = statements
        parts = ", ".join(f"w{index} AS ({sql})" for index, (sql, _) in enumerate(first))
        cursor.execute(f"WITH {parts} {last_sql}", [p for _, params in statements for p in params])


# A bulk insert this large a share of what the table's statistics knew makes
# them stale; autovacuum's default threshold for re-sampling is the same.
ANALYZE_SHARE = 0.1


def analyze_after_bulk_insert(model: type[Model], *, added: int) -> None:
    """After ``added`` rows went into ``model``'s table in one go: have
    PostgreSQL re-sample the table (``ANALYZE``) once the transaction
    commits, when they are at least ``ANALYZE_SHARE`` of the rows its
    statistics knew (or it was never sampled).

    Autovacuum would do the same, but up to a minute later, and until then
    the planner takes a new job's rows for a handful: the task feed's
    open-slot search (``jobs.feed.room``) then visits every open datapoint of
    the job and sorts them, instead of walking its index to the first one
    with room. ``ANALYZE`` reads a fixed-size sample, so its cost does not
    grow with the table."""
    if connection.vendor != "postgresql" or added <= 0:
        return
    table = model._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples FROM pg_class WHERE oid = %s::regclass", [table])
        known = cursor.fetchone()[0]
    if known >= 0 and added < ANALYZE_SHARE * known:  # -1: never sampled
        return

    def analyze() -> None:
        try:
            with connection.cursor() as cursor:
                cursor.execute(f"ANALYZE {connection.ops.quote_name(table)}")
        except Exception:  # statistics are an optimisation: autovacuum catches up
            logger.warning("could not analyze %s", table, exc_info=True)

    transaction.on_commit(analyze)
