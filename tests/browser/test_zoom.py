"""Zoom and pan on the draw page: strokes drawn at any zoom are stored, and
shown, where they were drawn on the image; the eraser deletes whole strokes;
a pinch on a phone zooms and leaves no stroke behind."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from audiences.selectors import global_audience
from jobs import services as job_services
from jobs.models import Response
from tests.browser.conftest import (
    PASSWORD,
    assert_line_follows,
    canvas_box,
    log_in,
    mouse_stroke,
    picture,
    upload,
    wait_for_change,
    wait_for_draw,
)
from tests.browser.test_phone import touch_stroke

pytestmark = pytest.mark.browser


def one_image_job(requester, name="Zoom survey"):
    definition = job_services.job_definition_create_draw(
        owner=requester,
        name=name,
        instruction="Color in every blue book",
        datapoints=[upload(requester, picture(640, 480, seed=3))],
        responses_per_datapoint=1,
    )
    return job_services.job_create(owner=requester, definition=definition, audience=global_audience())


def inked(page, ratio) -> bool:
    """Whether the screen shows ink at the image point ``ratio`` (x, y)."""
    box = canvas_box(page)
    x, y = box["x"] + ratio[0] * box["width"], box["y"] + ratio[1] * box["height"]
    shot = Image.open(io.BytesIO(page.screenshot(clip={"x": x - 1, "y": y - 1, "width": 3, "height": 3})))
    red, green, _ = shot.convert("RGB").getpixel((1, 1))
    return red - green > 60  # the pink ink over the beige picture; the picture alone is grey-beige


def test_strokes_stay_on_the_image_at_any_zoom(make_requester, make_labeler, page, screenshot):
    requester = make_requester("requester")
    job = one_image_job(requester)
    make_labeler("zoomer", password=PASSWORD)
    log_in(page, "zoomer")
    page.goto(f"/jobs/{job.public_id}/work/")
    task = wait_for_draw(page)

    before = canvas_box(page)
    first = mouse_stroke(page, [(0.3, 0.3), (0.45, 0.35)])
    assert inked(page, (0.375, 0.325))
    # wheel-zoom about a point: the image grows, the point under the mouse stays put
    # (whole pixels: the mouse events' positions are)
    anchor = (round(before["x"] + 0.6 * before["width"]), round(before["y"] + 0.5 * before["height"]))
    at = ((anchor[0] - before["x"]) / before["width"], (anchor[1] - before["y"]) / before["height"])
    page.mouse.move(*anchor)
    for _ in range(2):
        page.mouse.wheel(0, -200)
    page.wait_for_function("() => document.querySelector('.draw-frame').style.transform.includes('scale')")
    zoomed = canvas_box(page)
    assert zoomed["width"] > 2 * before["width"]
    assert zoomed["x"] + at[0] * zoomed["width"] == pytest.approx(anchor[0], abs=1)
    assert zoomed["y"] + at[1] * zoomed["height"] == pytest.approx(anchor[1], abs=1)
    # the stroke drawn before is shown where it is on the image, now magnified
    assert inked(page, (0.375, 0.325))
    assert not inked(page, (0.55, 0.55))
    # a stroke drawn zoomed in lands in image coordinates
    second = mouse_stroke(page, [(0.5, 0.45), (0.65, 0.55), (0.7, 0.48)])
    # Alt+drag pans: the image moves under the mouse, no stroke is drawn
    page.keyboard.down("Alt")
    page.mouse.move(anchor[0], anchor[1])
    page.mouse.down()
    page.mouse.move(anchor[0] + 150, anchor[1] + 80, steps=5)
    page.mouse.up()
    page.keyboard.up("Alt")
    panned = canvas_box(page)
    assert panned["x"] == pytest.approx(zoomed["x"] + 150, abs=2)
    assert panned["y"] == pytest.approx(zoomed["y"] + 80, abs=2)
    assert inked(page, (0.6, 0.5)) and inked(page, (0.375, 0.325))
    screenshot(page, "draw-zoomed")
    # the eraser deletes the stroke it touches, whole
    mouse_stroke(page, [(0.45, 0.6), (0.55, 0.62)])
    assert inked(page, (0.5, 0.61))
    page.keyboard.press("e")
    assert page.get_by_role("button", name="Eraser").get_attribute("aria-pressed") == "true"
    mouse_stroke(page, [(0.5, 0.56), (0.5, 0.66)])
    assert not inked(page, (0.5, 0.61))
    page.get_by_role("button", name="Fit").click()
    page.wait_for_function("() => !document.querySelector('.draw-frame').style.transform")
    assert canvas_box(page) == pytest.approx(before, abs=1)
    assert inked(page, (0.375, 0.325)) and inked(page, (0.6, 0.5))
    page.get_by_role("button", name="Submit").click()
    wait_for_change(page, task)

    (response,) = Response.objects.filter(job=job)
    lines = response.payload["lines"]
    assert len(lines) == 2, "the erased stroke is gone, the pan drew nothing"
    assert_line_follows(lines[0], first)
    assert_line_follows(lines[1], second)
    assert page.errors == []


def touch_pinch(cdp, centre, start_gap: float, end_gap: float, steps: int = 8) -> None:
    x, y = centre
    for step in range(steps + 1):
        gap = start_gap + (end_gap - start_gap) * step / steps
        points = [{"x": x - gap / 2, "y": y, "id": 1}, {"x": x + gap / 2, "y": y, "id": 2}]
        cdp.send(
            "Input.dispatchTouchEvent", {"type": "touchStart" if step == 0 else "touchMove", "touchPoints": points}
        )
    cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})


def touch_two_finger_drag(cdp, start, by, gap: float = 80, steps: int = 8) -> None:
    for step in range(steps + 1):
        x, y = start[0] + by[0] * step / steps, start[1] + by[1] * step / steps
        points = [{"x": x - gap / 2, "y": y, "id": 1}, {"x": x + gap / 2, "y": y, "id": 2}]
        cdp.send(
            "Input.dispatchTouchEvent", {"type": "touchStart" if step == 0 else "touchMove", "touchPoints": points}
        )
    cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})


def test_pinch_zoom_on_a_phone(make_requester, make_labeler, new_page, screenshot):
    requester = make_requester("requester")
    job = one_image_job(requester, name="Pinch survey")
    make_labeler("pincher", password=PASSWORD)
    page = new_page(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True, device_scale_factor=2)
    log_in(page, "pincher")
    page.goto(f"/jobs/{job.public_id}/work/")
    task = wait_for_draw(page)
    cdp = page.context.new_cdp_session(page)

    before = canvas_box(page)
    centre = (before["x"] + before["width"] / 2, before["y"] + before["height"] / 2)
    touch_pinch(cdp, centre, 60, 200)
    page.wait_for_function("() => document.querySelector('.draw-frame').style.transform.includes('scale')")
    zoomed = canvas_box(page)
    assert zoomed["width"] > 2.5 * before["width"]
    # two fingers moved together move the image with them, at the same zoom
    touch_two_finger_drag(cdp, centre, (-60, -40))
    moved = canvas_box(page)
    assert (moved["x"] - zoomed["x"], moved["y"] - zoomed["y"]) == pytest.approx((-60, -40), abs=2)
    assert moved["width"] == pytest.approx(zoomed["width"], rel=0.01)
    drawn = touch_stroke(page, cdp, [(0.45, 0.45), (0.55, 0.5), (0.5, 0.56)], pace_ms=8)
    screenshot(page, "phone-draw-zoomed")
    submit = page.get_by_role("button", name="Submit").bounding_box()
    assert submit["y"] + submit["height"] <= 844
    page.get_by_role("button", name="Submit").tap()
    wait_for_change(page, task)

    (response,) = Response.objects.filter(job=job)
    (line,) = response.payload["lines"]  # the pinch left no stroke
    assert_line_follows(line, drawn)
    assert page.errors == []


def test_the_stroke_model_erases_whole_strokes_and_cancels_a_pinch(page, server):
    page.goto("/accounts/login/")
    result = page.evaluate("""async () => {
        const { StrokeModel } = await import('/static/js/strokes.js');
        const model = new StrokeModel();
        const stroke = (points, size = 0.02) => {
            model.begin(points[0][0], points[0][1], size);
            for (const [x, y] of points.slice(1)) model.add(x, y);
            model.end();
        };
        stroke([[0.1, 0.1], [0.3, 0.1]]);
        stroke([[0.1, 0.5], [0.3, 0.5]]);
        stroke([[0.6, 0.6], [0.6, 0.9]]);
        // one eraser gesture over the first and the third: one undo step
        const missed = model.erase(0.2, 0.3, 0.01, 4 / 3);
        const hitFirst = model.erase(0.2, 0.105, 0.01, 4 / 3);
        const hitThird = model.erase(0.61, 0.75, 0.01, 4 / 3);
        model.end();
        const afterErase = model.toResponse().lines.length;
        model.undo();
        const afterUndo = model.toResponse().lines.length;
        // a stroke cut short by a second finger leaves no trace and no undo step
        model.begin(0.5, 0.5, 0.02);
        model.add(0.55, 0.55);
        model.cancel();
        const afterCancel = model.toResponse().lines.length;
        model.undo();
        return { missed, hitFirst, hitThird, afterErase, afterUndo, afterCancel,
                 afterSecondUndo: model.toResponse().lines.length };
    }""")
    assert result == {
        "missed": False,
        "hitFirst": True,
        "hitThird": True,
        "afterErase": 1,
        "afterUndo": 3,
        "afterCancel": 3,
        "afterSecondUndo": 2,
    }
