"""The requester dashboard: requesters only, scoped to their own objects,
escaped, a job page in constant queries whatever its size, and galleries
that show the aggregated results (vote bars, winners, consensus boxes)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from assets import services as asset_services
from audiences import services as audience_services
from audiences.models import Audience, Membership
from audiences.selectors import global_audience
from core.csp import CONTENT_SECURITY_POLICY
from core.pseudonyms import labeler_anonymous_id
from dashboard.selectors import CARDS_PER_PAGE
from jobs import feed, result_updates
from jobs import services as job_services
from jobs.models import DatapointResult, Job, JobDatapoint
from labeling.models import Heartbeat
from tests import factories
from tests.conftest import image_bytes

pytestmark = pytest.mark.django_db

SCRIPT = "<script>alert('x')</script>"
ESCAPED = "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;"


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def text(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def answer(job, labeler, respond):
    """``labeler`` answers every task of ``job`` they get with ``respond(lease)``."""
    while (lease := feed.task_next(labeler=labeler, job=job)) is not None:
        feed.task_submit(labeler=labeler, task_id=lease.public_id, response=respond(lease))


def aggregate(job):
    for slot in JobDatapoint.objects.filter(job=job):
        result_updates.datapoint_aggregate(job_datapoint_id=slot.pk)


def card_html(page: str, position: int) -> str:
    """The gallery card of one datapoint in a page."""
    match = re.search(rf'<li class="result-card[^"]*" data-position="{position}".*?</li>', page, re.S)
    assert match, f"no card for position {position}"
    return match.group(0)


# --- access --------------------------------------------------------------------------------


def dashboard_urls(job, audience) -> list[str]:
    return [
        "/dashboard/",
        f"/dashboard/audiences/{audience.public_id}/",
        f"/dashboard/jobs/{job.public_id}/",
        f"/dashboard/jobs/{job.public_id}/cards/?positions=0",
    ]


def test_pages_require_login_and_a_requester(requester, labeler):
    audience = factories.draw_audience(requester)
    job = factories.draw_job(requester, audience)
    for url in dashboard_urls(job, audience):
        anonymous = Client().get(url)
        assert anonymous.status_code == 302 and anonymous["Location"].startswith("/accounts/login/?next="), url
        assert logged_in(labeler).get(url).status_code == 403, url
        assert logged_in(requester).get(url).status_code == 200, url


def test_another_requesters_audience_and_job_are_404(requester, other_requester):
    audience = factories.draw_audience(requester, name="Alice's spotters")
    job = factories.draw_job(requester, audience)
    bob = logged_in(other_requester)
    for url in dashboard_urls(job, audience)[1:]:
        assert bob.get(url).status_code == 404, url
    assert bob.get("/dashboard/jobs/job_nope/").status_code == 404
    assert bob.get("/dashboard/audiences/aud_nope/").status_code == 404


def test_lists_show_only_the_requesters_own_objects_and_shared_audiences(requester, other_requester):
    mine = factories.draw_audience(requester, name="Mine")
    theirs = factories.draw_audience(other_requester, name="Theirs")
    curated = Audience.objects.create(kind=Audience.Kind.CURATED, name="Curated by ops")
    my_job = factories.draw_job(requester, mine)
    their_job = factories.compare_job(other_requester, theirs)
    page = text(logged_in(requester).get("/dashboard/"))
    assert mine.public_id in page and my_job.public_id in page
    assert theirs.public_id not in page and "Theirs" not in page and their_job.public_id not in page
    assert f'data-audience-id="{global_audience().public_id}"' in page
    assert curated.public_id in page
    # the global audience can be opened by everyone, read-only: counts, no examples
    shared = text(logged_in(other_requester).get(f"/dashboard/audiences/{global_audience().public_id}/"))
    assert "Read-only" in shared


def test_pages_have_a_strict_csp_and_no_inline_script(requester):
    audience = factories.draw_audience(requester)
    job = factories.draw_job(requester, audience)
    client = logged_in(requester)
    for url in dashboard_urls(job, audience)[:3]:
        response = client.get(url)
        assert response["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
        body = text(response)
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", body), url
        assert "style=" not in body, url  # style-src 'self': no inline styles either


# --- dashboard home ------------------------------------------------------------------------


def graduate(labeler, audience):
    membership = audience_services.qualification_next(labeler=labeler, audience=audience)
    while membership.state == Membership.State.QUALIFYING:
        audience_services.qualification_answer(
            labeler=labeler, audience=audience, task_id=membership.current_task_id, response=factories.stroke_inside()
        )
        membership = audience_services.qualification_next(labeler=labeler, audience=audience)
    return membership


def test_home_lists_audiences_with_counts_and_active_labelers_and_jobs_with_progress(requester, make_labeler):
    audience = factories.draw_audience(requester, name="Book spotters", examples=3, min_tasks=3, max_tasks=3)
    graduated = [make_labeler(f"grad{i}") for i in range(3)]
    for labeler in graduated:
        assert graduate(labeler, audience).state == Membership.State.GRADUATED
    qualifying = make_labeler("halfway")
    audience_services.qualification_next(labeler=qualifying, audience=audience)
    idle = make_labeler("idle")
    # heartbeats: two graduated members and the qualifying one now, one long ago, one from a non-member
    for labeler in (graduated[0], graduated[0], graduated[1], qualifying, idle):
        Heartbeat.objects.create(labeler=labeler)
    old = Heartbeat.objects.create(labeler=graduated[2])
    Heartbeat.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(minutes=6))
    Heartbeat.objects.create(labeler=requester)  # requesters are not labelers

    job = factories.draw_job(requester, audience, datapoints=2, responses=2)
    answer(job, graduated[0], lambda lease: factories.stroke_inside())
    page = text(logged_in(requester).get("/dashboard/"))

    row = re.search(
        rf'<tr class="audience-row kind-custom" data-audience-id="{audience.public_id}">.*?</tr>', page, re.S
    ).group(0)
    counts = dict(re.findall(r'data-count="(\w+)">(\d+)<', row))
    assert counts == {"graduated": "3", "qualifying": "1", "dropped": "0", "examples": "3", "active": "3"}
    global_row = re.search(r'<tr class="audience-row kind-global".*?</tr>', page, re.S).group(0)
    assert 'data-count="active">4<' in global_row  # every labeler with a recent heartbeat

    job_row = re.search(rf'<tr class="job-row" data-job-live data-job-id="{job.public_id}".*?</tr>', page, re.S).group(
        0
    )
    assert 'max="100" value="50.0"' in job_row  # 2 of 4 responses
    assert '<span data-field="responses_collected">2</span> / <span data-field="responses_needed">4</span>' in job_row
    assert f'href="/dashboard/jobs/{job.public_id}/"' in job_row
    assert '<script type="module" src="/static/js/dashboard.js"></script>' in page


def test_job_list_is_paged(requester):
    jobs = [factories.draw_job(requester, global_audience(), datapoints=1) for _ in range(23)]
    client = logged_in(requester)
    first, second = text(client.get("/dashboard/")), text(client.get("/dashboard/?page=2"))
    assert first.count('class="job-row"') == 20 and second.count('class="job-row"') == 3
    assert jobs[-1].public_id in first and jobs[0].public_id in second  # newest first
    assert 'href="?page=2"' in first
    assert text(client.get("/dashboard/?page=99")).count('class="job-row"') == 3  # the last page


# --- audience page -------------------------------------------------------------------------


def test_audience_page_lists_members_by_state_with_pseudonyms_and_examples_with_truths(requester, make_labeler):
    audience = factories.draw_audience(requester, name="Book spotters", examples=3, min_tasks=3, max_tasks=3)
    labelers = [make_labeler(f"member{i}") for i in range(2)]
    for labeler in labelers:
        graduate(labeler, audience)
    client = logged_in(requester)
    page = text(client.get(f"/dashboard/audiences/{audience.public_id}/"))
    for labeler in labelers:
        assert labeler_anonymous_id(labeler.pk) in page
        assert labeler.username not in page
    assert page.count('<code class="labeler">') == 2
    # examples with their truth boxes drawn over them (factories.BLUE_BOX)
    assert page.count('class="example card kind-draw"') == 3
    assert page.count('<rect x="10" y="10" width="30" height="40"') == 3
    qualifying = text(client.get(f"/dashboard/audiences/{audience.public_id}/?state=qualifying"))
    assert '<code class="labeler">' not in qualifying and "No qualifying members." in qualifying


def test_each_requester_sees_only_the_members_of_their_own_audiences(requester, other_requester, make_labeler):
    """Bob's labelers' scores are Bob's: Alice sees them neither in Bob's
    audience (a 404) nor through the global or a curated audience, where
    everyone sees counts and aggregates only."""
    bobs = factories.draw_audience(other_requester, name="Bob's spotters", examples=3, min_tasks=3, max_tasks=3)
    curated = factories.draw_audience(other_requester, name="Soon curated", examples=3, min_tasks=3, max_tasks=3)
    labelers = [make_labeler(f"bobs{i}") for i in range(2)]
    for labeler in labelers:
        graduate(labeler, bobs)
        graduate(labeler, curated)
    Audience.objects.filter(pk=curated.pk).update(kind=Audience.Kind.CURATED, owner=None)
    pseudonyms = [labeler_anonymous_id(labeler.pk) for labeler in labelers]
    bob, alice = logged_in(other_requester), logged_in(requester)
    assert all(name in text(bob.get(f"/dashboard/audiences/{bobs.public_id}/")) for name in pseudonyms)
    assert alice.get(f"/dashboard/audiences/{bobs.public_id}/").status_code == 404
    for shared in (global_audience(), Audience.objects.get(pk=curated.pk)):
        for who in (alice, bob):
            page = text(who.get(f"/dashboard/audiences/{shared.public_id}/"))
            assert '<code class="labeler">' not in page and not any(name in page for name in pseudonyms)
            assert 'data-count="graduated">2<' in page
            assert "counts and averages only" in page
    for page in (text(alice.get("/dashboard/")), text(bob.get("/dashboard/"))):
        assert not any(name in page for name in pseudonyms)


def test_curated_audiences_show_counts_but_no_examples_or_truths(requester, operator):
    curated = audience_services.audience_create(owner=requester, name="To be curated")
    for index in range(2):
        audience_services.example_add_draw(
            audience=curated,
            owner=requester,
            instruction="Color the box",
            datapoint=factories.url(f"c{index}"),
            truths=[factories.BLUE_BOX],
            explanation="It is the secret answer",
        )
    Audience.objects.filter(pk=curated.pk).update(kind=Audience.Kind.CURATED, owner=None)  # as operators do
    page = text(logged_in(requester).get(f"/dashboard/audiences/{curated.public_id}/"))
    assert 'data-count="examples">2<' in page and "2 examples." in page
    assert "<rect" not in page and "secret answer" not in page and "Color the box" not in page
    # operators see everything
    assert "secret answer" in text(logged_in(operator).get(f"/dashboard/audiences/{curated.public_id}/"))


# --- job page: constant queries ---------------------------------------------------------------


def bulk_results(job):
    """Hand-made results for every datapoint (the page only reads them)."""
    slots = list(JobDatapoint.objects.filter(job=job))
    JobDatapoint.objects.filter(job=job).update(response_count=1)
    DatapointResult.objects.bulk_create(
        [
            DatapointResult(
                job=job,
                job_datapoint=slot,
                response_count=1,
                aggregator_version=result_updates.AGGREGATOR_VERSION,
                data={
                    "consensusBoxes": [{"x_min": 0.1, "y_min": 0.2, "x_max": 0.3, "y_max": 0.4}],
                    "agreement": 0.5,
                    "summedUserScores": 0.5,
                },
            )
            for slot in slots
        ]
    )


@pytest.mark.parametrize("kind", ["draw", "compare"])
def test_job_page_takes_the_same_queries_for_10_and_300_datapoints(requester, kind, django_assert_max_num_queries):
    make = factories.draw_job if kind == "draw" else factories.compare_job
    small = make(requester, global_audience(), datapoints=10)
    large = make(requester, global_audience(), datapoints=300)
    if kind == "draw":
        for job in (small, large):
            bulk_results(job)
    client = logged_in(requester)
    client.get("/dashboard/")  # the session is warm

    def queries(url: str, cards: int) -> int:
        with CaptureQueriesContext(connection) as captured:
            body = text(client.get(url))
        assert body.count('<li class="result-card') == cards
        return len(captured)

    first_pages = [
        queries(f"/dashboard/jobs/{small.public_id}/", 10),
        queries(f"/dashboard/jobs/{large.public_id}/", CARDS_PER_PAGE),
    ]
    assert first_pages[0] == first_pages[1]
    # other pages: the same, less the compare ranking (first page only)
    for page in (2, 7, 13):
        assert queries(
            f"/dashboard/jobs/{large.public_id}/?page={page}", 12 if page == 13 else CARDS_PER_PAGE
        ) == first_pages[0] - (kind == "compare")
    with django_assert_max_num_queries(8):
        large_page = text(client.get(f"/dashboard/jobs/{large.public_id}/?page=13"))
    assert 'data-position="288"' in large_page and 'data-position="287"' not in large_page
    assert 'aria-current="page">13<' in large_page


# --- job page: galleries ------------------------------------------------------------------------


def set_score(labeler, score: float) -> None:
    """A user score with graded answers behind it (the global audience grades
    nobody; a score without them is no evidence for the confidence)."""
    Membership.objects.filter(labeler=labeler, audience=global_audience()).update(
        user_score=score, answers=10, correct=10
    )


def test_compare_gallery_shows_vote_bars_winners_confidence_and_ranking(requester, make_labeler):
    definition = job_services.job_definition_create_compare(
        owner=requester,
        name="Prompt alignment",
        instruction="Which image follows the prompt?",
        datapoints=[["left-0 text", "right-0 text"], ["left-1 text", "right-1 text"]],
        contexts=["a duck", "a goose"],
        responses_per_datapoint=4,
    )
    job = job_services.job_create(owner=requester, definition=definition, audience=global_audience())
    # datapoint 0: three labelers with low scores pick left, one expert picks right;
    # datapoint 1: everyone picks right.
    votes = {
        "low0": ("left-0 text", "right-1 text"),
        "low1": ("left-0 text", "right-1 text"),
        "low2": ("left-0 text", "right-1 text"),
        "expert": ("right-0 text", "right-1 text"),
    }
    for name, choices in votes.items():
        labeler = make_labeler(name)
        set_score(labeler, 0.9 if name == "expert" else 0.1)
        answer(job, labeler, lambda lease, choices=choices: {"choice": choices[lease.job_datapoint.position]})
    aggregate(job)
    job.refresh_from_db()
    assert job.state == Job.State.COMPLETED
    page = text(logged_in(requester).get(f"/dashboard/jobs/{job.public_id}/"))

    first = card_html(page, 0)
    left, right = re.findall(r'<div class="item[^"]*" data-item="\d">.*?</p>\s*</div>', first, re.S)
    assert 'class="item winner"' in left and 'data-mark="winner"' in left and "weighted" not in left.split("<svg")[0]
    assert 'class="item weighted-winner"' in right and 'data-mark="weighted-winner"' in right
    assert 'data-bar="votes" x="0" y="0" width="75"' in left and 'data-bar="votes" x="0" y="0" width="25"' in right
    # summed user scores: 0.3 for left, 0.9 for right
    assert 'data-bar="weighted" x="0" y="6" width="25"' in left
    assert 'data-bar="weighted" x="0" y="6" width="75"' in right
    assert "<strong>3</strong> votes (75%)" in left and "<strong>1</strong> vote (25%)" in right
    assert re.search(r'Confidence <span class="confidence">0\.\d{3}</span>', first)
    assert "a duck" in first

    second = card_html(page, 1)
    assert 'data-bar="votes" x="0" y="0" width="0"' in second and 'data-bar="votes" x="0" y="0" width="100"' in second
    assert second.count('data-mark="winner"') == 1 and second.count('data-mark="weighted-winner"') == 1

    ranking = re.search(r"<section[^>]*data-ranking>.*?</section>", page, re.S).group(0)
    rows = re.findall(r'<tr><td class="num">(\d+)</td><td class="item-name">([^<]+)</td>', ranking)
    assert [item for _, item in rows][:1] == ["right-1 text"] and len(rows) == 4
    assert [rank for rank, _ in rows] == ["1", "2", "3", "4"]


def test_compare_gallery_marks_datapoints_stopped_early(requester, make_labeler):
    definition = job_services.job_definition_create_compare(
        owner=requester,
        name="Early",
        instruction="Pick",
        datapoints=[["a", "b"]],
        responses_per_datapoint=10,
        confidence_threshold=0.9,
    )
    job = job_services.job_create(owner=requester, definition=definition, audience=global_audience())
    for index in range(10):
        labeler = make_labeler(f"sure{index}")
        set_score(labeler, 0.95)
        answer(job, labeler, lambda lease: {"choice": "a"})
        if JobDatapoint.objects.get(job=job).closed:
            break
    slot = JobDatapoint.objects.get(job=job)
    assert slot.stopped_early and slot.response_count < 10
    aggregate(job)
    card = card_html(text(logged_in(requester).get(f"/dashboard/jobs/{job.public_id}/")), 0)
    assert "data-stopped-early" in card and "stopped early" in card


def test_draw_gallery_shows_image_heatmap_and_consensus_boxes(requester, make_labeler):
    definition = job_services.job_definition_create_draw(
        owner=requester,
        name="Blue books",
        instruction="Color in the blue books",
        datapoints=[
            {"asset_id": asset_services.asset_create_image(owner=requester, data=image_bytes(200, 100)).public_id},
            factories.url("nobody-drew"),
        ],
        responses_per_datapoint=3,
    )
    job = job_services.job_create(owner=requester, definition=definition, audience=global_audience())
    for index in range(3):
        labeler = make_labeler(f"painter{index}")
        while (lease := feed.task_next(labeler=labeler, job=job)) is not None:
            if lease.job_datapoint.position == 0:
                response = factories.stroke_inside(size=0.01)
            else:
                response = {"lines": []} if index else factories.stroke_outside()
            feed.task_submit(labeler=labeler, task_id=lease.public_id, response=response)
    aggregate(job)
    client = logged_in(requester)
    page = text(client.get(f"/dashboard/jobs/{job.public_id}/"))
    card = card_html(page, 0)
    asset = job.definition.datapoints.get(position=0).asset
    assert f'src="/media/thumbs/{asset.file.name.rsplit("/", 1)[1].split(".")[0]}_640.png"' in card
    assert 'width="200" height="100"' in card
    heatmap = re.search(r'<img class="heatmap" data-layer="heatmap" src="([^"]+)"', card).group(1)
    assert heatmap == f"/api/jobs/{job.public_id}/datapoints/0/heatmap.png?v=3"
    (rect,) = re.findall(r'<rect x="([\d.]+)" y="([\d.]+)" width="([\d.]+)" height="([\d.]+)"', card)
    x, y, width, height = map(float, rect)
    box = factories.BLUE_BOX  # the strokes fill it, up to a brush width and a grid cell
    assert x == pytest.approx(box["x_min"] * 100, abs=2) and y == pytest.approx(box["y_min"] * 100, abs=2)
    assert width == pytest.approx((box["x_max"] - box["x_min"]) * 100, abs=3)
    assert height == pytest.approx((box["y_max"] - box["y_min"]) * 100, abs=3)
    assert "3 responses" in card and "1 region" in card and 'data-toggle="heatmap"' in card
    # one scribble of three: no consensus there
    assert "<rect" not in card_html(page, 1) and "0 regions" in card_html(page, 1)

    png = client.get(heatmap)
    assert png.status_code == 200 and png["Content-Type"] == "image/png" and png.content[:4] == b"\x89PNG"
    # the strokes button reads the datapoint's responses from the requester API
    strokes_url = re.search(r'data-strokes aria-pressed="false" data-url="([^"]+)"', card).group(1)
    assert strokes_url == f"/api/jobs/{job.public_id}/results/?page=1&amp;page_size=1"
    (result,) = client.get(strokes_url.replace("&amp;", "&")).json()["results"]
    assert result["position"] == 0 and [len(r["lines"]) for r in result["detailedResults"]] == [1, 1, 1]
    second = re.search(r'data-strokes aria-pressed="false" data-url="([^"]+)"', card_html(page, 1)).group(1)
    assert client.get(second.replace("&amp;", "&")).json()["results"][0]["position"] == 1


def test_cards_fragment_refreshes_the_datapoints_asked_for(requester, make_labeler):
    job = factories.compare_job(requester, global_audience(), datapoints=3, responses=1)
    client = logged_in(requester)
    before = text(client.get(f"/dashboard/jobs/{job.public_id}/cards/?positions=1,2,x,999"))
    assert re.findall(r'data-position="(\d+)"', before) == ["1", "2"]
    assert "No votes yet" in before
    labeler = make_labeler("voter")
    answer(job, labeler, lambda lease: {"choice": lease.job_datapoint.datapoint.asset.labeler_value})
    aggregate(job)
    after = text(client.get(f"/dashboard/jobs/{job.public_id}/cards/?positions=2&ranking=1"))
    assert re.findall(r'data-position="(\d+)"', after) == ["2"]
    assert 'data-bar="votes" x="0" y="0" width="100"' in after and "data-ranking" in after


def test_job_page_links_every_download(requester):
    draw = factories.draw_job(requester, global_audience())
    compare = factories.compare_job(requester, global_audience())
    client = logged_in(requester)
    draw_page = text(client.get(f"/dashboard/jobs/{draw.public_id}/"))
    compare_page = text(client.get(f"/dashboard/jobs/{compare.public_id}/"))
    base = f"/api/jobs/{draw.public_id}/results/download/?format="
    assert f'href="{base}json"' in draw_page and f'href="{base}coco"' in draw_page
    assert "format=csv" not in draw_page
    base = f"/api/jobs/{compare.public_id}/results/download/?format="
    assert f'href="{base}json"' in compare_page and f'href="{base}csv"' in compare_page
    assert "format=coco" not in compare_page
    for page in (draw_page, compare_page):  # and each of them downloads
        urls = re.findall(r'href="(/api/jobs/[^"]+/results/download/\?format=\w+)"', page)
        assert len(urls) == 2
        for url in urls:
            assert client.get(url).status_code == 200, url


def test_job_page_shows_live_progress_fields(requester):
    job = factories.draw_job(requester, global_audience(), datapoints=3, responses=2)
    page = text(logged_in(requester).get(f"/dashboard/jobs/{job.public_id}/"))
    head = re.search(r'<header class="block job-head".*?</header>', page, re.S).group(0)
    assert f'data-job-live data-job-id="{job.public_id}" data-state="running"' in head
    for field in (
        "bar",
        "state",
        "responses_collected",
        "responses_needed",
        "datapoints_done",
        "datapoints_total",
        "responses_per_minute",
        "eta_seconds",
    ):
        assert f'data-field="{field}"' in head, field
    assert '<span data-field="responses_needed">6</span>' in head
    assert '<script type="module" src="/static/js/dashboard-job.js"></script>' in page


# --- escaping ----------------------------------------------------------------------------------


def test_user_content_is_escaped(requester, make_labeler):
    audience = audience_services.audience_create(owner=requester, name=f"Aud {SCRIPT}", description=f"Desc {SCRIPT}")
    for index in range(2):
        audience_services.example_add_compare(
            audience=audience,
            owner=requester,
            instruction=f"Pick {SCRIPT}",
            datapoint=[f"left {SCRIPT} {index}", f"right {index}"],
            truth=f"right {index}",
            context=SCRIPT,
            explanation=f"Because {SCRIPT}",
        )
    definition = job_services.job_definition_create_compare(
        owner=requester,
        name=f"Job {SCRIPT}",
        instruction=f"Instr {SCRIPT}",
        datapoints=[[f"text {SCRIPT}", "plain"]],
        contexts=[f"ctx {SCRIPT}"],
        responses_per_datapoint=1,
    )
    job = job_services.job_create(owner=requester, definition=definition, audience=audience)
    global_job = job_services.job_create(owner=requester, definition=definition, audience=global_audience())
    answer(global_job, make_labeler("voter"), lambda lease: {"choice": f"text {SCRIPT}"})
    aggregate(global_job)
    client = logged_in(requester)
    pages = {
        "home": text(client.get("/dashboard/")),
        "audience": text(client.get(f"/dashboard/audiences/{audience.public_id}/")),
        "job": text(client.get(f"/dashboard/jobs/{job.public_id}/")),
        "results": text(client.get(f"/dashboard/jobs/{global_job.public_id}/")),
        "cards": text(client.get(f"/dashboard/jobs/{global_job.public_id}/cards/?positions=0&ranking=1")),
    }
    for name, body in pages.items():
        assert SCRIPT not in body and "<script>alert" not in body, name
    assert f"Aud {ESCAPED}" in pages["home"] and f"Job {ESCAPED}" in pages["home"]
    assert f"Desc {ESCAPED}" in pages["audience"] and f"Pick {ESCAPED}" in pages["audience"]
    assert f"left {ESCAPED} 0" in pages["audience"] and f"Because {ESCAPED}" in pages["audience"]
    assert f"Instr {ESCAPED}" in pages["job"] and f"ctx {ESCAPED}" in pages["job"]
    assert f"text {ESCAPED}" in pages["results"] and f"text {ESCAPED}" in pages["cards"]


# --- links -------------------------------------------------------------------------------------


def test_dashboard_is_linked_from_the_labeler_home_for_requesters_and_from_the_admin(requester, labeler):
    assert 'href="/dashboard/"' in text(logged_in(requester).get("/"))
    assert 'href="/dashboard/"' not in text(logged_in(labeler).get("/"))
    assert 'href="/dashboard/"' in text(logged_in(requester).get("/admin/"))


def test_labeler_pages_load_the_live_home_and_heartbeat_scripts(requester, labeler):
    job = factories.draw_job(requester, global_audience())
    client = logged_in(labeler)
    home = text(client.get("/"))
    assert '<script type="module" src="/static/js/home.js"></script>' in home
    for page in (home, text(client.get(f"/jobs/{job.public_id}/work/"))):
        assert '<script type="module" src="/static/js/heartbeat.js"></script>' in page
    assert "heartbeat.js" not in text(logged_in(requester).get(f"/preview/{job.definition.public_id}/"))
    assert 'data-home="jobs"' in home and 'data-home="audiences"' in home and 'data-home="memberships"' in home
