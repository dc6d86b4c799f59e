"""Browser tests: headless Debian Chromium (Playwright, one browser per
session) against the real ASGI app under uvicorn, sharing the test database.

Tests mark themselves ``browser`` and take ``transactional_db`` (through
``server``) so the server process sees the rows they commit.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from tests import stack

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-gpu",
    "--no-first-run",
]
PASSWORD = "plum-tangerine-quartz-81"


@pytest.fixture(scope="package", autouse=True)
def sync_orm_beside_playwright():
    """Playwright's sync API keeps an event loop running in this thread while
    the browser is open; the tests' own ORM calls are plain synchronous code,
    so Django's async-context guard is lifted for this package only."""
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    yield
    if previous is None:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    else:
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture(scope="package")
def browser(sync_orm_beside_playwright):
    """One Chromium for all the browser tests (closed after the last one, so
    no event loop outlives this package)."""
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def start_asgi_server(django_db_blocker, log_path: Path, **env_extra: str) -> stack.AsgiServer:
    """A uvicorn process on the test database (``env_extra``: more settings
    for it, e.g. ``PAGE_LEASE_SECONDS``); skips on SQLite."""
    with django_db_blocker.unblock():
        from django.db import connection

        settings = dict(connection.settings_dict)
    if settings["ENGINE"].endswith("sqlite3"):
        pytest.skip("the server process shares the database: needs PostgreSQL")
    user = settings.get("USER") or ""
    password = f":{settings['PASSWORD']}" if settings.get("PASSWORD") else ""
    auth = f"{user}{password}@" if user else ""
    url = f"postgres://{auth}{settings['HOST']}:{settings['PORT']}/{settings['NAME']}"
    env = stack.django_env(url, ALLOWED_HOSTS="127.0.0.1,localhost", **env_extra)
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    return stack.AsgiServer(env, log_path).start()


@pytest.fixture(scope="package")
def asgi_server(django_db_setup, django_db_blocker, artifacts_dir):
    """One uvicorn process for the browser tests, on the test database."""
    server = start_asgi_server(django_db_blocker, artifacts_dir / "logs" / "browser-asgi.log")
    yield server
    server.stop()


@pytest.fixture
def server(asgi_server, transactional_db):
    return asgi_server


@pytest.fixture
def new_page(browser, server):
    """``new_page(**context_options)``: a page in a fresh context (own cookies)."""
    contexts = []

    def make(**options):
        options.setdefault("viewport", {"width": 1280, "height": 800})
        context = browser.new_context(base_url=server.url, **options)
        context.set_default_timeout(15_000)
        contexts.append(context)
        page = context.new_page()
        page.errors = []
        page.on("pageerror", lambda error: page.errors.append(str(error)))
        page.on("console", lambda message: message.type == "error" and page.errors.append(message.text))
        page.on(
            "response",
            lambda response: (
                response.status >= 400
                and page.errors.append(f"HTTP {response.status} {response.request.method} {response.url}")
            ),
        )
        return page

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_page):
    return new_page()


@pytest.fixture
def screenshot(artifacts_dir):
    folder = artifacts_dir / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)

    def take(page, name: str) -> Path:
        path = folder / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


# --- helpers --------------------------------------------------------------------------------


def picture(width: int = 480, height: int = 360, boxes=(), seed: int = 0, background=(222, 214, 196)) -> bytes:
    """A PNG with blue rectangles where ``boxes`` (ratios) are; ``seed`` makes it distinct."""
    image = Image.new("RGB", (width, height), background)
    draw = ImageDraw.Draw(image)
    for x in range(0, width, 40):
        draw.line([(x, 0), (x, height)], fill=(200, 192, 176))
    for box in boxes:
        draw.rectangle(
            [box["x_min"] * width, box["y_min"] * height, box["x_max"] * width, box["y_max"] * height],
            fill=(36, 84, 200),
        )
    draw.text((6, 6), f"#{seed}", fill=(60, 60, 60))
    image.putpixel((width - 1, height - 1), (seed % 256, seed // 256 % 256, 7))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def upload(owner, data: bytes) -> dict:
    from assets.services import asset_create_image

    return {"asset_id": asset_create_image(owner=owner, data=data).public_id}


def log_in(page, username: str, password: str = PASSWORD) -> None:
    page.goto("/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url("**/")


def sign_up(page, username: str, password: str = PASSWORD) -> None:
    page.goto("/signup/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password1]", password)
    page.fill("input[name=password2]", password)
    page.click("form button[type=submit]")
    page.wait_for_url("**/")


def current_task(page) -> str | None:
    return page.get_attribute("[data-stage]", "data-task")


def wait_for_draw(page, previous: str | None = None) -> str:
    """Wait until a draw task other than ``previous`` is up with its image loaded."""
    page.wait_for_function(
        """previous => {
            const stage = document.querySelector('[data-stage]');
            const frame = stage && stage.querySelector('.draw-frame');
            const canvas = stage && stage.querySelector('canvas');
            return stage.dataset.task && stage.dataset.task !== previous && frame && !frame.hidden
                && canvas.width > 0;
        }""",
        arg=previous,
    )
    return current_task(page)


def wait_for_change(page, previous: str | None) -> None:
    """Wait until the task shown is not ``previous`` (another task or a message)."""
    page.wait_for_function(
        "previous => document.querySelector('[data-stage]').dataset.task !== previous "
        "&& !document.querySelector('[data-stage]').hasAttribute('aria-busy')",
        arg=previous,
    )


def canvas_box(page) -> dict:
    return page.locator("canvas.draw-canvas").bounding_box()


def mouse_stroke(page, points, steps: int = 5) -> list[tuple[float, float]]:
    """Drag the mouse through ``points`` (ratios of the canvas); returns the
    positions used, as ratios measured from the canvas box."""
    box = canvas_box(page)
    xy = [(box["x"] + x * box["width"], box["y"] + y * box["height"]) for x, y in points]
    page.mouse.move(*xy[0])
    page.mouse.down()
    for x, y in xy[1:]:
        page.mouse.move(x, y, steps=steps)
    page.mouse.up()
    return [((x - box["x"]) / box["width"], (y - box["y"]) / box["height"]) for x, y in xy]


def zigzag(box: dict, inset: float, rows: int = 5) -> list[tuple[float, float]]:
    """A zig-zag that stays ``inset`` inside ``box`` (ratios)."""
    x0, x1 = box["x_min"] + inset, box["x_max"] - inset
    y0, y1 = box["y_min"] + inset, box["y_max"] - inset
    return [(x0 if i % 2 == 0 else x1, y0 + (y1 - y0) * i / (rows - 1)) for i in range(rows)]


def distance_to_path(point, path) -> float:
    px, py = point
    best = float("inf")
    for (ax, ay), (bx, by) in zip(path, path[1:]):
        dx, dy = bx - ax, by - ay
        length = dx * dx + dy * dy
        t = 0.0 if length == 0 else max(0.0, min(1.0, ((px - ax) * dx + (py - ay) * dy) / length))
        cx, cy = ax + t * dx, ay + t * dy
        best = min(best, ((px - cx) ** 2 + (py - cy) ** 2) ** 0.5)
    return best


def assert_line_follows(line: dict, path, tolerance: float = 0.004) -> None:
    """A stored line runs along ``path``: every point near it, from its start to its end."""
    points = [(p["x"], p["y"]) for p in line["points"]]
    assert len(points) >= len(path)
    for point in points:
        assert distance_to_path(point, path) <= tolerance, (point, path)
    for stored, drawn in ((points[0], path[0]), (points[-1], path[-1])):
        assert abs(stored[0] - drawn[0]) <= tolerance and abs(stored[1] - drawn[1]) <= tolerance, (stored, drawn)
