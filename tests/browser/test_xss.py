"""User-supplied text is inert in the browser.

Audience names and descriptions, job names, instructions, contexts, text
items, image URLs and explanations carry ``<script>``, ``<img onerror>``
and ``<svg onload>`` payloads that would set ``window.__xss`` and open an
alert. Through the labeler pages (home, qualification with its explanation
after a wrong answer, draw and compare tasks) and the admin, no dialog
opens, the flag stays unset, no element of the payloads exists, and the
payload text is shown as text.
"""

from __future__ import annotations

import pytest

from audiences import services as audience_services
from audiences.models import QualificationExample
from audiences.selectors import global_audience
from jobs import services as job_services
from tests.browser.conftest import PASSWORD, log_in, picture, upload, wait_for_draw

pytestmark = pytest.mark.browser

SCRIPT = "<script>window.__xss='script';alert('script')</script>"
IMG = "<img src=x onerror=\"window.__xss='img';alert('img')\">"
SVG = "\"'><svg onload=\"window.__xss='svg';alert('svg')\">"
HOSTILE = f"{SCRIPT} {IMG} {SVG}"
# An image URL that breaks out of an attribute if it is pasted into HTML.
HOSTILE_URL = "https://assets.example.org/a.jpg?\"'><img/src=x/onerror=window.__xss='url'>"

INJECTED = """() => ({
    flag: window.__xss === undefined ? null : String(window.__xss),
    handlers: [...document.querySelectorAll('*')]
        .filter(el => [...el.attributes].some(attribute => attribute.name.startsWith('on'))).length,
    inlineScripts: [...document.querySelectorAll('script:not([src])')]
        .filter(script => !/json/.test(script.type || '')).length,
    images: document.querySelectorAll('img[src="x"]').length,
    svgs: document.querySelectorAll('svg[onload], svg [onload]').length,
})"""


def watch_dialogs(page) -> list[str]:
    opened: list[str] = []

    def dismiss(dialog):
        opened.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", dismiss)
    return opened


def assert_inert(page, opened: list[str], where: str, *, shows_payload: bool = True) -> None:
    page.wait_for_load_state("load")
    page.wait_for_timeout(100)  # an onerror or onload would have run by now
    found = page.evaluate(INJECTED)
    assert found == {"flag": None, "handlers": 0, "inlineScripts": 0, "images": 0, "svgs": 0}, (where, found)
    assert opened == [], (where, opened)
    if shows_payload:  # shown, as text
        assert page.get_by_text("window.__xss=", exact=False).count() > 0, where


@pytest.fixture
def hostile(make_requester, make_labeler):
    requester = make_requester("requester", password=PASSWORD)
    make_labeler("mallory", password=PASSWORD)
    audience = audience_services.audience_create(
        owner=requester,
        name=f"Audience {HOSTILE}"[:200],
        description=f"Description {HOSTILE}",
        min_tasks=3,
        max_tasks=3,
        target_accuracy=0.5,
        gold_rate=0,
    )
    for index in range(3):
        audience_services.example_add_compare(
            audience=audience,
            owner=requester,
            instruction=f"Pick {IMG}",
            context=f"Context {SCRIPT} {index}",
            datapoint=[f"Right {IMG} {index}", f"Wrong {SVG} {index}"],
            truth=f"Right {IMG} {index}",
            explanation=f"Explanation {HOSTILE}",
        )
    draw = job_services.job_definition_create_draw(
        owner=requester,
        name=f"Draw {HOSTILE}",
        instruction=f"Color {IMG}",
        datapoints=[upload(requester, picture(seed=7))],
        contexts=[f"Context {HOSTILE}"],
        responses_per_datapoint=1,
    )
    compare = job_services.job_definition_create_compare(
        owner=requester,
        name=f"Compare {HOSTILE}",
        instruction=f"Choose {SCRIPT}",
        datapoints=[[HOSTILE_URL, f"Text {HOSTILE}"]],
        contexts=[f"Context {SVG}"],
        responses_per_datapoint=1,
    )
    jobs = [
        job_services.job_create(owner=requester, definition=definition, audience=global_audience())
        for definition in (draw, compare)
    ]
    return audience, jobs


def test_hostile_text_is_inert_on_the_labeler_pages(hostile, page, screenshot):
    audience, (draw_job, compare_job) = hostile
    opened = watch_dialogs(page)
    log_in(page, "mallory")
    assert_inert(page, opened, "home")

    # Qualification: a wrong answer shows the (hostile) explanation.
    page.goto(f"/audiences/{audience.public_id}/qualify/")
    page.locator(".option").first.wait_for()
    assert_inert(page, opened, "qualification task")
    assert page.locator(".instruction").inner_text() == f"Pick {IMG}"
    texts = page.locator(".option-text").all_inner_texts()
    wrong = next(index for index, text in enumerate(texts) if text.startswith("Wrong"))
    page.locator(".option-body").nth(wrong).click()
    page.locator(".explanation").wait_for()
    assert page.locator(".explanation").inner_text() == f"Explanation {HOSTILE}"
    assert_inert(page, opened, "qualification explanation")
    screenshot(page, "xss-qualification-explanation")

    page.goto(f"/jobs/{draw_job.public_id}/work/")
    wait_for_draw(page)
    assert page.locator(".instruction").inner_text() == f"Color {IMG}"
    assert page.locator(".task-head .context").inner_text() == f"Context {HOSTILE}"
    assert_inert(page, opened, "draw task")

    page.goto(f"/jobs/{compare_job.public_id}/work/")
    page.locator(".option").nth(1).wait_for()
    assert page.locator(".option-text").inner_text() == f"Text {HOSTILE}"
    assert_inert(page, opened, "compare task")
    screenshot(page, "xss-compare")

    page.goto("/")
    assert_inert(page, opened, "home with jobs")
    assert not [error for error in page.errors if "Content Security Policy" in error], page.errors

    # The checks see an injected element; and the page's policy would stop its handler anyway.
    page.evaluate("html => document.body.insertAdjacentHTML('beforeend', html)", IMG)
    page.wait_for_timeout(200)
    found = page.evaluate(INJECTED)
    assert found["handlers"] == 1 and found["images"] == 1
    assert found["flag"] is None and opened == []  # blocked by the Content-Security-Policy


def test_hostile_text_is_inert_in_the_admin(hostile, new_page):
    audience, (draw_job, compare_job) = hostile
    page = new_page()
    opened = watch_dialogs(page)
    log_in(page, "requester")
    example = QualificationExample.objects.filter(audience=audience).first()
    text_asset = compare_job.definition.datapoints.get().asset_b
    urls = [
        "/admin/",
        "/admin/audiences/audience/",
        f"/admin/audiences/audience/{audience.pk}/change/",
        "/admin/audiences/qualificationexample/",
        f"/admin/audiences/qualificationexample/{example.pk}/change/",
        "/admin/jobs/jobdefinition/",
        f"/admin/jobs/jobdefinition/{draw_job.definition.pk}/change/",
        f"/admin/jobs/jobdefinition/{compare_job.definition.pk}/change/",
        "/admin/jobs/job/",
        f"/admin/jobs/job/{compare_job.pk}/change/",
        "/admin/jobs/asset/",
        f"/admin/jobs/asset/{text_asset.pk}/change/",
        f"/admin/audiences/audience/?q={SCRIPT}",
    ]
    for url in urls:
        response = page.goto(url)
        assert response.status == 200 and "/login/" not in page.url, (url, page.url)
        assert_inert(page, opened, url, shows_payload=url != "/admin/")
    assert not [error for error in page.errors if "Content Security Policy" in error], page.errors


def test_api_docs_render_under_their_content_security_policy(page):
    page.goto("/api/docs/")
    page.locator(".swagger-ui .info .title").wait_for()
    assert "CrowdCanvas API" in page.locator(".swagger-ui .info .title").inner_text()
    assert page.errors == [], page.errors
