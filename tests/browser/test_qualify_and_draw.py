"""A labeler signs up, qualifies for a custom draw audience by drawing with
the mouse, and works on its job; a scribbler is dropped."""

from __future__ import annotations

import pytest

from audiences import services as audience_services
from audiences.models import Membership
from jobs import services as job_services
from jobs.models import Response
from tests.browser.conftest import (
    PASSWORD,
    assert_line_follows,
    log_in,
    mouse_stroke,
    picture,
    sign_up,
    upload,
    wait_for_change,
    wait_for_draw,
    zigzag,
)

pytestmark = pytest.mark.browser

BOXES = [
    {"x_min": 0.08, "y_min": 0.12, "x_max": 0.42, "y_max": 0.55},
    {"x_min": 0.55, "y_min": 0.18, "x_max": 0.92, "y_max": 0.62},
    {"x_min": 0.25, "y_min": 0.5, "x_max": 0.75, "y_max": 0.92},
]
BRUSH = 0.03  # the page's default brush, a ratio of the image width


@pytest.fixture
def draw_audience(make_requester):
    requester = make_requester("requester")
    audience = audience_services.audience_create(
        owner=requester,
        name="Blue book finders",
        description="Find the blue books.",
        min_tasks=3,
        max_tasks=3,
        target_accuracy=0.75,
        gold_rate=0,
    )
    truth_of = {}
    for index, box in enumerate(BOXES):
        example = audience_services.example_add_draw(
            audience=audience,
            owner=requester,
            instruction="Color in the blue book",
            datapoint=upload(requester, picture(boxes=[box], seed=index)),
            truths=[box],
            context=f"Shelf {index + 1}",
            explanation="The blue book is the blue rectangle.",
        )
        truth_of[example.asset.labeler_value] = box
    definition = job_services.job_definition_create_draw(
        owner=requester,
        name="Blue books on shelves",
        instruction="Color in every blue book",
        datapoints=[upload(requester, picture(boxes=[BOXES[i]], seed=100 + i)) for i in range(2)],
        contexts=["Left shelf", "Right shelf"],
        responses_per_datapoint=3,
    )
    job = job_services.job_create(owner=requester, definition=definition, audience=audience)
    return audience, job, truth_of


def test_qualifying_by_drawing_then_working_on_the_job(draw_audience, page, new_page, screenshot):
    audience, job, truth_of = draw_audience

    # (a) sign up, find the audience on the home page, qualify by coloring the truth boxes
    sign_up(page, "painter")
    screenshot(page, "home-new-labeler")
    page.get_by_role("link", name="Qualify").click()
    page.wait_for_url(f"**/audiences/{audience.public_id}/qualify/")
    task = None
    for answered in range(3):
        task = wait_for_draw(page, task)
        assert page.locator(".instruction").inner_text() == "Color in the blue book"
        assert page.locator(".task-head .context").inner_text().startswith("Shelf ")
        box = truth_of[page.get_attribute(".draw-image", "src")]
        mouse_stroke(page, zigzag(box, inset=BRUSH))
        if answered == 0:
            screenshot(page, "qualify-draw")
        page.keyboard.press("Enter")
        wait_for_change(page, task)
    page.get_by_text("You qualified!").wait_for()
    screenshot(page, "qualify-graduated")
    membership = Membership.objects.get(labeler__username="painter", audience=audience)
    assert membership.state == Membership.State.GRADUATED and membership.correct == 3

    # ... while a scribbler who colors outside the boxes is dropped
    scribbler = new_page()
    sign_up(scribbler, "scribbler")
    scribbler.goto(f"/audiences/{audience.public_id}/qualify/")
    other = wait_for_draw(scribbler)
    box = truth_of[scribbler.get_attribute(".draw-image", "src")]
    outside = (0.02, 0.02) if box["x_min"] > 0.2 and box["y_min"] > 0.2 else (0.97, 0.97)
    mouse_stroke(scribbler, [outside, (outside[0], 0.5 if outside[0] < 0.5 else 0.9)])
    scribbler.get_by_role("button", name="Submit").click()
    wait_for_change(scribbler, other)
    scribbler.get_by_text("Not quite").first.wait_for()
    assert scribbler.locator(".explanation").inner_text() == "The blue book is the blue rectangle."
    scribbler.get_by_text("You did not qualify").wait_for()
    screenshot(scribbler, "qualify-dropped")
    assert Membership.objects.get(labeler__username="scribbler", audience=audience).state == "dropped"
    scribbler.reload()  # no second chance
    scribbler.get_by_text("You did not qualify").wait_for()
    assert scribbler.locator("canvas").count() == 0
    scribbler.goto("/")
    assert scribbler.get_by_role("link", name="Start").count() == 0
    assert scribbler.errors == []

    # (b) the graduated labeler works on the job: stored points follow the mouse
    page.goto("/")
    assert page.get_by_role("link", name="Start").count() == 1
    page.get_by_role("link", name="Start").click()
    page.wait_for_url(f"**/jobs/{job.public_id}/work/")
    drawn = []
    task = None
    for index in range(2):
        task = wait_for_draw(page, task)
        path = (
            [(0.1, 0.2), (0.3, 0.25), (0.5, 0.6), (0.85, 0.4), (0.9, 0.9)]
            if index == 0
            else [(0.8, 0.1), (0.2, 0.5), (0.6, 0.95)]
        )
        drawn.append(mouse_stroke(page, path, steps=8))
        if index == 0:
            screenshot(page, "work-draw")
            page.get_by_role("button", name="Submit").click()
        else:
            page.keyboard.press("Enter")
        wait_for_change(page, task)
    page.get_by_text("No more work here").wait_for()
    screenshot(page, "work-done")
    stored = list(Response.objects.filter(job=job, labeler__username="painter").order_by("created_at"))
    assert len(stored) == 2
    for response, path in zip(stored, drawn):
        (line,) = response.payload["lines"]
        assert line["size"] == pytest.approx(BRUSH, abs=1e-4)
        assert_line_follows(line, path)
    assert page.errors == []


def test_logging_in_and_out_through_the_pages(make_labeler, page, screenshot):
    make_labeler("returning", password=PASSWORD)
    page.goto("/signup/")
    screenshot(page, "signup")
    page.goto("/accounts/login/")
    page.fill("input[name=username]", "returning")
    page.fill("input[name=password]", "not the password")
    page.click("form button[type=submit]")
    page.get_by_role("alert").wait_for()
    screenshot(page, "login-error")
    log_in(page, "returning")
    assert page.get_by_text("Hello, returning").is_visible()
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url("**/accounts/login/")
    page.goto("/")
    page.wait_for_url("**/accounts/login/?next=/")
    assert page.errors == []
