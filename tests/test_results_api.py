"""The aggregated results API: the document's shape and values for draw and
compare jobs (checked against hand-built scenarios), items named as the
requester gave them, null aggregates until a result is in, paging, a
constant number of queries, the heatmap PNG, scoping, and the pace fields
of the progress."""

from __future__ import annotations

import io
import json
import math
from datetime import timedelta

import numpy as np
import pytest
from django.utils import timezone
from PIL import Image
from rest_framework.test import APIClient

from assets import services as asset_services
from assets.raster import rasterize_lines
from audiences import services as audience_services
from audiences.selectors import global_audience
from core.pseudonyms import labeler_anonymous_id
from jobs import aggregation, result_updates
from jobs import services as job_services
from jobs.models import DatapointResult, Job, JobDatapoint, Response
from tests import factories
from tests.conftest import image_bytes

pytestmark = pytest.mark.django_db

URL_A = "https://assets.example.org/a.jpg"
URL_B = "https://assets.example.org/b.jpg"
TEXT = "A small blue book sitting on a large red book."
OUTSIDE = {"lines": [{"size": 0.03, "points": [{"x": 0.6, "y": 0.6}, {"x": 0.95, "y": 0.95}]}]}


def api_for(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {user.api_token}")
    return client


@pytest.fixture
def api(requester) -> APIClient:
    return api_for(requester)


@pytest.fixture
def other_api(other_requester) -> APIClient:
    return api_for(other_requester)


def respond(
    job: Job,
    position: int,
    labeler,
    payload: dict,
    *,
    user_score: float = 0.5,
    graded_answers: int = 10,
    time_spent_ms: int = 1500,
    aggregate: bool = True,
) -> Response:
    """Store a response as the submission service does, then (by default)
    aggregate its datapoint as the worker would. The user score is taken as
    graded (``graded_answers`` behind it), so it weighs in the confidence."""
    slot = JobDatapoint.objects.get(job=job, position=position)
    response = Response.objects.create(
        job=job,
        job_datapoint=slot,
        labeler=labeler,
        payload=payload,
        user_score=user_score,
        graded_answers=graded_answers,
        time_spent_ms=time_spent_ms,
    )
    slot.response_count += 1
    slot.last_response_at = timezone.now()
    slot.closed = slot.response_count >= job.definition.responses_per_datapoint
    slot.save()
    if aggregate:
        result_updates.datapoint_aggregate(job_datapoint_id=slot.pk)
    return response


@pytest.fixture
def trio(make_labeler):
    return [make_labeler(f"labeler{i}") for i in range(3)]


@pytest.fixture
def compare_job(requester, trio, png_bytes):
    """Two compare datapoints, three labelers with user scores 0.75, 0.25, 0.25.

    #0 (two URLs): votes A, B, B -> winner B by count, A by summed score.
    #1 (an uploaded file and a text): votes left.png, text, left.png.
    """
    upload = asset_services.asset_create_image(owner=requester, data=png_bytes, name="left.png")
    definition = job_services.job_definition_create_compare(
        owner=requester,
        name="Prompt Alignment Job",
        instruction="Which image follows the prompt?",
        datapoints=[[URL_A, URL_B], [{"asset_id": upload.public_id}, TEXT]],
        contexts=["A duck", ""],
        responses_per_datapoint=3,
    )
    job = job_services.job_create(owner=requester, definition=definition, audience=global_audience())
    scores = [0.75, 0.25, 0.25]
    for labeler, choice, score in zip(trio, [URL_A, URL_B, URL_B], scores):
        respond(job, 0, labeler, {"choice": choice}, user_score=score)
    for labeler, choice, score in zip(trio, [upload.labeler_value, TEXT, upload.labeler_value], scores):
        respond(job, 1, labeler, {"choice": choice}, user_score=score)
    job.refresh_from_db()
    job.upload = upload
    return job


@pytest.fixture
def draw_job(requester, trio):
    """Two draw datapoints: an uploaded 96x64 image and a URL. On #0 two
    labelers color the blue box and one scribbles elsewhere; #1 has no
    response."""
    upload = asset_services.asset_create_image(owner=requester, data=image_bytes(96, 64), name="books.png")
    definition = job_services.job_definition_create_draw(
        owner=requester,
        name="Blue Books Example",
        instruction="Color in all the blue books",
        datapoints=[{"asset_id": upload.public_id}, URL_A],
        responses_per_datapoint=3,
    )
    job = job_services.job_create(owner=requester, definition=definition, audience=global_audience())
    for labeler, payload in zip(trio, [factories.stroke_inside(), factories.stroke_inside(), OUTSIDE]):
        respond(job, 0, labeler, payload, user_score=0.5, time_spent_ms=4000)
    return job


def results_of(api, job, **params) -> dict:
    response = api.get(f"/api/jobs/{job.public_id}/results/", params)
    assert response.status_code == 200, response.content
    return response.json()


# --- compare -------------------------------------------------------------------------------------------


def test_compare_results_count_votes_and_name_items_as_given(api, compare_job, trio):
    document = results_of(api, compare_job)
    assert set(document) == {"info", "results", "summary"}
    assert document["info"] == {
        "jobId": compare_job.public_id,
        "definitionId": compare_job.definition.public_id,
        "name": "Prompt Alignment Job",
        "type": "compare",
        "instruction": "Which image follows the prompt?",
        "responsesPerDatapoint": 3,
        "audienceId": "global",
        "state": "completed",
        "created": compare_job.created_at.isoformat(),
        "completed": compare_job.completed_at.isoformat(),
        "aggregatorVersion": result_updates.AGGREGATOR_VERSION,
    }
    first, second = document["results"]
    assert set(first) == {
        "position",
        "items",
        "context",
        "mediaContext",
        "responses",
        "aggregatedResponses",
        "stoppedEarly",
        "aggregatedResults",
        "aggregatedResultsRatios",
        "summedUserScores",
        "summedUserScoresRatios",
        "winner",
        "weightedWinner",
        "confidence",
        "detailedResults",
    }
    assert (first["position"], first["items"], first["context"], first["mediaContext"]) == (
        0,
        [URL_A, URL_B],
        "A duck",
        None,
    )
    assert (first["responses"], first["stoppedEarly"]) == (3, False)
    assert first["aggregatedResults"] == {URL_A: 1, URL_B: 2}
    assert first["aggregatedResultsRatios"] == {URL_A: pytest.approx(1 / 3), URL_B: pytest.approx(2 / 3)}
    assert first["summedUserScores"] == {URL_A: 0.75, URL_B: 0.5}
    assert first["summedUserScoresRatios"] == {URL_A: 0.6, URL_B: 0.4}
    assert (first["winner"], first["weightedWinner"]) == (URL_B, URL_A)
    # Posterior log-odds: accuracies 1/2 + score/2 = 0.875 for A against 0.625 twice for B.
    log_odds = math.log(0.875 / 0.125) - 2 * math.log(0.625 / 0.375)
    assert first["confidence"] == pytest.approx(1 / (1 + math.exp(-abs(log_odds))), abs=1e-6)
    assert [d["votedFor"] for d in first["detailedResults"]] == [URL_A, URL_B, URL_B]
    assert [d["labeler"] for d in first["detailedResults"]] == [labeler_anonymous_id(u.pk) for u in trio]
    assert [d["userScore"] for d in first["detailedResults"]] == [0.75, 0.25, 0.25]
    assert all(d["timeSpentMs"] == 1500 and d["created"] for d in first["detailedResults"])

    # The uploaded image is named by its file name, never by the media URL labelers saw.
    assert second["items"] == ["left.png", TEXT] and second["context"] == ""
    assert [d["votedFor"] for d in second["detailedResults"]] == ["left.png", TEXT, "left.png"]
    assert second["aggregatedResults"] == {"left.png": 2, TEXT: 1}
    assert second["winner"] == second["weightedWinner"] == "left.png"
    text = json.dumps(document)
    assert compare_job.upload.labeler_value not in text
    assert all(u.username not in text for u in trio)

    summary = document["summary"]
    assert (summary["datapoints"], summary["responses"]) == (2, 6)
    ranking = summary["ranking"]
    assert ranking["method"] == "bradley-terry" and ranking["comparisons"] == 6
    assert {entry["item"] for entry in ranking["items"]} == {URL_A, URL_B, "left.png", TEXT}
    scores = {entry["item"]: entry["score"] for entry in ranking["items"]}
    assert scores["left.png"] == pytest.approx(scores[URL_B]) and scores["left.png"] > scores[TEXT]


def test_compare_ranking_is_refreshed_when_behind(api, compare_job, make_labeler):
    before = results_of(api, compare_job)["summary"]["ranking"]["comparisons"]
    respond(compare_job, 0, make_labeler("late"), {"choice": URL_A}, aggregate=False)
    after = results_of(api, compare_job)
    assert (before, after["summary"]["ranking"]["comparisons"]) == (6, 7)
    assert Job.objects.get(pk=compare_job.pk).summary_response_count == 7


def test_a_lagging_result_is_shown_with_the_responses_it_includes(api, compare_job, make_labeler):
    respond(compare_job, 0, make_labeler("late"), {"choice": URL_A}, aggregate=False)  # not aggregated yet
    rows = DatapointResult.objects.count()
    first, second = results_of(api, compare_job)["results"]
    assert first["responses"] == 4 and len(first["detailedResults"]) == 4
    assert first["aggregatedResponses"] == 3
    assert sum(first["aggregatedResults"].values()) == 3  # the last aggregate, not blanked out
    assert second["winner"] == "left.png" and second["aggregatedResponses"] == second["responses"]
    # Nothing was aggregated to answer.
    assert DatapointResult.objects.count() == rows
    assert DatapointResult.objects.get(job_datapoint__position=0, job=compare_job).response_count == 3


def test_a_datapoint_without_a_result_has_null_aggregates(api, compare_job):
    DatapointResult.objects.filter(job=compare_job, job_datapoint__position=0).delete()
    first = results_of(api, compare_job)["results"][0]
    assert first["aggregatedResponses"] == 0 and first["responses"] > 0
    for key in (
        "aggregatedResults",
        "aggregatedResultsRatios",
        "summedUserScores",
        "summedUserScoresRatios",
        "winner",
        "weightedWinner",
        "confidence",
    ):
        assert first[key] is None, key


# --- draw ------------------------------------------------------------------------------------------------


def test_draw_results_hold_the_consensus_of_the_strokes(api, draw_job, trio):
    document = results_of(api, draw_job)
    info = document["info"]
    assert (info["type"], info["drawAlgorithm"], info["aggregatorVersion"]) == (
        "draw",
        "majority",
        result_updates.AGGREGATOR_VERSION,
    )
    first, second = document["results"]
    assert set(first) == {
        "position",
        "item",
        "context",
        "mediaContext",
        "imageSize",
        "responses",
        "aggregatedResponses",
        "gridSize",
        "consensusMask",
        "consensusBoxes",
        "agreement",
        "summedUserScores",
        "heatmapUrl",
        "detailedResults",
    }
    assert (first["item"], first["imageSize"], first["responses"]) == ("books.png", [96, 64], 3)
    assert first["gridSize"] == [171, 256]  # rows x cols on a 256-cell long side, 96x64's aspect
    mask = aggregation.rle_decode(first["consensusMask"])
    # Two of three equal weights colored the box: the consensus is exactly their stroke.
    assert np.array_equal(mask, rasterize_lines(factories.stroke_inside()["lines"], (171, 256)))
    (box,) = first["consensusBoxes"]
    blue, cell = factories.BLUE_BOX, 1 / 171  # the brush is sized by the width: a cell's slack in height
    assert blue["x_min"] <= box["x_min"] < box["x_max"] <= blue["x_max"]
    assert blue["y_min"] - cell <= box["y_min"] < box["y_max"] <= blue["y_max"] + cell
    assert first["agreement"] == pytest.approx(2 / 3, abs=1e-6)  # IoUs 1, 1 and 0
    assert first["summedUserScores"] == 1.5
    assert first["heatmapUrl"] == f"http://testserver/api/jobs/{draw_job.public_id}/datapoints/0/heatmap.png"
    details = first["detailedResults"]
    assert [d["labeler"] for d in details] == [labeler_anonymous_id(u.pk) for u in trio]
    assert details[2]["lines"] == OUTSIDE["lines"] and details[0]["timeSpentMs"] == 4000
    assert set(details[0]) == {"labeler", "userScore", "lines", "timeSpentMs", "created"}

    # No response yet: listed, with its grid and null aggregates.
    assert (second["item"], second["imageSize"], second["responses"], second["gridSize"]) == (
        URL_A,
        None,
        0,
        [256, 256],
    )
    assert second["consensusMask"] is second["consensusBoxes"] is second["agreement"] is None
    assert second["detailedResults"] == [] and second["heatmapUrl"].endswith("/datapoints/1/heatmap.png")
    assert document["summary"] == {"datapoints": 2, "responses": 3, "meanAgreement": pytest.approx(2 / 3)}


def png_pixels(content: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(content)).convert("RGBA"))


def test_heatmap_is_colored_where_responses_drew(api, draw_job):
    url = f"/api/jobs/{draw_job.public_id}/datapoints/0/heatmap.png"
    response = api.get(url)
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    assert "private" in response["Cache-Control"] and response["ETag"]
    pixels = png_pixels(response.content)
    assert pixels.shape == (171, 256, 4)
    alpha = pixels[..., 3]
    inside = rasterize_lines(factories.stroke_inside()["lines"], (171, 256))
    outside = rasterize_lines(OUTSIDE["lines"], (171, 256))
    assert (alpha[inside] > 0).all() and (alpha[outside] > 0).all()
    assert (alpha[~(inside | outside)] == 0).all()
    # Two thirds of the weight is more opaque (and redder) than one third.
    assert alpha[inside].min() > alpha[outside & ~inside].max()
    assert pixels[inside][:, 0].mean() > pixels[outside & ~inside][:, 0].mean()

    # Same responses, same ETag: not modified.
    again = api.get(url, HTTP_IF_NONE_MATCH=response["ETag"])
    assert again.status_code == 304 and again.content == b""


def test_heatmap_etag_follows_the_result(api, draw_job, make_labeler):
    url = f"/api/jobs/{draw_job.public_id}/datapoints/1/heatmap.png"
    empty = api.get(url)
    assert empty.status_code == 200 and (png_pixels(empty.content)[..., 3] == 0).all()
    respond(draw_job, 1, make_labeler("new"), factories.stroke_inside())
    fresh = api.get(url, HTTP_IF_NONE_MATCH=empty["ETag"])
    assert fresh.status_code == 200 and fresh["ETag"] != empty["ETag"]
    assert (png_pixels(fresh.content)[..., 3] > 0).any()


def test_heatmaps_exist_only_for_draw_datapoints_of_your_jobs(api, other_api, draw_job, compare_job):
    base = f"/api/jobs/{draw_job.public_id}/datapoints"
    assert api.get(f"{base}/0/heatmap.png").status_code == 200
    for client, url in [
        (other_api, f"{base}/0/heatmap.png"),
        (api, f"{base}/2/heatmap.png"),
        (api, f"/api/jobs/{compare_job.public_id}/datapoints/0/heatmap.png"),
        (api, "/api/jobs/job_nope/datapoints/0/heatmap.png"),
    ]:
        response = client.get(url, HTTP_ACCEPT="image/png")
        assert response.status_code == 404, url
        assert response.json() == {"detail": "Not found."}


def test_results_of_another_requesters_job_are_404(other_api, draw_job, compare_job):
    for job in (draw_job, compare_job):
        for suffix in (
            "results/",
            "results/?page=1",
            "results/download/",
            "results/download/?format=csv",
            "results/download/?format=coco",
        ):
            response = other_api.get(f"/api/jobs/{job.public_id}/{suffix}")
            assert response.status_code == 404 and response.json() == {"detail": "Not found."}, suffix


# --- paging and queries ----------------------------------------------------------------------------------


def test_results_page_through_datapoints(api, requester, make_labeler):
    job = factories.draw_job(requester, global_audience(), datapoints=5, responses=2)
    labeler = make_labeler("pager")
    for position in range(5):
        respond(job, position, labeler, factories.stroke_inside())
    everything = results_of(api, job)
    assert "count" not in everything and len(everything["results"]) == 5
    second = results_of(api, job, page=2, page_size=2)
    assert (second["count"], second["page"], second["pageSize"]) == (5, 2, 2)
    assert [r["position"] for r in second["results"]] == [2, 3]
    assert second["results"] == everything["results"][2:4]
    assert second["summary"] == everything["summary"] and second["summary"]["responses"] == 5
    assert [r["position"] for r in results_of(api, job, page=3, page_size=2)["results"]] == [4]
    assert results_of(api, job, page=9, page_size=2)["results"] == []
    default = results_of(api, job, page=1)
    assert default["pageSize"] == 100 and len(default["results"]) == 5
    for bad in ({"page": 0}, {"page_size": 0}, {"page_size": 5000}, {"page": "x"}):
        response = api.get(f"/api/jobs/{job.public_id}/results/", bad)
        assert response.status_code == 400 and set(response.json()) <= {"page", "page_size"}, bad


def big_job(owner, labelers, kind: str, datapoints: int = 1000) -> Job:
    """A job of ``datapoints`` with every labeler's response and a fresh result
    on each, written in bulk."""
    if kind == "draw":
        definition = job_services.job_definition_create_draw(
            owner=owner,
            name="Many",
            instruction="Color",
            datapoints=[factories.url(f"many-{i}") for i in range(datapoints)],
            responses_per_datapoint=5,
        )
    else:
        definition = job_services.job_definition_create_compare(
            owner=owner,
            name="Many",
            instruction="Which?",
            datapoints=[[factories.url(f"l-{i}"), factories.url(f"r-{i}")] for i in range(datapoints)],
            responses_per_datapoint=5,
        )
    job = job_services.job_create(owner=owner, definition=definition, audience=global_audience())
    slots = list(JobDatapoint.objects.filter(job=job).select_related("datapoint__asset"))
    payload = factories.stroke_inside() if kind == "draw" else None
    Response.objects.bulk_create(
        [
            Response(
                job=job,
                job_datapoint=slot,
                labeler=labeler,
                user_score=0.5,
                time_spent_ms=900,
                payload=payload or {"choice": slot.datapoint.asset.labeler_value},
            )
            for slot in slots
            for labeler in labelers
        ]
    )
    JobDatapoint.objects.filter(job=job).update(response_count=len(labelers))
    data = (
        {
            "gridSize": [256, 256],
            "consensusMask": {"size": [256, 256], "counts": [65536]},
            "consensusBoxes": [],
            "agreement": 1.0,
            "summedUserScores": 1.5,
        }
        if kind == "draw"
        else {"winner": None, "aggregatedResults": {}}
    )
    DatapointResult.objects.bulk_create(
        [
            DatapointResult(
                job=job,
                job_datapoint=slot,
                response_count=len(labelers),
                data=data,
                aggregator_version=result_updates.AGGREGATOR_VERSION,
            )
            for slot in slots
        ]
    )
    return job


@pytest.mark.parametrize("kind", ["draw", "compare"])
def test_results_take_a_constant_number_of_queries(api, requester, trio, kind, django_assert_max_num_queries):
    job = big_job(requester, trio, kind)
    results_of(api, job)  # a compare job's ranking is brought up to date once
    # Authentication (token, user), the job, the datapoints with their results, the responses, the summary.
    with django_assert_max_num_queries(7):
        document = results_of(api, job)
    assert len(document["results"]) == 1000 and document["summary"]["responses"] == 3000
    assert all(len(entry["detailedResults"]) == 3 for entry in document["results"])
    with django_assert_max_num_queries(7):
        assert len(results_of(api, job, page=3, page_size=250)["results"]) == 250


# --- progress ----------------------------------------------------------------------------------------------


def test_progress_reports_the_pace_and_the_time_left(api, requester, make_labeler):
    job = factories.draw_job(requester, global_audience(), datapoints=2, responses=5)  # 10 needed
    url = f"/api/jobs/{job.public_id}/progress/"
    progress = api.get(url).json()
    assert progress["responses_per_minute"] == 0 and progress["eta_seconds"] is None

    # A job two minutes old with 4 responses: 2 per minute over its life, 6 left -> 3 minutes.
    Job.objects.filter(pk=job.pk).update(created_at=timezone.now() - timedelta(minutes=2))
    for index in range(4):
        respond(job, index % 2, make_labeler(f"p{index}"), factories.stroke_inside(), aggregate=False)
    progress = api.get(url).json()
    assert progress["responses_per_minute"] == pytest.approx(2.0, rel=0.02)
    assert progress["eta_seconds"] == pytest.approx(180, rel=0.02)

    # Older than five minutes: only the last five minutes count (2 of the 4 responses).
    Job.objects.filter(pk=job.pk).update(created_at=timezone.now() - timedelta(hours=1))
    old = list(Response.objects.filter(job=job).order_by("pk")[:2].values_list("pk", flat=True))
    Response.objects.filter(pk__in=old).update(created_at=timezone.now() - timedelta(minutes=30))
    progress = api.get(url).json()
    assert progress["responses_per_minute"] == 0.4 and progress["eta_seconds"] == 900

    Job.objects.filter(pk=job.pk).update(state=Job.State.PAUSED)
    assert api.get(url).json()["eta_seconds"] is None


def test_progress_has_no_time_left_once_completed(api, requester, make_labeler):
    job = factories.draw_job(requester, global_audience(), datapoints=1, responses=1)
    respond(job, 0, make_labeler("only"), factories.stroke_inside())
    progress = api.get(f"/api/jobs/{job.public_id}/progress/").json()
    assert progress["state"] == "completed" and progress["eta_seconds"] is None
    assert progress["responses_per_minute"] > 0


def test_custom_audience_results_list_each_response(api, requester, make_labeler):
    audience = audience_services.audience_create(owner=requester, name="Mine")
    job = factories.compare_job(requester, audience, datapoints=1, responses=2)
    respond(job, 0, make_labeler("x"), {"choice": factories.url("left-0")})
    (entry,) = results_of(api, job)["results"]
    assert entry["items"] == [factories.url("left-0"), factories.url("right-0")]
    assert entry["context"] == "prompt 0" and entry["winner"] == factories.url("left-0")
