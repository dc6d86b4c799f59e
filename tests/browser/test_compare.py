"""Compare in the browser: picks by click and by keyboard are stored as
shown; text items are text; narrow screens stack the items."""

from __future__ import annotations

import pytest

from audiences.selectors import global_audience
from jobs import services as job_services
from jobs.models import Response
from tests.browser.conftest import PASSWORD, log_in, picture, upload, wait_for_change

pytestmark = pytest.mark.browser

HOSTILE = "<img src=x onerror=alert(1)> is this text?"


def shown_values(page) -> list[str]:
    """The two items' values as the page shows them (image src or text)."""
    return page.evaluate("""() => [...document.querySelectorAll('.option')].map(option => {
        const image = option.querySelector('img');
        return image ? image.getAttribute('src') : option.querySelector('.option-text').textContent;
    })""")


def wait_for_compare(page, previous):
    page.wait_for_function(
        """previous => {
            const stage = document.querySelector('[data-stage]');
            return stage.dataset.kind === 'compare' && stage.dataset.task !== previous
                && [...stage.querySelectorAll('.option img')].every(img => img.complete && img.naturalWidth > 0);
        }""",
        arg=previous,
    )
    return page.get_attribute("[data-stage]", "data-task")


def test_compare_by_click_and_keyboard(make_requester, make_labeler, page, screenshot):
    requester = make_requester("requester")
    image = lambda seed, color: upload(requester, picture(320, 240, seed=seed, background=color))  # noqa: E731
    pairs = [
        [image(1, (240, 200, 80)), image(2, (90, 160, 220))],
        ["A duck is a bird.", HOSTILE],
        [image(3, (200, 90, 90)), image(4, (90, 200, 120))],
        ["First line\nsecond line", "Plain answer"],
        [image(5, (150, 150, 150)), image(6, (60, 60, 60))],
        ["left text", "right text"],
    ]
    definition = job_services.job_definition_create_compare(
        owner=requester,
        name="Which is better?",
        instruction="Pick the one that fits the prompt",
        datapoints=pairs,
        contexts=[f"Prompt {i}" for i in range(len(pairs))],
        responses_per_datapoint=1,
    )
    job = job_services.job_create(owner=requester, definition=definition, audience=global_audience())
    make_labeler("chooser", password=PASSWORD)
    log_in(page, "chooser")
    page.goto("/")
    page.get_by_role("link", name="Start").click()

    actions = [("click", 0), ("key 2", 1), ("key ArrowLeft", 0), ("key ArrowRight", 1), ("button", 1), ("key 1", 0)]
    expected = []
    task = None
    for action, index in actions:
        task = wait_for_compare(page, task)
        assert page.locator(".task-head .context").inner_text().startswith("Prompt ")
        values = shown_values(page)
        expected.append(values[index])
        if HOSTILE in values:
            # shown as text, not parsed as HTML
            assert page.locator(".option-text", has_text="is this text?").inner_text() == HOSTILE
            assert page.locator(".option img").count() == 0
        if action == "click":
            screenshot(page, "compare-images")
            page.locator(".option-body").nth(index).click()
        elif action == "button":
            page.get_by_role("button", name=f"Choose option {index + 1}").click()
        else:
            if action == "key ArrowLeft":
                # keyboard users see where the focus is
                page.keyboard.press("Tab")
                while not page.evaluate("document.activeElement.classList.contains('choice')"):
                    page.keyboard.press("Tab")
                outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
                assert outline == "solid"
                screenshot(page, "compare-text-focus")
            page.keyboard.press(action.removeprefix("key "))
        wait_for_change(page, task)
    page.get_by_text("No more work here").wait_for()

    stored = [r.payload["choice"] for r in Response.objects.filter(job=job).order_by("created_at")]
    assert stored == expected
    assert page.errors == []


def test_compare_items_stack_on_a_narrow_screen(make_requester, make_labeler, new_page, screenshot):
    requester = make_requester("requester")
    definition = job_services.job_definition_create_compare(
        owner=requester,
        name="Which is better?",
        instruction="Pick the sharper photo",
        datapoints=[[upload(requester, picture(480, 360, seed=7)), upload(requester, picture(480, 360, seed=8))]],
        responses_per_datapoint=1,
    )
    job = job_services.job_create(owner=requester, definition=definition, audience=global_audience())
    make_labeler("phone", password=PASSWORD)
    page = new_page(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True, device_scale_factor=2)
    log_in(page, "phone")
    page.goto(f"/jobs/{job.public_id}/work/")
    wait_for_compare(page, None)
    first, second = (page.locator(".option").nth(i).bounding_box() for i in range(2))
    assert second["y"] >= first["y"] + first["height"]  # stacked
    assert first["x"] >= 0 and first["x"] + first["width"] <= 390
    screenshot(page, "compare-phone")
    second_value = shown_values(page)[1]
    page.locator(".option-body").nth(1).tap()
    page.get_by_text("No more work here").wait_for()
    assert Response.objects.get(job=job).payload == {"choice": second_value}


def test_a_compare_image_that_does_not_load_can_be_skipped(make_requester, make_labeler, page):
    requester = make_requester("requester")
    definition = job_services.job_definition_create_compare(
        owner=requester,
        name="Which is better?",
        instruction="Pick the sharper photo",
        datapoints=[[upload(requester, picture(seed=9)), "http://127.0.0.1:9/gone.png"]],
        responses_per_datapoint=1,
    )
    job = job_services.job_create(owner=requester, definition=definition, audience=global_audience())
    make_labeler("skipper", password=PASSWORD)
    log_in(page, "skipper")
    page.goto(f"/jobs/{job.public_id}/work/")
    page.get_by_text("This image could not be loaded.").wait_for()
    assert page.locator("#notice").inner_text() == "An image could not be loaded. Please skip this task."
    assert page.get_by_role("button", name="Choose option 1").is_disabled()
    page.keyboard.press("1")  # no pick while an item is missing
    page.get_by_role("button", name="Skip").click()
    page.get_by_text("No more work here").wait_for()
    assert not Response.objects.exists()
