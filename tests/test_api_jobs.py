"""The requester API for assets, job definitions and jobs: uploads checked by
Pillow, JSON and multipart definitions, scoping (another requester's
definition, job, progress and results are 404s), progress. The results
document has its own tests (test_results_api.py)."""

from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from rest_framework.test import APIClient

from assets.models import Asset
from audiences import services as audience_services
from audiences.models import Audience, Membership
from jobs import services as job_services
from jobs.models import Datapoint, Job, JobDatapoint, JobDefinition, Response
from tests.conftest import image_bytes

pytestmark = pytest.mark.django_db

URL_A = "https://assets.example.org/a.jpg"
URL_B = "https://assets.example.org/b.jpg"
URL_C = "https://assets.example.org/c.jpg"


def api_for(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {user.api_token}")
    return client


def row_counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in (Asset, JobDefinition, Datapoint, Job, JobDatapoint)}


def assert_400_naming(response, field: str, fragment: str = "") -> None:
    assert response.status_code == 400, (response.status_code, response.content)
    body = response.json()
    assert field in body, body
    assert any(fragment in message for message in body[field]), body


@pytest.fixture
def api(requester) -> APIClient:
    return api_for(requester)


@pytest.fixture
def other_api(other_requester) -> APIClient:
    return api_for(other_requester)


def draw_body(**overrides) -> dict:
    return {
        "kind": "draw",
        "name": "Blue Books Example",
        "instruction": "Color in all the blue books",
        "datapoints": [URL_A, URL_B],
        "responses_per_datapoint": 3,
        **overrides,
    }


def compare_body(**overrides) -> dict:
    return {
        "kind": "compare",
        "name": "Prompt Alignment Job",
        "instruction": "Which image follows the prompt more accurately?",
        "datapoints": [[URL_A, URL_B]],
        "contexts": ["A small blue book sitting on a large red book."],
        **overrides,
    }


# --- assets -----------------------------------------------------------------------------------------


def test_upload_an_image(api, png_bytes):
    response = api.post("/api/assets/", {"file": SimpleUploadedFile("books.png", png_bytes)}, format="multipart")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["id"].startswith("ast_")
    assert (body["kind"], body["width"], body["height"], body["name"]) == ("image", 64, 48, "books.png")


def test_upload_refuses_a_non_image_and_stores_nothing(api):
    before = row_counts()
    response = api.post(
        "/api/assets/", {"file": SimpleUploadedFile("a.png", b"%PDF-1.4 not an image")}, format="multipart"
    )
    assert_400_naming(response, "file", "not an image")
    assert row_counts() == before


@pytest.mark.parametrize(
    ("data", "field"),
    [({}, "file"), ({"file": "just text"}, "file"), ({"file": SimpleUploadedFile("e.png", b"")}, "file")],
)
def test_upload_needs_one_file(api, data, field):
    assert_400_naming(api.post("/api/assets/", data, format="multipart"), field)


def test_upload_refuses_unknown_fields(api, png_bytes):
    response = api.post(
        "/api/assets/", {"file": SimpleUploadedFile("a.png", png_bytes), "colour": "red"}, format="multipart"
    )
    assert_400_naming(response, "colour", "unknown field")


def test_upload_refuses_json(api):
    response = api.post("/api/assets/", {"file": "x"}, format="json")
    assert response.status_code == 415 and "detail" in response.json()


# --- job definitions: JSON ------------------------------------------------------------------------------


def test_create_draw_definition(api, requester):
    response = api.post("/api/job-definitions/", draw_body(), format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["id"].startswith("jdf_") and body["kind"] == "draw" and body["datapoint_count"] == 2
    assert body["responses_per_datapoint"] == 3 and body["draw_aggregation"] == "majority"
    assert body["preview_url"] == f"http://testserver/preview/{body['id']}/"
    api.force_login(requester)
    assert api.get(body["preview_url"]).status_code == 200  # the page labelers' tasks are previewed on
    definition = JobDefinition.objects.get(public_id=body["id"])
    assert definition.owner == requester
    assert [d.asset.url for d in definition.datapoints.order_by("position")] == [URL_A, URL_B]


def test_create_compare_definition_with_text_and_assets(api, png_bytes):
    asset_id = api.post("/api/assets/", {"file": SimpleUploadedFile("x.png", png_bytes)}, format="multipart").json()[
        "id"
    ]
    response = api.post(
        "/api/job-definitions/",
        compare_body(
            datapoints=[[URL_A, URL_B], [{"asset_id": asset_id}, "a text item"]],
            contexts=["one", None],
            confidence_threshold=0.95,
            responses_per_datapoint=10,
        ),
        format="json",
    )
    assert response.status_code == 201, response.content
    assert response.json()["confidence_threshold"] == 0.95 and response.json()["datapoint_count"] == 2


@pytest.mark.parametrize(
    ("body", "field", "fragment"),
    [
        (draw_body(kind="segment"), "kind", "must be one of"),
        (draw_body(kind=None), "kind", "null"),
        ({k: v for k, v in draw_body().items() if k != "kind"}, "kind", "required"),
        (draw_body(name=""), "name", "must not be empty"),
        (draw_body(name=12), "name", "must be a string"),
        (draw_body(instruction="x" * 251), "instruction", "at most 250"),
        (draw_body(datapoints=[]), "datapoints", "must not be empty"),
        (draw_body(datapoints=URL_A), "datapoints", "must be a list"),
        (draw_body(datapoints={"a": URL_A}), "datapoints", "must be a list"),
        (draw_body(datapoints=[URL_A, "text"]), "datapoints", "not text"),
        (draw_body(datapoints=[URL_A, None]), "datapoints", "must be a URL"),
        (draw_body(datapoints=[URL_A, "javascript://x"]), "datapoints", "scheme 'javascript'"),
        (draw_body(datapoints=[{"asset_id": "ast_nope"}]), "datapoints", "unknown asset id"),
        (draw_body(datapoints=[{"file": "img"}]), "datapoints", "multipart"),
        (draw_body(responses_per_datapoint=0), "responses_per_datapoint", "between 1"),
        (draw_body(responses_per_datapoint=10**18), "responses_per_datapoint", "between 1"),
        (draw_body(responses_per_datapoint=2.5), "responses_per_datapoint", "must be an integer"),
        (draw_body(responses_per_datapoint="10"), "responses_per_datapoint", "must be an integer"),
        (draw_body(contexts=["one"]), "contexts", "1 entries but there are 2"),
        (draw_body(contexts="one"), "contexts", "must be a list"),
        (draw_body(contexts=[1, 2]), "contexts", "must be a string"),
        (draw_body(confidence_threshold=0.9), "confidence_threshold", "compare definitions only"),
        (draw_body(draw_aggregation="mean"), "draw_aggregation", "must be one of"),
        (draw_body(draw_aggregation=["em"]), "draw_aggregation", "must be one of"),
        (draw_body(owner=3), "owner", "unknown field"),
        (compare_body(datapoints=[[URL_A]]), "datapoints", "exactly 2 items"),
        (compare_body(datapoints=[[URL_A, URL_A]]), "datapoints", "same item twice"),
        (compare_body(datapoints=[URL_A]), "datapoints", "exactly 2 items"),
        (compare_body(confidence_threshold=1), "confidence_threshold", "must be in (0, 1)"),
        (compare_body(confidence_threshold="high"), "confidence_threshold", "must be a number"),
    ],
)
def test_create_definition_rejects(api, body, field, fragment):
    before = row_counts()
    assert_400_naming(api.post("/api/job-definitions/", body, format="json"), field, fragment)
    assert row_counts() == before


def test_create_definition_rejects_nan_and_malformed_json(api):
    before = row_counts()
    for raw in ('{"kind": "compare", "confidence_threshold": NaN}', '{"kind": "draw",'):
        response = api.post("/api/job-definitions/", raw, content_type="application/json")
        assert response.status_code == 400 and "JSON parse error" in response.json()["detail"]
    assert row_counts() == before


# --- job definitions: multipart ------------------------------------------------------------------------------


def test_multipart_definition_uploads_its_files(api, requester):
    first, second = image_bytes(40, 30, color=(1, 2, 3)), image_bytes(50, 20, color=(9, 9, 9))
    payload = draw_body(datapoints=[{"file": "first"}, URL_A, {"file": "second"}])
    response = api.post(
        "/api/job-definitions/",
        {
            "payload": json.dumps(payload),
            "first": SimpleUploadedFile("first.png", first),
            "second": SimpleUploadedFile("second.png", second),
        },
        format="multipart",
    )
    assert response.status_code == 201, response.content
    definition = JobDefinition.objects.get(public_id=response.json()["id"])
    assets = [d.asset for d in definition.datapoints.order_by("position")]
    assert [a.kind for a in assets] == ["image", "url", "image"]
    assert [(a.name, a.width, a.height) for a in (assets[0], assets[2])] == [
        ("first.png", 40, 30),
        ("second.png", 50, 20),
    ]
    assert all(a.owner == requester for a in assets)


def test_multipart_compare_definition_can_reuse_one_file(api, png_bytes):
    payload = compare_body(datapoints=[[{"file": "img"}, URL_A], [URL_B, {"file": "img"}]], contexts=None)
    response = api.post(
        "/api/job-definitions/",
        {"payload": json.dumps(payload), "img": SimpleUploadedFile("one.png", png_bytes)},
        format="multipart",
    )
    assert response.status_code == 201, response.content
    assert Asset.objects.filter(kind="image").count() == 1


def test_multipart_payload_may_be_a_file(api, png_bytes):
    payload = json.dumps(draw_body(datapoints=[{"file": "img"}])).encode()
    response = api.post(
        "/api/job-definitions/",
        {"payload": SimpleUploadedFile("def.json", payload), "img": SimpleUploadedFile("one.png", png_bytes)},
        format="multipart",
    )
    assert response.status_code == 201, response.content


def test_multipart_definition_refuses_a_non_image_and_stores_nothing(api, png_bytes):
    before = row_counts()
    payload = draw_body(datapoints=[{"file": "good"}, {"file": "bad"}])
    response = api.post(
        "/api/job-definitions/",
        {
            "payload": json.dumps(payload),
            "good": SimpleUploadedFile("good.png", png_bytes),
            "bad": SimpleUploadedFile("bad.png", b"<html>not an image</html>"),
        },
        format="multipart",
    )
    assert_400_naming(response, "datapoints", "not an image")
    assert "'bad'" in response.json()["datapoints"][0]
    assert row_counts() == before


@pytest.mark.parametrize(
    ("data", "field", "fragment"),
    [
        ({}, "payload", "send the definition"),
        ({"payload": "{not json"}, "payload", "not valid JSON"),
        ({"payload": '{"kind": "draw", "x": NaN}'}, "payload", "NaN"),
        ({"payload": json.dumps(draw_body(datapoints=[{"file": "missing"}]))}, "datapoints", "'missing'"),
        ({"payload": json.dumps(draw_body(datapoints=[{"file": 3}]))}, "datapoints", '{"file"'),
        ({"payload": json.dumps(draw_body()), "name": "x"}, "name", "unknown form field"),
        ({"payload": json.dumps(draw_body(kind="x"))}, "kind", "must be one of"),
        ({"payload": "[]"}, "non_field_errors", "dictionary"),
    ],
)
def test_multipart_definition_rejects(api, data, field, fragment):
    before = row_counts()
    assert_400_naming(api.post("/api/job-definitions/", data, format="multipart"), field, fragment)
    assert row_counts() == before


def test_multipart_definition_refuses_unreferenced_files(api, png_bytes):
    before = row_counts()
    response = api.post(
        "/api/job-definitions/",
        {"payload": json.dumps(draw_body()), "stray": SimpleUploadedFile("s.png", png_bytes)},
        format="multipart",
    )
    assert_400_naming(response, "stray", "not referenced")
    assert row_counts() == before


# --- job definitions: read ---------------------------------------------------------------------------------------


def test_definitions_are_scoped_to_their_owner(api, other_api, requester, other_requester):
    mine = job_services.job_definition_create_draw(owner=requester, name="Mine", instruction="C", datapoints=[URL_A])
    theirs = job_services.job_definition_create_draw(
        owner=other_requester, name="Theirs", instruction="C", datapoints=[URL_A]
    )
    assert api.get(f"/api/job-definitions/{mine.public_id}/").json()["name"] == "Mine"
    assert api.get(f"/api/job-definitions/{theirs.public_id}/").status_code == 404
    assert [d["id"] for d in api.get("/api/job-definitions/").json()["results"]] == [mine.public_id]
    assert [d["id"] for d in other_api.get("/api/job-definitions/").json()["results"]] == [theirs.public_id]


def test_find_definitions_by_name_paged_newest_first(api, requester):
    for index in range(3):
        job_services.job_definition_create_draw(
            owner=requester, name=f"Books {index}", instruction="C", datapoints=[URL_A, URL_B]
        )
    job_services.job_definition_create_draw(owner=requester, name="Ducks", instruction="C", datapoints=[URL_A])
    page = api.get("/api/job-definitions/?name=books&page_size=2").json()
    assert page["count"] == 3 and [d["name"] for d in page["results"]] == ["Books 2", "Books 1"]
    assert page["results"][0]["datapoint_count"] == 2
    assert [d["name"] for d in api.get("/api/job-definitions/?name=books&page_size=2&page=2").json()["results"]] == [
        "Books 0"
    ]


# --- jobs -------------------------------------------------------------------------------------------------------


@pytest.fixture
def definition(requester) -> JobDefinition:
    return job_services.job_definition_create_compare(
        owner=requester,
        name="Prompt Alignment Job",
        instruction="Which image follows the prompt?",
        datapoints=[[URL_A, URL_B], [URL_B, URL_C]],
        contexts=["A duck", "A book"],
        responses_per_datapoint=2,
    )


@pytest.fixture
def job(requester, definition) -> Job:
    from audiences.selectors import global_audience

    return job_services.job_create(owner=requester, definition=definition, audience=global_audience())


def test_assign_a_definition_to_the_global_audience(api, definition):
    response = api.post("/api/jobs/", {"job_definition": definition.public_id, "audience": "global"}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["id"].startswith("job_") and body["state"] == "running" and body["completed"] is None
    assert body["definition"] == {"id": definition.public_id, "name": "Prompt Alignment Job", "kind": "compare"}
    assert body["audience"]["id"] == "global" and body["responses_needed"] == 4
    assert api.get(f"/api/jobs/{body['id']}/").json() == body


def test_assign_to_a_curated_audience(api, definition):
    curated = audience_services.audience_create(owner=None, name="Curated", kind=Audience.Kind.CURATED)
    response = api.post(
        "/api/jobs/", {"job_definition": definition.public_id, "audience": curated.public_id}, format="json"
    )
    assert response.status_code == 201 and response.json()["audience"]["kind"] == "curated"


@pytest.mark.parametrize(
    ("body", "field", "fragment"),
    [
        ({"audience": "global"}, "job_definition", "required"),
        ({"job_definition": "jdf_nope", "audience": "global"}, "job_definition", "not found"),
        ({"job_definition": "THEIR_DEFINITION", "audience": "global"}, "job_definition", "not found"),
        ({"job_definition": "MINE", "audience": "THEIR_AUDIENCE"}, "audience", "not found"),
        ({"job_definition": "MINE", "audience": None}, "audience", "null"),
        ({"job_definition": "MINE", "audience": ["global"]}, "audience", "Not a valid string"),
        ({"job_definition": "MINE", "audience": "global", "state": "completed"}, "state", "unknown field"),
    ],
)
def test_assign_rejects(api, definition, other_requester, body, field, fragment):
    theirs = job_services.job_definition_create_draw(
        owner=other_requester, name="T", instruction="C", datapoints=[URL_A]
    )
    their_audience = audience_services.audience_create(owner=other_requester, name="Theirs")
    ids = {
        "MINE": definition.public_id,
        "THEIR_DEFINITION": theirs.public_id,
        "THEIR_AUDIENCE": their_audience.public_id,
    }
    body = {key: ids.get(value, value) if isinstance(value, str) else value for key, value in body.items()}
    before = row_counts()
    assert_400_naming(api.post("/api/jobs/", body, format="json"), field, fragment)
    assert row_counts() == before


def test_jobs_progress_and_results_are_404_for_another_requester(api, other_api, job):
    for suffix in ("", "progress/", "results/"):
        assert api.get(f"/api/jobs/{job.public_id}/{suffix}").status_code == 200
        response = other_api.get(f"/api/jobs/{job.public_id}/{suffix}")
        assert response.status_code == 404 and response.json() == {"detail": "Not found."}
    assert other_api.get("/api/jobs/").json()["count"] == 0
    assert api.get("/api/jobs/").json()["count"] == 1


def test_find_jobs_by_definition_name_and_state(api, requester, job, definition):
    other = job_services.job_definition_create_draw(owner=requester, name="Ducks", instruction="C", datapoints=[URL_A])
    from audiences.selectors import global_audience

    duck_job = job_services.job_create(owner=requester, definition=other, audience=global_audience())
    Job.objects.filter(pk=duck_job.pk).update(state=Job.State.COMPLETED)
    assert [j["id"] for j in api.get("/api/jobs/").json()["results"]] == [duck_job.public_id, job.public_id]
    assert [j["id"] for j in api.get("/api/jobs/?name=prompt").json()["results"]] == [job.public_id]
    assert [j["id"] for j in api.get("/api/jobs/?state=completed").json()["results"]] == [duck_job.public_id]
    by_definition = api.get(f"/api/jobs/?job_definition={definition.public_id}").json()["results"]
    assert [j["id"] for j in by_definition] == [job.public_id]
    assert api.get("/api/jobs/?audience=global").json()["count"] == 2
    assert_400_naming(api.get("/api/jobs/?state=sleeping"), "state")


def add_response(job: Job, position: int, labeler, payload: dict, user_score: float = 0.6) -> Response:
    """A response as the submission service would store it (the labeler API is tested elsewhere)."""
    slot = JobDatapoint.objects.get(job=job, position=position)
    response = Response.objects.create(
        job=job, job_datapoint=slot, labeler=labeler, payload=payload, user_score=user_score, time_spent_ms=1200
    )
    slot.response_count += 1
    slot.last_response_at = timezone.now()
    slot.closed = slot.response_count >= job.definition.responses_per_datapoint
    slot.save()
    return response


def test_progress_counts_datapoints_responses_and_members(api, job, make_labeler):
    progress = api.get(f"/api/jobs/{job.public_id}/progress/").json()
    assert progress["state"] == "running" and progress["job_id"] == job.public_id
    assert (progress["datapoints_total"], progress["datapoints_done"]) == (2, 0)
    assert (progress["responses_collected"], progress["responses_needed"]) == (0, 4)
    assert progress["completion_percentage"] == 0.0 and progress["last_response_at"] is None
    assert progress["audience"]["id"] == "global"

    first, second = make_labeler("l1"), make_labeler("l2")
    add_response(job, 0, first, {"choice": URL_A})
    add_response(job, 0, second, {"choice": URL_B})
    add_response(job, 1, first, {"choice": URL_C})
    progress = api.get(f"/api/jobs/{job.public_id}/progress/").json()
    assert (progress["datapoints_done"], progress["responses_collected"], progress["responses_needed"]) == (1, 3, 4)
    assert progress["completion_percentage"] == 75.0 and progress["last_response_at"] is not None
    assert progress["audience"]["graduated"] == 2 and progress["audience"]["qualifying"] == 0


def test_progress_of_a_datapoint_stopped_early_needs_no_more(api, job, labeler):
    add_response(job, 0, labeler, {"choice": URL_A})
    JobDatapoint.objects.filter(job=job, position=0).update(closed=True, stopped_early=True)
    progress = api.get(f"/api/jobs/{job.public_id}/progress/").json()
    assert (progress["datapoints_done"], progress["responses_collected"], progress["responses_needed"]) == (1, 1, 3)


def test_progress_shows_an_audience_nobody_can_work_for(api, requester, definition):
    empty = audience_services.audience_create(owner=requester, name="Empty")
    job = job_services.job_create(owner=requester, definition=definition, audience=empty)
    Membership.objects.filter(audience=empty).delete()
    members = api.get(f"/api/jobs/{job.public_id}/progress/").json()["audience"]
    assert (members["graduated"], members["qualifying"]) == (0, 0)
