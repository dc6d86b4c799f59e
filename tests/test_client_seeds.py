"""The requester workflows our client must support run as written, with only
the import line changed: the code of the custom-audience and draw-job pages
(``tests/seeds.py``), against a fake server that answers like ours. The
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
from tests.seeds import CUSTOM_COMPARE, DRAW_ADVANCED, DRAW_SIMPLE, REUSE_AUDIENCE

CUSTOM_AUDIENCE_WORKFLOW = CUSTOM_COMPARE + REUSE_AUDIENCE
DRAW_SIMPLE_WORKFLOW, DRAW_ADVANCED_WORKFLOW = DRAW_SIMPLE, DRAW_ADVANCED


class FakeCrowdCanvas:
    """Just enough of the requester API, in memory: objects it is asked to
    create exist, and every job is completed at once."""

    def __init__(self) -> None:
        self.ids = itertools.count(1)
        self.audiences: dict[str, dict] = {"global": self._audience("global", "Global", "global")}
        self.examples: list[tuple[str, str, dict]] = []
        self.definitions: dict[str, dict] = {}
        self.jobs: dict[str, dict] = {}
        self.fetched: dict[str, str] = {}  # URL -> asset id, as the server stores them

    @staticmethod
    def _audience(public_id: str, name: str, kind: str) -> dict:
        return {
            "id": public_id,
            "name": name,
            "kind": kind,
            "description": "",
            "owned": kind == "custom",
            "target_accuracy": 0.75,
            "min_tasks": 5,
            "max_tasks": 10,
            "gold_rate": 0.05,
            "example_count": 0,
            "members": {"graduated": 4, "qualifying": 0, "dropped": 0},
            "created": "2025-01-01T00:00:00Z",
        }

    def handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path.removeprefix("/api/")
        body = json.loads(request.content) if request.method == "POST" else None
        status, data = self.route(request.method, path, body, request)
        return httpx.Response(status, json=data)

    def route(self, method: str, path: str, body, request):
        if (method, path) == ("POST", "assets/fetch/"):
            for url in body["urls"]:
                self.fetched.setdefault(url, f"ast_{next(self.ids)}")
            return 200, {
                "fetches": [{"url": url, "status": "completed", "asset_id": self.fetched[url]} for url in body["urls"]],
                "pending": 0,
            }
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
            definition = {
                "id": f"jdf_{next(self.ids)}",
                "name": body["name"],
                "kind": body["kind"],
                "instruction": body["instruction"],
                "datapoint_count": len(body["datapoints"]),
                "responses_per_datapoint": body["responses_per_datapoint"],
                "preview_url": "http://crowdcanvas.test/preview/x/",
                "body": body,
            }
            self.definitions[definition["id"]] = definition
            return 201, definition
        if (method, path) == ("POST", "jobs/"):
            definition = self.definitions[body["job_definition"]]
            job = {
                "id": f"job_{next(self.ids)}",
                "state": "running",
                "definition": {key: definition[key] for key in ("id", "name", "kind")},
                "audience": {key: self.audiences[body["audience"]][key] for key in ("id", "name", "kind")},
                "responses_needed": definition["datapoint_count"] * definition["responses_per_datapoint"],
                "created": "2025-01-01T00:00:00Z",
                "completed": None,
            }
            self.jobs[job["id"]] = job
            return 201, job
        if match := re.fullmatch(r"jobs/([\w-]+)/progress/", path):
            job = self.jobs[match[1]]
            return 200, {
                "job_id": job["id"],
                "state": "completed",
                "datapoints_total": 1,
                "datapoints_done": 1,
                "responses_collected": job["responses_needed"],
                "responses_needed": job["responses_needed"],
                "completion_percentage": 100.0,
                "responses_per_minute": 0.0,
                "eta_seconds": None,
                "last_response_at": None,
                "created": job["created"],
                "completed": "2025-01-01T01:00:00Z",
                "audience": {**job["audience"], "graduated": 4, "qualifying": 0, "dropped": 0},
            }
        if match := re.fullmatch(r"jobs/([\w-]+)/results/", path):
            job = self.jobs[match[1]]
            return 200, {
                "info": {"jobId": job["id"], "name": job["definition"]["name"], "type": job["definition"]["kind"]},
                "results": [],
                "summary": {"datapoints": 0, "responses": 0},
            }
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
    first, reused = fake.definitions.values()  # the page's job, then the one of "Reusing Audiences"
    assert first["body"]["contexts"] == ["A small blue book sitting on a large red book."]
    assert len(reused["body"]["datapoints"]) == 8
    assert all(set(item) == {"asset_id"} for pair in reused["body"]["datapoints"] for item in pair)  # fetched
    first_job, second_job = fake.jobs.values()
    assert first_job["audience"]["id"] == second_job["audience"]["id"]  # the audience was found again
    assert "Preview of 'Prompt Alignment Job'" in capsys.readouterr().out


@pytest.mark.parametrize("workflow", [DRAW_SIMPLE_WORKFLOW, DRAW_ADVANCED_WORKFLOW], ids=["simple", "advanced"])
def test_draw_job_workflows_run_as_written(fake, workflow, capsys):
    namespace: dict = {}
    exec(compile(workflow, "draw-job-example", "exec"), namespace)
    (definition,) = fake.definitions.values()
    assert definition["kind"] == "draw" and definition["body"]["responses_per_datapoint"] == 35
    # The URL images were fetched and stored by the server (the default), then named by asset.
    assert definition["body"]["datapoints"] == [{"asset_id": fake.fetched[url]} for url in namespace["IMAGE_URLS"]]
    (job,) = fake.jobs.values()
    assert job["audience"]["kind"] == ("global" if workflow is DRAW_SIMPLE_WORKFLOW else "custom")
    draw = [body for _, kind, body in fake.examples if kind == "draw"]
    if workflow is DRAW_ADVANCED_WORKFLOW:
        assert len(draw) == 7 and draw[0]["truths"] == [{"x_min": 0.44, "y_min": 0.42, "x_max": 0.58, "y_max": 0.63}]
    assert "'results': []" in capsys.readouterr().out
