"""The requester workflows our client must support run as written, with only
the import line changed: the code of the custom-audience and draw-job pages
(DESIGN.md, seeds/), against a fake server that answers like ours. The
"Reusing audiences" snippet has its placeholders ("audience_id",
new_job_definition) filled in. test_seeds_e2e.py runs them against a live
server with simulated labelers."""

from __future__ import annotations

import itertools
import json
import re

import httpx
import pytest

import crowdcanvas

CUSTOM_AUDIENCE_WORKFLOW = '''
from crowdcanvas import CrowdCanvasClient

client = CrowdCanvasClient()

audience = client.audience.create_audience(name="Custom Prompt Alignment Audience")

DATAPOINTS = [
    ["https://assets.rapidata.ai/flux_sign_diffusion.jpg", "https://assets.rapidata.ai/mj_sign_diffusion.jpg"],
    ["https://assets.rapidata.ai/flux_duck.jpg", "https://assets.rapidata.ai/mj_duck.jpg"],
    ["https://assets.rapidata.ai/flux_book.jpg", "https://assets.rapidata.ai/mj_book.jpg"],
    ["https://assets.rapidata.ai/flux_flower.jpg", "https://assets.rapidata.ai/mj_flower.jpg"],
    ["https://assets.rapidata.ai/flux_store_front.jpg", "https://assets.rapidata.ai/mj_store_front.jpg"],
    ["https://assets.rapidata.ai/flux_hand.jpg", "https://assets.rapidata.ai/mj_hand.jpg"],
    ["https://assets.rapidata.ai/flux_traffic_lights.jpg", "https://assets.rapidata.ai/mj_traffic_lights.jpg"],
    ["https://assets.rapidata.ai/flux_plane.jpg", "https://assets.rapidata.ai/mj_plane.jpg"],
]
PROMPTS = [
    "A sign that says 'Diffusion'.",
    "A psychedelic duck with glasses",
    "A small blue book sitting on a large red book.",
    "A yellow flower sticking out of a bright green pot.",
    "A store front with 'hello world' written on it.",
    "A yellow hand on a black stone.",
    "A green, yellow and red traffic light.",
    "A plane flying over a person.",
]

for prompt, datapoint in zip(PROMPTS, DATAPOINTS):
    audience.add_compare_example(
        instruction="Which image follows the prompt more accurately?",
        datapoint=datapoint,
        truth=datapoint[0],
        context=prompt
    )

job_definition = client.job.create_compare_job_definition(
    name="Prompt Alignment Job",
    instruction="Which image follows the prompt more accurately?",
    datapoints=[
        ["https://assets.rapidata.ai/flux_book.jpg",
         "https://assets.rapidata.ai/mj_book.jpg"]
    ],
    contexts=["A small blue book sitting on a large red book."]
)

job_definition.preview()

job = audience.assign_job(job_definition)
job.display_progress_bar()
results = job.get_results()
print(results)

audiences = client.audience.find_audiences("Custom Prompt Alignment Audience")
audience = client.audience.get_audience_by_id(audience.id)

job = audience.assign_job(job_definition)
'''

DRAW_SIMPLE_WORKFLOW = '''
from crowdcanvas import CrowdCanvasClient
IMAGE_URLS = [
"https://assets.rapidata.ai/midjourney-5.2_37_3.jpg",
"https://assets.rapidata.ai/flux-1-pro_37_0.jpg",
"https://assets.rapidata.ai/frames-23-1-25_37_4.png",
"https://assets.rapidata.ai/aurora-20-1-25_37_3.png",
]
client = CrowdCanvasClient()
audience = client.audience.get_audience_by_id("global")
job_definition = client.job.create_draw_job_definition(
name="Blue Books Example",
instruction="Color in all the blue books",
datapoints=IMAGE_URLS,
responses_per_datapoint=35,
)
job_definition.preview()
job = audience.assign_job(job_definition)
job.display_progress_bar()
results = job.get_results()
print(results)
'''

DRAW_ADVANCED_WORKFLOW = '''
from crowdcanvas import CrowdCanvasClient, Box
IMAGE_URLS = [
"https://assets.rapidata.ai/eac11c3e-ad57-402b-90ed-23378d2ff869.jpg",
"https://assets.rapidata.ai/04e7e3c6-5554-47ca-bdb2-950e48ac3e6c.jpg",
"https://assets.rapidata.ai/91d9913c-b399-47f8-ad19-767798cc951c.jpg",
]
EXAMPLES = [
("https://assets.rapidata.ai/544b1210-1e91-4351-a97c-fe8263b319b4.webp",
[Box(x_min=0.44, y_min=0.42, x_max=0.58, y_max=0.63)]),
("https://assets.rapidata.ai/f1e11611-7c5b-4186-8ddf-51e06c0859ff.webp",
[Box(x_min=0.07, y_min=0.37, x_max=0.39, y_max=0.71)]),
("https://assets.rapidata.ai/ad816f8f-f7a9-4c90-90dd-9c10bc556856.webp",
[Box(x_min=0.04, y_min=0.10, x_max=0.31, y_max=0.28)]),
("https://assets.rapidata.ai/a076ae24-4d5c-415d-9d41-6afbe2fbfcde.webp",
[Box(x_min=0.25, y_min=0.40, x_max=0.70, y_max=0.96)]),
("https://assets.rapidata.ai/38753cb4-4b77-4fb7-b601-8a5bc3d166d7.webp",
[Box(x_min=0.41, y_min=0.09, x_max=0.87, y_max=0.45)]),
("https://assets.rapidata.ai/50109592-b521-4dcb-a00f-453f6c026a52.webp",
[Box(x_min=0.25, y_min=0.03, x_max=0.71, y_max=0.48)]),
("https://assets.rapidata.ai/a5a954d0-91e8-4b4e-bec6-2bb739444be8.webp",
[Box(x_min=0.57, y_min=0.40, x_max=0.96, y_max=0.89)]),
]
client = CrowdCanvasClient()
audience = client.audience.create_audience(name="Artifact Drawing Audience")
for datapoint, truths in EXAMPLES:
    audience.add_draw_example(
    instruction="Color in the visual glitches or errors in the image.",
    datapoint=datapoint,
    truths=truths,
    )
job_definition = client.job.create_draw_job_definition(
name="Artifact Drawing Example",
instruction="Color in the visual glitches or errors in the image.",
datapoints=IMAGE_URLS,
responses_per_datapoint=35,
)
job_definition.preview()
job = audience.assign_job(job_definition)
job.display_progress_bar()
results = job.get_results()
print(results)
'''


class FakeCrowdCanvas:
    """Just enough of the requester API, in memory: objects it is asked to
    create exist, and every job is completed at once."""

    def __init__(self) -> None:
        self.ids = itertools.count(1)
        self.audiences: dict[str, dict] = {"global": self._audience("global", "Global", "global")}
        self.examples: list[tuple[str, str, dict]] = []
        self.definitions: dict[str, dict] = {}
        self.jobs: dict[str, dict] = {}

    @staticmethod
    def _audience(public_id: str, name: str, kind: str) -> dict:
        return {"id": public_id, "name": name, "kind": kind, "description": "", "owned": kind == "custom",
                "target_accuracy": 0.75, "min_tasks": 5, "max_tasks": 10, "gold_rate": 0.05, "example_count": 0,
                "members": {"graduated": 4, "qualifying": 0, "dropped": 0}, "created": "2025-01-01T00:00:00Z"}

    def handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path.removeprefix("/api/")
        body = json.loads(request.content) if request.method == "POST" else None
        status, data = self.route(request.method, path, body, request)
        return httpx.Response(status, json=data)

    def route(self, method: str, path: str, body, request):
        if (method, path) == ("POST", "audiences/"):
            audience = self._audience(f"aud_{next(self.ids)}", body["name"], "custom")
            self.audiences[audience["id"]] = audience
            return 201, audience
        if (method, path) == ("GET", "audiences/"):
            name = request.url.params.get("name", "").lower()
            found = [a for a in self.audiences.values() if name in a["name"].lower()]
            return 200, {"count": len(found), "page": 1, "page_size": 10, "results": found}
        if match := re.fullmatch(r"audiences/([\w-]+)/", path):
            return (200, self.audiences[match[1]]) if match[1] in self.audiences else (404, {"detail": "Not found."})
        if match := re.fullmatch(r"audiences/([\w-]+)/examples/(draw|compare)/", path):
            self.examples.append((match[1], match[2], body))
            return 201, {"id": f"qex_{next(self.ids)}"}
        if (method, path) == ("POST", "job-definitions/"):
            definition = {"id": f"jdf_{next(self.ids)}", "name": body["name"], "kind": body["kind"],
                          "instruction": body["instruction"], "datapoint_count": len(body["datapoints"]),
                          "responses_per_datapoint": body["responses_per_datapoint"],
                          "preview_url": "http://crowdcanvas.test/preview/x/", "body": body}
            self.definitions[definition["id"]] = definition
            return 201, definition
        if (method, path) == ("POST", "jobs/"):
            definition = self.definitions[body["job_definition"]]
            job = {"id": f"job_{next(self.ids)}", "state": "running",
                   "definition": {key: definition[key] for key in ("id", "name", "kind")},
                   "audience": {key: self.audiences[body["audience"]][key] for key in ("id", "name", "kind")},
                   "responses_needed": definition["datapoint_count"] * definition["responses_per_datapoint"],
                   "created": "2025-01-01T00:00:00Z", "completed": None}
            self.jobs[job["id"]] = job
            return 201, job
        if match := re.fullmatch(r"jobs/([\w-]+)/progress/", path):
            job = self.jobs[match[1]]
            return 200, {"job_id": job["id"], "state": "completed", "datapoints_total": 1, "datapoints_done": 1,
                         "responses_collected": job["responses_needed"], "responses_needed": job["responses_needed"],
                         "completion_percentage": 100.0, "responses_per_minute": 0.0, "eta_seconds": None,
                         "last_response_at": None, "created": job["created"],
                         "completed": "2025-01-01T01:00:00Z",
                         "audience": {**job["audience"], "graduated": 4, "qualifying": 0, "dropped": 0}}
        if match := re.fullmatch(r"jobs/([\w-]+)/results/", path):
            job = self.jobs[match[1]]
            return 200, {"info": {"jobId": job["id"], "name": job["definition"]["name"],
                                  "type": job["definition"]["kind"]},
                         "results": [], "summary": {"datapoints": 0, "responses": 0}}
        return 404, {"detail": "Not found."}


@pytest.fixture
def fake(monkeypatch, tmp_path) -> FakeCrowdCanvas:
    server = FakeCrowdCanvas()
    original = crowdcanvas.client.CrowdCanvasClient.__init__

    def with_fake_transport(self, base_url=None, token=None, **kwargs):
        original(self, base_url, token, transport=httpx.MockTransport(server.handle))

    monkeypatch.setattr(crowdcanvas.client.CrowdCanvasClient, "__init__", with_fake_transport)
    monkeypatch.setenv("CROWDCANVAS_URL", "http://crowdcanvas.test")
    monkeypatch.setenv("CROWDCANVAS_TOKEN", "token")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    monkeypatch.setattr("webbrowser.open", lambda url, new=0: pytest.fail("no browser in tests"))
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    return server


def test_custom_audience_workflow_runs_as_written(fake, capsys):
    exec(compile(CUSTOM_AUDIENCE_WORKFLOW, "custom-audiences", "exec"), {})
    compare = [body for _, kind, body in fake.examples if kind == "compare"]
    assert len(compare) == 8 and all(body["truth"] == body["datapoint"][0] for body in compare)
    assert compare[1]["context"] == "A psychedelic duck with glasses"
    (definition,) = fake.definitions.values()
    assert definition["body"]["contexts"] == ["A small blue book sitting on a large red book."]
    assert len(fake.jobs) == 2
    assert "Preview of 'Prompt Alignment Job'" in capsys.readouterr().out


@pytest.mark.parametrize("workflow", [DRAW_SIMPLE_WORKFLOW, DRAW_ADVANCED_WORKFLOW], ids=["simple", "advanced"])
def test_draw_job_workflows_run_as_written(fake, workflow, capsys):
    exec(compile(workflow, "draw-job-example", "exec"), {})
    (definition,) = fake.definitions.values()
    assert definition["kind"] == "draw" and definition["body"]["responses_per_datapoint"] == 35
    (job,) = fake.jobs.values()
    assert job["audience"]["kind"] == ("global" if workflow is DRAW_SIMPLE_WORKFLOW else "custom")
    draw = [body for _, kind, body in fake.examples if kind == "draw"]
    if workflow is DRAW_ADVANCED_WORKFLOW:
        assert len(draw) == 7 and draw[0]["truths"] == [{"x_min": 0.44, "y_min": 0.42, "x_max": 0.58, "y_max": 0.63}]
    assert "'results': []" in capsys.readouterr().out
