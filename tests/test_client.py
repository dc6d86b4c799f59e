"""The crowdcanvas client on its own (requests go to an httpx.MockTransport):
configuration, Box, client-side checks before any request, uploads of local
files, compare truths, error mapping (waiting for results and live progress:
test_client_progress.py)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

import crowdcanvas
from crowdcanvas import Box, CrowdCanvasClient
from crowdcanvas import _limits as client_limits
from tests.client_fakes import (  # noqa: F401 (fixtures, clean_environment autouse)
    AUDIENCE,
    BASE,
    DEFINITION,
    JOB,
    URL_A,
    URL_B,
    FakeServer,
    clean_environment,
    client,
    image,
    job,
    offline,
    server,
)
from tests.conftest import image_bytes

# --- the limits mirror the server's -------------------------------------------------------------------------


def test_client_limits_equal_the_servers():
    from assets import wire
    from audiences import services as audience_services
    from core import api_common
    from jobs import services as job_services

    for name in (
        "MAX_NAME_LENGTH",
        "MAX_INSTRUCTION_LENGTH",
        "MAX_CONTEXT_LENGTH",
        "MAX_TEXT_ITEM_LENGTH",
        "MAX_URL_LENGTH",
        "MAX_EXPLANATION_LENGTH",
        "MAX_BOXES",
    ):
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

    code = (
        "import sys, crowdcanvas\n"
        "assert not [m for m in sys.modules if m.split('.')[0] in ('django', 'rest_framework')]"
    )
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
    "compare threshold 1": lambda c: c.job.create_compare_job_definition(
        "J", "Which?", [[URL_A, URL_B]], confidence_threshold=1.0
    ),
    "draw example no truths": lambda c: offline_audience(c).add_draw_example("Color", URL_A, []),
    "draw example one box": lambda c: offline_audience(c).add_draw_example("Color", URL_A, GOOD_BOX),
    "draw example bad box": lambda c: offline_audience(c).add_draw_example(
        "Color", URL_A, [{"x_min": 0.5, "y_min": 0.1, "x_max": 0.4, "y_max": 0.2}]
    ),
    "draw example 51 boxes": lambda c: offline_audience(c).add_draw_example("Color", URL_A, [GOOD_BOX] * 51),
    "draw example text": lambda c: offline_audience(c).add_draw_example("Color", "some text", [GOOD_BOX]),
    "draw example two images": lambda c: offline_audience(c).add_draw_example("Color", [URL_A, URL_B], [GOOD_BOX]),
    "draw example precision": lambda c: offline_audience(c).add_draw_example(
        "Color", URL_A, [GOOD_BOX], required_precision=1.5
    ),
    "compare example truth": lambda c: offline_audience(c).add_compare_example("Which?", [URL_A, URL_B], "c"),
    "compare example no truth": lambda c: offline_audience(c).add_compare_example("Which?", [URL_A, URL_B], None),
    "compare example 3 items": lambda c: offline_audience(c).add_compare_example("Which?", [URL_A, URL_B, "c"], URL_A),
    "compare example explanation": lambda c: offline_audience(c).add_compare_example(
        "Which?", [URL_A, URL_B], URL_A, explanation="x" * 2001
    ),
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
        name="Books",
        instruction="Color in all the blue books",
        datapoints=[str(image), URL_A, other, str(image)],
        responses_per_datapoint=35,
    )
    assert definition.id == "jdf_1" and definition.preview_url.endswith("/preview/jdf_1/")
    uploads = [r for r in server.requests if r.url.path == "/api/assets/"]
    assert len(uploads) == 2  # the same file once
    assert b'filename="books.png"' in uploads[0].content and b"image/png" in uploads[0].content
    assert uploads[0].headers["Authorization"] == "Token t0ken"
    (body,) = server.bodies("POST", "/api/job-definitions/")
    assert body["kind"] == "draw" and body["responses_per_datapoint"] == 35
    assert body["datapoints"] == [
        {"asset_id": "ast_1"},
        {"asset_id": "ast_url_1"},
        {"asset_id": "ast_2"},
        {"asset_id": "ast_1"},
    ]  # the URL fetched and stored by the server
    assert server.bodies("POST", "/api/assets/fetch/") == [{"urls": [URL_A], "wait": 15.0}]  # half the timeout


def test_text_items_stay_text(client, server):
    server.route("POST", "/api/job-definitions/", (201, {**DEFINITION, "kind": "compare"}))
    client.job.create_compare_job_definition(
        "J", "Which text?", [["a duck", "a book"]], contexts=["ctx"], confidence_threshold=0.9
    )
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
    assert body["datapoints"] == [["a duck", "yes"], ["yes", {"asset_id": "ast_url_1"}]] and server.asset_count == 0


def test_compare_items_say_explicitly_what_is_a_file_and_what_is_text(client, server, image):
    server.route("POST", "/api/job-definitions/", (201, {**DEFINITION, "kind": "compare"}))
    client.job.create_compare_job_definition(
        "J",
        "Which?",
        [
            [image, crowdcanvas.Text(image.name)],  # a Path is a file; Text is text
            [crowdcanvas.File(str(image)), crowdcanvas.Text("a duck")],
        ],
    )
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
    fetched = {"asset_id": "ast_url_1"}
    assert first["datapoint"] == [{"asset_id": "ast_1"}, fetched] and first["truth"] == {"asset_id": "ast_1"}
    assert first["context"] == "A prompt"
    assert second["datapoint"] == [{"asset_id": "ast_1"}, fetched] and second["truth"] == fetched
    assert server.asset_count == 1 and len(server.bodies("POST", "/api/assets/fetch/")) == 1  # once per client


def test_compare_truth_must_equal_an_item_exactly(offline, image):
    audience = offline_audience(offline)
    for truth in (str(image), URL_A + "/", URL_A.upper()):
        with pytest.raises(ValueError, match="truth must be exactly one"):
            audience.add_compare_example("Which?", [Path(image), URL_A], truth=truth)


def test_draw_example_sends_boxes_and_returns_the_audience(client, server):
    audience = crowdcanvas.Audience(client._http, AUDIENCE)
    server.route("POST", "/api/audiences/aud_1/examples/draw/", (201, {}))
    result = audience.add_draw_example(
        instruction="Color in the glitches",
        datapoint=URL_A,
        truths=[
            Box(x_min=0.44, y_min=0.42, x_max=0.58, y_max=0.63),
            {"x_min": 0, "y_min": 0, "x_max": 1, "y_max": 0.5},
        ],
        required_completeness=0.5,
    )
    assert result is audience and audience.example_count == 1
    (body,) = server.bodies("POST", "/api/audiences/aud_1/examples/draw/")
    assert body["truths"][0] == {"x_min": 0.44, "y_min": 0.42, "x_max": 0.58, "y_max": 0.63}
    assert body["datapoint"] == {"asset_id": "ast_url_1"} and body["required_completeness"] == 0.5
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
    [
        (401, crowdcanvas.AuthenticationError),
        (403, crowdcanvas.AuthenticationError),
        (404, crowdcanvas.NotFoundError),
        (409, crowdcanvas.ConflictError),
        (500, crowdcanvas.ServerError),
    ],
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
    pinned = {
        re_name(line)
        for line in (root / "requirements.txt").read_text().splitlines()
        if line and not line.startswith("#")
    }
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
    server.route(
        "POST",
        "/api/jobs/job_1/pause/",
        (409, {"detail": "This job is completed; only a running job can be paused.", "code": "job_not_running"}),
    )
    with pytest.raises(crowdcanvas.ConflictError, match="only a running job"):
        job.pause()


def test_draw_definitions_may_ask_for_em_aggregation(client, server, offline):
    server.route("POST", "/api/job-definitions/", (201, {**DEFINITION, "draw_aggregation": "em"}))
    definition = client.job.create_draw_job_definition("Books", "Color", [URL_A], draw_aggregation="em")
    assert server.bodies("POST", "/api/job-definitions/")[-1]["draw_aggregation"] == "em"
    assert definition.draw_aggregation == "em"
    with pytest.raises(ValueError, match="'majority' or 'em'"):
        offline.job.create_draw_job_definition("Books", "Color", [URL_A], draw_aggregation="mean")
