"""Concurrent labelers never get more responses than asked for, on
PostgreSQL (row locks) and on SQLite (one writer)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.race import race
from tests.stack import ROOT, django_env


@pytest.mark.django_db(transaction=True)
def test_racing_labelers_on_postgres():
    result = race(labelers=12, datapoints=4, responses=3)
    assert result["vendor"] == "postgresql"
    assert result["errors"] == []
    assert result["per_datapoint"] == [3, 3, 3, 3]
    assert result["duplicates"] == 0
    assert result["job_state"] == "completed"


def test_racing_labelers_on_sqlite(tmp_path):
    env = django_env(None, SQLITE_PATH=str(tmp_path / "race.sqlite3"), MEDIA_ROOT=str(tmp_path / "media"))
    migrate = subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env,
                             capture_output=True, text=True, timeout=120)
    assert migrate.returncode == 0, migrate.stderr
    run = subprocess.run([sys.executable, "-m", "tests.race", "8", "4", "3"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["vendor"] == "sqlite"
    assert result["errors"] == []
    assert result["per_datapoint"] == [3, 3, 3, 3]
    assert result["duplicates"] == 0
    assert result["job_state"] == "completed"
