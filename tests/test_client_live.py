"""The crowdcanvas client against a real server process (uvicorn, PostgreSQL):
the custom-audience workflow up to a running job, its status and progress."""

from __future__ import annotations

import pytest

import crowdcanvas
from crowdcanvas import Box, CrowdCanvasClient
from tests.conftest import image_bytes
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
def server(test_database_url, artifacts_dir):
    process = AsgiServer(django_env(test_database_url), artifacts_dir / "client-live-server.log").start()
    yield process
    process.stop()


@pytest.fixture
def client(server, make_requester):
    from audiences.selectors import global_audience

    global_audience()  # the data migration's row, gone if an earlier test flushed the database
    requester = make_requester("carol")
    with CrowdCanvasClient(server.url, requester.api_token) as client:
        yield client


def test_custom_audience_workflow_against_a_live_server(client, tmp_path, capsys):
    from jobs.models import Asset

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
    assert [e["truth"] for e in examples] == [pair[0] for pair in DATAPOINTS]
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
    uploaded = Asset.objects.get(kind="image")
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
        global_audience.add_draw_example("Color the books", "https://assets.example.org/a.jpg",
                                         [Box(0.1, 0.1, 0.5, 0.5)])
    assert "global audience" in excinfo.value.errors["audience"][0]
    bad_token = CrowdCanvasClient(client.base_url, "0" * 40)
    with pytest.raises(crowdcanvas.AuthenticationError) as excinfo:
        bad_token.audience.find_audiences()
    assert excinfo.value.status == 401
