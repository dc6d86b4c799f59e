"""The crowdcanvas client on its own (requests go to an httpx.MockTransport):
configuration, Box, client-side checks before any request, uploads of local
files, compare truths, error mapping, waiting for results."""

from __future__ import annotations

import json
import math
from pathlib import Path

import httpx
import pandas as pd
import pytest

import crowdcanvas
from crowdcanvas import Box, CrowdCanvasClient
from crowdcanvas import _limits as client_limits
from tests.conftest import image_bytes

URL_A = "https://assets.example.org/a.jpg"
URL_B = "https://assets.example.org/b.jpg"
BASE = "http://crowdcanvas.test"

AUDIENCE = {"id": "aud_1", "kind": "custom", "name": "Mine", "description": "", "owned": True,
            "target_accuracy": 0.75, "min_tasks": 5, "max_tasks": 10, "gold_rate": 0.05, "example_count": 0,
            "members": {"graduated": 0, "qualifying": 0, "dropped": 0}, "created": "2025-01-01T00:00:00Z"}
DEFINITION = {"id": "jdf_1", "kind": "draw", "name": "Books", "instruction": "Color", "responses_per_datapoint": 3,
              "confidence_threshold": None, "draw_aggregation": "majority", "datapoint_count": 1,
              "preview_url": f"{BASE}/preview/jdf_1/", "created": "2025-01-01T00:00:00Z"}
JOB = {"id": "job_1", "state": "running", "definition": {"id": "jdf_1", "name": "Books", "kind": "draw"},
       "audience": {"id": "global", "name": "Global", "kind": "global"}, "responses_needed": 6,
       "created": "2025-01-01T00:00:00Z", "completed": None}


class FakeServer:
    """Answers requests from a table of ``(method, path) -> responder``; records every request."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.routes: dict[tuple[str, str], object] = {}
        self.asset_count = 0
        self.route("POST", "/api/assets/", self._upload)

    def route(self, method: str, path: str, responder) -> None:
        """``responder``: a JSON value (200), a ``(status, body)`` pair, a
        callable taking the request, or a list of those served in turn."""
        self.routes[(method, path)] = responder

    def _upload(self, request: httpx.Request):
        self.asset_count += 1
        return 201, {"id": f"ast_{self.asset_count}", "kind": "image", "name": "x", "width": 64, "height": 48}

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        responder = self.routes.get((request.method, request.url.path))
        if responder is None:
            return httpx.Response(404, json={"detail": "Not found."})
        if isinstance(responder, list):
            responder = responder.pop(0) if len(responder) > 1 else responder[0]
        if callable(responder):
            responder = responder(request)
        if isinstance(responder, httpx.Response):
            return responder
        status, body = responder if isinstance(responder, tuple) else (200, responder)
        return httpx.Response(status, json=body)

    def bodies(self, method: str, path: str) -> list:
        return [json.loads(r.content) for r in self.requests if (r.method, r.url.path) == (method, path)]


@pytest.fixture
def server() -> FakeServer:
    return FakeServer()


@pytest.fixture
def client(server) -> CrowdCanvasClient:
    return CrowdCanvasClient(BASE, "t0ken", transport=httpx.MockTransport(server.handler))


def _refuse(request: httpx.Request) -> httpx.Response:
    pytest.fail(f"no request may be sent, got {request.method} {request.url}")


@pytest.fixture
def offline() -> CrowdCanvasClient:
    """A client whose every request fails the test."""
    return CrowdCanvasClient(BASE, "t0ken", transport=httpx.MockTransport(_refuse))


@pytest.fixture
def image(tmp_path) -> Path:
    path = tmp_path / "books.png"
    path.write_bytes(image_bytes())
    return path


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch, tmp_path):
    """No real credentials leak in: empty environment, a private config dir."""
    monkeypatch.delenv("CROWDCANVAS_URL", raising=False)
    monkeypatch.delenv("CROWDCANVAS_TOKEN", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))


# --- the limits mirror the server's -------------------------------------------------------------------------


def test_client_limits_equal_the_servers():
    from audiences import services as audience_services
    from jobs import services as job_services
    from assets import wire
    from core import api_common

    for name in ("MAX_NAME_LENGTH", "MAX_INSTRUCTION_LENGTH", "MAX_CONTEXT_LENGTH", "MAX_TEXT_ITEM_LENGTH",
                 "MAX_URL_LENGTH", "MAX_EXPLANATION_LENGTH", "MAX_BOXES"):
        assert getattr(client_limits, name) == getattr(wire, name), name
    assert client_limits.MAX_DATAPOINTS == job_services.MAX_DATAPOINTS
    assert client_limits.MAX_RESPONSES_PER_DATAPOINT == job_services.MAX_RESPONSES_PER_DATAPOINT
    assert client_limits.MAX_TASKS_LIMIT == audience_services.MAX_TASKS_LIMIT
    assert client_limits.MAX_PAGE_SIZE == api_common.MAX_PAGE_SIZE
    assert crowdcanvas._validation._SCHEME.pattern == wire._SCHEME.pattern


@pytest.mark.django_db
def test_client_gold_rate_limit_equals_the_servers(requester):
    from django.core.exceptions import ValidationError

    from audiences import services as audience_services

    audience_services.audience_create(owner=requester, name="A", gold_rate=client_limits.MAX_GOLD_RATE)
    with pytest.raises(ValidationError):
        audience_services.audience_create(owner=requester, name="B", gold_rate=client_limits.MAX_GOLD_RATE + 0.01)


def test_client_package_imports_no_django():
    import subprocess
    import sys

    code = ("import sys, crowdcanvas\n"
            "assert not [m for m in sys.modules if m.split('.')[0] in ('django', 'rest_framework')]")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parent.parent)


# --- configuration ------------------------------------------------------------------------------------------


def write_credentials(tmp_path, data) -> Path:
    path = tmp_path / "config" / "crowdcanvas" / "credentials.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


def test_arguments_come_first(monkeypatch, tmp_path):
    monkeypatch.setenv("CROWDCANVAS_URL", "http://env.test")
    monkeypatch.setenv("CROWDCANVAS_TOKEN", "envtoken")
    write_credentials(tmp_path, {"base_url": "http://file.test", "token": "filetoken"})
    config = crowdcanvas.config.resolve_config("http://arg.test/", "argtoken")
    assert (config.base_url, config.token) == ("http://arg.test", "argtoken")


def test_environment_comes_before_the_credentials_file(monkeypatch, tmp_path):
    monkeypatch.setenv("CROWDCANVAS_URL", "http://env.test")
    write_credentials(tmp_path, {"base_url": "http://file.test", "token": "filetoken"})
    config = crowdcanvas.config.resolve_config()
    assert (config.base_url, config.token) == ("http://env.test", "filetoken")
    monkeypatch.setenv("CROWDCANVAS_TOKEN", "envtoken")
    assert crowdcanvas.config.resolve_config().token == "envtoken"


def test_credentials_file_under_home_config(monkeypatch, tmp_path):
    monkeypatch.delenv("XDG_CONFIG_HOME")
    monkeypatch.setenv("HOME", str(tmp_path))
    path = tmp_path / ".config" / "crowdcanvas" / "credentials.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"base_url": "https://labels.example.org/api/", "token": "k"}))
    client = CrowdCanvasClient()
    assert client.base_url == "https://labels.example.org" and "k" not in repr(client)


def test_missing_configuration_says_where_to_put_it(tmp_path):
    with pytest.raises(ValueError) as excinfo:
        CrowdCanvasClient()
    message = str(excinfo.value)
    assert "CROWDCANVAS_URL" in message and "credentials.json" in message
    with pytest.raises(ValueError, match="CROWDCANVAS_TOKEN.*create_requester"):
        CrowdCanvasClient("http://server.test")


@pytest.mark.parametrize("content", ["{not json", "[1, 2]", '{"base_url": 5, "token": "x"}'])
def test_a_broken_credentials_file_is_a_clear_error(tmp_path, content):
    path = write_credentials(tmp_path, content)
    with pytest.raises(ValueError, match=str(path).replace(".", r"\.")):
        CrowdCanvasClient()


@pytest.mark.parametrize("url", ["ftp://x.test", "server.test", "http://", ""])
def test_base_url_must_be_http(url):
    with pytest.raises(ValueError):
        CrowdCanvasClient(url or None, "token")


# --- Box ----------------------------------------------------------------------------------------------------


def test_box_keeps_its_coordinates():
    box = Box(x_min=0.44, y_min=0.42, x_max=0.58, y_max=0.63)
    assert box.to_dict() == {"x_min": 0.44, "y_min": 0.42, "x_max": 0.58, "y_max": 0.63}
    assert Box(0, 0, 1, 1).to_dict() == {"x_min": 0.0, "y_min": 0.0, "x_max": 1.0, "y_max": 1.0}


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        ((0.5, 0.1, 0.4, 0.2), "x_min (0.5) must be less than x_max"),
        ((0.1, 0.3, 0.4, 0.3), "y_min (0.3) must be less than y_max"),
        ((-0.1, 0.1, 0.4, 0.2), "between 0 and 1"),
        ((0.1, 0.1, 1.2, 0.2), "between 0 and 1"),
        ((math.nan, 0.1, 0.4, 0.2), "finite"),
        ((0.1, 0.1, math.inf, 0.2), "finite"),
        (("0.1", 0.1, 0.4, 0.2), "must be a number"),
        ((True, 0.1, 0.4, 0.2), "must be a number"),
        ((None, 0.1, 0.4, 0.2), "must be a number"),
    ],
)
def test_box_rejects(args, fragment):
    with pytest.raises(ValueError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        Box(*args)


def test_box_from_dict_needs_exactly_its_keys():
    assert Box.from_dict({"x_min": 0.1, "y_min": 0.1, "x_max": 0.2, "y_max": 0.2}) == Box(0.1, 0.1, 0.2, 0.2)
    with pytest.raises(ValueError, match="missing y_max"):
        Box.from_dict({"x_min": 0.1, "y_min": 0.1, "x_max": 0.2})
    with pytest.raises(ValueError, match="unknown colour"):
        Box.from_dict({"x_min": 0.1, "y_min": 0.1, "x_max": 0.2, "y_max": 0.2, "colour": "red"})


# --- client-side checks come before any request -------------------------------------------------------------


def offline_audience(offline) -> crowdcanvas.Audience:
    return crowdcanvas.Audience(offline._http, AUDIENCE)


GOOD_BOX = Box(0.1, 0.1, 0.5, 0.5)

INVALID_CALLS = {
    "audience name empty": lambda c: c.audience.create_audience(name=""),
    "audience name too long": lambda c: c.audience.create_audience(name="x" * 201),
    "audience name not str": lambda c: c.audience.create_audience(name=5),
    "target accuracy zero": lambda c: c.audience.create_audience(name="A", target_accuracy=0),
    "target accuracy nan": lambda c: c.audience.create_audience(name="A", target_accuracy=math.nan),
    "target accuracy str": lambda c: c.audience.create_audience(name="A", target_accuracy="0.8"),
    "min tasks float": lambda c: c.audience.create_audience(name="A", min_tasks=2.5),
    "min tasks huge": lambda c: c.audience.create_audience(name="A", min_tasks=10**6),
    "max below min": lambda c: c.audience.create_audience(name="A", min_tasks=6, max_tasks=4),
    "gold rate": lambda c: c.audience.create_audience(name="A", gold_rate=0.6),
    "find amount": lambda c: c.audience.find_audiences(amount=101),
    "find page": lambda c: c.audience.find_audiences(page=0),
    "audience id": lambda c: c.audience.get_audience_by_id(""),
    "draw no datapoints": lambda c: c.job.create_draw_job_definition("J", "Color", []),
    "draw datapoints str": lambda c: c.job.create_draw_job_definition("J", "Color", URL_A),
    "draw text item": lambda c: c.job.create_draw_job_definition("J", "Color", [URL_A, "blue books"]),
    "draw missing file": lambda c: c.job.create_draw_job_definition("J", "Color", ["missing/pic.png"]),
    "draw ftp url": lambda c: c.job.create_draw_job_definition("J", "Color", ["ftp://host/a.png"]),
    "draw url with space": lambda c: c.job.create_draw_job_definition("J", "Color", ["https://host/a b.png"]),
    "draw long url": lambda c: c.job.create_draw_job_definition("J", "Color", ["https://h.test/" + "a" * 2048]),
    "draw int item": lambda c: c.job.create_draw_job_definition("J", "Color", [42]),
    "draw rpd zero": lambda c: c.job.create_draw_job_definition("J", "Color", [URL_A], responses_per_datapoint=0),
    "draw rpd huge": lambda c: c.job.create_draw_job_definition("J", "Color", [URL_A], responses_per_datapoint=1001),
    "draw rpd str": lambda c: c.job.create_draw_job_definition("J", "Color", [URL_A], responses_per_datapoint="3"),
    "draw contexts length": lambda c: c.job.create_draw_job_definition("J", "Color", [URL_A], contexts=["a", "b"]),
    "draw context type": lambda c: c.job.create_draw_job_definition("J", "Color", [URL_A], contexts=[3]),
    "draw instruction long": lambda c: c.job.create_draw_job_definition("J", "x" * 251, [URL_A]),
    "draw name empty": lambda c: c.job.create_draw_job_definition(" ", "Color", [URL_A]),
    "compare single": lambda c: c.job.create_compare_job_definition("J", "Which?", [[URL_A]]),
    "compare flat": lambda c: c.job.create_compare_job_definition("J", "Which?", [URL_A, URL_B]),
    "compare same twice": lambda c: c.job.create_compare_job_definition("J", "Which?", [[URL_A, URL_A]]),
    "compare long text": lambda c: c.job.create_compare_job_definition("J", "Which?", [[URL_A, "t" * 5001]]),
    "compare threshold 1": lambda c: c.job.create_compare_job_definition("J", "Which?", [[URL_A, URL_B]],
                                                                         confidence_threshold=1.0),
    "draw example no truths": lambda c: offline_audience(c).add_draw_example("Color", URL_A, []),
    "draw example one box": lambda c: offline_audience(c).add_draw_example("Color", URL_A, GOOD_BOX),
    "draw example bad box": lambda c: offline_audience(c).add_draw_example(
        "Color", URL_A, [{"x_min": 0.5, "y_min": 0.1, "x_max": 0.4, "y_max": 0.2}]),
    "draw example 51 boxes": lambda c: offline_audience(c).add_draw_example("Color", URL_A, [GOOD_BOX] * 51),
    "draw example text": lambda c: offline_audience(c).add_draw_example("Color", "some text", [GOOD_BOX]),
    "draw example two images": lambda c: offline_audience(c).add_draw_example("Color", [URL_A, URL_B], [GOOD_BOX]),
    "draw example precision": lambda c: offline_audience(c).add_draw_example("Color", URL_A, [GOOD_BOX],
                                                                             required_precision=1.5),
    "compare example truth": lambda c: offline_audience(c).add_compare_example("Which?", [URL_A, URL_B], "c"),
    "compare example no truth": lambda c: offline_audience(c).add_compare_example("Which?", [URL_A, URL_B], None),
    "compare example 3 items": lambda c: offline_audience(c).add_compare_example("Which?", [URL_A, URL_B, "c"],
                                                                                 URL_A),
    "compare example explanation": lambda c: offline_audience(c).add_compare_example(
        "Which?", [URL_A, URL_B], URL_A, explanation="x" * 2001),
    "assign nothing": lambda c: offline_audience(c).assign_job(None),
    "find jobs state": lambda c: c.job.find_jobs(state="sleeping"),
}


@pytest.mark.parametrize("call", INVALID_CALLS.values(), ids=INVALID_CALLS.keys())
def test_invalid_input_raises_value_error_before_any_request(offline, call):
    with pytest.raises(ValueError):
        call(offline)


def test_nothing_is_uploaded_when_a_later_item_is_invalid(offline, image):
    with pytest.raises(ValueError, match=r"datapoints\[1\]"):
        offline.job.create_draw_job_definition("J", "Color", [image, "not an image"])
    with pytest.raises(ValueError, match="truth"):
        offline_audience(offline).add_compare_example("Which?", [image, URL_A], "somewhere/else.png")


# --- uploads of local files ---------------------------------------------------------------------------------


def test_local_files_are_uploaded_then_referenced_by_asset_id(client, server, image, tmp_path):
    server.route("POST", "/api/job-definitions/", (201, DEFINITION))
    other = tmp_path / "other.jpg"
    other.write_bytes(image_bytes(fmt="JPEG"))
    definition = client.job.create_draw_job_definition(
        name="Books", instruction="Color in all the blue books", datapoints=[str(image), URL_A, other, str(image)],
        responses_per_datapoint=35)
    assert definition.id == "jdf_1" and definition.preview_url.endswith("/preview/jdf_1/")
    uploads = [r for r in server.requests if r.url.path == "/api/assets/"]
    assert len(uploads) == 2  # the same file once
    assert b'filename="books.png"' in uploads[0].content and b"image/png" in uploads[0].content
    assert uploads[0].headers["Authorization"] == "Token t0ken"
    (body,) = server.bodies("POST", "/api/job-definitions/")
    assert body["kind"] == "draw" and body["responses_per_datapoint"] == 35
    assert body["datapoints"] == [{"asset_id": "ast_1"}, URL_A, {"asset_id": "ast_2"}, {"asset_id": "ast_1"}]


def test_text_items_stay_text(client, server):
    server.route("POST", "/api/job-definitions/", (201, {**DEFINITION, "kind": "compare"}))
    client.job.create_compare_job_definition("J", "Which text?", [["a duck", "a book"]], contexts=["ctx"],
                                             confidence_threshold=0.9)
    (body,) = server.bodies("POST", "/api/job-definitions/")
    assert body["datapoints"] == [["a duck", "a book"]] and body["contexts"] == ["ctx"]
    assert body["confidence_threshold"] == 0.9 and server.asset_count == 0


def test_a_compare_text_naming_an_existing_file_stays_text(client, server, tmp_path, monkeypatch):
    """A text answer that happens to be a file's name in the working
    directory is not uploaded: only ``Path``/``File`` items are files."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a duck").write_bytes(image_bytes())
    (tmp_path / "yes").write_text("not an image")
    server.route("POST", "/api/job-definitions/", (201, {**DEFINITION, "kind": "compare"}))
    client.job.create_compare_job_definition("J", "Which text?", [["a duck", "yes"], ["yes", URL_A]])
    (body,) = server.bodies("POST", "/api/job-definitions/")
    assert body["datapoints"] == [["a duck", "yes"], ["yes", URL_A]] and server.asset_count == 0


def test_compare_items_say_explicitly_what_is_a_file_and_what_is_text(client, server, image):
    server.route("POST", "/api/job-definitions/", (201, {**DEFINITION, "kind": "compare"}))
    client.job.create_compare_job_definition("J", "Which?", [
        [image, crowdcanvas.Text(image.name)],                # a Path is a file; Text is text
        [crowdcanvas.File(str(image)), crowdcanvas.Text("a duck")],
    ])
    (body,) = server.bodies("POST", "/api/job-definitions/")
    assert body["datapoints"] == [[{"asset_id": "ast_1"}, "books.png"], [{"asset_id": "ast_1"}, "a duck"]]
    assert server.asset_count == 1


def test_a_plain_string_that_looks_like_an_image_path_in_a_compare_is_ambiguous(offline, image, monkeypatch):
    monkeypatch.chdir(image.parent)
    for item in (str(image), image.name, "missing/pic.png"):
        with pytest.raises(ValueError, match=r"crowdcanvas\.File.*crowdcanvas\.Text|no such file"):
            offline.job.create_compare_job_definition("J", "Which?", [[item, URL_A]])
    with pytest.raises(ValueError, match="image"):  # text is no draw item, even when explicit
        offline.job.create_draw_job_definition("J", "Color", [crowdcanvas.Text("a duck")])
    with pytest.raises(ValueError, match="no such file"):
        offline.job.create_draw_job_definition("J", "Color", [crowdcanvas.File("missing/pic.png")])


# --- compare truths -----------------------------------------------------------------------------------------


def test_compare_truth_maps_to_the_same_resolved_item(client, server, image):
    audience = crowdcanvas.Audience(client._http, AUDIENCE)
    server.route("POST", "/api/audiences/aud_1/examples/compare/", (201, {}))
    assert audience.add_compare_example("Which?", [image, URL_A], truth=image, context="A prompt") is audience
    assert audience.add_compare_example("Which?", [image, URL_A], truth=URL_A) is audience
    first, second = server.bodies("POST", "/api/audiences/aud_1/examples/compare/")
    assert first["datapoint"] == [{"asset_id": "ast_1"}, URL_A] and first["truth"] == {"asset_id": "ast_1"}
    assert first["context"] == "A prompt"
    assert second["datapoint"] == [{"asset_id": "ast_1"}, URL_A] and second["truth"] == URL_A
    assert server.asset_count == 1


def test_compare_truth_must_equal_an_item_exactly(offline, image):
    audience = offline_audience(offline)
    for truth in (str(image), URL_A + "/", URL_A.upper()):
        with pytest.raises(ValueError, match="truth must be exactly one"):
            audience.add_compare_example("Which?", [Path(image), URL_A], truth=truth)


def test_draw_example_sends_boxes_and_returns_the_audience(client, server):
    audience = crowdcanvas.Audience(client._http, AUDIENCE)
    server.route("POST", "/api/audiences/aud_1/examples/draw/", (201, {}))
    result = audience.add_draw_example(
        instruction="Color in the glitches", datapoint=URL_A,
        truths=[Box(x_min=0.44, y_min=0.42, x_max=0.58, y_max=0.63), {"x_min": 0, "y_min": 0, "x_max": 1,
                                                                       "y_max": 0.5}],
        required_completeness=0.5)
    assert result is audience and audience.example_count == 1
    (body,) = server.bodies("POST", "/api/audiences/aud_1/examples/draw/")
    assert body["truths"][0] == {"x_min": 0.44, "y_min": 0.42, "x_max": 0.58, "y_max": 0.63}
    assert body["datapoint"] == URL_A and body["required_completeness"] == 0.5
    assert "required_precision" not in body


# --- errors from the server ---------------------------------------------------------------------------------


def test_a_400_carries_the_field_messages(client, server):
    server.route("POST", "/api/audiences/", (400, {"name": ["name must not be empty."]}))
    with pytest.raises(crowdcanvas.BadRequestError) as excinfo:
        client.audience.create_audience(name="fine on the client")
    error = excinfo.value
    assert isinstance(error, ValueError) and isinstance(error, crowdcanvas.ApiError)
    assert error.status == 400 and error.errors == {"name": ["name must not be empty."]}
    assert "name: name must not be empty." in str(error)


@pytest.mark.parametrize(
    ("status", "exception"),
    [(401, crowdcanvas.AuthenticationError), (403, crowdcanvas.AuthenticationError),
     (404, crowdcanvas.NotFoundError), (409, crowdcanvas.ConflictError), (500, crowdcanvas.ServerError)],
)
def test_statuses_map_to_exceptions_with_the_servers_detail(client, server, status, exception):
    server.route("GET", "/api/audiences/aud_x/", (status, {"detail": "the server says why"}))
    with pytest.raises(exception, match="the server says why") as excinfo:
        client.audience.get_audience_by_id("aud_x")
    assert excinfo.value.status == status and excinfo.value.detail == "the server says why"


def test_reads_are_retried_on_a_bad_gateway(client, server):
    server.route("GET", "/api/audiences/global/", [(502, "bad gateway"), (200, {**AUDIENCE, "id": "global"})])
    slept = []
    client._http.sleep = slept.append
    assert client.audience.get_audience_by_id("global").id == "global" and len(slept) == 1


def test_an_unreachable_server_is_a_connection_error():
    client = CrowdCanvasClient("http://127.0.0.1:9", "token", timeout=2)
    client._http.sleep = lambda seconds: None
    with pytest.raises(crowdcanvas.ConnectionFailed, match="cannot reach"):
        client.audience.get_audience_by_id("global")


# --- objects ------------------------------------------------------------------------------------------------


def test_find_audiences_pages(client, server):
    server.route("GET", "/api/audiences/", {"count": 1, "page": 2, "page_size": 5, "results": [AUDIENCE]})
    (audience,) = client.audience.find_audiences("Custom Prompt", amount=5, page=2)
    assert audience.id == "aud_1" and audience.members["graduated"] == 0
    params = server.requests[-1].url.params
    assert (params["name"], params["page"], params["page_size"]) == ("Custom Prompt", "2", "5")


def test_assign_job_takes_a_definition_or_its_id(client, server):
    server.route("POST", "/api/jobs/", (201, JOB))
    audience = crowdcanvas.Audience(client._http, {**AUDIENCE, "id": "global"})
    definition = crowdcanvas.JobDefinition(client._http, DEFINITION)
    job = audience.assign_job(definition)
    assert isinstance(job, crowdcanvas.Job) and job.id == "job_1" and job.name == "Books"
    audience.assign_job("jdf_1")
    assert server.bodies("POST", "/api/jobs/") == [{"job_definition": "jdf_1", "audience": "global"}] * 2


def test_preview_prints_and_opens_the_url(client, monkeypatch, capsys):
    opened = []
    monkeypatch.setattr("webbrowser.open", lambda url, new=0: opened.append(url))
    definition = crowdcanvas.JobDefinition(client._http, DEFINITION)
    assert definition.preview(open_browser=True) is definition
    assert DEFINITION["preview_url"] in capsys.readouterr().out and opened == [DEFINITION["preview_url"]]
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setattr("sys.platform", "linux")
    definition.preview()
    assert len(opened) == 1 and DEFINITION["preview_url"] in capsys.readouterr().out


# --- waiting for results ------------------------------------------------------------------------------------


def progress(state="running", collected=0, needed=6, done=0, graduated=3, qualifying=0) -> dict:
    return {"job_id": "job_1", "state": state, "datapoints_total": 2, "datapoints_done": done,
            "responses_collected": collected, "responses_needed": needed,
            "completion_percentage": 100.0 * collected / needed,
            "audience": {"id": "global", "name": "Global", "kind": "global", "graduated": graduated,
                         "qualifying": qualifying, "dropped": 0},
            "last_response_at": None, "created": "2025-01-01T00:00:00Z", "completed": None}


INFO = {"jobId": "job_1", "definitionId": "jdf_1", "name": "Books", "type": "compare", "instruction": "Which?",
        "responsesPerDatapoint": 2, "audienceId": "global", "state": "completed",
        "created": "2025-01-01T00:00:00Z", "completed": "2025-01-01T01:00:00Z", "aggregatorVersion": "1.0"}
RESULTS = {
    "info": INFO,
    "results": [
        {"position": 0, "items": [URL_A, URL_B], "context": "A duck", "mediaContext": None, "responses": 2,
         "stoppedEarly": False, "aggregatedResults": {URL_A: 1, URL_B: 1},
         "aggregatedResultsRatios": {URL_A: 0.5, URL_B: 0.5}, "summedUserScores": {URL_A: 0.8, URL_B: 0.4},
         "summedUserScoresRatios": {URL_A: 2 / 3, URL_B: 1 / 3}, "winner": None, "weightedWinner": URL_A,
         "confidence": 0.6,
         "detailedResults": [
             {"votedFor": URL_A, "userScore": 0.8, "labeler": "aaaa", "timeSpentMs": 900, "created": "t1"},
             {"votedFor": URL_B, "userScore": 0.4, "labeler": "bbbb", "timeSpentMs": 1200, "created": "t2"}]},
        {"position": 1, "items": [URL_B, "text"], "context": "", "mediaContext": None, "responses": 0,
         "stoppedEarly": False, "aggregatedResults": None, "aggregatedResultsRatios": None,
         "summedUserScores": None, "summedUserScoresRatios": None, "winner": None, "weightedWinner": None,
         "confidence": None, "detailedResults": []},
    ],
    "summary": {"datapoints": 2, "responses": 2, "ranking": None},
}
BOX = {"x_min": 0.1, "y_min": 0.1, "x_max": 0.4, "y_max": 0.5}
LINES = [{"size": 0.02, "points": [{"x": 0.2, "y": 0.2}, {"x": 0.3, "y": 0.3}]}]
DRAW_RESULTS = {
    "info": {**INFO, "type": "draw", "drawAlgorithm": "majority"},
    "results": [
        {"position": 0, "item": "books.png", "context": "", "mediaContext": None, "imageSize": [96, 64],
         "responses": 2, "gridSize": [171, 256], "consensusMask": {"size": [171, 256], "counts": [43776]},
         "consensusBoxes": [BOX, BOX], "agreement": 0.75, "summedUserScores": 1.0,
         "heatmapUrl": f"{BASE}/api/jobs/job_1/datapoints/0/heatmap.png",
         "detailedResults": [
             {"labeler": "aaaa", "userScore": 0.5, "lines": LINES, "timeSpentMs": 3000, "created": "t1"},
             {"labeler": "bbbb", "userScore": 0.5, "lines": [], "timeSpentMs": 2000, "created": "t2"}]},
        {"position": 1, "item": URL_A, "context": "", "mediaContext": None, "imageSize": None, "responses": 0,
         "gridSize": [256, 256], "consensusMask": None, "consensusBoxes": None, "agreement": None,
         "summedUserScores": None, "heatmapUrl": f"{BASE}/api/jobs/job_1/datapoints/1/heatmap.png",
         "detailedResults": []},
    ],
    "summary": {"datapoints": 2, "responses": 2, "meanAgreement": 0.75},
}


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def clock(client) -> FakeClock:
    fake = FakeClock()
    client._http.clock, client._http.sleep = fake, fake.sleep
    return fake


@pytest.fixture
def job(client) -> crowdcanvas.Job:
    return crowdcanvas.Job(client._http, JOB)


def test_get_results_waits_for_completion(job, server, clock):
    server.route("GET", "/api/jobs/job_1/progress/", [
        progress(collected=0), progress(collected=3, done=1), progress("completed", collected=6, done=2)])
    server.route("GET", "/api/jobs/job_1/results/", RESULTS)
    results = job.get_results(poll_interval=5)
    assert isinstance(results, dict) and isinstance(results, crowdcanvas.Results)
    assert results == RESULTS and results.info["name"] == "Books"
    assert clock.sleeps == [5, 5] and job.state == "completed"


def test_get_results_raises_when_nobody_can_work_on_the_job(job, server, clock):
    server.route("GET", "/api/jobs/job_1/progress/", progress(collected=2, graduated=0, qualifying=0))
    with pytest.raises(crowdcanvas.JobStalled) as excinfo:
        job.get_results(stall_timeout=60, poll_interval=10)
    assert isinstance(excinfo.value, TimeoutError)
    assert "no graduated and no qualifying labelers" in str(excinfo.value)
    assert excinfo.value.progress["responses_collected"] == 2
    assert 60 <= clock.now <= 70


def test_a_job_with_qualifying_labelers_is_not_stalled(job, server, clock):
    server.route("GET", "/api/jobs/job_1/progress/", progress(graduated=0, qualifying=2))
    with pytest.raises(crowdcanvas.JobTimeout):
        job.get_results(stall_timeout=60, timeout=600, poll_interval=30)
    assert clock.now == 600


def test_progress_resets_the_stall_clock(job, server, clock):
    server.route("GET", "/api/jobs/job_1/progress/", [
        progress(collected=n, graduated=0) for n in range(5)] + [progress("completed", collected=6, graduated=0)])
    server.route("GET", "/api/jobs/job_1/results/", RESULTS)
    assert job.get_results(stall_timeout=15, poll_interval=10) == RESULTS


def test_a_failed_job_raises(job, server, clock):
    server.route("GET", "/api/jobs/job_1/progress/", progress("failed"))
    with pytest.raises(crowdcanvas.JobFailed):
        job.get_results()


def test_display_progress_bar_follows_to_completion(job, server, clock, capsys):
    server.route("GET", "/api/jobs/job_1/progress/", [
        progress(collected=1), progress(collected=4, done=1), progress("completed", collected=6, done=2)])
    final = job.display_progress_bar(poll_interval=1)
    assert final["state"] == "completed"
    assert "6/6" in capsys.readouterr().err


def test_status_and_progress(job, server):
    server.route("GET", "/api/jobs/job_1/", {**JOB, "state": "paused"})
    server.route("GET", "/api/jobs/job_1/progress/", progress(collected=3))
    assert job.get_status() == "paused" and job.state == "paused"
    assert job.get_progress()["responses_collected"] == 3


def test_compare_results_to_pandas_one_row_per_datapoint_or_response(tmp_path):
    results = crowdcanvas.Results(RESULTS)
    assert results.summary["responses"] == 2
    frame = results.to_pandas()
    assert list(frame.columns[:4]) == ["position", "context", "media_context", "item_a"]
    assert {"item_b", "votes_a", "votes_b", "ratio_a", "ratio_b", "summed_score_a", "summed_score_b", "winner",
            "weightedWinner", "confidence", "responses", "stoppedEarly"} <= set(frame.columns)
    assert list(frame["position"]) == [0, 1] and list(frame["item_a"]) == [URL_A, URL_B]
    assert frame.loc[0, "context"] == "A duck" and frame.loc[1, "item_b"] == "text"
    assert (frame.loc[0, "votes_a"], frame.loc[0, "votes_b"], frame.loc[0, "ratio_a"]) == (1, 1, 0.5)
    assert (frame.loc[0, "summed_score_a"], frame.loc[0, "weightedWinner"]) == (0.8, URL_A)
    assert frame.loc[0, "winner"] is None and list(frame["responses"]) == [2, 0]
    assert pd.isna(frame.loc[1, "votes_a"]) and pd.isna(frame.loc[1, "confidence"])

    details = results.to_pandas(split_details=True)
    assert len(details) == 3  # two votes, and the datapoint without any
    assert list(details["votedFor"][:2]) == [URL_A, URL_B] and pd.isna(details.loc[2, "votedFor"])
    assert list(details["labeler"][:2]) == ["aaaa", "bbbb"] and list(details["userScore"][:2]) == [0.8, 0.4]
    assert list(details["item_a"]) == [URL_A, URL_A, URL_B] and list(details["timeSpentMs"][:2]) == [900, 1200]
    path = results.to_json(tmp_path / "results.json")
    assert json.loads(path.read_text()) == RESULTS


def test_draw_results_to_pandas():
    results = crowdcanvas.Results(DRAW_RESULTS)
    frame = results.to_pandas()
    assert list(frame.columns[:2]) == ["position", "item"]
    assert list(frame["item"]) == ["books.png", URL_A] and list(frame["responses"]) == [2, 0]
    assert frame.loc[0, "agreement"] == 0.75 and frame.loc[0, "consensus_box_count"] == 2
    assert (frame.loc[0, "image_width"], frame.loc[0, "image_height"]) == (96, 64)
    assert frame.loc[0, "consensusBoxes"] == [BOX, BOX] and frame.loc[0, "heatmapUrl"].endswith("0/heatmap.png")
    assert pd.isna(frame.loc[1, "consensus_box_count"]) and pd.isna(frame.loc[1, "agreement"])
    details = results.to_pandas(split_details=True)
    assert len(details) == 3 and list(details["labeler"][:2]) == ["aaaa", "bbbb"]
    assert details.loc[0, "lines"] == LINES and details.loc[1, "lines"] == []
    assert {"position", "item", "agreement", "userScore", "timeSpentMs", "created"} <= set(details.columns)
    assert "votedFor" not in details.columns


def test_download_results_writes_the_servers_file(job, server, tmp_path):
    def export(request: httpx.Request) -> httpx.Response:
        fmt = request.url.params["format"]
        name = {"json": "job_1-results.json", "csv": "job_1-results.csv", "coco": "job_1-coco.json"}[fmt]
        return httpx.Response(200, content=f"{fmt} body".encode(), headers={
            "Content-Type": "text/csv" if fmt == "csv" else "application/json",
            "Content-Disposition": f'attachment; filename="{name}"'})

    server.route("GET", "/api/jobs/job_1/results/download/", export)
    assert job.download_results(tmp_path) == tmp_path / "job_1-results.json"
    assert (tmp_path / "job_1-results.json").read_text() == "json body"
    target = job.download_results(tmp_path / "votes.csv", format="csv")
    assert target == tmp_path / "votes.csv" and target.read_text() == "csv body"
    assert job.download_results(str(tmp_path), format="coco").name == "job_1-coco.json"
    assert job.download_results(f"{tmp_path}/new/dir/", format="coco") == tmp_path / "new/dir/job_1-coco.json"
    assert not list(tmp_path.glob("*.part"))
    with pytest.raises(ValueError, match="format must be one of json, csv, coco"):
        job.download_results(tmp_path, format="xlsx")


def test_download_results_raises_the_servers_400(job, server, tmp_path):
    server.route("GET", "/api/jobs/job_1/results/download/",
                 (400, {"format": ["csv is for compare jobs; download draw results as json or coco."]}))
    with pytest.raises(crowdcanvas.BadRequestError, match="csv is for compare jobs"):
        job.download_results(tmp_path / "x.csv", format="csv")
    assert not (tmp_path / "x.csv").exists()


def test_a_download_names_no_path_outside_the_directory(job, server, tmp_path):
    server.route("GET", "/api/jobs/job_1/results/download/", httpx.Response(
        200, content=b"{}", headers={"Content-Disposition": 'attachment; filename="../../evil.json"'}))
    assert job.download_results(tmp_path) == tmp_path / "evil.json"


# --- live progress (the websocket) ------------------------------------------------------------------------


class FakeSocket:
    """Serves scripted messages; a ``TimeoutError`` item is a silence as long
    as the caller waits (on the fake clock); past the script, the connection
    closes."""

    def __init__(self, script: list, clock: FakeClock) -> None:
        self.script = list(script)
        self.clock = clock
        self.sent: list[dict] = []
        self.closed = False

    def receive(self, timeout: float) -> dict:
        if not self.script:
            raise crowdcanvas._live.LiveUnavailable("the websocket closed")
        item = self.script.pop(0)
        if isinstance(item, TimeoutError):
            self.clock.now += timeout
        if isinstance(item, BaseException):
            raise item
        return item

    def send(self, message: dict) -> None:
        self.sent.append(message)

    def close(self) -> None:
        self.closed = True


def live(state: str = "running", **fields) -> dict:
    return {"type": "progress", **progress(state, **fields), "responses_per_minute": 30.0, "eta_seconds": 12}


@pytest.fixture
def sockets(client, clock):
    opened: list[FakeSocket] = []
    scripts: list = []

    def open_live(job_id: str) -> FakeSocket:
        assert job_id == "job_1"
        script = scripts.pop(0)
        if isinstance(script, BaseException):
            raise script
        opened.append(FakeSocket(script, clock))
        return opened[-1]

    client._http.open_live = open_live
    return scripts, opened


def test_display_progress_bar_follows_the_websocket(job, server, sockets, clock, capsys):
    scripts, opened = sockets
    scripts.append([live(collected=1), {"type": "results", "positions": [0]}, live(collected=4, done=1),
                    {"type": "state", "state": "completed"}, live("completed", collected=6, done=2)])
    server.route("GET", "/api/jobs/job_1/progress/", lambda request: pytest.fail("no polling while live"))
    final = job.display_progress_bar(poll_interval=1)
    assert final["state"] == "completed" and "type" not in final and job.state == "completed"
    assert opened[0].closed and opened[0].sent == [] and clock.now == 0
    err = capsys.readouterr().err
    assert "6/6" in err and "rate=0.50 responses/s" in err and "left=00:12" in err


def test_a_quiet_websocket_is_asked_for_fresh_figures(job, server, sockets, clock):
    scripts, opened = sockets
    scripts.append([live(collected=1), TimeoutError(), TimeoutError(), live("completed", collected=6, done=2)])
    job.display_progress_bar(poll_interval=2)
    assert opened[0].sent == [{"type": "refresh"}, {"type": "refresh"}] and clock.now == 4


@pytest.mark.parametrize("drop", ["refused", "dropped"])
def test_a_refused_or_dropped_websocket_falls_back_to_polling(job, server, sockets, clock, drop, capsys):
    scripts, opened = sockets
    if drop == "refused":
        scripts.append(crowdcanvas._live.LiveUnavailable("HTTP 404"))
    else:
        scripts.append([live(collected=2)])  # then the connection closes
    server.route("GET", "/api/jobs/job_1/progress/", [progress(collected=3), progress("completed", collected=6)])
    final = job.display_progress_bar(poll_interval=1)
    assert final["state"] == "completed" and clock.sleeps == [1]
    assert "6/6" in capsys.readouterr().err


def test_a_websocket_going_silent_falls_back_to_polling(job, server, sockets, clock):
    scripts, opened = sockets
    scripts.append([live(collected=1)] + [TimeoutError()] * 50)
    server.route("GET", "/api/jobs/job_1/progress/", progress("completed", collected=6))
    assert job.display_progress_bar(poll_interval=1)["state"] == "completed"
    # Silent for LIVE_QUIET_LIMIT (30 s) despite asking every second: polled instead.
    assert opened[0].closed and 30 <= len(opened[0].sent) <= 31 and 30 < clock.now <= 32


def test_stall_and_failure_are_raised_while_live(job, server, sockets, clock):
    scripts, opened = sockets
    nobody = {"collected": 2, "graduated": 0, "qualifying": 0}
    scripts.append([live(**nobody)] + [TimeoutError(), live(**nobody)] * 100)
    with pytest.raises(crowdcanvas.JobStalled, match="no graduated and no qualifying"):
        job.display_progress_bar(poll_interval=10, stall_timeout=60)
    assert 60 <= clock.now <= 70 and opened[0].closed
    scripts.append([live("failed")])
    with pytest.raises(crowdcanvas.JobFailed):
        job.display_progress_bar(poll_interval=10)


def test_timeout_is_raised_while_live(job, server, sockets, clock):
    scripts, _ = sockets
    scripts.append([live(collected=2)] + [TimeoutError(), live(collected=2)] * 100)
    with pytest.raises(crowdcanvas.JobTimeout, match="did not complete within 25s"):
        job.display_progress_bar(poll_interval=10, timeout=25)
    assert clock.now == 25


def test_websocket_urls_and_origin():
    from crowdcanvas import _live

    assert _live.websocket_url("http://127.0.0.1:8000", "job_1") == "ws://127.0.0.1:8000/ws/jobs/job_1/"
    assert _live.websocket_url("https://labels.example.org/cc", "job_1") == "wss://labels.example.org/cc/ws/jobs/job_1/"
    assert _live.origin("https://labels.example.org/cc") == "https://labels.example.org"


def test_a_client_with_a_custom_transport_polls(client):
    assert client._http.open_live is None
    assert CrowdCanvasClient(BASE, "t0ken")._http.open_live is not None


# --- packaging ----------------------------------------------------------------------------------------------


def test_pyproject_packages_only_the_client_with_its_dependencies():
    """`pip install .` installs the crowdcanvas package alone, needing only
    what it imports: httpx and tqdm (pandas and websockets as extras)."""
    import ast
    import sys
    import tomllib

    root = Path(__file__).parent.parent
    project = tomllib.loads((root / "pyproject.toml").read_text())
    assert project["tool"]["setuptools"]["packages"] == ["crowdcanvas"]
    assert project["project"]["version"] == crowdcanvas.__version__
    requirements = {re_name(r) for r in project["project"]["dependencies"]}
    assert requirements == {"httpx", "tqdm"}
    assert {re_name(r) for r in project["project"]["optional-dependencies"]["pandas"]} == {"pandas"}
    assert {re_name(r) for r in project["project"]["optional-dependencies"]["live"]} == {"websockets"}

    imported = set()
    for source in (root / "crowdcanvas").glob("*.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.Import):
                imported |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                imported.add(node.module.split(".")[0])
    third_party = imported - set(sys.stdlib_module_names) - {"__future__", "crowdcanvas"}
    assert third_party == {"httpx", "tqdm", "pandas", "websockets"}
    pinned = {re_name(line) for line in (root / "requirements.txt").read_text().splitlines()
              if line and not line.startswith("#")}
    assert third_party <= pinned


def re_name(requirement: str) -> str:
    import re

    return re.split(r"[<>=!~\[; ]", requirement, maxsplit=1)[0].lower()


def test_pause_and_resume(job, server):
    server.route("POST", "/api/jobs/job_1/pause/", {**JOB, "state": "paused"})
    server.route("POST", "/api/jobs/job_1/resume/", {**JOB, "state": "running"})
    assert job.pause() is job and job.state == "paused"
    assert job.resume().state == "running"
    assert [r.url.path for r in server.requests][-2:] == ["/api/jobs/job_1/pause/", "/api/jobs/job_1/resume/"]


def test_pausing_a_finished_job_says_why(job, server):
    server.route("POST", "/api/jobs/job_1/pause/",
                 (409, {"detail": "This job is completed; only a running job can be paused.",
                        "code": "job_not_running"}))
    with pytest.raises(crowdcanvas.ConflictError, match="only a running job"):
        job.pause()


def test_draw_definitions_may_ask_for_em_aggregation(client, server, offline):
    server.route("POST", "/api/job-definitions/", (201, {**DEFINITION, "draw_aggregation": "em"}))
    definition = client.job.create_draw_job_definition("Books", "Color", [URL_A], draw_aggregation="em")
    assert server.bodies("POST", "/api/job-definitions/")[-1]["draw_aggregation"] == "em"
    assert definition.draw_aggregation == "em"
    with pytest.raises(ValueError, match="'majority' or 'em'"):
        offline.job.create_draw_job_definition("Books", "Color", [URL_A], draw_aggregation="mean")
