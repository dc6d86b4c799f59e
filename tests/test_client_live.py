"""The crowdcanvas client against a real server process (uvicorn, PostgreSQL):
the custom-audience workflow up to a running job, its status and progress;
the progress bar over the job's websocket while simulated labelers work,
and by polling when the server refuses websockets; results and downloads."""

from __future__ import annotations

import pytest

import crowdcanvas
from crowdcanvas import Box, CrowdCanvasClient
from tests.conftest import image_bytes
from tests.image_hosts import image_hosts  # noqa: F401 (fixture)
from tests.stack import AsgiServer, django_env

pytestmark = pytest.mark.services

DATAPOINTS = [
    ["https://assets.example.org/flux_sign_diffusion.jpg", "https://assets.example.org/mj_sign_diffusion.jpg"],
    ["https://assets.example.org/flux_duck.jpg", "https://assets.example.org/mj_duck.jpg"],
    ["https://assets.example.org/flux_book.jpg", "https://assets.example.org/mj_book.jpg"],
]
PROMPTS = [
    "A sign that says 'Diffusion'.",
    "A psychedelic duck with glasses",
    "A small blue book sitting on a large red book.",
]


@pytest.fixture
def server(test_database_url, artifacts_dir, image_hosts):
    env = django_env(test_database_url, **image_hosts.env)
    process = AsgiServer(env, artifacts_dir / "client-live-server.log").start()
    yield process
    process.stop()


@pytest.fixture
def carol(make_requester):
    from audiences.selectors import global_audience

    global_audience()  # the data migration's row, gone if an earlier test flushed the database
    return make_requester("carol")


@pytest.fixture
def client(server, carol):
    with CrowdCanvasClient(server.url, carol.api_token) as client:
        yield client


def test_custom_audience_workflow_against_a_live_server(client, tmp_path, capsys):
    from assets.models import Asset

    audience = client.audience.create_audience(name="Custom Prompt Alignment Audience", min_tasks=3)
    assert audience.id.startswith("aud_") and audience.kind == "custom" and audience.owned
    for prompt, datapoint in zip(PROMPTS, DATAPOINTS):
        returned = audience.add_compare_example(
            instruction="Which image follows the prompt more accurately?",
            datapoint=datapoint,
            truth=datapoint[0],
            context=prompt,
        )
        assert returned is audience
    examples = audience.get_examples()
    # Fetched and stored by the server: named by the URL's file name, as an upload by its own.
    assert [e["truth"] for e in examples] == [pair[0].rsplit("/", 1)[-1] for pair in DATAPOINTS]
    assert [e["context"] for e in examples] == PROMPTS
    assert audience.refresh().example_count == 3

    compare_definition = client.job.create_compare_job_definition(
        name="Prompt Alignment Job",
        instruction="Which image follows the prompt more accurately?",
        datapoints=[DATAPOINTS[2]],
        contexts=[PROMPTS[2]],
    )
    assert compare_definition.preview(open_browser=False) is compare_definition
    assert f"/preview/{compare_definition.id}/" in capsys.readouterr().out
    assert compare_definition.preview_url.startswith(client.base_url)

    local_image = tmp_path / "blue_books.png"
    local_image.write_bytes(image_bytes(96, 64))
    draw_definition = client.job.create_draw_job_definition(
        name="Blue Books Example",
        instruction="Color in all the blue books",
        datapoints=["https://assets.example.org/midjourney-5.2_37_3.jpg", str(local_image)],
        responses_per_datapoint=35,
    )
    assert draw_definition.kind == "draw" and draw_definition.datapoint_count == 2
    uploaded = Asset.objects.get(kind="image", name="blue_books.png")
    assert (uploaded.name, uploaded.width, uploaded.height) == ("blue_books.png", 96, 64)

    job = audience.assign_job(compare_definition)
    assert job.get_status() == "running"
    progress = job.get_progress()
    assert progress["job_id"] == job.id and progress["state"] == "running"
    assert (progress["datapoints_total"], progress["datapoints_done"]) == (1, 0)
    assert (progress["responses_collected"], progress["responses_needed"]) == (0, 10)
    assert progress["audience"]["id"] == audience.id
    assert (progress["audience"]["graduated"], progress["audience"]["qualifying"]) == (0, 0)

    global_job = client.audience.get_audience_by_id("global").assign_job(draw_definition)
    assert global_job.get_progress()["responses_needed"] == 70

    assert [j.id for j in client.job.find_jobs()] == [global_job.id, job.id]
    assert client.job.get_job_by_id(job.id).definition["id"] == compare_definition.id
    assert [d.id for d in client.job.find_job_definitions("example")] == [draw_definition.id]
    assert client.job.get_job_definition_by_id(draw_definition.id).name == "Blue Books Example"
    assert [a.id for a in client.audience.find_audiences("prompt alignment")] == [audience.id]

    # Nobody has qualified for the new audience: waiting for results gives up.
    with pytest.raises(crowdcanvas.JobStalled, match="no graduated and no qualifying labelers"):
        job.get_results(stall_timeout=1, poll_interval=0.2)


def test_server_errors_reach_the_caller(client):
    with pytest.raises(crowdcanvas.NotFoundError, match="Not found"):
        client.job.get_job_by_id("job_doesnotexist")
    global_audience = client.audience.get_audience_by_id("global")
    with pytest.raises(crowdcanvas.BadRequestError) as excinfo:
        global_audience.add_draw_example(
            "Color the books", "https://assets.example.org/a.jpg", [Box(0.1, 0.1, 0.5, 0.5)]
        )
    assert "global audience" in excinfo.value.errors["audience"][0]
    bad_token = CrowdCanvasClient(client.base_url, "0" * 40)
    with pytest.raises(crowdcanvas.AuthenticationError) as excinfo:
        bad_token.audience.find_audiences()
    assert excinfo.value.status == 401


def test_url_datapoints_are_fetched_by_default_or_kept_as_links(client, image_hosts):
    from assets.models import Asset

    fetched = client.job.create_draw_job_definition(
        "Fetched", "Color the books", ["https://assets.example.org/shelf.jpg"], responses_per_datapoint=1
    )
    (asset,) = Asset.objects.filter(kind="image")
    assert (asset.name, asset.width, asset.height) == ("shelf.jpg", 96, 72)
    assert image_hosts.requests == {"/shelf.jpg": 1}
    linked = client.job.create_draw_job_definition(
        "Linked",
        "Color the books",
        ["https://assets.example.org/shelf.jpg"],
        responses_per_datapoint=1,
        url_assets="link",
    )
    assert Asset.objects.get(kind="url").url == "https://assets.example.org/shelf.jpg"
    assert image_hosts.requests == {"/shelf.jpg": 1}  # a link is the labeler's browser's to load
    assert [d.id for d in client.job.find_job_definitions()] == [linked.id, fetched.id]


def test_a_url_the_server_cannot_fetch_is_a_value_error_naming_it_and_creates_nothing(client, server):
    from assets.models import Asset
    from jobs.models import JobDefinition

    for url, reason in [
        (f"http://127.0.0.1:{server.port}/x.png", "not a public address"),
        ("https://assets.example.org/page.html", "HTTP 404"),
    ]:
        with pytest.raises(ValueError, match=reason) as excinfo:
            client.job.create_compare_job_definition("Pairs", "Which?", [["https://assets.example.org/a.jpg", url]])
        assert url in str(excinfo.value)
    assert not JobDefinition.objects.exists()
    assert not Asset.objects.exclude(name="a.jpg").exists()


# --- following a job, results, downloads -------------------------------------------------------------------


@pytest.fixture
def spies(monkeypatch):
    """Records the websockets the client opens (and what they receive, or
    why they could not open) and counts progress polls."""
    record = {"sockets": [], "refused": [], "messages": [], "polls": 0}
    real_connect = crowdcanvas._live.connect

    def connect(*args, **kwargs):
        try:
            socket = real_connect(*args, **kwargs)
        except crowdcanvas._live.LiveUnavailable as exc:
            record["refused"].append(str(exc))
            raise
        receive = socket.receive

        def recording_receive(timeout):
            message = receive(timeout)
            record["messages"].append(message)
            return message

        socket.receive = recording_receive
        record["sockets"].append(socket)
        return socket

    real_progress = crowdcanvas.Job.get_progress

    def counting_progress(self):
        record["polls"] += 1
        return real_progress(self)

    monkeypatch.setattr(crowdcanvas._live, "connect", connect)
    monkeypatch.setattr(crowdcanvas.Job, "get_progress", counting_progress)
    return record


def run_draw_job(client, carol, server, capsys) -> tuple:
    """A global draw job (3 URL images x 3 responses) followed with the
    progress bar while three simulated labelers work on it."""
    from tests.test_seeds_e2e import Crew

    definition = client.job.create_draw_job_definition(
        name="Blue Books Example",
        instruction="Color in all the blue books",
        datapoints=[f"https://assets.example.org/books-{i}.jpg" for i in range(3)],
        responses_per_datapoint=3,
    )
    job = client.audience.get_audience_by_id("global").assign_job(definition)
    with Crew(server.url, carol, labelers=3) as crew:
        final = job.display_progress_bar(poll_interval=0.5, timeout=60)
    assert not crew.errors, crew.errors[0]
    assert final["state"] == "completed" and job.state == "completed"
    assert (final["responses_collected"], final["responses_needed"], final["eta_seconds"]) == (9, 9, None)
    assert final["responses_per_minute"] > 0
    err = capsys.readouterr().err
    assert "9/9" in err and "responses/s" in err
    return job, final


def test_progress_bar_follows_the_jobs_websocket(client, carol, server, spies, capsys):
    job, final = run_draw_job(client, carol, server, capsys)
    assert spies["refused"] == [] and len(spies["sockets"]) == 1 and spies["polls"] == 0
    progress = [m for m in spies["messages"] if m["type"] == "progress"]
    assert progress[-1]["state"] == "completed" and progress[-1]["responses_collected"] == 9
    assert {"responses_per_minute", "eta_seconds"} <= set(progress[0])

    results = job.get_results(timeout=10)
    assert [entry["responses"] for entry in results["results"]] == [3, 3, 3]
    assert all(entry["consensusBoxes"] for entry in results["results"])
    assert results["results"][0]["heatmapUrl"].startswith(server.url + "/api/jobs/")
    assert len(results.to_pandas()) == 3 and len(results.to_pandas(split_details=True)) == 9


@pytest.fixture
def polling_only_server(test_database_url, artifacts_dir, image_hosts):
    """A server without websocket support (as behind a proxy that does not
    pass upgrades): the handshake gets a plain HTTP 404."""
    env = django_env(test_database_url, **image_hosts.env)
    process = AsgiServer(env, artifacts_dir / "client-live-no-ws-server.log")
    process.args += ["--ws", "none"]
    process.start()
    yield process
    process.stop()


def test_progress_bar_polls_when_the_websocket_is_refused(polling_only_server, carol, spies, capsys):
    with CrowdCanvasClient(polling_only_server.url, carol.api_token) as client:
        run_draw_job(client, carol, polling_only_server, capsys)
    assert len(spies["refused"]) == 1 and "404" in spies["refused"][0]
    assert spies["sockets"] == [] and spies["polls"] >= 1


def test_results_and_downloads_from_a_live_server(client, carol, server, tmp_path, capsys):
    import json

    from jobs import aggregation

    job, _ = run_draw_job(client, carol, server, capsys)
    path = job.download_results(tmp_path, format="coco")
    assert path == tmp_path / f"{job.id}-coco.json"
    coco = json.loads(path.read_text())
    assert [image["file_name"] for image in coco["images"]] == [f"books-{i}.jpg" for i in range(3)]
    masks = [a for a in coco["annotations"] if a["iscrowd"] == 1]
    assert len(masks) == 3 and all(aggregation.rle_decode(a["segmentation"]).sum() == a["area"] for a in masks)
    document = json.loads(job.download_results(tmp_path / "all.json").read_text())
    assert document == job.get_results_now()
    with pytest.raises(crowdcanvas.BadRequestError, match="csv is for compare jobs"):
        job.download_results(tmp_path / "x.csv", format="csv")
    assert not (tmp_path / "x.csv").exists()
