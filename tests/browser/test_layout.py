"""Pages laid out for a phone (390 x 844) and a desk (1280 x 800): no table
cell breaks a word in two, measured in the page from the rendered lines of
each word."""

from __future__ import annotations

import pytest

from audiences import services as audience_services
from audiences.selectors import global_audience
from tests import factories
from tests.browser.conftest import PASSWORD, log_in

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
