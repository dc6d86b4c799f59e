"""Shared fixtures: accounts, images, and real service processes."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from PIL import Image

from tests import stack

ARTIFACTS = Path(os.environ.get("CROWDCANVAS_ARTIFACTS", stack.ROOT / "test-artifacts"))


@pytest.fixture(autouse=True)
def fresh_caches():
    """Rate limits count in Django's cache (``core.throttles``), and
    definitions and datapoints are cached per process (``jobs.content_cache``):
    every test starts with nothing counted or cached, whatever the tests
    before it did."""
    from django.core.cache import cache

    from jobs import content_cache

    cache.clear()
    content_cache.clear()
    yield


# --- accounts ---------------------------------------------------------------------


@pytest.fixture
def make_requester(db):
    from labeling.services import requester_create

    def make(username: str = "requester", password: str = "correct-horse-battery-42"):
        user, token = requester_create(username=username, password=password)
        user.api_token = token
        user.raw_password = password
        return user

    return make


@pytest.fixture
def requester(make_requester):
    return make_requester("alice")


@pytest.fixture
def other_requester(make_requester):
    return make_requester("bob")


@pytest.fixture
def make_labeler(db):
    from labeling.services import labeler_create

    def make(username: str = "labeler", password: str = "correct-horse-battery-42"):
        user = labeler_create(username=username, password=password)
        user.raw_password = password
        return user

    return make


@pytest.fixture
def labeler(make_labeler):
    return make_labeler("lara")


@pytest.fixture
def operator(db):
    from django.contrib.auth import get_user_model

    return get_user_model().objects.create_superuser("operator", "op@example.com", "correct-horse-battery-42")


# --- images ---------------------------------------------------------------------------


def image_bytes(width: int = 64, height: int = 48, fmt: str = "PNG", color=(40, 90, 200)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buffer, fmt)
    return buffer.getvalue()


@pytest.fixture
def png_bytes() -> bytes:
    return image_bytes()


# --- real services ------------------------------------------------------------------------


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def redis_server():
    server = stack.RedisServer().start()
    yield server
    server.close()


@pytest.fixture
def test_database_url(transactional_db) -> str:
    """URL of the test database, for server and worker processes (the test
    must use ``transactional_db`` so they see its rows)."""
    from django.db import connection

    settings = connection.settings_dict
    if settings["ENGINE"].endswith("sqlite3"):
        pytest.skip("processes sharing the database need PostgreSQL")
    user = settings.get("USER") or ""
    password = f":{settings['PASSWORD']}" if settings.get("PASSWORD") else ""
    auth = f"{user}{password}@" if user else ""
    return f"postgres://{auth}{settings['HOST']}:{settings['PORT']}/{settings['NAME']}"


@pytest.fixture
def media_root(settings) -> Path:
    return Path(settings.MEDIA_ROOT)
