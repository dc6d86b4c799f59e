"""The labeler's held-lease lookup (labeler home, next task) stays an index
lookup under a prepared statement's generic plan, which PostgreSQL takes
after a few runs: with the lease status a parameter, that plan scanned the
whole lease table, its cost growing with every lease ever made."""

from __future__ import annotations

import pytest
from django.db import connection
from django.utils import timezone

from audiences.selectors import global_audience
from jobs.feed.leasing import _held_lease_sql
from tests import factories

pytestmark = pytest.mark.django_db


def generic_plan(sql: str, params: list) -> str:
    """The plan PostgreSQL keeps for ``sql`` prepared (its generic plan)."""
    for index in range(len(params)):
        sql = sql.replace("%s", f"${index + 1}", 1)
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL plan_cache_mode = force_generic_plan")
        cursor.execute(f"PREPARE held_lease AS {sql}")
        values = ", ".join(
            str(value) if isinstance(value, int) else f"'{value.isoformat() if hasattr(value, 'isoformat') else value}'"
            for value in params
        )
        cursor.execute(f"EXPLAIN EXECUTE held_lease({values})")
        plan = "\n".join(row[0] for row in cursor.fetchall())
        cursor.execute("DEALLOCATE held_lease")
    return plan


def test_the_held_lease_lookup_uses_an_index_whatever_the_leases_stored(requester, make_labeler):
    if connection.vendor != "postgresql":
        pytest.skip("prepared statements' plans are PostgreSQL's")
    job = factories.draw_job(requester, global_audience(), datapoints=5000, responses=5)
    labelers = [make_labeler(f"leaser{i}") for i in range(10)]
    with connection.cursor() as cursor:  # 50,000 leases that ended long ago, of ten labelers
        cursor.execute(
            "INSERT INTO jobs_lease (public_id, job_id, job_datapoint_id, example_id, labeler_id, status,"
            " leased_at, expires_at)"
            " SELECT 'tsk_p' || jd.id || 'x' || l.id, jd.job_id, jd.id, NULL, l.id, 'submitted',"
            " now() - interval '2 hours', now() - interval '1 hour'"
            " FROM jobs_jobdatapoint jd CROSS JOIN unnest(%s::int[]) AS l(id) WHERE jd.job_id = %s",
            [[labeler.pk for labeler in labelers], job.pk],
        )
        cursor.execute("ANALYZE jobs_lease")
    sql, params = _held_lease_sql(job=job, labeler=labelers[0], now=timezone.now())
    plan = generic_plan(sql, params)
    assert "Seq Scan on jobs_lease" not in plan, plan
