"""The OpenAPI schema is valid, generated without warnings, and documents
every API route with its errors; every requester endpoint wants a
requester's credentials (401 without, 403 for a labeler)."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.test import APIClient
from rest_framework.views import APIView

from tests.stack import ROOT, django_env

REQUESTER_TAGS = {"audiences", "assets", "job definitions", "jobs"}

# (method, path) of every requester endpoint; ids need not exist (auth comes first).
REQUESTER_ENDPOINTS = [
    ("get", "/api/audiences/"),
    ("post", "/api/audiences/"),
    ("get", "/api/audiences/global/"),
    ("get", "/api/audiences/global/examples/"),
    ("post", "/api/audiences/aud_x/examples/draw/"),
    ("post", "/api/audiences/aud_x/examples/compare/"),
    ("post", "/api/assets/"),
    ("post", "/api/assets/fetch/"),
    ("get", "/api/job-definitions/"),
    ("post", "/api/job-definitions/"),
    ("get", "/api/job-definitions/jdf_x/"),
    ("post", "/api/job-definitions/jdf_x/datapoints/"),
    ("get", "/api/jobs/"),
    ("post", "/api/jobs/"),
    ("get", "/api/jobs/job_x/"),
    ("post", "/api/jobs/job_x/pause/"),
    ("post", "/api/jobs/job_x/resume/"),
    ("get", "/api/jobs/job_x/progress/"),
    ("get", "/api/jobs/job_x/results/"),
    ("get", "/api/jobs/job_x/results/download/"),
    ("get", "/api/jobs/job_x/datapoints/0/heatmap.png"),
]


@pytest.fixture(scope="module")
def schema(tmp_path_factory) -> dict:
    """Generated as a deployment would: ``manage.py spectacular --validate --fail-on-warn``
    (validated against the OpenAPI 3 JSON schema; any warning fails)."""
    path = tmp_path_factory.mktemp("schema") / "openapi.json"
    result = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "spectacular",
            "--validate",
            "--fail-on-warn",
            "--format",
            "openapi-json",
            "--file",
            str(path),
        ],
        cwd=ROOT,
        env=django_env(None, DEBUG="1"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Warning" not in result.stderr, result.stderr
    return json.loads(path.read_text())


def _api_routes(patterns=None, prefix: str = "") -> list[tuple[str, type]]:
    """Every route whose view is a DRF view, as (route, view class)."""
    routes = []
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(pattern, URLResolver):
            routes += _api_routes(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            view = getattr(pattern.callback, "cls", None)
            if view is not None and issubclass(view, APIView):
                routes.append((prefix + str(pattern.pattern), view))
    return routes


def _openapi_path(route: str) -> str:
    return "/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route)


def test_every_api_route_is_in_the_schema(schema):
    routes = {
        _openapi_path(route) for route, view in _api_routes() if not view.__module__.startswith("drf_spectacular")
    }  # the schema and docs themselves
    assert "/api/audiences/{audience_id}/examples/draw/" in routes
    missing = routes - set(schema["paths"])
    assert not missing, f"routes missing from the schema: {sorted(missing)}"


def test_every_operation_has_an_id_tags_and_declares_401(schema):
    operation_ids = []
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            if method == "parameters":
                continue
            operation_ids.append(operation.get("operationId"))
            assert operation.get("tags"), (method, path)
            assert "401" in operation["responses"], (method, path)
    assert None not in operation_ids and len(set(operation_ids)) == len(operation_ids)


def test_requester_operations_declare_their_error_shapes(schema):
    components = schema["components"]["schemas"]
    assert components["FieldErrors"]["additionalProperties"] == {"type": "array", "items": {"type": "string"}}
    assert "detail" in components["DetailError"]["properties"]
    seen = set()
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            if not REQUESTER_TAGS & set(operation.get("tags", [])):
                continue
            seen.add((method, path))
            responses = operation["responses"]
            for status in ("401", "403"):
                assert responses[status]["content"]["application/json"]["schema"] == {
                    "$ref": "#/components/schemas/DetailError"
                }, (method, path, status)
            if "{" in path:
                assert "404" in responses, (method, path)
            if method == "post" or any(p["in"] == "query" for p in operation.get("parameters", [])):
                bad = responses["400"]["content"]["application/json"]["schema"]
                assert bad == {"$ref": "#/components/schemas/BadRequest"}, (method, path)
    assert len(seen) == len(REQUESTER_ENDPOINTS)
    assert components["BadRequest"]["oneOf"] == [
        {"$ref": "#/components/schemas/FieldErrors"},
        {"$ref": "#/components/schemas/DetailError"},
    ]


def test_schema_documents_fields_and_both_definition_content_types(schema):
    create = schema["paths"]["/api/job-definitions/"]["post"]["requestBody"]["content"]
    assert set(create) == {"application/json", "multipart/form-data"}
    assert "payload" in create["multipart/form-data"]["schema"]["properties"]
    body = schema["components"]["schemas"]["JobDefinitionCreateRequest"]
    assert set(body["properties"]) == {
        "kind",
        "name",
        "instruction",
        "datapoints",
        "contexts",
        "media_contexts",
        "responses_per_datapoint",
        "confidence_threshold",
        "draw_aggregation",
        "client_key",
    }
    assert set(body["required"]) == {"kind", "name", "instruction", "datapoints"}
    progress = schema["components"]["schemas"]["JobProgress"]["properties"]
    assert {
        "datapoints_total",
        "datapoints_done",
        "responses_collected",
        "responses_needed",
        "completion_percentage",
        "audience",
        "state",
    } <= set(progress)


@pytest.mark.django_db
def test_schema_and_docs_are_served(client):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    html = docs.content.decode()
    assert "swagger-ui" in html and "drf_spectacular_sidecar" in html and "cdn.jsdelivr" not in html


# --- authentication ----------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(("method", "path"), REQUESTER_ENDPOINTS)
def test_unauthenticated_requests_are_401(method, path):
    response = getattr(APIClient(), method)(path, {}, format="json")
    assert response.status_code == 401, response.content
    assert "detail" in response.json() and response["WWW-Authenticate"] == "Token"


@pytest.mark.django_db
@pytest.mark.parametrize(("method", "path"), REQUESTER_ENDPOINTS)
def test_a_wrong_token_is_401(method, path):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token " + "0" * 40)
    assert getattr(client, method)(path, {}, format="json").status_code == 401


@pytest.mark.django_db
@pytest.mark.parametrize(("method", "path"), REQUESTER_ENDPOINTS)
def test_labelers_are_refused_with_403(labeler, method, path):
    client = APIClient()
    client.force_login(labeler)
    response = getattr(client, method)(path, {}, format="json")
    assert response.status_code == 403 and "requesters" in response.json()["detail"]


@pytest.mark.django_db
def test_a_signed_in_requester_uses_the_api_from_the_browser(requester):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(requester)
    assert client.get("/api/audiences/global/").status_code == 200
    # Writes from a browser session need the CSRF token, as every form does.
    assert client.post("/api/audiences/", {"name": "A"}, format="json").status_code == 403
