"""Tenant isolation and CSRF, over every route of the URL map.

- Every API route that addresses an object (an audience, definition, job or
  datapoint in its path) is a 404 for another requester's object and works
  for one's own; a labeler's task is a 404 for every other labeler. Routes
  are read from the URL resolver, so a new route is checked without being
  listed here. Objects named in bodies and query strings are "not found" too.
- ``/ws/jobs/<id>/`` through the full ASGI stack (session cookie, origin
  check) opens for the job's owner only. (Consumer-level refusals:
  ``test_websockets.py``.)
- Every session-authenticated write, API route or page form (the admin's
  included), without a CSRF token is a 403 that changes nothing.

The admin's owner scoping (others' rows are 404 on every admin page) is
tested in ``test_admin.py``; the dashboard's in its own tests.
"""

from __future__ import annotations

import asyncio
import json
import re

import pytest
from channels.testing import WebsocketCommunicator
from django.apps import apps
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.resolvers import RegexPattern
from rest_framework.test import APIClient
from rest_framework.views import APIView

from assets import services as asset_services
from audiences.models import Audience
from audiences.selectors import global_audience
from core.api_common import IsRequester
from jobs import feed
from jobs import services as job_services
from tests import factories

pytestmark = pytest.mark.django_db

WRITE_METHODS = ("post", "put", "patch", "delete")
METHODS = ("get", *WRITE_METHODS)
URL_PARAM = re.compile(r"<(?:(\w+):)?(\w+)>")
BOX = {"x_min": 0.1, "y_min": 0.1, "x_max": 0.5, "y_max": 0.5}

# Routes whose object in the path is open to every eligible labeler: an
# audience to qualify for, a job of an audience they belong to (403 when not).
ELIGIBILITY_SCOPED = {"labeling:api-qualification-next", "labeling:api-qualification-answer", "labeling:api-task-next"}
# Bodies that pass validation, so that only the object decides the status.
VALID_BODIES = {
    "audiences:example-create-draw": {"instruction": "Color it", "datapoint": factories.url("x"), "truths": [BOX]},
    "audiences:example-create-compare": {
        "instruction": "Which?",
        "datapoint": [factories.url("p"), factories.url("q")],
        "truth": factories.url("p"),
    },
    "labeling:api-preview-check": {"response": {"lines": []}},
    "labeling:api-task-submit": {"response": {"lines": []}},
}


# --- the URL map ----------------------------------------------------------------------------------


# Routes written as regular expressions, as a URL to request.
REGEX_ROUTES = {
    "media": "media/assets/00/none.png",
    "admin:app_list": "admin/audiences/",
    "admin:": "admin/no/such/page/",
}


def routes(patterns=None, prefix: str = "", namespace: str = "") -> list[tuple[str, str, object]]:
    """Every route as (route, namespaced name, view callback); a regular
    expression route as the URL in ``REGEX_ROUTES``."""
    found = []
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(pattern, URLResolver):
            inner = ":".join(filter(None, [namespace, pattern.namespace]))
            found += routes(pattern.url_patterns, prefix + str(pattern.pattern), inner)
        elif isinstance(pattern, URLPattern):
            name = ":".join(filter(None, [namespace, pattern.name])) if pattern.name else f"{namespace}:"
            route = prefix + str(pattern.pattern)
            if isinstance(pattern.pattern, RegexPattern):
                route = REGEX_ROUTES[name]  # a new one: add it there
            found.append((route, name, pattern.callback))
    return found


def api_routes() -> list[tuple[str, str, type[APIView]]]:
    return [
        (route, name, callback.cls)
        for route, name, callback in routes()
        if isinstance(getattr(callback, "cls", None), type)
        and issubclass(callback.cls, APIView)
        and not callback.cls.__module__.startswith("drf_spectacular")
    ]


def methods_of(view: type[APIView]) -> list[str]:
    return [method for method in METHODS if hasattr(view, method)]


def params(route: str) -> set[str]:
    return {match.group(2) for match in URL_PARAM.finditer(route)}


def fill(route: str, values: dict[str, str]) -> str:
    return "/" + URL_PARAM.sub(lambda match: str(values[match.group(2)]), route)


def call(client, method: str, url: str, body: dict | None = None, **extra):
    if method == "get":
        return client.get(url, **extra)
    return getattr(client, method)(url, json.dumps(body or {}), content_type="application/json", **extra)


def row_counts() -> dict[str, int]:
    return {
        model._meta.label: model.objects.count()
        for model in apps.get_models()
        if model._meta.app_label in {"audiences", "jobs", "labeling", "auth", "knox"}
    }


# --- two tenants ----------------------------------------------------------------------------------


def tenant(owner, labeler, png_bytes: bytes, capture) -> dict:
    """A requester's objects, and a task of ``labeler`` in their job."""
    audience = factories.compare_audience(owner, name=f"Audience of {owner.username}", examples=3)
    image = asset_services.asset_create_image(owner=owner, data=png_bytes, name=f"{owner.username}.png")
    definition = job_services.job_definition_create_draw(
        owner=owner,
        name=f"Books of {owner.username}",
        instruction="Color in the books",
        datapoints=[{"asset_id": image.public_id}, factories.url(f"{owner.username}-1")],
        responses_per_datapoint=3,
    )
    job = job_services.job_create(owner=owner, definition=definition, audience=global_audience())
    with capture(execute=True):  # aggregated in-process on commit: the first datapoint has a result
        lease = feed.task_next(labeler=labeler, job=job)
        feed.task_submit(labeler=labeler, task_id=lease.public_id, response=factories.stroke_inside())
    task = feed.task_next(labeler=labeler, job=job)
    return {
        "owner": owner,
        "audience_id": audience.public_id,
        "definition_id": definition.public_id,
        "job_id": job.public_id,
        "position": 0,
        "task_id": task.public_id,
        "asset_id": image.public_id,
    }


@pytest.fixture
def tenants(requester, other_requester, make_labeler, png_bytes, django_capture_on_commit_callbacks):
    lara, otto = make_labeler("lara"), make_labeler("otto")
    alice = tenant(requester, lara, png_bytes, django_capture_on_commit_callbacks)
    bob = tenant(other_requester, otto, png_bytes, django_capture_on_commit_callbacks)
    alice["labeler"], bob["labeler"] = lara, otto
    return alice, bob


def signed_in(user, client_class=APIClient):
    client = client_class()
    client.force_login(user)
    return client


# --- objects in paths ---------------------------------------------------------------------------------


def test_every_object_route_is_404_for_another_tenant_and_works_for_the_owner(tenants):
    alice, bob = tenants
    checked = []
    for route, name, view in api_routes():
        names = params(route)
        if not names or name in ELIGIBILITY_SCOPED:
            continue
        unknown = names - {"audience_id", "definition_id", "job_id", "position", "task_id"}
        assert not unknown, f"{name}: say how {sorted(unknown)} is scoped to its owner in this test"
        labeler_scoped = "task_id" in names
        for method in methods_of(view):
            body = VALID_BODIES.get(name)
            me = alice["labeler"] if labeler_scoped else alice["owner"]
            client = signed_in(me)
            before = row_counts()
            foreign = call(client, method, fill(route, bob), body)
            assert foreign.status_code == 404, (method, name, foreign.status_code, foreign.content[:300])
            assert foreign.json() == {"detail": "Not found."}, (method, name)
            assert row_counts() == before, (method, name)
            own = call(client, method, fill(route, alice), body)
            # 409: the task was answered by the check of an earlier route (submit, then skip).
            assert own.status_code < 300 or own.status_code == 409, (method, name, own.status_code, own.content[:300])
            checked.append((method, name))
    names = {name for _, name in checked}
    assert {
        "audiences:audience-detail",
        "audiences:example-list",
        "audiences:example-create-draw",
        "jobs:job-definition-detail",
        "jobs:job-detail",
        "jobs:job-progress",
        "jobs:job-results",
        "labeling:api-preview-task",
        "labeling:api-preview-check",
        "labeling:api-task-submit",
        "labeling:api-task-skip",
    } <= names, sorted(names)


def test_eligibility_scoped_routes_are_listed_and_exist():
    assert ELIGIBILITY_SCOPED <= {name for _, name, _ in api_routes()}


def test_requester_routes_refuse_labelers(tenants):
    """A labeler is refused every requester route, whoever owns the object."""
    alice, _ = tenants
    client = signed_in(alice["labeler"])
    for route, name, view in api_routes():
        if IsRequester not in view.permission_classes:
            continue
        for method in methods_of(view):
            response = call(client, method, fill(route, alice), VALID_BODIES.get(name))
            assert response.status_code == 403, (method, name, response.status_code)


# --- objects in bodies and query strings ------------------------------------------------------------


def test_another_tenants_objects_named_in_bodies_are_not_found(tenants):
    alice, bob = tenants
    client = signed_in(alice["owner"])
    refusals = [
        ("/api/jobs/", {"job_definition": bob["definition_id"], "audience": "global"}, "job_definition"),
        ("/api/jobs/", {"job_definition": alice["definition_id"], "audience": bob["audience_id"]}, "audience"),
        (
            "/api/job-definitions/",
            {"kind": "draw", "name": "Mine", "instruction": "Color", "datapoints": [{"asset_id": bob["asset_id"]}]},
            "datapoints",
        ),
        (
            f"/api/audiences/{alice['audience_id']}/examples/draw/",
            {"instruction": "Color", "datapoint": {"asset_id": bob["asset_id"]}, "truths": [BOX]},
            "datapoint",
        ),
    ]
    before = row_counts()
    for url, body, field in refusals:
        response = client.post(url, body, format="json")
        assert response.status_code == 400 and field in response.json(), (url, response.content)
        assert "not found" in json.dumps(response.json()) or "unknown asset" in json.dumps(response.json())
    assert row_counts() == before


def test_lists_and_filters_never_show_another_tenants_objects(tenants):
    alice, bob = tenants
    client = signed_in(alice["owner"])
    for url in (
        "/api/audiences/?page_size=100",
        "/api/job-definitions/?page_size=100",
        "/api/jobs/?page_size=100",
        f"/api/jobs/?job_definition={bob['definition_id']}",
        f"/api/jobs/?audience={bob['audience_id']}",
        f"/api/audiences/?name={bob['owner'].username}",
    ):
        body = client.get(url).content.decode()
        for key in ("audience_id", "definition_id", "job_id", "asset_id"):
            assert bob[key] not in body, (url, key)
        assert bob["owner"].username not in body.replace(f"name={bob['owner'].username}", ""), url
    assert client.get(f"/api/jobs/?job_definition={bob['definition_id']}").json()["count"] == 0


# --- websockets through the whole ASGI stack ---------------------------------------------------------------


@pytest.fixture
def fresh_channel_layer():
    from channels.layers import channel_layers

    channel_layers.backends.clear()
    yield
    channel_layers.backends.clear()


@pytest.mark.django_db(transaction=True)
def test_job_websocket_opens_for_its_owner_only(requester, other_requester, labeler, fresh_channel_layer):
    from config.asgi import application

    job = factories.draw_job(requester, global_audience())
    sessions = {
        user.username: signed_in(user, Client).cookies["sessionid"].value
        for user in (requester, other_requester, labeler)
    }

    async def connect(session: str | None, origin: str = "http://localhost") -> bool:
        headers = [(b"host", b"localhost"), (b"origin", origin.encode())]
        if session:
            headers.append((b"cookie", f"sessionid={session}".encode()))
        communicator = WebsocketCommunicator(application, f"/ws/jobs/{job.public_id}/", headers=headers)
        connected, _ = await communicator.connect(timeout=5)
        if connected:
            message = await communicator.receive_json_from(timeout=5)
            assert message["type"] == "progress" and message["job_id"] == job.public_id
            await communicator.disconnect()
        return connected

    async def scenario():
        assert await connect(sessions[requester.username])
        assert not await connect(sessions[other_requester.username])
        assert not await connect(sessions[labeler.username])
        assert not await connect(None)
        # The owner's own cookie, sent by a page of another site: refused by the origin check.
        assert not await connect(sessions[requester.username], origin="https://evil.example")

    asyncio.run(scenario())


# --- CSRF ------------------------------------------------------------------------------------------------------


def test_every_api_write_from_a_session_needs_the_csrf_token(tenants):
    alice, _ = tenants
    checked = 0
    for route, name, view in api_routes():
        requester_route = IsRequester in view.permission_classes or name.startswith("labeling:api-preview")
        user = alice["owner"] if requester_route else alice["labeler"]
        for method in methods_of(view):
            if method == "get":
                continue
            client = signed_in(user, lambda: APIClient(enforce_csrf_checks=True))
            before = row_counts()
            response = call(client, method, fill(route, alice), VALID_BODIES.get(name))
            assert response.status_code == 403, (method, name, response.status_code)
            assert "CSRF" in response.json()["detail"], (method, name)
            assert row_counts() == before, (method, name)
            checked += 1
    assert checked >= 12


def page_routes() -> list[tuple[str, str, object]]:
    return [(route, name, callback) for route, name, callback in routes() if not hasattr(callback, "cls")]


def test_every_page_refuses_writes_without_the_csrf_token(tenants, operator):
    """Signup, login, logout, the labeler pages and every admin page (add,
    change, delete, changelist actions, password change ...): any POST,
    PUT, PATCH or DELETE without the token is a 403, and nothing changes."""
    alice, _ = tenants
    values = {
        **alice,
        "object_id": 1,
        "app_label": "audiences",
        "content_type_id": 1,
        "url": "x/",
        "uidb64": "MQ",
        "token": "set-password",
        "path": "assets/00/none.png",
        "id": 1,
    }
    exempt = [name for _, name, callback in page_routes() if getattr(callback, "csrf_exempt", False)]
    assert exempt == []
    checked = set()
    clients = [Client(enforce_csrf_checks=True)] + [
        signed_in(user, lambda: Client(enforce_csrf_checks=True)) for user in (alice["owner"], operator)
    ]
    body = {"username": "newbie", "password": "x", "password1": "x", "password2": "x", "name": "X", "post": "yes"}
    before = row_counts()
    for route, name, _ in page_routes():
        url = fill(route, values)
        for client in clients:
            for response in (client.post(url, body), client.delete(url)):
                assert response.status_code == 403, (url, response.request["REQUEST_METHOD"], response.status_code)
        checked.add(name)
    assert row_counts() == before
    assert {
        "login",
        "logout",
        "labeling:signup",
        "admin:audiences_audience_add",
        "admin:jobs_job_add",
        "admin:audiences_qualificationexample_add",
        "admin:jobs_asset_add",
        "admin:audiences_audience_change",
        "admin:audiences_audience_delete",
        "admin:password_change",
    } <= checked, sorted(checked)


def test_admin_forms_work_with_the_token(tenants):
    """The 403s above are CSRF refusals: with the token the same forms go through."""
    alice, _ = tenants
    client = signed_in(alice["owner"], lambda: Client(enforce_csrf_checks=True))
    client.get("/admin/audiences/audience/add/")
    token = client.cookies["csrftoken"].value
    form = {
        "name": "Birders",
        "description": "",
        "target_accuracy": 0.8,
        "min_tasks": 5,
        "max_tasks": 10,
        "gold_rate": 0.05,
    }
    assert client.post("/admin/audiences/audience/add/", form).status_code == 403
    assert client.post("/admin/audiences/audience/add/", {**form, "csrfmiddlewaretoken": token}).status_code == 302
    assert Audience.objects.filter(name="Birders", owner=alice["owner"]).exists()
