"""The requester dashboard in Chromium: a job page follows simulated
labelers live (no reload), its draw results show a heatmap where they drew;
a labeler's home page lists new work as it is assigned."""

from __future__ import annotations

import io
import threading

import httpx
import pytest
from django.db import connection
from PIL import Image

from assets import services as asset_services
from audiences import services as audience_services
from audiences.models import Membership
from audiences.selectors import global_audience
from demo.simulation import Oracle, SimulatedLabeler, create_labelers
from jobs import feed, result_updates
from jobs import services as job_services
from jobs.models import Job, JobDatapoint
from labeling.models import Heartbeat
from tests.browser.conftest import PASSWORD, log_in, picture
from tests.waiting import wait_until

pytestmark = pytest.mark.browser

# Where the blue books are, and so where the simulated labelers color in.
REGIONS = [
    {"x_min": 0.1, "y_min": 0.15, "x_max": 0.45, "y_max": 0.6},
    {"x_min": 0.55, "y_min": 0.3, "x_max": 0.9, "y_max": 0.85},
    {"x_min": 0.3, "y_min": 0.1, "x_max": 0.7, "y_max": 0.45},
]
LABELERS = 3

MARK_NO_RELOAD = """() => {
    window.__dashboardMarker = 'still the same page';
    window.__bars = [];
    const bar = document.querySelector('[data-job-live] progress[data-field=bar]');
    new MutationObserver(() => window.__bars.push(Number(bar.value)))
        .observe(document.querySelector('[data-job-live]'), {attributes: true, attributeFilter: ['data-updates']});
}"""


def page_bar(page) -> float:
    return float(page.evaluate("document.querySelector('[data-job-live] progress[data-field=bar]').value"))


def wait_bar_at_least(page, value: float, timeout: float = 20_000) -> None:
    page.wait_for_function(
        "value => document.querySelector('[data-job-live] progress[data-field=bar]').value >= value",
        arg=value,
        timeout=timeout,
    )


def run_labeler(server, token: str, job_id: str, oracle: Oracle, errors: list) -> None:
    labeler = SimulatedLabeler(base_url=server.url, token=token, accuracy=1.0, oracle=oracle, seed=token)
    try:
        labeler.work(job_id)
    except Exception as exc:  # reported by the test
        errors.append(repr(exc))
    finally:
        labeler.close()
        connection.close()


def frame_image(page, position: int, *, heatmap: bool) -> Image.Image:
    """A screenshot of a datapoint's image frame, heatmap on or off, boxes off."""
    card = page.locator(f'[data-position="{position}"]')
    card.locator('[data-toggle="boxes"]').set_checked(False)
    card.locator('[data-toggle="heatmap"]').set_checked(heatmap)
    return Image.open(io.BytesIO(card.locator(".frame").screenshot())).convert("RGB")


def samples(box: dict, size: tuple[int, int], inset: float) -> list[tuple[int, int]]:
    """A 5x5 grid of pixel positions ``inset`` (a share of the box) inside ``box``."""
    width, height = size
    x0 = box["x_min"] + inset * (box["x_max"] - box["x_min"])
    x1 = box["x_max"] - inset * (box["x_max"] - box["x_min"])
    y0 = box["y_min"] + inset * (box["y_max"] - box["y_min"])
    y1 = box["y_max"] - inset * (box["y_max"] - box["y_min"])
    return [
        (int((x0 + (x1 - x0) * i / 4) * width), int((y0 + (y1 - y0) * j / 4) * height))
        for i in range(5)
        for j in range(5)
    ]


def shot(artifacts_dir, name: str) -> str:
    """Where a screenshot of a part of a page goes (beside the full-page ones)."""
    folder = artifacts_dir / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return str(folder / f"{name}.png")


def difference(a: tuple, b: tuple) -> int:
    return sum(abs(p - q) for p, q in zip(a, b))


def test_job_page_follows_labelers_live_and_shows_their_heatmap(
    make_requester, page, server, screenshot, artifacts_dir
):
    requester = make_requester("requester", password=PASSWORD)
    datapoints = []
    for index, box in enumerate(REGIONS):
        asset = asset_services.asset_create_image(
            owner=requester, data=picture(boxes=[box], seed=500 + index), known_regions=[box]
        )
        datapoints.append({"asset_id": asset.public_id})
    definition = job_services.job_definition_create_draw(
        owner=requester,
        name="Blue books <b>live</b>",
        instruction="Color in every blue book",
        datapoints=datapoints,
        responses_per_datapoint=LABELERS,
    )
    job = job_services.job_create(owner=requester, definition=definition, audience=global_audience())
    accounts = create_labelers(LABELERS, prefix="sim")
    oracle = Oracle()

    log_in(page, "requester")
    page.goto(f"/dashboard/jobs/{job.public_id}/")
    page.wait_for_function("() => document.querySelector('[data-live-status]').dataset.connected === 'true'")
    assert page_bar(page) == 0
    assert page.locator("h1").inner_text().startswith("Blue books <b>live</b>")  # shown as text
    page.evaluate(MARK_NO_RELOAD)
    screenshot(page, "dashboard-job-before")

    # One labeler after another: each answers every datapoint once, a third of the job.
    errors: list[str] = []
    seen = []
    for number, (_, token) in enumerate(accounts, start=1):
        worker = threading.Thread(target=run_labeler, args=(server, token, job.public_id, oracle, errors))
        worker.start()
        worker.join(60)
        assert errors == [], f"{errors}\n{server.log()[-3000:]}"
        wait_bar_at_least(page, min(100.0, round(100 * number / LABELERS, 2) - 0.01))
        seen.append(page_bar(page))
        assert page.locator('[data-job-live] [data-field="responses_collected"]').inner_text() == str(
            number * len(REGIONS)
        )
        if number == 1:
            screenshot(page, "dashboard-job-running")
    assert seen[0] < seen[1] < seen[2] == 100.0
    bars = page.evaluate("window.__bars")
    assert len({value for value in bars if 0 < value < 100}) >= 2, bars  # advanced in steps, live

    # Completed, results in: every card refreshed in place with its heatmap.
    page.wait_for_function("() => document.querySelector('[data-job-live]').dataset.state === 'completed'")
    page.wait_for_function(
        """count => [...document.querySelectorAll('[data-position]')].every(card => {
            const heatmap = card.querySelector('img.heatmap');
            return card.dataset.included === String(count) && heatmap && heatmap.complete
                && heatmap.naturalWidth > 0;
        })""",
        arg=LABELERS,
        timeout=30_000,
    )
    page.wait_for_function("() => [...document.querySelectorAll('img.image')].every(i => i.complete && i.naturalWidth)")
    assert page.evaluate("window.__dashboardMarker") == "still the same page"
    assert page.evaluate("performance.getEntriesByType('navigation').length") == 1
    assert Job.objects.get(pk=job.pk).state == Job.State.COMPLETED
    screenshot(page, "dashboard-job-completed")

    # The heatmap tints where the labelers drew, and nothing far from it.
    card = page.locator('[data-position="0"]')
    card.scroll_into_view_if_needed()
    bare = frame_image(page, 0, heatmap=False)
    tinted = frame_image(page, 0, heatmap=True)
    bare.save(shot(artifacts_dir, "dashboard-heatmap-off"))
    tinted.save(shot(artifacts_dir, "dashboard-heatmap-on"))
    box = REGIONS[0]
    inside = samples(box, tinted.size, inset=0.2)
    changed = [difference(bare.getpixel(p), tinted.getpixel(p)) for p in inside]
    assert sum(change > 60 for change in changed) >= 0.9 * len(inside), changed
    reddish = [tinted.getpixel(p) for p in inside]
    assert sum(r > b for r, g, b in reddish) >= 0.9 * len(inside), reddish  # full agreement: the red end
    far = samples({"x_min": 0.62, "y_min": 0.72, "x_max": 0.95, "y_max": 0.95}, tinted.size, inset=0.1)
    assert all(difference(bare.getpixel(p), tinted.getpixel(p)) < 12 for p in far)

    # Boxes on, strokes on demand.
    card.locator('[data-toggle="boxes"]').set_checked(True)
    assert card.locator("svg.boxes rect").count() == 1
    card.get_by_role("button", name="Show strokes").click()
    card.locator("[data-legend] li").nth(LABELERS - 1).wait_for()
    assert not card.locator("canvas.strokes").is_hidden()
    card.screenshot(path=str(shot(artifacts_dir, "dashboard-draw-card-strokes")))
    assert page.errors == []


def test_labeler_home_lists_new_work_without_reload(make_requester, make_labeler, page, server, screenshot):
    requester = make_requester("requester", password=PASSWORD)
    watcher = make_labeler("watcher", password=PASSWORD)
    log_in(page, "watcher")
    page.wait_for_function("() => document.body.dataset.live === 'connected'")
    wait_until(lambda: Heartbeat.objects.filter(labeler=watcher).exists())  # the page says it is open
    assert page.get_by_role("link", name="Start").count() == 0
    page.evaluate("window.__homeMarker = 'same page'")

    # The requester assigns a job through the server's API (the server publishes the notice).
    api = httpx.Client(base_url=server.url, headers={"Authorization": f"Token {requester.api_token}"})
    definition = api.post(
        "/api/job-definitions/",
        json={
            "kind": "draw",
            "name": "Fresh work <i>now</i>",
            "instruction": "Color in the blue books",
            "datapoints": ["https://assets.example.org/a.jpg", "https://assets.example.org/b.jpg"],
        },
    )
    assert definition.status_code == 201, definition.text
    job = api.post("/api/jobs/", json={"job_definition": definition.json()["id"], "audience": "global"})
    assert job.status_code == 201, job.text
    api.close()

    page.get_by_role("link", name="Start").wait_for(timeout=10_000)
    card = page.locator(".card.job")
    assert card.locator("h3").inner_text() == "Fresh work <i>now</i>"
    assert card.locator(".instruction").inner_text() == "Color in the blue books"
    assert page.evaluate("window.__homeMarker") == "same page"
    assert page.get_attribute("a:has-text('Start')", "href") == f"/jobs/{job.json()['id']}/work/"
    screenshot(page, "home-live-new-work")
    assert page.errors == []


def test_compare_gallery_dashboard_home_and_audience_pages(make_requester, make_labeler, page, screenshot):
    requester = make_requester("requester", password=PASSWORD)
    colors = [(240, 200, 80), (90, 160, 220), (200, 90, 90), (90, 200, 120)]
    items = [
        asset_services.asset_create_image(owner=requester, data=picture(320, 240, seed=700 + i, background=c))
        for i, c in enumerate(colors)
    ]
    definition = job_services.job_definition_create_compare(
        owner=requester,
        name="Prompt alignment",
        instruction="Which image follows the prompt?",
        datapoints=[
            [{"asset_id": items[0].public_id}, {"asset_id": items[1].public_id}],
            [{"asset_id": items[2].public_id}, {"asset_id": items[3].public_id}],
        ],
        contexts=["a yellow <b>duck</b>", "a green frog"],
        responses_per_datapoint=4,
    )
    job = job_services.job_create(owner=requester, definition=definition, audience=global_audience())
    # datapoint 0: three of four pick the left item; the one expert picks the right one
    for index in range(4):
        labeler = make_labeler(f"voter{index}")
        Membership.objects.filter(labeler=labeler).update(user_score=0.9 if index == 3 else 0.1)
        while (lease := feed.task_next(labeler=labeler, job=job)) is not None:
            datapoint = lease.job_datapoint.datapoint
            pick = datapoint.asset_b if index == 3 or lease.job_datapoint.position == 1 else datapoint.asset
            feed.task_submit(labeler=labeler, task_id=lease.public_id, response={"choice": pick.labeler_value})
    for slot in JobDatapoint.objects.filter(job=job):
        result_updates.datapoint_aggregate(job_datapoint_id=slot.pk)

    audience = audience_services.audience_create(
        owner=requester, name="Blue book finders", description="Labelers who find blue books."
    )
    for index, box in enumerate(REGIONS):
        asset = asset_services.asset_create_image(owner=requester, data=picture(boxes=[box], seed=800 + index))
        audience_services.example_add_draw(
            audience=audience,
            owner=requester,
            instruction="Color in the blue book",
            datapoint={"asset_id": asset.public_id},
            truths=[box],
        )

    log_in(page, "requester")
    page.goto(f"/dashboard/jobs/{job.public_id}/")
    page.wait_for_function("() => [...document.querySelectorAll('.pair img')].every(i => i.complete && i.naturalWidth)")
    first = page.locator('[data-position="0"]')
    tracks = first.locator("rect.track").evaluate_all("rects => rects.map(r => r.getBoundingClientRect().width)")
    votes = first.locator("rect.votes").evaluate_all("rects => rects.map(r => r.getBoundingClientRect().width)")
    assert votes[0] / tracks[0] == pytest.approx(0.75, abs=0.01)  # 3 of 4 votes
    assert votes[1] / tracks[2] == pytest.approx(0.25, abs=0.01)
    assert first.locator(".item.winner [data-mark=winner]").count() == 1
    assert first.locator(".item").nth(1).locator("[data-mark=weighted-winner]").count() == 1
    assert page.locator("[data-ranking] tbody tr").count() == 4
    assert first.locator(".context").inner_text() == "a yellow <b>duck</b>"
    screenshot(page, "dashboard-compare")

    page.goto("/dashboard/")
    row = page.locator(f'[data-job-id="{job.public_id}"]')
    page.wait_for_function("() => [...document.querySelectorAll('[data-job-live]')].every(r => r.dataset.updates)")
    assert float(row.locator("progress").evaluate("bar => bar.value")) == 100
    screenshot(page, "dashboard-home")

    page.get_by_role("link", name="Blue book finders").click()
    page.wait_for_url(f"**/dashboard/audiences/{audience.public_id}/")
    page.wait_for_function(
        "() => [...document.querySelectorAll('.example img')].every(i => i.complete && i.naturalWidth)"
    )
    frame = page.locator(".example .frame").first
    image_box, truth_box = frame.locator("img").bounding_box(), frame.locator("rect").bounding_box()
    assert (truth_box["x"] - image_box["x"]) / image_box["width"] == pytest.approx(REGIONS[0]["x_min"], abs=0.02)
    assert truth_box["width"] / image_box["width"] == pytest.approx(REGIONS[0]["x_max"] - REGIONS[0]["x_min"], abs=0.02)
    screenshot(page, "dashboard-audience")
    assert page.errors == []
