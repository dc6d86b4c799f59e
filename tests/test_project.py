"""The project is consistent: system checks pass and no migration is missing."""

import subprocess
import sys

from tests.stack import ROOT, django_env


def run_manage(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=django_env(None, DEBUG="1"),
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_manage_check_is_clean():
    result = run_manage("check", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_no_missing_migrations():
    result = run_manage("makemigrations", "--check", "--dry-run")
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_asgi_application_keeps_its_startup_objects_out_of_garbage_collection():
    code = "import gc, config.asgi; print(gc.get_freeze_count())"
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=django_env(None, DEBUG="1"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert int(result.stdout.strip()) > 50_000  # Django, the apps and their libraries


def test_a_page_lease_too_short_to_renew_is_refused_at_startup():
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=django_env(None, DEBUG="1", PAGE_LEASE_SECONDS="2"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0 and "PAGE_LEASE_SECONDS must be at least 3" in result.stderr
