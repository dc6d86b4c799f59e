"""Pages laid out for a phone (390 x 844) and a desk (1280 x 800): no table
cell breaks a word in two, measured in the page from the rendered lines of
each word."""

from __future__ import annotations

import pytest

from audiences import services as audience_services
from audiences.selectors import global_audience
from jobs import services as job_services
from tests import factories, stack
from tests.browser.conftest import PASSWORD, log_in, picture, upload

pytestmark = pytest.mark.browser

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
DESK = {"viewport": {"width": 1280, "height": 800}}

# Each word of each table cell, as a DOM range: a word drawn on more than one
# line (its client rects at different heights) was broken inside.
BROKEN_WORDS = """() => {
    const broken = [];
    for (const cell of document.querySelectorAll('table th, table td')) {
        const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
        for (let node = walker.nextNode(); node; node = walker.nextNode()) {
            for (const match of node.data.matchAll(/\\S+/g)) {
                const range = document.createRange();
                range.setStart(node, match.index);
                range.setEnd(node, match.index + match[0].length);
                const lines = new Set([...range.getClientRects()].filter(rect => rect.width > 0)
                    .map(rect => Math.round(rect.top)));
                if (lines.size > 1) broken.push(match[0]);
            }
        }
    }
    return broken;
}"""


def words_broken(page) -> list[str]:
    assert page.locator("table").count() > 0
    return page.evaluate(BROKEN_WORDS)


@pytest.fixture
def crowd(make_requester, make_labeler):
    """A requester with running draw and compare jobs on audiences with long
    names, and a labeler who belongs to some of them."""
    requester = make_requester("requester", password=PASSWORD)
    draw = factories.draw_audience(requester, name="Blue bookshelf spotters of Amsterdam")
    compare = factories.compare_audience(requester, name="Prompt alignment reviewers (experienced)")
    factories.draw_job(requester, global_audience())
    factories.draw_job(requester, draw)
    factories.compare_job(requester, compare)
    labeler = make_labeler("reader", password=PASSWORD)
    for audience in (draw, compare):
        audience_services.qualification_next(labeler=labeler, audience=audience)
    return requester, labeler


@pytest.mark.parametrize("device", ["phone", "desk"])
def test_no_table_cell_breaks_a_word(crowd, new_page, screenshot, device):
    options = PHONE if device == "phone" else DESK
    labeler_page = new_page(**options)
    log_in(labeler_page, "reader")
    labeler_page.goto("/")
    labeler_page.locator("table.memberships").wait_for()
    screenshot(labeler_page, f"layout-home-{device}")
    assert words_broken(labeler_page) == []

    requester_page = new_page(**options)
    log_in(requester_page, "requester")
    requester_page.goto("/dashboard/")
    requester_page.locator("table.jobs").wait_for()
    screenshot(requester_page, f"layout-dashboard-{device}")
    assert words_broken(requester_page) == []


# --- every labeler page: screenshots, Submit in reach, accessibility, weight -----------------

AXE = stack.ROOT / "var" / "axe" / "node_modules" / "axe-core" / "axe.min.js"
MAX_PAGE_WEIGHT = 60 * 1024  # bytes of JS and CSS a labeler page loads
RUN_AXE = """async () => {
    const result = await axe.run(document, { resultTypes: ['violations'] });
    return result.violations.filter(v => v.impact === 'serious' || v.impact === 'critical')
        .map(v => `${v.impact} ${v.id}: ${v.help} (${v.nodes.map(n => n.target.join(' ')).slice(0, 3).join(', ')})`);
}"""


def task_up(page, kind: str) -> None:
    """Wait until a task of ``kind`` is shown with its images loaded."""
    page.wait_for_function(
        """kind => {
            const stage = document.querySelector('[data-stage]');
            return stage && stage.dataset.task && stage.dataset.kind === kind
                && [...stage.querySelectorAll('img')].every(img => img.complete && img.naturalWidth > 0);
        }""",
        arg=kind,
    )


def axe_violations(page) -> list[str]:
    if not AXE.exists():
        pytest.skip("axe-core is not installed (make browser-deps)")
    # Evaluated through the DevTools protocol: the pages' CSP allows no
    # injected <script>, and stays as it is for the check.
    page.evaluate(AXE.read_text() + "\n;true")
    return page.evaluate(RUN_AXE)


class Weigher:
    """Counts the bytes of every script and style sheet a page loads."""

    def __init__(self, page):
        self.sizes: dict[str, int] = {}
        page.on("response", self.seen)

    def seen(self, response):
        if response.request.resource_type in ("script", "stylesheet") and response.ok:
            self.sizes[response.url] = len(response.body())

    def reset(self):
        self.sizes.clear()

    @property
    def total(self) -> int:
        return sum(self.sizes.values())


def in_first_viewport(page, locator, viewport) -> bool:
    box = locator.bounding_box()
    scrolled = page.evaluate("window.scrollY + document.querySelector('main').scrollTop")
    return scrolled == 0 and box["y"] >= 0 and box["y"] + box["height"] <= viewport["height"]


@pytest.fixture
def workspace(make_requester, make_labeler):
    """A requester's draw and compare jobs on the global audience, draw and
    compare audiences open for qualification, all with real images."""
    requester = make_requester("requester", password=PASSWORD)
    image = lambda seed, **kw: upload(requester, picture(seed=seed, **kw))  # noqa: E731
    box = {"x_min": 0.2, "y_min": 0.2, "x_max": 0.6, "y_max": 0.7}
    draw_audience = audience_services.audience_create(owner=requester, name="Shelf spotters")
    compare_audience = audience_services.audience_create(owner=requester, name="Prompt judges")
    for index in range(3):
        audience_services.example_add_draw(
            audience=draw_audience,
            owner=requester,
            instruction="Color in every blue book",
            datapoint=image(100 + index, boxes=[box]),
            truths=[box],
        )
        good, bad = image(200 + index), image(300 + index, background=(120, 120, 120))
        audience_services.example_add_compare(
            audience=compare_audience,
            owner=requester,
            instruction="Which image is lighter?",
            datapoint=[good, bad],
            truth=good,
            context=f"Prompt {index}",
        )
    draw = job_services.job_definition_create_draw(
        owner=requester,
        name="Shelf survey",
        instruction="Color in every blue book",
        datapoints=[image(i) for i in range(3)],
        responses_per_datapoint=1,
    )
    compare = job_services.job_definition_create_compare(
        owner=requester,
        name="Lighter or darker",
        instruction="Which image is lighter?",
        datapoints=[[image(10 + i), image(20 + i, background=(90, 90, 90))] for i in range(3)],
        contexts=["A prompt"] * 3,
        responses_per_datapoint=1,
    )
    jobs = {
        kind: job_services.job_create(owner=requester, definition=definition, audience=global_audience())
        for kind, definition in (("draw", draw), ("compare", compare))
    }
    make_labeler("walker", password=PASSWORD)
    return {"jobs": jobs, "draw_definition": draw, "audiences": {"draw": draw_audience, "compare": compare_audience}}


@pytest.mark.parametrize("device", ["phone", "desk"])
def test_every_labeler_page_fits_is_accessible_and_light(workspace, new_page, screenshot, device):
    options = PHONE if device == "phone" else DESK
    viewport = options["viewport"]
    page = new_page(**options)
    weigher = Weigher(page)
    checked: dict[str, tuple[list[str], int]] = {}

    def check(name: str) -> None:
        screenshot(page, f"labeler-{name}-{device}")
        checked[name] = (axe_violations(page), weigher.total)
        weigher.reset()

    for name in ("login", "signup"):
        page.goto(f"/accounts/{name}/" if name == "login" else "/signup/")
        check(name)
    log_in(page, "walker")
    page.wait_for_load_state("networkidle")  # the home page's own scripts are not the next page's
    weigher.reset()
    page.goto("/")
    page.locator("table.memberships").wait_for()
    check("home")

    for kind, audience in workspace["audiences"].items():
        page.goto(f"/audiences/{audience.public_id}/qualify/")
        task_up(page, kind)
        check(f"qualify-{kind}")

    page.goto(f"/jobs/{workspace['jobs']['draw'].public_id}/work/")
    task_up(page, "draw")
    assert in_first_viewport(page, page.get_by_role("button", name="Submit"), viewport)
    frame = page.locator(".draw-frame").bounding_box()
    assert frame["y"] + frame["height"] <= page.locator(".draw-tools").bounding_box()["y"] + 0.5
    check("work-draw")

    page.goto(f"/jobs/{workspace['jobs']['compare'].public_id}/work/")
    task_up(page, "compare")
    first, second = (page.locator(".option").nth(i) for i in range(2))
    assert in_first_viewport(page, first, viewport) and in_first_viewport(page, second, viewport)
    a, b = first.bounding_box(), second.bounding_box()
    if device == "phone":
        assert b["y"] >= a["y"] + a["height"] - 0.5  # stacked
    else:
        assert a["y"] == pytest.approx(b["y"]) and b["x"] >= a["x"] + a["width"]  # side by side
    check("work-compare")

    # a requester's preview is the labeler's page, with nothing stored
    requester_page = new_page(**options)
    weigher = Weigher(requester_page)
    log_in(requester_page, "requester")
    requester_page.wait_for_load_state("networkidle")
    weigher.reset()
    page = requester_page
    page.goto(f"/preview/{workspace['draw_definition'].public_id}/")
    task_up(page, "draw")
    assert in_first_viewport(page, page.get_by_role("button", name="Submit"), viewport)
    check("preview-draw")

    print(device, {name: weight for name, (_, weight) in checked.items()})
    assert {name: violations for name, (violations, _) in checked.items() if violations} == {}
    assert {name: weight for name, (_, weight) in checked.items() if not 0 < weight < MAX_PAGE_WEIGHT} == {}
