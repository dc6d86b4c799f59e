"""Bad input, swept over every endpoint and every page form.

One table per endpoint: malformed JSON, bodies that are not objects, NaN and
infinities, numbers out of range, wrong types, missing and unknown fields,
strings and bodies past their limits (a body past
``DATA_UPLOAD_MAX_MEMORY_SIZE`` included), non-image, oversized and
decompression-bomb uploads, SVG and HTML disguised as images, URL schemes
other than http(s), duplicate compare items, truths that are not among the
items. Every case must get a 4xx with a message (JSON on the API) and
change nothing: every table of the database is counted before and after.

Every API route must have a table here (checked against the URL resolver).
Page forms keep Django's convention: a form with wrong values is shown again
with its errors (200); a request that cannot be read is a 4xx. Generated
input (schemathesis) is in ``test_api_fuzz.py``.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import pytest
from django.apps import apps
from django.conf import settings as django_settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from PIL import Image

from assets import services as asset_services
from audiences import services as audience_services
from audiences.selectors import global_audience
from jobs import feed
from jobs import services as job_services
from tests import factories
from tests.conftest import image_bytes
from tests.test_security_isolation import api_routes

pytestmark = pytest.mark.django_db

URL_A, URL_B = factories.url("a"), factories.url("b")
BOX = {"x_min": 0.1, "y_min": 0.2, "x_max": 0.5, "y_max": 0.6}
LINE = {"size": 0.02, "points": [{"x": 0.2, "y": 0.3}, {"x": 0.3, "y": 0.4}]}
BAD_SCHEMES = [
    "javascript://alert(1)",
    "file:///etc/passwd",
    "ftp://assets.example.org/a.jpg",
    "data://text/html,<script>alert(1)</script>",
    "http://",
    "https:// spaced.example.org/a.jpg",
    "https://" + "a" * 2050 + ".example.org/a.jpg",
]


# --- what a case is ---------------------------------------------------------------------------------


@dataclass
class Case:
    name: str
    body: Any = None  # JSON-encoded unless ``raw``
    raw: bytes | str | None = None
    content_type: str = "application/json"
    multipart: dict | None = None
    status: int = 400
    field: str | None = None  # named in the error body
    fragment: str = ""  # in the error body


def row_counts() -> dict[str, int]:
    """Rows of every table, in one query."""
    tables = sorted({model._meta.db_table for model in apps.get_models()})
    sql = "SELECT " + ", ".join(f"(SELECT COUNT(*) FROM {connection.ops.quote_name(t)})" for t in tables)
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return dict(zip(tables, cursor.fetchone()))


def send(client, method: str, url: str, case: Case):
    if case.multipart is not None:
        return (
            client.post(url, case.multipart, format="multipart")
            if hasattr(client, "credentials")
            else client.post(url, case.multipart)
        )
    if case.raw is not None:
        data = case.raw
    elif case.body is not None:
        data = json.dumps(case.body)
    else:
        data = ""
    return getattr(client, method)(url, data, content_type=case.content_type)


def assert_api_refusal(response, case: Case, where: str) -> None:
    assert response.status_code == case.status, (where, response.status_code, response.content[:400])
    assert response["Content-Type"] == "application/json", (where, response["Content-Type"])
    body = response.json()
    assert isinstance(body, dict) and body, (where, body)
    if "detail" in body:
        assert isinstance(body["detail"], str) and body["detail"], (where, body)
    else:
        assert all(isinstance(v, list) and v and all(isinstance(m, str) and m for m in v) for v in body.values()), (
            where,
            body,
        )
    if case.field:
        assert case.field in body, (where, body)
    assert case.fragment in json.dumps(body), (where, case.fragment, body)


# --- generic cases for every JSON body ---------------------------------------------------------------------


def json_cases(valid: dict, *, required: list[str]) -> list[Case]:
    key = next(iter(valid))
    limit = django_settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    return [
        Case("malformed JSON", raw='{"' + key + '": ', fragment="JSON parse error"),
        Case("single quotes", raw="{'" + key + "': 1}", fragment="JSON parse error"),
        Case("not UTF-8", raw=b'{"' + key.encode() + b'": "\xff\xfe"}', fragment="JSON parse error"),
        Case("NaN", raw='{"' + key + '": NaN}', fragment="NaN"),
        Case("Infinity", raw='{"' + key + '": Infinity}', fragment="Infinity"),
        Case("-Infinity", raw='{"' + key + '": -Infinity}', fragment="Infinity"),
        Case("1e999", raw='{"' + key + '": 1e999}', fragment="out of range"),
        Case("a 400-digit integer", raw='{"' + key + '": 1' + "0" * 400 + "}", fragment="out of range"),
        Case(
            "nested too deeply",
            raw='{"' + key + '": ' + "[" * 100_000 + "]" * 100_000 + "}",
            fragment="nested too deeply",
        ),
        Case("a list", raw="[1, 2]", field="non_field_errors"),
        Case("a string", raw='"text"', field="non_field_errors"),
        Case("null", raw="null", field="non_field_errors"),
        Case("a number", raw="42", field="non_field_errors"),
        Case("empty object", body={}, field=required[0], fragment="required"),
        *[
            Case(f"without {name}", body={k: v for k, v in valid.items() if k != name}, field=name, fragment="required")
            for name in required
        ],
        Case("an unknown field", body={**valid, "is_admin": True}, field="is_admin", fragment="unknown field"),
        Case("text/plain", raw=json.dumps(valid), content_type="text/plain", status=415),
        Case("XML", raw="<a/>", content_type="application/xml", status=415),
        Case(
            "past DATA_UPLOAD_MAX_MEMORY_SIZE",
            raw='{"' + key + '": "' + "x" * limit + '"}',
            status=413,
            fragment="too large",
        ),
    ]


def draw_response_cases(wrap: Callable[[Any], dict]) -> list[Case]:
    """A draw answer, wrapped in the body of its endpoint by ``wrap``."""
    return [
        Case("draw: not an object", body=wrap([LINE]), field="response", fragment="must be an object"),
        Case("draw: no lines", body=wrap({}), field="response", fragment="missing lines"),
        Case("draw: lines not a list", body=wrap({"lines": "many"}), field="response", fragment="must be a list"),
        Case(
            "draw: an unknown key",
            body=wrap({"lines": [], "colour": "red"}),
            field="response",
            fragment="unknown field",
        ),
        Case("draw: 201 lines", body=wrap({"lines": [LINE] * 201}), field="response", fragment="at most 200"),
        Case(
            "draw: 5001 points",
            body=wrap({"lines": [{"size": 0.02, "points": [{"x": 0.1, "y": 0.1}] * 5001}]}),
            field="response",
            fragment="at most 5000",
        ),
        Case(
            "draw: 20001 points in all",
            body=wrap({"lines": [{"size": 0.02, "points": [{"x": 0.1, "y": 0.1}] * 4001}] * 5}),
            field="response",
            fragment="more than 20000",
        ),
        Case(
            "draw: brush too big",
            body=wrap({"lines": [{**LINE, "size": 0.5}]}),
            field="response",
            fragment="size must be between",
        ),
        Case(
            "draw: brush zero",
            body=wrap({"lines": [{**LINE, "size": 0}]}),
            field="response",
            fragment="size must be between",
        ),
        Case(
            "draw: x past the image",
            body=wrap({"lines": [{"size": 0.02, "points": [{"x": 1.5, "y": 0.1}]}]}),
            field="response",
            fragment="between 0 and 1",
        ),
        Case(
            "draw: negative y",
            body=wrap({"lines": [{"size": 0.02, "points": [{"x": 0.1, "y": -0.1}]}]}),
            field="response",
            fragment="between 0 and 1",
        ),
        Case(
            "draw: x a string",
            body=wrap({"lines": [{"size": 0.02, "points": [{"x": "0.1", "y": 0.1}]}]}),
            field="response",
            fragment="must be a number",
        ),
        Case(
            "draw: x true",
            body=wrap({"lines": [{"size": 0.02, "points": [{"x": True, "y": 0.1}]}]}),
            field="response",
            fragment="must be a number",
        ),
        Case(
            "draw: no points",
            body=wrap({"lines": [{"size": 0.02, "points": []}]}),
            field="response",
            fragment="non-empty list",
        ),
        Case(
            "draw: a point as a list",
            body=wrap({"lines": [{"size": 0.02, "points": [[0.1, 0.1]]}]}),
            field="response",
            fragment="must be an object",
        ),
        Case(
            "draw: NUL in a key", body=wrap({"lines": [], "\x00": "\x00"}), field="response", fragment="unknown field"
        ),
    ]


def compare_response_cases(wrap: Callable[[Any], dict]) -> list[Case]:
    return [
        Case("compare: no choice", body=wrap({}), field="response", fragment="missing choice"),
        Case(
            "compare: another item",
            body=wrap({"choice": factories.url("elsewhere")}),
            field="response",
            fragment="exactly one of the two items",
        ),
        Case("compare: a number", body=wrap({"choice": 0}), field="response", fragment="must be a string"),
        Case("compare: both", body=wrap({"choice": [URL_A, URL_B]}), field="response", fragment="must be a string"),
        Case(
            "compare: an unknown key",
            body=wrap({"choice": URL_A, "sure": True}),
            field="response",
            fragment="unknown field",
        ),
        Case(
            "compare: NUL in the choice",
            body=wrap({"choice": URL_A + "\x00"}),
            field="response",
            fragment="exactly one of the two items",
        ),
        Case(
            "compare: NUL in a key", body=wrap({"choice": URL_A, "\x00": 1}), field="response", fragment="unknown field"
        ),
    ]


# --- the objects the requests address ------------------------------------------------------------------------


@dataclass
class World:
    requester: Any
    labeler: Any
    audience: Any
    draw_definition: Any
    compare_definition: Any
    draw_job: Any
    compare_job: Any
    draw_task: str
    compare_task: str
    qualification_task: str
    clients: dict = field(default_factory=dict)


@pytest.fixture
def world(requester, labeler, settings) -> World:
    settings.SUBMIT_RATE = "none"  # the limit has its own tests; here every request must reach validation
    audience = factories.draw_audience(requester, name="Bad input audience", examples=3)
    draw_job = factories.draw_job(requester, global_audience(), datapoints=2, responses=2)
    compare_definition = job_services.job_definition_create_compare(
        owner=requester, name="Compare", instruction="Which?", datapoints=[[URL_A, URL_B]]
    )
    compare_job = job_services.job_create(owner=requester, definition=compare_definition, audience=global_audience())
    draw_task = feed.task_next(labeler=labeler, job=draw_job).public_id
    compare_task = feed.task_next(labeler=labeler, job=compare_job).public_id
    membership = audience_services.qualification_next(labeler=labeler, audience=audience)
    from rest_framework.test import APIClient

    as_requester = APIClient()
    as_requester.credentials(HTTP_AUTHORIZATION=f"Token {requester.api_token}")
    as_labeler = APIClient()
    as_labeler.force_authenticate(labeler)
    return World(
        requester,
        labeler,
        audience,
        draw_job.definition,
        compare_definition,
        draw_job,
        compare_job,
        draw_task,
        compare_task,
        membership.current_task_id,
        {"requester": as_requester, "labeler": as_labeler},
    )


def optional_body_cases(valid: dict) -> list[Case]:
    """``json_cases`` for a body whose fields are all optional."""
    return [
        case
        for case in json_cases(valid, required=[next(iter(valid))])
        if case.name != "empty object" and not case.name.startswith("without ")
    ]


def lease_cases(body) -> list[Case]:
    """Bad values of the optional ``lease`` field, inside ``body(value)``."""
    return [
        Case("lease unknown", body=body("forever"), field="lease", fragment="not a valid choice"),
        Case("lease a number", body=body(90), field="lease"),
        Case("lease null", body=body(None), field="lease"),
        Case("lease a list", body=body(["page"]), field="lease"),
        Case("lease with NUL", body=body("page\x00"), field="lease"),
        Case("form: lease unknown", multipart={"lease": "forever"}, field="lease"),
        Case(
            "form: an unknown field",
            multipart={"lease": "page", "seconds": "3600"},
            field="seconds",
            fragment="unknown field",
        ),
    ]


# --- the tables ------------------------------------------------------------------------------------------------


def png(width: int = 40, height: int = 30) -> bytes:
    return image_bytes(width, height)


@lru_cache(maxsize=1)
def bomb() -> bytes:
    """A small PNG declaring 400 million pixels."""
    buffer = io.BytesIO()
    Image.new("1", (20_000, 20_000)).save(buffer, "PNG")
    return buffer.getvalue()


SVG = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><rect width="10" height="10"/></svg>'
HTML = b"<!doctype html><html><body><script>alert(1)</script></body></html>"


def upload_cases() -> list[Case]:
    def file(name: str, data: bytes, content_type: str = "image/png"):
        return SimpleUploadedFile(name, data, content_type=content_type)

    return [
        Case("no file", multipart={}, field="file"),
        Case("a text field, not a file", multipart={"file": "just text"}, field="file"),
        Case("an empty file", multipart={"file": file("e.png", b"")}, field="file"),
        Case(
            "a PDF", multipart={"file": file("a.png", b"%PDF-1.4 not an image")}, field="file", fragment="not an image"
        ),
        Case(
            "SVG named .png",
            multipart={"file": file("a.png", SVG, "image/svg+xml")},
            field="file",
            fragment="not an image",
        ),
        Case(
            "HTML named .jpg",
            multipart={"file": file("a.jpg", HTML, "image/jpeg")},
            field="file",
            fragment="not an image",
        ),
        Case(
            "a BMP",
            multipart={"file": file("a.bmp", image_bytes(8, 8, "BMP"), "image/bmp")},
            field="file",
            fragment="JPEG, PNG, WebP or GIF",
        ),
        Case("a truncated PNG", multipart={"file": file("a.png", png()[:-40])}, field="file", fragment="truncated"),
        Case("a decompression bomb", multipart={"file": file("bomb.png", bomb())}, field="file", fragment="pixels"),
        Case(
            "past ASSET_MAX_BYTES",
            multipart={"file": file("big.png", png() + b"\0" * django_settings.ASSET_MAX_BYTES)},
            field="file",
            fragment="limit",
        ),
        Case(
            "an unknown field",
            multipart={"file": file("a.png", png()), "colour": "red"},
            field="colour",
            fragment="unknown field",
        ),
        Case("a name past 255", multipart={"file": file("a.png", png()), "name": "n" * 256}, field="name"),
        Case(
            "a form field past DATA_UPLOAD_MAX_MEMORY_SIZE",
            status=413,
            fragment="too large",
            multipart={"file": file("a.png", png()), "name": "n" * django_settings.DATA_UPLOAD_MAX_MEMORY_SIZE},
        ),
        Case("JSON instead of a file", body={"file": "x"}, status=415),
    ]


def tables(w: World) -> list[tuple[str, str, str, str, list[Case]]]:
    """(route name, method, url, who, cases) for every API route."""
    audience = w.audience.public_id
    draw_definition = {"kind": "draw", "name": "Books", "instruction": "Color the books", "datapoints": [URL_A]}
    compare_definition = {"kind": "compare", "name": "Pairs", "instruction": "Which?", "datapoints": [[URL_A, URL_B]]}
    draw_example = {"instruction": "Color the books", "datapoint": URL_A, "truths": [BOX]}
    compare_example = {"instruction": "Which?", "datapoint": [URL_A, URL_B], "truth": URL_A}
    job = {"job_definition": w.draw_definition.public_id, "audience": "global"}

    def definition(**changes):
        return {**draw_definition, **changes}

    def compare(**changes):
        return {**compare_definition, **changes}

    def multipart(payload, **files):
        return {"payload": payload if isinstance(payload, str) else json.dumps(payload), **files}

    audience_cases = [
        *json_cases({"name": "A"}, required=["name"]),
        Case("name empty", body={"name": ""}, field="name", fragment="must not be empty"),
        Case("name blank", body={"name": "   "}, field="name", fragment="must not be empty"),
        Case("name null", body={"name": None}, field="name"),
        Case("name a number", body={"name": 7}, field="name", fragment="must be a string"),
        Case("name a list", body={"name": ["A"]}, field="name", fragment="must be a string"),
        Case("name past 200", body={"name": "n" * 201}, field="name", fragment="at most 200"),
        Case("name with NUL", body={"name": "A\x00B"}, field="name", fragment="NUL"),
        Case("description past 2000", body={"name": "A", "description": "d" * 2001}, field="description"),
        Case("description a dict", body={"name": "A", "description": {}}, field="description"),
        Case("target_accuracy a string", body={"name": "A", "target_accuracy": "0.9"}, field="target_accuracy"),
        Case("target_accuracy true", body={"name": "A", "target_accuracy": True}, field="target_accuracy"),
        Case("target_accuracy 0", body={"name": "A", "target_accuracy": 0}, field="target_accuracy"),
        Case("target_accuracy 1.5", body={"name": "A", "target_accuracy": 1.5}, field="target_accuracy"),
        Case("target_accuracy -1", body={"name": "A", "target_accuracy": -1}, field="target_accuracy"),
        Case("min_tasks 2.5", body={"name": "A", "min_tasks": 2.5}, field="min_tasks"),
        Case("min_tasks 0", body={"name": "A", "min_tasks": 0}, field="min_tasks"),
        Case("min_tasks huge", body={"name": "A", "min_tasks": 10**15}, field="min_tasks"),
        Case("max_tasks below min_tasks", body={"name": "A", "min_tasks": 6, "max_tasks": 4}, field="max_tasks"),
        Case("gold_rate 0.9", body={"name": "A", "gold_rate": 0.9}, field="gold_rate"),
        Case("gold_rate negative", body={"name": "A", "gold_rate": -0.1}, field="gold_rate"),
        Case("kind given", body={"name": "A", "kind": "curated"}, field="kind", fragment="unknown field"),
    ]
    draw_example_cases = [
        *json_cases(draw_example, required=["instruction", "datapoint", "truths"]),
        *[
            Case(f"datapoint {url[:24]}", body={**draw_example, "datapoint": url}, field="datapoint")
            for url in BAD_SCHEMES
        ],
        Case(
            "datapoint text", body={**draw_example, "datapoint": "a blue book"}, field="datapoint", fragment="not text"
        ),
        Case(
            "datapoint javascript:",
            body={**draw_example, "datapoint": "javascript:alert(1)"},
            field="datapoint",
            fragment="not text",
        ),
        Case(
            "datapoint an unknown asset",
            body={**draw_example, "datapoint": {"asset_id": "ast_nope"}},
            field="datapoint",
            fragment="unknown asset",
        ),
        Case(
            "datapoint an object with extra keys",
            body={**draw_example, "datapoint": {"asset_id": "a", "x": 1}},
            field="datapoint",
        ),
        Case("datapoint a number", body={**draw_example, "datapoint": 3}, field="datapoint"),
        Case("datapoint two images", body={**draw_example, "datapoint": [URL_A, URL_B]}, field="datapoint"),
        Case("truths empty", body={**draw_example, "truths": []}, field="truths", fragment="at least one box"),
        Case("truths a box, not a list", body={**draw_example, "truths": BOX}, field="truths"),
        Case("truths 51 boxes", body={**draw_example, "truths": [BOX] * 51}, field="truths", fragment="at most 50"),
        Case(
            "truth box inverted",
            body={**draw_example, "truths": [{**BOX, "x_min": 0.9}]},
            field="truths",
            fragment="x_min must be less than x_max",
        ),
        Case(
            "truth box past the image",
            body={**draw_example, "truths": [{**BOX, "y_max": 1.2}]},
            field="truths",
            fragment="between 0 and 1",
        ),
        Case(
            "truth box missing a side",
            body={**draw_example, "truths": [{"x_min": 0.1, "y_min": 0.1, "x_max": 0.2}]},
            field="truths",
            fragment="missing y_max",
        ),
        Case(
            "truth box with an extra key",
            body={**draw_example, "truths": [{**BOX, "label": "book"}]},
            field="truths",
            fragment="unknown field",
        ),
        Case(
            "truth box with a string",
            body={**draw_example, "truths": [{**BOX, "x_min": "0.1"}]},
            field="truths",
            fragment="must be a number",
        ),
        Case("instruction past 250", body={**draw_example, "instruction": "i" * 251}, field="instruction"),
        Case("instruction empty", body={**draw_example, "instruction": ""}, field="instruction"),
        Case("explanation past 2000", body={**draw_example, "explanation": "e" * 2001}, field="explanation"),
        Case("context past 2000", body={**draw_example, "context": "c" * 2001}, field="context"),
        Case("required_precision 2", body={**draw_example, "required_precision": 2}, field="required_precision"),
        Case(
            "required_completeness NaN-like string",
            body={**draw_example, "required_completeness": "NaN"},
            field="required_completeness",
        ),
    ]
    compare_example_cases = [
        *json_cases(compare_example, required=["instruction", "datapoint", "truth"]),
        Case(
            "the same item twice",
            body={**compare_example, "datapoint": [URL_A, URL_A]},
            field="datapoint",
            fragment="same item twice",
        ),
        Case(
            "the same text twice",
            body={**compare_example, "datapoint": ["left", "left"], "truth": "left"},
            field="datapoint",
            fragment="same item twice",
        ),
        Case("one item", body={**compare_example, "datapoint": [URL_A]}, field="datapoint", fragment="exactly 2"),
        Case(
            "three items",
            body={**compare_example, "datapoint": [URL_A, URL_B, factories.url("c")]},
            field="datapoint",
            fragment="exactly 2",
        ),
        Case(
            "truth not among the items",
            body={**compare_example, "truth": factories.url("c")},
            field="truth",
            fragment="exactly one of the two",
        ),
        Case(
            "truth a near miss",
            body={**compare_example, "truth": URL_A + "?"},
            field="truth",
            fragment="exactly one of the two",
        ),
        Case("truth the index", body={**compare_example, "truth": 0}, field="truth"),
        Case("truth empty", body={**compare_example, "truth": ""}, field="truth"),
        *[
            Case(
                f"item {url[:24]}",
                body={**compare_example, "datapoint": [url, URL_B], "truth": URL_B},
                field="datapoint",
            )
            for url in BAD_SCHEMES
        ],
        Case(
            "text item past 5000",
            body={**compare_example, "datapoint": ["t" * 5001, URL_B], "truth": URL_B},
            field="datapoint",
            fragment="longer than 5000",
        ),
        Case(
            "text item with NUL",
            body={**compare_example, "datapoint": ["a\x00b", URL_B], "truth": URL_B},
            field="datapoint",
            fragment="NUL",
        ),
        Case(
            "an unknown asset",
            body={**compare_example, "datapoint": [{"asset_id": "ast_nope"}, URL_B], "truth": URL_B},
            field="datapoint",
            fragment="unknown asset",
        ),
    ]
    definition_cases = [
        *json_cases(draw_definition, required=["kind", "name", "instruction", "datapoints"]),
        Case("kind unknown", body=definition(kind="segment"), field="kind", fragment="must be one of"),
        Case("datapoints not a list", body=definition(datapoints=URL_A), field="datapoints", fragment="list"),
        Case("datapoints empty", body=definition(datapoints=[]), field="datapoints", fragment="must not be empty"),
        Case("draw with text", body=definition(datapoints=["a blue book"]), field="datapoints", fragment="not text"),
        Case("draw with a pair", body=definition(datapoints=[[URL_A, URL_B]]), field="datapoints"),
        *[Case(f"draw image {url[:24]}", body=definition(datapoints=[url]), field="datapoints") for url in BAD_SCHEMES],
        Case(
            "compare with duplicate items",
            body=compare(datapoints=[[URL_A, URL_A]]),
            field="datapoints",
            fragment="same item twice",
        ),
        Case("compare with one item", body=compare(datapoints=[URL_A]), field="datapoints", fragment="exactly 2"),
        Case("compare with three items", body=compare(datapoints=[[URL_A, URL_B, URL_A]]), field="datapoints"),
        *[
            Case(f"compare item {url[:24]}", body=compare(datapoints=[[url, URL_B]]), field="datapoints")
            for url in BAD_SCHEMES
        ],
        Case(
            "contexts of another length",
            body=definition(contexts=["a", "b"]),
            field="contexts",
            fragment="has 2 entries",
        ),
        Case("contexts not a list", body=definition(contexts="a"), field="contexts"),
        Case("a context past 2000", body=definition(contexts=["c" * 2001]), field="contexts"),
        Case("a context a number", body=definition(contexts=[5]), field="contexts"),
        Case("media_contexts with text", body=definition(media_contexts=["a cat"]), field="media_contexts"),
        Case(
            "media_contexts with javascript", body=definition(media_contexts=["javascript://x"]), field="media_contexts"
        ),
        Case("media_contexts of another length", body=definition(media_contexts=[None, None]), field="media_contexts"),
        Case("responses_per_datapoint 0", body=definition(responses_per_datapoint=0), field="responses_per_datapoint"),
        Case(
            "responses_per_datapoint 1001",
            body=definition(responses_per_datapoint=1001),
            field="responses_per_datapoint",
        ),
        Case(
            "responses_per_datapoint a string",
            body=definition(responses_per_datapoint="10"),
            field="responses_per_datapoint",
        ),
        Case(
            "responses_per_datapoint 2.5", body=definition(responses_per_datapoint=2.5), field="responses_per_datapoint"
        ),
        Case("confidence_threshold 1.5", body=compare(confidence_threshold=1.5), field="confidence_threshold"),
        Case("confidence_threshold 1", body=compare(confidence_threshold=1), field="confidence_threshold"),
        Case("confidence_threshold on draw", body=definition(confidence_threshold=0.9), field="confidence_threshold"),
        Case("draw_aggregation unknown", body=definition(draw_aggregation="median"), field="draw_aggregation"),
        Case("name past 200", body=definition(name="n" * 201), field="name"),
        Case("instruction past 250", body=definition(instruction="i" * 251), field="instruction"),
        Case("instruction a list", body=definition(instruction=["i"]), field="instruction"),
        Case(
            "an unknown asset",
            body=definition(datapoints=[{"asset_id": "ast_nope"}]),
            field="datapoints",
            fragment="unknown asset",
        ),
        # multipart: the definition as JSON in `payload`, files beside it
        Case("multipart without payload", multipart={}, field="payload"),
        Case(
            "multipart payload not JSON", multipart=multipart("{not json"), field="payload", fragment="not valid JSON"
        ),
        Case(
            "multipart payload NaN",
            multipart=multipart('{"kind": "draw", "name": NaN}'),
            field="payload",
            fragment="NaN",
        ),
        Case("multipart payload a list", multipart=multipart("[]"), field="non_field_errors"),
        Case(
            "multipart file missing",
            multipart=multipart(definition(datapoints=[{"file": "img"}])),
            field="datapoints",
            fragment="'img'",
        ),
        Case(
            "multipart file not referenced",
            multipart=multipart(draw_definition, img=SimpleUploadedFile("a.png", png())),
            field="img",
            fragment="not referenced",
        ),
        Case(
            "multipart file not an image",
            multipart=multipart(definition(datapoints=[{"file": "img"}]), img=SimpleUploadedFile("a.png", HTML)),
            field="datapoints",
            fragment="not an image",
        ),
        Case(
            "multipart SVG",
            multipart=multipart(
                definition(datapoints=[{"file": "img"}]), img=SimpleUploadedFile("a.svg", SVG, "image/svg+xml")
            ),
            field="datapoints",
            fragment="not an image",
        ),
        Case(
            "multipart decompression bomb",
            multipart=multipart(definition(datapoints=[{"file": "img"}]), img=SimpleUploadedFile("b.png", bomb())),
            field="datapoints",
            fragment="pixels",
        ),
        Case(
            "multipart unknown form field",
            multipart={**multipart(draw_definition), "name": "x"},
            field="name",
            fragment="unknown form field",
        ),
        Case("form-encoded", raw="kind=draw&name=x", content_type="application/x-www-form-urlencoded", status=415),
    ]
    job_cases = [
        *json_cases(job, required=["job_definition", "audience"]),
        Case(
            "unknown definition",
            body={**job, "job_definition": "jdf_nope"},
            field="job_definition",
            fragment="not found",
        ),
        Case("definition a number", body={**job, "job_definition": 5}, field="job_definition"),
        Case("definition past 100", body={**job, "job_definition": "j" * 101}, field="job_definition"),
        Case("unknown audience", body={**job, "audience": "aud_nope"}, field="audience", fragment="not found"),
        Case("audience null", body={**job, "audience": None}, field="audience"),
        Case("state given", body={**job, "state": "completed"}, field="state", fragment="unknown field"),
    ]
    page_query_cases = [
        Case("page 0", raw="page=0", field="page"),
        Case("page -1", raw="page=-1", field="page"),
        Case("page text", raw="page=abc", field="page"),
        Case("page huge", raw="page=1" + "0" * 30, field="page"),
        Case("page_size 0", raw="page_size=0", field="page_size"),
        Case("page_size 101", raw="page_size=101", field="page_size"),
        Case("page_size 1e3", raw="page_size=1e3", field="page_size"),
    ]
    find_cases = [*page_query_cases, Case("name past 200", raw="name=" + "n" * 201, field="name")]
    answer = {"task_id": w.qualification_task, "response": {"lines": [LINE]}}
    batch = {"start": 0, "datapoints": [factories.url("batch")]}
    submit_draw = {"response": {"lines": [LINE]}}
    labeler_submit = f"/api/labeler/tasks/{w.draw_task}/submit/"
    preview = f"/api/preview/{w.draw_definition.public_id}/tasks/0/check/"
    return [
        ("audiences:audience-list", "post", "/api/audiences/", "requester", audience_cases),
        ("audiences:audience-list", "get", "/api/audiences/", "requester", find_cases),
        ("audiences:audience-detail", "get", f"/api/audiences/{audience}/", "requester", []),
        ("audiences:example-list", "get", f"/api/audiences/{audience}/examples/", "requester", page_query_cases),
        (
            "audiences:example-create-draw",
            "post",
            f"/api/audiences/{audience}/examples/draw/",
            "requester",
            draw_example_cases,
        ),
        (
            "audiences:example-create-compare",
            "post",
            f"/api/audiences/{audience}/examples/compare/",
            "requester",
            compare_example_cases,
        ),
        ("jobs:asset-upload", "post", "/api/assets/", "requester", upload_cases()),
        (
            "jobs:asset-fetch",
            "post",
            "/api/assets/fetch/",
            "requester",
            [
                *json_cases({"urls": [URL_A]}, required=["urls"]),
                Case("urls not a list", body={"urls": URL_A}, field="urls"),
                Case("urls empty", body={"urls": []}, field="urls"),
                Case("not http(s)", body={"urls": ["gopher://images.example.org/a.png"]}, field="urls"),
                Case("a loopback address", body={"urls": ["http://127.0.0.1/a.png"]}, fragment="127.0.0.1"),
                Case("a metadata address", body={"urls": ["http://169.254.169.254/a.png"]}, fragment="169.254"),
                Case("URL with NUL", body={"urls": ["https://images.example.org/a\x00.png"]}, field="urls"),
                Case("too many URLs", body={"urls": [URL_A] * 1001}, field="urls"),
                Case("wait past 30 s", body={"urls": [URL_A], "wait": 31}, field="wait"),
                Case("wait negative", body={"urls": [URL_A], "wait": -1}, field="wait"),
            ],
        ),
        ("jobs:job-definition-list", "post", "/api/job-definitions/", "requester", definition_cases),
        ("jobs:job-definition-list", "get", "/api/job-definitions/", "requester", find_cases),
        (
            "jobs:job-definition-datapoints",
            "post",
            f"/api/job-definitions/{w.draw_definition.public_id}/datapoints/",
            "requester",
            [
                *json_cases(batch, required=["start", "datapoints"]),
                Case("start negative", body={**batch, "start": -1}, field="start"),
                Case("start as text", body={**batch, "start": "0"}, field="start"),
                Case("start past the limit", body={**batch, "start": 100_001}, field="start"),
                Case("a definition assigned to a job", body=batch, status=409, fragment="definition_assigned"),
            ],
        ),
        ("jobs:job-list", "post", "/api/jobs/", "requester", job_cases),
        (
            "jobs:job-list",
            "get",
            "/api/jobs/",
            "requester",
            [
                *find_cases,
                Case("state unknown", raw="state=finished", field="state"),
                Case("definition past 100", raw="job_definition=" + "j" * 101, field="job_definition"),
            ],
        ),
        (
            "jobs:job-results",
            "get",
            f"/api/jobs/{w.draw_job.public_id}/results/",
            "requester",
            [case for case in page_query_cases if case.name != "page_size 101"],
        ),
        (
            "jobs:job-results-download",
            "get",
            f"/api/jobs/{w.draw_job.public_id}/results/download/",
            "requester",
            [
                Case("format unknown", raw="format=xlsx", field="format"),
                Case("csv of a draw job", raw="format=csv", field="format", fragment="compare jobs"),
                Case("format with NUL", raw="format=json%00", field="format"),
            ],
        ),
        (
            "jobs:job-results-download",
            "get",
            f"/api/jobs/{w.compare_job.public_id}/results/download/",
            "requester",
            [Case("coco of a compare job", raw="format=coco", field="format", fragment="draw jobs")],
        ),
        (
            "labeling:api-qualification-answer",
            "post",
            f"/api/labeler/audiences/{audience}/qualification/answer/",
            "labeler",
            [
                *json_cases(answer, required=["task_id", "response"]),
                Case("task_id a number", body={**answer, "task_id": 5}, status=409, fragment="stale_task"),
                Case("task_id of nothing", body={**answer, "task_id": "tsk_nope"}, status=409, fragment="stale_task"),
                Case("task_id with NUL", body={**answer, "task_id": "tsk_\x00"}, field="task_id"),
                *draw_response_cases(lambda response: {**answer, "response": response}),
            ],
        ),
        (
            "labeling:api-task-submit",
            "post",
            labeler_submit,
            "labeler",
            [
                *json_cases(submit_draw, required=["response"]),
                *draw_response_cases(lambda response: {"response": response}),
            ],
        ),
        (
            "labeling:api-task-submit",
            "post",
            f"/api/labeler/tasks/{w.compare_task}/submit/",
            "labeler",
            compare_response_cases(lambda response: {"response": response}),
        ),
        (
            "labeling:api-preview-check",
            "post",
            preview,
            "requester",
            [
                *json_cases(submit_draw, required=["response"]),
                *draw_response_cases(lambda response: {"response": response}),
            ],
        ),
        (
            "labeling:api-task-next",
            "post",
            f"/api/labeler/jobs/{w.draw_job.public_id}/tasks/next/",
            "labeler",
            [*optional_body_cases({"lease": "page"}), *lease_cases(lambda value: {"lease": value})],
        ),
        (
            "labeling:api-task-skip",
            "post",
            f"/api/labeler/tasks/{w.draw_task}/skip/",
            "labeler",
            [*optional_body_cases({"lease": "page"}), *lease_cases(lambda value: {"lease": value})],
        ),
        (
            "labeling:api-task-renew",
            "post",
            f"/api/labeler/tasks/{w.draw_task}/renew/",
            "labeler",
            [*optional_body_cases({"lease": "page"}), *lease_cases(lambda value: {"lease": value})],
        ),
        (
            "labeling:api-task-release",
            "post",
            f"/api/labeler/tasks/{w.draw_task}/release/",
            "labeler",
            [
                *optional_body_cases({"lease": "page"}),
                Case("form: an unknown field", multipart={"lease": "page"}, field="lease", fragment="unknown field"),
            ],
        ),
        (
            "labeling:api-task-submit",
            "post",
            labeler_submit,
            "labeler",
            [case for case in lease_cases(lambda value: {**submit_draw, "lease": value}) if case.multipart is None],
        ),
    ]


# Routes that take no body or query string: their input is the path alone
# (unknown ids are 404s, below and in test_security_isolation.py).
PATH_ONLY = {
    "audiences:audience-detail",
    "jobs:job-definition-detail",
    "jobs:job-detail",
    "jobs:job-progress",
    "jobs:job-pause",
    "jobs:job-resume",
    "jobs:job-datapoint-heatmap",
    "labeling:api-home",
    "labeling:api-heartbeat",
    "labeling:api-qualification-next",
    "labeling:api-preview-task",
}


def test_every_api_route_has_a_bad_input_table(world):
    covered = {name for name, *_ in tables(world)} | PATH_ONLY
    missing = {name for _, name, view in api_routes()} - covered
    assert not missing, f"add a table of bad input for {sorted(missing)}"


def table_ids():
    return [
        "audience create",
        "audience find",
        "audience get",
        "example list",
        "draw example",
        "compare example",
        "asset upload",
        "asset fetch",
        "definition create",
        "definition find",
        "definition batch",
        "job create",
        "job find",
        "results",
        "results download (draw)",
        "results download (compare)",
        "qualification answer",
        "task submit (draw)",
        "task submit (compare)",
        "preview check",
        "task next",
        "task skip",
        "task renew",
        "task release",
        "task submit (lease)",
    ]


@pytest.mark.parametrize("index", range(len(table_ids())), ids=table_ids())
def test_bad_input_is_a_4xx_with_a_message_and_changes_nothing(world, index):
    name, method, url, who, cases = tables(world)[index]
    client = world.clients[who]
    for case in cases:
        where = f"{name} {method} {case.name}"
        before = row_counts()
        if method == "get":
            response = client.get(f"{url}?{case.raw}")
        else:
            response = send(client, method, url, case)
        assert_api_refusal(response, case, where)
        assert row_counts() == before, where


def test_unknown_and_malformed_ids_in_paths_are_404s(world):
    """Ids are opaque strings: unknown, overlong, odd characters, another
    kind's id. (Another tenant's ids: test_security_isolation.py.)"""
    requester, labeler = world.clients["requester"], world.clients["labeler"]
    another_kind = world.audience.examples.first().public_id  # an example's id, valid in no path
    odd = ["nope", "x" * 5000, "aud_%00", "1", "global%2F..", another_kind]
    before = row_counts()
    for value in odd:
        for client, method, url in [
            (requester, "get", f"/api/audiences/{value}/"),
            (requester, "get", f"/api/audiences/{value}/examples/"),
            (requester, "post", f"/api/audiences/{value}/examples/draw/"),
            (requester, "get", f"/api/job-definitions/{value}/"),
            (requester, "get", f"/api/jobs/{value}/"),
            (requester, "get", f"/api/jobs/{value}/progress/"),
            (requester, "get", f"/api/jobs/{value}/results/"),
            (requester, "get", f"/api/preview/{value}/tasks/0/"),
            (labeler, "post", f"/api/labeler/jobs/{value}/tasks/next/"),
            (labeler, "post", f"/api/labeler/tasks/{value}/submit/"),
            (labeler, "post", f"/api/labeler/tasks/{value}/skip/"),
            (labeler, "post", f"/api/labeler/tasks/{value}/renew/"),
            (labeler, "post", f"/api/labeler/tasks/{value}/release/"),
            (labeler, "post", f"/api/labeler/audiences/{value}/qualification/next/"),
        ]:
            body = (
                {"instruction": "i", "datapoint": URL_A, "truths": [BOX]}
                if url.endswith("/draw/")
                else {"response": {"lines": []}}
                if url.endswith("/submit/")
                else {}
            )
            response = client.get(url) if method == "get" else client.post(url, body, format="json")
            assert response.status_code == 404, (url[:120], response.status_code)
            assert response.json() == {"detail": "Not found."}, url[:120]
    for position in (20, 10**6, 2**70):  # past the datapoints, past the preview's first 20, past int64
        for url in (
            f"/api/preview/{world.draw_definition.public_id}/tasks/{position}/",
            f"/api/jobs/{world.draw_job.public_id}/datapoints/{position}/heatmap.png",
        ):
            response = requester.get(url)
            assert response.status_code == 404 and response.json() == {"detail": "Not found."}, (url, position)
    response = requester.get(f"/api/jobs/{world.compare_job.public_id}/datapoints/0/heatmap.png")
    assert response.status_code == 404  # compare datapoints have no heatmap
    assert row_counts() == before


# --- page forms ----------------------------------------------------------------------------------------------------


def refused_form(response, where: str, marker: str) -> None:
    """The form is shown again with what is wrong (200), or the request is refused (4xx)."""
    assert response.status_code in (200, 400, 403, 405, 413), (where, response.status_code)
    if response.status_code == 200:
        assert marker in response.content.decode(), where


def page_client(user=None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def test_signup_login_and_logout_refuse_bad_input(world, make_labeler):
    password = "plum-tangerine-quartz-81"
    limit = django_settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    signup_cases = {
        "nothing": {},
        "no password": {"username": "newbie"},
        "passwords differ": {"username": "newbie", "password1": password, "password2": password + "x"},
        "short password": {"username": "newbie", "password1": "abc", "password2": "abc"},
        "common password": {"username": "newbie", "password1": "password123", "password2": "password123"},
        "username past 150": {"username": "n" * 151, "password1": password, "password2": password},
        "username with spaces": {"username": "new bie", "password1": password, "password2": password},
        "username with markup": {"username": "<script>", "password1": password, "password2": password},
        "username with NUL": {"username": "new\x00bie", "password1": password, "password2": password},
        "username taken in another case": {"username": "LARA", "password1": password, "password2": password},
        "blank username": {"username": "   ", "password1": password, "password2": password},
    }
    before = row_counts()
    for name, form in signup_cases.items():
        refused_form(Client().post("/signup/", form), f"signup: {name}", 'role="alert"')
    refused_form(Client().post("/signup/", {"username": "x" * limit, "password1": password}), "signup: huge", "")
    refused_form(Client().post("/signup/", "garbage", content_type="application/json"), "signup: JSON", 'role="alert"')
    login_cases = {
        "nothing": {},
        "no password": {"username": "lara"},
        "wrong password": {"username": "lara", "password": "x"},
        "unknown user": {"username": "nobody", "password": "x"},
        "username past 150": {"username": "n" * 5000, "password": "x"},
        "username with NUL": {"username": "la\x00ra", "password": "x"},
    }
    for name, form in login_cases.items():
        refused_form(Client().post("/accounts/login/", form), f"login: {name}", 'role="alert"')
    refused_form(Client().post("/accounts/login/", {"username": "x" * limit}), "login: huge", "")
    response = Client().post("/accounts/login/", {"username": "lara", "password": "x", "next": "https://evil.example/"})
    assert response.status_code == 200
    assert row_counts() == before
    assert page_client(world.labeler).get("/accounts/logout/").status_code == 405  # logging out takes a POST


def admin_post(client: Client, url: str, data: dict):
    return client.post(url, data)


def test_admin_add_forms_refuse_bad_input(world, other_requester):
    client = page_client(world.requester)
    other_audience = audience_services.audience_create(owner=other_requester, name="Not yours")
    other_definition = job_services.job_definition_create_draw(
        owner=other_requester, name="Not yours", instruction="x", datapoints=[URL_A]
    )
    audience = {
        "name": "Birders",
        "description": "",
        "target_accuracy": 0.8,
        "min_tasks": 5,
        "max_tasks": 10,
        "gold_rate": 0.05,
    }
    boxes = {
        "truth_boxes-TOTAL_FORMS": 1,
        "truth_boxes-INITIAL_FORMS": 0,
        "truth_boxes-MIN_NUM_FORMS": 0,
        "truth_boxes-MAX_NUM_FORMS": 1000,
        "truth_boxes-0-x_min": 0.1,
        "truth_boxes-0-y_min": 0.1,
        "truth_boxes-0-x_max": 0.5,
        "truth_boxes-0-y_max": 0.5,
    }
    image = asset_services.asset_create_image(owner=world.requester, data=png())
    example = {
        "audience": world.audience.pk,
        "kind": "draw",
        "instruction": "Color the bird",
        "context": "",
        "asset": image.pk,
        "asset_b": "",
        "truth": "",
        "required_precision": 0.8,
        "required_completeness": 1.0,
        "explanation": "",
        **boxes,
    }
    cases = [
        ("audience", "/admin/audiences/audience/add/", {**audience, "name": ""}),
        ("audience", "/admin/audiences/audience/add/", {**audience, "name": "n" * 201}),
        ("audience", "/admin/audiences/audience/add/", {**audience, "target_accuracy": "high"}),
        ("audience", "/admin/audiences/audience/add/", {**audience, "target_accuracy": "NaN"}),
        ("audience", "/admin/audiences/audience/add/", {**audience, "target_accuracy": "Infinity"}),
        ("audience", "/admin/audiences/audience/add/", {**audience, "target_accuracy": 1.5}),
        ("audience", "/admin/audiences/audience/add/", {**audience, "min_tasks": -3}),
        ("audience", "/admin/audiences/audience/add/", {**audience, "max_tasks": 10**20}),
        ("audience", "/admin/audiences/audience/add/", {**audience, "gold_rate": 0.9}),
        ("audience", "/admin/audiences/audience/add/", {**audience, "name": "A\x00B"}),
        ("example", "/admin/audiences/qualificationexample/add/", {**example, "truth_boxes-0-x_min": 0.9}),
        ("example", "/admin/audiences/qualificationexample/add/", {**example, "truth_boxes-0-x_max": "NaN"}),
        ("example", "/admin/audiences/qualificationexample/add/", {**example, "truth_boxes-0-y_max": 1.5}),
        ("example", "/admin/audiences/qualificationexample/add/", {**example, "truth_boxes-TOTAL_FORMS": 0}),
        ("example", "/admin/audiences/qualificationexample/add/", {**example, "kind": "segment"}),
        ("example", "/admin/audiences/qualificationexample/add/", {**example, "audience": other_audience.pk}),
        ("example", "/admin/audiences/qualificationexample/add/", {**example, "instruction": "i" * 251}),
        ("example", "/admin/audiences/qualificationexample/add/", {**example, "required_precision": 2}),
        (
            "example",
            "/admin/audiences/qualificationexample/add/",  # compare: the same item twice, no truth
            {**example, "kind": "compare", "asset_b": image.pk, "truth": "first", "truth_boxes-TOTAL_FORMS": 0},
        ),
        (
            "example",
            "/admin/audiences/qualificationexample/add/",
            {**example, "kind": "compare", "asset_b": "", "truth": "second", "truth_boxes-TOTAL_FORMS": 0},
        ),
        ("job", "/admin/jobs/job/add/", {"definition": "", "audience": world.audience.pk}),
        ("job", "/admin/jobs/job/add/", {"definition": other_definition.pk, "audience": world.audience.pk}),
        ("job", "/admin/jobs/job/add/", {"definition": "abc", "audience": "global"}),
        ("job", "/admin/jobs/job/add/", {"definition": world.draw_definition.pk, "audience": other_audience.pk}),
        ("asset", "/admin/jobs/asset/add/", {"item": ""}),
        ("asset", "/admin/jobs/asset/add/", {"item": "javascript://alert(1)"}),
        ("asset", "/admin/jobs/asset/add/", {"item": "file:///etc/passwd"}),
        ("asset", "/admin/jobs/asset/add/", {"item": "t" * 5001}),
        ("asset", "/admin/jobs/asset/add/", {"upload": SimpleUploadedFile("a.png", SVG, "image/svg+xml")}),
        ("asset", "/admin/jobs/asset/add/", {"upload": SimpleUploadedFile("a.jpg", HTML, "image/jpeg")}),
        ("asset", "/admin/jobs/asset/add/", {"upload": SimpleUploadedFile("b.png", bomb())}),
        ("asset", "/admin/jobs/asset/add/", {"upload": SimpleUploadedFile("a.png", png()), "item": URL_A}),
    ]
    before = row_counts()
    for kind, url, data in cases:
        response = admin_post(client, url, data)
        refused_form(response, f"admin {kind}: {str(data)[:160]}", "error")
        assert response.status_code != 302, (kind, data)
    # A job definition has no add form: definitions come with their datapoints through the API.
    assert admin_post(client, "/admin/jobs/jobdefinition/add/", {"name": "x"}).status_code == 403
    too_big = "x" * django_settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    assert admin_post(client, "/admin/audiences/audience/add/", {**audience, "description": too_big}).status_code == 400
    assert row_counts() == before
