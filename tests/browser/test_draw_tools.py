"""Draw tools in the browser: undo/redo/clear, "Nothing to color", a broken
image, and the requester preview (nothing stored)."""

from __future__ import annotations

import pytest

from audiences.selectors import global_audience
from jobs import feed
from jobs import services as job_services
from jobs.models import Lease, Response
from tests.browser.conftest import (
    PASSWORD,
    assert_line_follows,
    log_in,
    mouse_stroke,
    picture,
    upload,
    wait_for_change,
    wait_for_draw,
)

pytestmark = pytest.mark.browser


def global_draw_job(owner, datapoints, **options):
    definition = job_services.job_definition_create_draw(
        owner=owner,
        name="Shelf survey",
        instruction="Color in every blue book",
        datapoints=datapoints,
        responses_per_datapoint=options.pop("responses", 2),
        **options,
    )
    return job_services.job_create(owner=owner, definition=definition, audience=global_audience())


def test_undo_redo_clear_and_nothing_to_color(make_requester, make_labeler, page, screenshot):
    requester = make_requester("requester")
    job = global_draw_job(requester, [upload(requester, picture(seed=i)) for i in range(2)])
    make_labeler("undoer", password=PASSWORD)
    log_in(page, "undoer")
    page.goto(f"/jobs/{job.public_id}/work/")

    task = wait_for_draw(page)
    undo, redo = page.get_by_role("button", name="Undo"), page.get_by_role("button", name="Redo")
    assert undo.is_disabled() and redo.is_disabled()
    first = mouse_stroke(page, [(0.1, 0.1), (0.4, 0.3), (0.2, 0.6)])
    mouse_stroke(page, [(0.6, 0.6), (0.9, 0.9)])
    page.keyboard.press("Control+z")
    assert redo.is_enabled()
    page.keyboard.press("Control+Shift+Z")  # redo, then undo again
    assert redo.is_disabled()
    undo.click()
    screenshot(page, "draw-after-undo")
    # a smaller window: the image and the drawing shrink to fit, nothing else changes
    page.set_viewport_size({"width": 700, "height": 460})
    page.wait_for_function("""() => {
        const frame = document.querySelector('.draw-frame').getBoundingClientRect();
        const canvas = document.querySelector('canvas');
        return frame.width < 660 && frame.right <= innerWidth && frame.bottom <= innerHeight
            && Math.abs(canvas.width - frame.width * devicePixelRatio) < 2;
    }""")
    page.set_viewport_size({"width": 1280, "height": 800})
    page.wait_for_function("() => document.querySelector('.draw-frame').getBoundingClientRect().width > 700")
    page.get_by_role("button", name="Submit").click()
    wait_for_change(page, task)
    (response,) = Response.objects.filter(job=job)
    (line,) = response.payload["lines"]  # the second stroke was undone
    assert_line_follows(line, first)

    task = wait_for_draw(page, task)
    mouse_stroke(page, [(0.5, 0.5), (0.7, 0.5)])
    page.get_by_role("button", name="Clear").click()
    page.keyboard.press("Enter")  # nothing drawn: the page asks for "Nothing to color" instead
    page.get_by_text("Nothing to color” if there is none").wait_for()
    assert Response.objects.count() == 1
    page.keyboard.press("Control+z")  # clearing can be undone
    page.keyboard.press("Control+y")  # ... and redone
    page.get_by_role("button", name="Nothing to color").click()
    wait_for_change(page, task)
    page.get_by_text("No more work here").wait_for()
    latest = Response.objects.filter(job=job).latest("created_at")
    assert latest.payload == {"lines": []}
    assert page.errors == []


def test_an_image_that_does_not_load_can_be_skipped(make_requester, make_labeler, page, screenshot):
    requester = make_requester("requester")
    job = global_draw_job(requester, ["http://127.0.0.1:9/missing-image.png"])
    make_labeler("skipper", password=PASSWORD)
    log_in(page, "skipper")
    page.goto(f"/jobs/{job.public_id}/work/")
    page.get_by_text("This image could not be loaded. Please skip this task.").first.wait_for()
    assert page.get_by_role("button", name="Submit").is_disabled()
    assert page.get_by_role("button", name="Nothing to color").is_disabled()
    screenshot(page, "draw-image-failed")
    page.get_by_role("button", name="Skip").click()
    page.get_by_text("No more work here").wait_for()
    assert Lease.objects.get(job=job).status == Lease.Status.SKIPPED
    assert not Response.objects.exists()


def test_preview_checks_answers_and_stores_nothing(make_requester, page, screenshot):
    requester = make_requester("previewer")
    requester.set_password(PASSWORD)
    requester.save()
    job = global_draw_job(
        requester, [upload(requester, picture(seed=i)) for i in range(2)], contexts=["First shelf", "Second shelf"]
    )
    log_in(page, "previewer")
    page.goto(f"/preview/{job.definition.public_id}/")
    assert page.get_by_text("Preview — nothing is stored").is_visible()
    task = wait_for_draw(page)
    assert page.locator("[data-progress]").inner_text() == "Datapoint 1 of 2"
    assert page.locator(".task-head .context").inner_text() == "First shelf"
    mouse_stroke(page, [(0.2, 0.2), (0.8, 0.8)])
    screenshot(page, "preview-draw")
    page.keyboard.press("Enter")
    wait_for_draw(page, task)
    page.get_by_text("Datapoint 1: the answer is valid (not stored).").wait_for()
    assert page.locator("[data-progress]").inner_text() == "Datapoint 2 of 2"
    page.get_by_role("button", name="Nothing to color").click()
    page.get_by_text("End of the preview").wait_for()
    assert not Response.objects.exists() and not Lease.objects.exists()
    assert page.errors == []


def test_server_errors_are_announced_and_a_stale_task_moves_on(make_requester, make_labeler, page):
    requester = make_requester("requester")
    job = global_draw_job(requester, [upload(requester, picture(seed=i)) for i in range(2)])
    labeler = make_labeler("twotabs", password=PASSWORD)
    log_in(page, "twotabs")
    page.goto(f"/jobs/{job.public_id}/work/")
    task = wait_for_draw(page)
    feed.task_skip(labeler=labeler, task_id=task)  # say, from another tab
    mouse_stroke(page, [(0.3, 0.3), (0.6, 0.6)])
    page.keyboard.press("Enter")
    wait_for_draw(page, task)
    notice = page.locator("#notice")
    assert notice.get_attribute("aria-live") == "polite"
    assert notice.inner_text() == "You skipped this task."
    assert notice.get_attribute("data-kind") == "error"
    assert not Response.objects.exists()


def test_stroke_model_keeps_drawings_within_the_server_limits(page, server):
    """Whatever is drawn, the answer the page sends is one the server takes."""
    from django.core.exceptions import ValidationError

    from assets import wire

    page.goto("/accounts/login/")
    result = page.evaluate("""async () => {
        const { StrokeModel } = await import('/static/js/strokes.js');
        const limits = { maxLines: 200, maxPointsPerLine: 5000, maxTotalPoints: 20000, minBrush: 0.002,
                         maxBrush: 0.25 };
        const model = new StrokeModel(limits);
        const refusals = new Set();
        // 300 strokes of 100 points, wandering off the image and with silly brush sizes
        for (let line = 0; line < 300; line += 1) {
            const refusal = model.begin(-0.2, 1.3, line % 2 ? 9 : 0);
            if (refusal) { refusals.add(refusal); continue; }
            for (let i = 0; i < 100; i += 1) model.add(Math.sin(line + i / 7) * 0.7 + 0.5, i / 99 + 1 / 3);
            model.end();
        }
        // and one endless stroke
        const long = new StrokeModel(limits);
        long.begin(0.5, 0.5, 0.03);
        for (let i = 0; i < 12000; i += 1) long.add((i % 1000) / 1000, Math.floor(i / 1000) / 12);
        long.end();
        const small = new StrokeModel(limits);
        small.begin(0.123456789, 0.987654321, 0.0301234);
        small.add(0.5, 0.5); small.add(0.5, 0.5); // a repeated point is dropped
        return { many: model.toResponse(), refusals: [...refusals], long: long.toResponse(),
                 small: small.toResponse() };
    }""")
    for name in ("many", "long", "small"):
        try:
            wire.parse_draw_response(result[name])
        except ValidationError as exc:  # pragma: no cover - the assertion below says what
            pytest.fail(f"{name}: the server refuses the page's answer: {exc.messages}")
    many = result["many"]["lines"]
    assert len(many) == wire.MAX_LINES and sum(len(line["points"]) for line in many) <= wire.MAX_TOTAL_POINTS
    assert {line["size"] for line in many} == {wire.MIN_BRUSH, wire.MAX_BRUSH}
    assert all(0 <= p[axis] <= 1 for line in many for p in line["points"] for axis in "xy")
    assert result["refusals"]
    long_lines = result["long"]["lines"]
    assert len(long_lines) == 3 and max(len(line["points"]) for line in long_lines) == wire.MAX_POINTS_PER_LINE
    assert long_lines[1]["points"][0] == long_lines[0]["points"][-1]  # a long stroke continues unbroken
    assert result["small"] == {
        "lines": [{"size": 0.03012, "points": [{"x": 0.12346, "y": 0.98765}, {"x": 0.5, "y": 0.5}]}]
    }
