"""The project is consistent: system checks pass and no migration is missing."""

import subprocess
import sys

from tests.stack import ROOT, django_env


def run_manage(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=django_env(None, DEBUG="1"),
                          capture_output=True, text=True, timeout=120)


def test_manage_check_is_clean():
    result = run_manage("check", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_no_missing_migrations():
    result = run_manage("makemigrations", "--check", "--dry-run")
    assert result.returncode == 0, result.stdout + result.stderr
