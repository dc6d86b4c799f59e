"""The draw page on a phone: the image fits the screen under the
instruction, and touch strokes (real touch input through CDP) are stored."""

from __future__ import annotations

import pytest

from audiences.selectors import global_audience
from jobs import services as job_services
from jobs.models import Response
from tests.browser.conftest import (
    PASSWORD,
    assert_line_follows,
    canvas_box,
    log_in,
    picture,
    upload,
    wait_for_change,
    wait_for_draw,
)

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}


def touch_stroke(page, cdp, points, steps: int = 6, pace_ms: int = 0) -> list[tuple[float, float]]:
    """Drag one finger through ``points`` (ratios of the canvas) with
    Input.dispatchTouchEvent, a move every ``pace_ms`` (0: a flick, as fast
    as the protocol goes; then a pause before lifting, as fingers do);
    returns the points as ratios."""
    box = canvas_box(page)
    xy = [(box["x"] + x * box["width"], box["y"] + y * box["height"]) for x, y in points]
    cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [{"x": xy[0][0], "y": xy[0][1]}]})
    for (x0, y0), (x1, y1) in zip(xy, xy[1:]):
        for step in range(1, steps + 1):
            if pace_ms:
                page.wait_for_timeout(pace_ms)
            x, y = x0 + (x1 - x0) * step / steps, y0 + (y1 - y0) * step / steps
            cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [{"x": x, "y": y}]})
    if pace_ms:
        page.wait_for_timeout(100)
    cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    return [((x - box["x"]) / box["width"], (y - box["y"]) / box["height"]) for x, y in xy]


def test_drawing_with_a_finger_on_a_phone(make_requester, make_labeler, new_page, screenshot):
    requester = make_requester("requester")
    definition = job_services.job_definition_create_draw(
        owner=requester,
        name="Shelf survey",
        instruction="Color in every blue book",
        datapoints=[upload(requester, picture(640, 480, seed=1)), upload(requester, picture(300, 800, seed=2))],
        contexts=["A wide shelf", "A tall shelf"],
        responses_per_datapoint=1,
    )
    job = job_services.job_create(owner=requester, definition=definition, audience=global_audience())
    make_labeler("thumb", password=PASSWORD)
    page = new_page(viewport=PHONE, is_mobile=True, has_touch=True, device_scale_factor=3)
    log_in(page, "thumb")
    page.goto(f"/jobs/{job.public_id}/work/")
    cdp = page.context.new_cdp_session(page)
    page.evaluate(
        "window.pointerTypes = new Set();"
        "document.addEventListener('pointerdown', e => window.pointerTypes.add(e.pointerType), true)"
    )

    drawn = []
    task = None
    for index in range(2):
        task = wait_for_draw(page, task)
        frame = page.locator(".draw-frame").bounding_box()
        instruction = page.locator(".instruction").bounding_box()
        submit = page.get_by_role("button", name="Submit").bounding_box()
        # the image is whole on screen, with the instruction above it and the Submit button in reach
        assert frame["x"] >= 0 and frame["x"] + frame["width"] <= PHONE["width"] + 0.5
        assert frame["y"] >= instruction["y"] + instruction["height"]
        assert frame["y"] + frame["height"] <= PHONE["height"] + 0.5
        assert submit["y"] + submit["height"] <= PHONE["height"] + 0.5
        image = definition.datapoints.get(position=index).asset
        assert frame["width"] / frame["height"] == pytest.approx(image.width / image.height, rel=0.02)
        assert page.evaluate("getComputedStyle(document.querySelector('canvas')).touchAction") == "none"
        canvas = page.evaluate("[document.querySelector('canvas').width, document.querySelector('canvas').height]")
        assert canvas[0] == pytest.approx(frame["width"] * 3, abs=3)  # sharp on a 3x screen
        path = [(0.15, 0.2), (0.5, 0.45), (0.85, 0.3), (0.6, 0.85)]
        # a flick, then Submit tapped at once (Chromium would take a click
        # there for stopping a fling: the toolbar acts on touchend); then a
        # stroke at a finger's pace
        drawn.append(touch_stroke(page, cdp, path, pace_ms=0 if index == 0 else 8))
        if index == 1:
            screenshot(page, "phone-draw")
        page.get_by_role("button", name="Submit").tap()
        wait_for_change(page, task)
    page.get_by_text("No more work here").wait_for()
    screenshot(page, "phone-done")

    assert page.evaluate("[...window.pointerTypes]") == ["touch"]
    stored = list(Response.objects.filter(job=job).order_by("created_at"))
    assert len(stored) == 2
    for response, path in zip(stored, drawn):
        (line,) = response.payload["lines"]
        assert_line_follows(line, path)
    assert page.errors == []
