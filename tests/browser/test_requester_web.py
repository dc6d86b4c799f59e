"""A requester who writes no code, in Chromium: makes an audience, adds draw
examples by dragging truth boxes on uploaded images and a compare example
by picking the right item, makes a job from image files, previews it as a
labeler sees it and starts it on the audience. Every page is screenshotted,
checked with axe-core and for words broken in table cells."""

from __future__ import annotations

import pytest

from audiences.models import Audience
from jobs.models import Job
from tests.browser.conftest import PASSWORD, log_in, picture
from tests.browser.test_layout import BROKEN_WORDS, DESK, PHONE, axe_violations, task_up

pytestmark = pytest.mark.browser

BOXES = [
    {"x_min": 0.2, "y_min": 0.25, "x_max": 0.55, "y_max": 0.7},
    {"x_min": 0.1, "y_min": 0.1, "x_max": 0.4, "y_max": 0.45},
    {"x_min": 0.5, "y_min": 0.3, "x_max": 0.9, "y_max": 0.8},
]


def image_file(tmp_path, name: str, **options) -> str:
    path = tmp_path / name
    path.write_bytes(picture(**options))
    return str(path)


def drag_box(page, box: dict) -> None:
    """Drag a truth box over the editor's image, corner to corner (ratios)."""
    frame = page.locator("[data-frame]").bounding_box()
    at = lambda x, y: (frame["x"] + x * frame["width"], frame["y"] + y * frame["height"])  # noqa: E731
    page.mouse.move(*at(box["x_min"], box["y_min"]))
    page.mouse.down()
    page.mouse.move(*at(box["x_max"], box["y_max"]), steps=6)
    page.mouse.up()


def test_a_requester_sets_up_and_starts_a_job_in_the_browser(make_requester, new_page, screenshot, tmp_path):
    requester = make_requester("requester", password=PASSWORD)
    page = new_page(**DESK)
    problems: dict[str, list[str]] = {}

    def check(name: str) -> None:
        screenshot(page, f"requester-{name}")
        found = axe_violations(page) + [f"broken word {word!r}" for word in page.evaluate(BROKEN_WORDS)]
        if found:
            problems[name] = found

    log_in(page, "requester")
    page.goto("/dashboard/")
    check("dashboard")
    page.get_by_role("link", name="New audience").click()
    page.get_by_label("Name").fill("Shelf spotters")
    page.get_by_label("Description").fill("Labelers who find every blue book.")
    page.get_by_label("Accuracy to graduate").fill("0.8")
    page.get_by_label("Examples before a decision").fill("3")
    page.get_by_label("Examples at most").fill("6")
    check("audience-new")
    page.get_by_role("button", name="Create the audience").click()
    page.get_by_role("heading", name="Examples of Shelf spotters").wait_for()
    audience = Audience.objects.get(name="Shelf spotters", owner=requester)
    assert (audience.target_accuracy, audience.min_tasks, audience.max_tasks) == (0.8, 3, 6)

    for index, box in enumerate(BOXES):
        page.get_by_role("link", name="Add a draw example").click()
        page.get_by_label("Instruction").fill("Color in every blue book")
        page.get_by_label("Image").set_input_files(image_file(tmp_path, f"shelf-{index}.png", boxes=[box], seed=index))
        page.wait_for_function("() => document.querySelector('[data-preview]').naturalWidth > 0")
        drag_box(page, {"x_min": 0.05, "y_min": 0.05, "x_max": 0.15, "y_max": 0.15})
        page.get_by_role("button", name="Remove the last box").click()  # a box drawn by mistake
        drag_box(page, box)
        if index == 0:
            check("example-draw")
        page.get_by_role("button", name="Add the example").click()
        page.get_by_role("heading", name="Examples of Shelf spotters").wait_for()

    page.get_by_role("link", name="Add a compare example").click()
    page.get_by_label("Instruction").fill("Which shelf has more blue books?")
    page.get_by_label("First image").set_input_files(image_file(tmp_path, "few.png", seed=10))
    page.get_by_label("Second image").set_input_files(image_file(tmp_path, "many.png", boxes=BOXES, seed=11))
    page.get_by_role("radio", name="Second").check()
    check("example-compare")
    page.get_by_role("button", name="Add the example").click()
    page.get_by_role("heading", name="Examples of Shelf spotters").wait_for()
    check("examples")

    examples = list(audience.examples.order_by("id"))
    assert [example.kind for example in examples] == ["draw", "draw", "draw", "compare"]
    for example, box in zip(examples, BOXES):
        (stored,) = [truth.as_box().as_dict() for truth in example.truth_boxes.all()]
        assert stored == pytest.approx(box, abs=0.01)
    assert examples[3].truth_asset.name == "many.png"

    page.goto("/dashboard/")
    page.get_by_role("link", name="New job").click()
    page.get_by_label("Draw: color in an image").check()
    page.get_by_label("Name", exact=True).fill("Shelf survey")
    page.get_by_label("Instruction").fill("Color in every blue book")
    page.get_by_label("Answers per datapoint").fill("2")
    # more files than a form takes: the page says so and sends nothing
    many = [image_file(tmp_path, f"many-{i}.png", width=8, height=8, seed=100 + i) for i in range(101)]
    page.get_by_label("Images", exact=True).set_input_files(many)
    page.get_by_role("button", name="Create and preview").click()
    page.get_by_text("101 files chosen; at most 100 go in one job form").wait_for()
    assert page.url.endswith("/dashboard/jobs/new/")
    page.get_by_label("Images", exact=True).set_input_files(
        [image_file(tmp_path, f"job-{i}.png", boxes=[BOXES[i]], seed=20 + i) for i in range(3)]
    )
    check("job-new")
    page.get_by_role("button", name="Create and preview").click()
    page.get_by_role("heading", name="Start it").wait_for()
    check("definition")

    page.get_by_role("link", name="Preview as a labeler").click()
    task_up(page, "draw")
    check("preview")
    page.go_back()
    page.get_by_label("Audience").select_option(label="Shelf spotters (custom)")
    page.get_by_role("button", name="Start the job").click()
    page.wait_for_url("**/dashboard/jobs/job_*/")
    check("job")
    page.goto(f"/dashboard/audiences/{audience.public_id}/")
    check("audience")
    job = Job.objects.get(owner=requester)
    assert job.audience == audience and job.definition.datapoints.count() == 3

    # the same forms on a phone
    phone = new_page(**PHONE)
    log_in(phone, "requester")
    for name, url in (
        ("audience-new-phone", "/dashboard/audiences/new/"),
        ("job-new-phone", "/dashboard/jobs/new/"),
        ("examples-phone", f"/dashboard/audiences/{audience.public_id}/examples/"),
    ):
        page = phone
        page.goto(url)
        check(name)
    assert problems == {}
    assert page.errors == []
