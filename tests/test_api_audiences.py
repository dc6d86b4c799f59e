"""The requester API for audiences and qualification examples: scoping (another
requester's audience is a 404), truths for owners only, paged search, and
400s that name the field and write nothing."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from assets.models import Asset
from audiences import services as audience_services
from audiences.models import Audience, Membership, QualificationExample, TruthBox
from labeling.tokens import token_create

pytestmark = pytest.mark.django_db

BOX = {"x_min": 0.1, "y_min": 0.2, "x_max": 0.5, "y_max": 0.6}
URL_A = "https://assets.example.org/a.jpg"
URL_B = "https://assets.example.org/b.jpg"


def api_for(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {user.api_token}")
    return client


def row_counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in (Audience, QualificationExample, TruthBox, Asset)}


def assert_400_naming(response, field: str, fragment: str = "") -> None:
    assert response.status_code == 400, (response.status_code, response.content)
    body = response.json()
    assert field in body, body
    assert isinstance(body[field], list) and all(isinstance(m, str) for m in body[field]), body
    assert any(fragment in message for message in body[field]), body


@pytest.fixture
def api(requester) -> APIClient:
    return api_for(requester)


@pytest.fixture
def other_api(other_requester) -> APIClient:
    return api_for(other_requester)


@pytest.fixture
def audience(requester) -> Audience:
    return audience_services.audience_create(owner=requester, name="Alice's audience")


@pytest.fixture
def curated(operator) -> Audience:
    curated = audience_services.audience_create(
        owner=None, name="Prompt alignment (curated)", kind=Audience.Kind.CURATED
    )
    audience_services.example_add_compare(
        audience=curated,
        owner=operator,
        instruction="Which?",
        datapoint=[URL_A, URL_B],
        truth=URL_B,
        explanation="B is right.",
    )
    audience_services.example_add_draw(
        audience=curated, owner=operator, instruction="Color the books", datapoint=URL_A, truths=[BOX]
    )
    return curated


# --- create ------------------------------------------------------------------------------------


def test_create_audience_returns_it_with_defaults(api):
    response = api.post("/api/audiences/", {"name": "Custom Prompt Alignment Audience"}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["id"].startswith("aud_") and body["kind"] == "custom" and body["owned"] is True
    assert (body["target_accuracy"], body["min_tasks"], body["max_tasks"]) == (0.75, 5, 10)
    assert body["members"] == {"graduated": 0, "qualifying": 0, "dropped": 0}
    assert body["example_count"] == 0
    assert Audience.objects.get(public_id=body["id"]).name == "Custom Prompt Alignment Audience"


def test_create_audience_with_rule(api):
    response = api.post(
        "/api/audiences/",
        {
            "name": "Strict",
            "target_accuracy": 0.9,
            "min_tasks": 3,
            "max_tasks": 6,
            "gold_rate": 0.1,
            "description": "d",
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["target_accuracy"], body["min_tasks"], body["max_tasks"], body["gold_rate"]) == (0.9, 3, 6, 0.1)


@pytest.mark.parametrize(
    ("body", "field", "fragment"),
    [
        ({}, "name", "required"),
        ({"name": ""}, "name", "must not be empty"),
        ({"name": None}, "name", "null"),
        ({"name": 7}, "name", "must be a string"),
        ({"name": ["a"]}, "name", "must be a string"),
        ({"name": "x" * 201}, "name", "at most 200"),
        ({"name": "A\x00B"}, "name", "NUL"),
        ({"name": "A", "target_accuracy": "high"}, "target_accuracy", "must be a number"),
        ({"name": "A", "target_accuracy": "0.9"}, "target_accuracy", "must be a number"),
        ({"name": "A", "target_accuracy": 1.5}, "target_accuracy", "must be in"),
        ({"name": "A", "target_accuracy": True}, "target_accuracy", "must be a number"),
        ({"name": "A", "target_accuracy": {"x": 1}}, "target_accuracy", "must be a number"),
        ({"name": "A", "min_tasks": 2.5}, "min_tasks", "must be an integer"),
        ({"name": "A", "min_tasks": "5"}, "min_tasks", "must be an integer"),
        ({"name": "A", "min_tasks": 10**15}, "min_tasks", "between 1"),
        ({"name": "A", "min_tasks": 6, "max_tasks": 4}, "max_tasks", "at least min_tasks"),
        ({"name": "A", "gold_rate": 0.9}, "gold_rate", "must be in"),
        ({"name": "A", "owner": 1}, "owner", "unknown field"),
        ({"name": "A", "kind": "curated"}, "kind", "unknown field"),
    ],
)
def test_create_audience_rejects(api, body, field, fragment):
    before = row_counts()
    assert_400_naming(api.post("/api/audiences/", body, format="json"), field, fragment)
    assert row_counts() == before


@pytest.mark.parametrize("body", ["[1, 2]", '"a string"', "null", "42"])
def test_create_audience_rejects_a_body_that_is_not_an_object(api, body):
    before = row_counts()
    response = api.post("/api/audiences/", body, content_type="application/json")
    assert response.status_code == 400 and "non_field_errors" in response.json(), response.content
    assert row_counts() == before


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ('{"name": "A",', "JSON parse error"),
        ("{'name': 'A'}", "JSON parse error"),
        ('{"name": "A", "target_accuracy": NaN}', "NaN"),
        ('{"name": "A", "target_accuracy": Infinity}', "Infinity"),
        ('{"name": "A", "target_accuracy": -Infinity}', "Infinity"),
        ('{"name": "A", "target_accuracy": 1e999}', "out of range"),
        ('{"name": "A", "min_tasks": 1' + "0" * 400 + "}", "out of range"),
        ('{"name": ' + "[" * 100_000 + "]" * 100_000 + "}", "nested too deeply"),
        (b'{"name": "\xff\xfe"}', "JSON parse error"),
    ],
)
def test_malformed_json_is_a_400_with_detail(api, raw, fragment):
    before = row_counts()
    response = api.post("/api/audiences/", raw, content_type="application/json")
    assert response.status_code == 400, response.content
    assert fragment in response.json()["detail"]
    assert row_counts() == before


def test_oversized_body_is_a_413(api, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = api.post("/api/audiences/", {"name": "A", "description": "x" * 2000}, format="json")
    assert response.status_code == 413 and "detail" in response.json()


# --- read and find --------------------------------------------------------------------------------


def test_global_and_curated_audiences_are_visible_to_every_requester(api, other_api, curated):
    for client in (api, other_api):
        response = client.get("/api/audiences/global/")
        assert response.status_code == 200 and response.json()["kind"] == "global"
        assert response.json()["owned"] is False
        response = client.get(f"/api/audiences/{curated.public_id}/")
        assert response.status_code == 200 and response.json()["kind"] == "curated"
        assert response.json()["example_count"] == 2


def test_another_requesters_audience_is_not_found(api, other_api, audience):
    response = other_api.get(f"/api/audiences/{audience.public_id}/")
    assert response.status_code == 404 and response.json() == {"detail": "Not found."}
    assert api.get(f"/api/audiences/{audience.public_id}/").status_code == 200
    assert api.get("/api/audiences/aud_doesnotexist/").json() == {"detail": "Not found."}


def test_find_lists_never_include_other_requesters_audiences(api, other_api, other_requester, audience, curated):
    theirs = audience_services.audience_create(owner=other_requester, name="Bob's audience")
    mine = {a["id"] for a in api.get("/api/audiences/?page_size=100").json()["results"]}
    assert mine == {"global", curated.public_id, audience.public_id}
    bobs = {a["id"] for a in other_api.get("/api/audiences/?page_size=100").json()["results"]}
    assert bobs == {"global", curated.public_id, theirs.public_id}
    assert other_api.get("/api/audiences/?name=alice").json()["count"] == 0


def test_find_by_name_is_paged_newest_first(api, requester):
    created = [audience_services.audience_create(owner=requester, name=f"Books {i}") for i in range(5)]
    audience_services.audience_create(owner=requester, name="Ducks")
    first = api.get("/api/audiences/?name=books&page_size=2").json()
    assert (first["count"], first["page"], first["page_size"]) == (5, 1, 2)
    assert [a["name"] for a in first["results"]] == ["Books 4", "Books 3"]
    third = api.get("/api/audiences/?name=BOOKS&page_size=2&page=3").json()
    assert [a["id"] for a in third["results"]] == [created[0].public_id]
    assert api.get("/api/audiences/?name=books&page_size=2&page=4").json()["results"] == []


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("page=0", "page"),
        ("page=abc", "page"),
        ("page=99999999999999999999", "page"),
        ("page_size=101", "page_size"),
        ("page_size=-1", "page_size"),
        ("name=" + "x" * 201, "name"),
        ("name=a%00b", "name"),
    ],
)
def test_find_rejects_bad_query_parameters(api, query, field):
    assert_400_naming(api.get(f"/api/audiences/?{query}"), field)


def test_audience_detail_counts_members_by_state(api, audience, make_labeler):
    states = ["graduated", "graduated", "qualifying", "dropped"]
    for index, state in enumerate(states):
        Membership.objects.create(labeler=make_labeler(f"lab{index}"), audience=audience, state=state)
    body = api.get(f"/api/audiences/{audience.public_id}/").json()
    assert body["members"] == {"graduated": 2, "qualifying": 1, "dropped": 1}
    listed = api.get("/api/audiences/?name=alice").json()["results"][0]
    assert listed["members"] == body["members"]


def test_find_does_not_query_per_audience(api, requester, django_assert_max_num_queries):
    for index in range(15):
        audience_services.audience_create(owner=requester, name=f"A{index}")
    with django_assert_max_num_queries(8):
        assert len(api.get("/api/audiences/?page_size=100").json()["results"]) == 16


# --- examples ----------------------------------------------------------------------------------------


def test_add_draw_example(api, audience):
    response = api.post(
        f"/api/audiences/{audience.public_id}/examples/draw/",
        {
            "instruction": "Color in the visual glitches",
            "datapoint": URL_A,
            "truths": [BOX],
            "explanation": "The hand has six fingers.",
            "required_precision": 0.7,
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["kind"] == "draw" and body["items"] == [URL_A] and body["truths"] == [BOX]
    assert (body["required_precision"], body["required_completeness"]) == (0.7, 1.0)
    assert body["truth_visible"] is True and body["explanation"] == "The hand has six fingers."
    assert audience.examples.get().truth_boxes.count() == 1


def test_add_compare_example_with_text_items(api, audience):
    response = api.post(
        f"/api/audiences/{audience.public_id}/examples/compare/",
        {
            "instruction": "Which text follows the prompt?",
            "datapoint": ["a duck", URL_B],
            "truth": "a duck",
            "context": "A psychedelic duck",
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["items"] == ["a duck", URL_B] and body["truth"] == "a duck" and body["truths"] is None
    assert body["context"] == "A psychedelic duck"


def test_add_compare_example_with_an_uploaded_asset(api, audience, png_bytes):
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = api.post("/api/assets/", {"file": SimpleUploadedFile("left.png", png_bytes)}, format="multipart")
    asset_id = upload.json()["id"]
    response = api.post(
        f"/api/audiences/{audience.public_id}/examples/compare/",
        {
            "instruction": "Which?",
            "datapoint": [{"asset_id": asset_id}, URL_B],
            "truth": {"asset_id": asset_id},
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    assert response.json()["items"] == ["left.png", URL_B] and response.json()["truth"] == "left.png"


@pytest.mark.parametrize(
    ("body", "field", "fragment"),
    [
        ({"instruction": ""}, "instruction", "must not be empty"),
        ({"instruction": None}, "instruction", "null"),
        ({"datapoint": "ftp://host/a.jpg"}, "datapoint", "scheme 'ftp'"),
        ({"datapoint": "plain text"}, "datapoint", "not text"),
        ({"datapoint": {"asset_id": "ast_missing"}}, "datapoint", "unknown asset id"),
        ({"datapoint": {"asset_id": "x", "extra": 1}}, "datapoint", "unknown field"),
        ({"datapoint": 12}, "datapoint", "must be a URL"),
        ({"truths": []}, "truths", "at least one box"),
        ({"truths": BOX}, "truths", "list of boxes"),
        ({"truths": [[0.1, 0.2, 0.3, 0.4]]}, "truths", "must be an object"),
        ({"truths": [{**BOX, "x_min": 0.9}]}, "truths", "x_min must be less than x_max"),
        ({"truths": [{**BOX, "y_max": 1.5}]}, "truths", "between 0 and 1"),
        ({"truths": [{**BOX, "x_max": "0.5"}]}, "truths", "must be a number"),
        ({"truths": [BOX] * 51}, "truths", "at most 50"),
        ({"required_precision": 2}, "required_precision", "must be in"),
        ({"required_completeness": "all"}, "required_completeness", "must be a number"),
        ({"context": 5}, "context", "must be a string"),
        ({"truth": URL_A}, "truth", "unknown field"),
    ],
)
def test_add_draw_example_rejects(api, audience, body, field, fragment):
    before = row_counts()
    payload = {"instruction": "Color the books", "datapoint": URL_A, "truths": [BOX], **body}
    response = api.post(f"/api/audiences/{audience.public_id}/examples/draw/", payload, format="json")
    assert_400_naming(response, field, fragment)
    assert row_counts() == before


@pytest.mark.parametrize(
    ("body", "field", "fragment"),
    [
        ({"datapoint": [URL_A]}, "datapoint", "exactly 2 items"),
        ({"datapoint": [URL_A, URL_A], "truth": URL_A}, "datapoint", "same item twice"),
        ({"datapoint": {"a": URL_A}}, "datapoint", "exactly 2 items"),
        ({"truth": "https://assets.example.org/c.jpg"}, "truth", "one of the two"),
        ({"truth": None}, "truth", "null"),
        ({"truth": [URL_A]}, "truth", "must be a URL"),
        ({"truths": [BOX]}, "truths", "unknown field"),
    ],
)
def test_add_compare_example_rejects(api, audience, body, field, fragment):
    before = row_counts()
    payload = {"instruction": "Which?", "datapoint": [URL_A, URL_B], "truth": URL_A, **body}
    response = api.post(f"/api/audiences/{audience.public_id}/examples/compare/", payload, format="json")
    assert_400_naming(response, field, fragment)
    assert row_counts() == before


def test_examples_cannot_be_added_to_global_or_curated_audiences(api, curated):
    before = row_counts()
    payload = {"instruction": "Which?", "datapoint": [URL_A, URL_B], "truth": URL_A}
    assert_400_naming(api.post("/api/audiences/global/examples/compare/", payload, format="json"), "audience")
    assert_400_naming(
        api.post(f"/api/audiences/{curated.public_id}/examples/compare/", payload, format="json"),
        "audience",
        "curated audiences are run by the operators",
    )
    assert row_counts() == before


def test_another_requesters_audience_takes_no_examples_and_shows_none(api, other_api, audience):
    audience_services.example_add_draw(
        audience=audience, owner=audience.owner, instruction="Color", datapoint=URL_A, truths=[BOX]
    )
    before = row_counts()
    base = f"/api/audiences/{audience.public_id}/examples"
    draw = {"instruction": "Color", "datapoint": URL_A, "truths": [BOX]}
    assert other_api.post(f"{base}/draw/", draw, format="json").status_code == 404
    compare = {"instruction": "Which?", "datapoint": [URL_A, URL_B], "truth": URL_A}
    assert other_api.post(f"{base}/compare/", compare, format="json").status_code == 404
    assert other_api.get(f"{base}/").status_code == 404
    assert row_counts() == before
    assert api.get(f"{base}/").json()["count"] == 1


def test_truths_are_visible_to_the_owner_only(api, audience, curated, operator):
    audience_services.example_add_compare(
        audience=audience,
        owner=audience.owner,
        instruction="Which?",
        datapoint=[URL_A, URL_B],
        truth=URL_B,
        explanation="B.",
    )
    own = api.get(f"/api/audiences/{audience.public_id}/examples/").json()["results"][0]
    assert (own["truth_visible"], own["truth"], own["explanation"]) == (True, URL_B, "B.")

    examples = api.get(f"/api/audiences/{curated.public_id}/examples/").json()["results"]
    assert [e["kind"] for e in examples] == ["compare", "draw"]
    for example in examples:
        assert example["truth_visible"] is False
        assert example["truth"] is None and example["truths"] is None and example["explanation"] is None
    assert examples[0]["items"] == [URL_A, URL_B]

    operator.api_token = token_create(user=operator)[1]
    as_operator = api_for(operator).get(f"/api/audiences/{curated.public_id}/examples/").json()["results"]
    assert as_operator[0]["truth"] == URL_B and as_operator[1]["truths"] == [BOX]


def test_examples_list_is_paged(api, audience):
    for index in range(3):
        audience_services.example_add_compare(
            audience=audience, owner=audience.owner, instruction=f"Q{index}", datapoint=[URL_A, URL_B], truth=URL_A
        )
    page = api.get(f"/api/audiences/{audience.public_id}/examples/?page_size=2&page=2").json()
    assert page["count"] == 3 and [e["instruction"] for e in page["results"]] == ["Q2"]
