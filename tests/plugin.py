"""Starts the test suite's PostgreSQL server before Django is configured.

Registered with ``-p tests.plugin`` (pytest.ini). Its hook wraps
pytest-django's set-up, so ``DATABASE_URL`` points at a fresh PostgreSQL
cluster on a free port by the time Django reads its settings. Set
``DATABASE_URL`` yourself to use an existing server, or
``CROWDCANVAS_TEST_DB=sqlite`` to run on the embedded SQLite default.
"""

from __future__ import annotations

import os
import shutil
import tempfile

import pytest

from tests.stack import PostgresServer

_server: PostgresServer | None = None
_var_dir: str | None = None  # made here, so removed here at the end


@pytest.hookimpl(wrapper=True)
def pytest_load_initial_conftests(early_config, parser, args):
    global _server, _var_dir
    os.environ.setdefault("DEBUG", "0")  # the suite tests the app as deployed, not its debug mode
    os.environ.setdefault("SECRET_KEY", "test-secret-key-for-crowdcanvas")
    os.environ.setdefault("INSECURE_FAST_PASSWORD_HASHER", "1")
    # Threads (websocket consumers, races) must not keep connections to the test database open.
    os.environ.setdefault("DB_CONN_MAX_AGE", "0")
    os.environ.setdefault("DB_POOL", "0")  # the test database is dropped at the end: no idle pooled connections
    os.environ.setdefault("ALLOWED_HOSTS", "localhost,127.0.0.1,testserver")
    if not os.environ.get("CROWDCANVAS_VAR_DIR"):
        _var_dir = tempfile.mkdtemp(prefix="crowdcanvas-test-var-")
        os.environ["CROWDCANVAS_VAR_DIR"] = _var_dir
    os.environ.setdefault("MEDIA_ROOT", os.path.join(os.environ["CROWDCANVAS_VAR_DIR"], "media"))
    os.makedirs(os.path.join(os.environ["CROWDCANVAS_VAR_DIR"], "static"), exist_ok=True)
    os.environ.pop("REDIS_URL", None)  # tests that need Redis start their own
    wants_sqlite = os.environ.get("CROWDCANVAS_TEST_DB", "").lower() == "sqlite"
    if wants_sqlite:
        os.environ.pop("DATABASE_URL", None)
    elif not os.environ.get("DATABASE_URL") and not early_config.getoption("help", False):
        _server = PostgresServer().start()
        os.environ["DATABASE_URL"] = _server.url()
    return (yield)


def pytest_unconfigure(config):
    global _server, _var_dir
    if _server is not None:
        _server.stop()
        _server = None
    if _var_dir is not None:
        shutil.rmtree(_var_dir, ignore_errors=True)
        _var_dir = None
