"""The lock clause of hand-written SQL, for every app's row locks."""

from __future__ import annotations

from django.db import connection


def for_update_clause(alias: str, *, skip_locked: bool = False) -> str:
    """The ``FOR NO KEY UPDATE`` clause for hand-written SQL (none on
    SQLite); statements that lock job datapoints take it from here."""
    if not connection.features.has_select_for_update:
        return ""
    return " FOR NO KEY UPDATE" + (f" OF {alias}" if alias else "") + (" SKIP LOCKED" if skip_locked else "")
