"""The requester workflows of seeds/ run end to end, as written (only the
import line changed to ``crowdcanvas``), against a live server process
(uvicorn, PostgreSQL; aggregation in the server after commit), while
simulated labelers qualify and work over HTTP until each job completes;
then the results must be complete and sensible.

Scenarios: the simple draw job on the global audience (4 URL images x 35
responses), the advanced draw job on a custom audience with 7 draw
examples, the custom compare audience with 8 examples, that audience found
by name and reused for a second job. The images stay URL assets (they are
never fetched). Only the "Reusing Audiences" snippet is completed: it
finds the audience by its name and gets it by the id found, where the page
has the placeholders ``"audience_id"`` and ``new_job_definition``.
"""

from __future__ import annotations

import threading
import traceback
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import close_old_connections, connection

from labeling.simulation import Oracle, SimulatedLabeler, _stable_random, create_labelers, pseudo_region
from tests.stack import AsgiServer, django_env

pytestmark = pytest.mark.services

# --- the seed workflows, as written ------------------------------------------------------------------------

DRAW_SIMPLE = '''
from crowdcanvas import CrowdCanvasClient
IMAGE_URLS = [
"https://assets.rapidata.ai/midjourney-5.2_37_3.jpg",
"https://assets.rapidata.ai/flux-1-pro_37_0.jpg",
"https://assets.rapidata.ai/frames-23-1-25_37_4.png",
"https://assets.rapidata.ai/aurora-20-1-25_37_3.png",
]
client = CrowdCanvasClient()
audience = client.audience.get_audience_by_id("global") # (1)!
job_definition = client.job.create_draw_job_definition(
name="Blue Books Example",
instruction="Color in all the blue books", # (2)!
datapoints=IMAGE_URLS,
responses_per_datapoint=35,
)
job_definition.preview()
job = audience.assign_job(job_definition)
job.display_progress_bar()
results = job.get_results()
print(results)
'''

DRAW_ADVANCED = '''
from crowdcanvas import CrowdCanvasClient, Box
IMAGE_URLS = [
"https://assets.rapidata.ai/eac11c3e-ad57-402b-90ed-23378d2ff869.jpg",
"https://assets.rapidata.ai/04e7e3c6-5554-47ca-bdb2-950e48ac3e6c.jpg",
"https://assets.rapidata.ai/91d9913c-b399-47f8-ad19-767798cc951c.jpg",
]
# Qualification examples — each pairs an image with the bounding box(es)
# covering the region a correct labeler should color in. Coordinates are
# image ratios (0.0–1.0).
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
audience = client.audience.create_audience(name="Artifact Drawing Audience") # (1)!
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

CUSTOM_COMPARE = '''
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
'''

# "Reusing Audiences", its placeholders filled: the audience id comes from
# find_audiences, and the new definition asks about all eight pairs.
REUSE_AUDIENCE = '''
new_job_definition = client.job.create_compare_job_definition(
    name="Prompt Alignment Job, all pairs",
    instruction="Which image follows the prompt more accurately?",
    datapoints=DATAPOINTS,
    contexts=PROMPTS,
)

audiences = client.audience.find_audiences("Custom Prompt Alignment Audience")
audience = client.audience.get_audience_by_id(audiences[0].id)

job = audience.assign_job(new_job_definition)
job.display_progress_bar()
new_results = job.get_results()
'''

SCENARIO_TIMEOUT = 150.0


# --- the labelers ---------------------------------------------------------------------------------------------


class Crew:
    """Simulated labelers (in this process, over HTTP) who notice each job the
    requester starts, qualify for its audience when it is not the global one
    (once per audience), and work on it until it is completed."""

    def __init__(self, base_url: str, owner, *, labelers: int, accuracy: float = 0.97, threads: int = 8) -> None:
        self.owner = owner
        self.oracle = Oracle()
        self.labelers = [
            SimulatedLabeler(base_url=base_url, token=token, accuracy=accuracy, oracle=self.oracle, seed=name)
            for name, token in create_labelers(labelers, prefix="seed")
        ]
        self.locks = [threading.Lock() for _ in self.labelers]
        self.status: dict[tuple[int, str], str] = {}  # (labeler index, audience id) -> graduated | dropped
        self.qualifications = 0
        self.pool = ThreadPoolExecutor(max_workers=threads)
        self.errors: list[str] = []
        self.seen: set[str] = set()
        self._stop = threading.Event()
        self._watcher = threading.Thread(target=self._watch, daemon=True)

    def __enter__(self) -> Crew:
        self._watcher.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._watcher.join(10)
        self.pool.shutdown(wait=True, cancel_futures=True)
        for labeler in self.labelers:
            labeler.close()

    def _watch(self) -> None:
        from jobs.models import Job

        try:
            while not self._stop.is_set():
                jobs = list(Job.objects.filter(owner=self.owner, state=Job.State.RUNNING)
                            .exclude(public_id__in=self.seen).values_list("public_id", "audience__public_id",
                                                                          "audience__kind"))
                for job_id, audience_id, kind in jobs:
                    self.seen.add(job_id)
                    for index in range(len(self.labelers)):
                        self.pool.submit(self._work, index, job_id, audience_id, kind)
                self._stop.wait(0.1)
        finally:
            connection.close()

    def _work(self, index: int, job_id: str, audience_id: str, kind: str) -> None:
        labeler = self.labelers[index]
        try:
            with self.locks[index]:
                if kind != "global" and (index, audience_id) not in self.status:
                    self.status[index, audience_id] = labeler.qualify(audience_id)
                    self.qualifications += 1
                if kind == "global" or self.status[index, audience_id] == "graduated":
                    labeler.work(job_id, stop=self._stop.is_set)
        except Exception:  # reported by the test
            self.errors.append(traceback.format_exc())
        finally:
            close_old_connections()
            connection.close()

    def graduated(self, audience_id: str) -> int:
        return sum(1 for (_, audience), status in self.status.items()
                   if audience == audience_id and status == "graduated")


# --- running a seed -----------------------------------------------------------------------------------------


@pytest.fixture
def server(test_database_url, artifacts_dir):
    log_path = artifacts_dir / "seeds-e2e-server.log"
    log_path.unlink(missing_ok=True)
    process = AsgiServer(django_env(test_database_url), log_path).start()
    yield process
    process.stop()


@pytest.fixture
def requester(server, make_requester, monkeypatch, tmp_path):
    """A requester whose token the seeds' ``CrowdCanvasClient()`` finds in the environment."""
    from audiences.selectors import global_audience

    global_audience()  # the data migration's row, gone if an earlier test flushed the database
    user = make_requester("seed-requester")
    monkeypatch.setenv("CROWDCANVAS_URL", server.url)
    monkeypatch.setenv("CROWDCANVAS_TOKEN", user.api_token)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))  # no credentials file of this machine
    monkeypatch.delenv("DISPLAY", raising=False)  # no browser: preview() prints its URL
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setattr("webbrowser.open", lambda *args, **kwargs: pytest.fail("no browser in tests"))
    return user


def run_seed(code: str, crew: Crew, server, namespace: dict | None = None) -> dict:
    """Run ``code`` in a thread (in ``namespace``, to go on from an earlier
    snippet) while ``crew`` works; the namespace once done."""
    namespace = {"__name__": "seed"} if namespace is None else namespace
    failure: list[str] = []

    def target() -> None:
        try:
            exec(compile(code, "seed", "exec"), namespace)
        except BaseException:  # reported below
            failure.append(traceback.format_exc())

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(SCENARIO_TIMEOUT)
    assert not crew.errors, crew.errors[0] + server.log()[-3000:]
    assert not failure, failure[0] + server.log()[-3000:]
    assert not thread.is_alive(), f"the seed did not finish in {SCENARIO_TIMEOUT:g}s\n{server.log()[-3000:]}"
    assert "Traceback" not in server.log(), server.log()[-5000:]
    return namespace


# --- checks ---------------------------------------------------------------------------------------------------


def box_iou(a: dict, b: dict) -> float:
    width = min(a["x_max"], b["x_max"]) - max(a["x_min"], b["x_min"])
    height = min(a["y_max"], b["y_max"]) - max(a["y_min"], b["y_min"])
    inter = max(0.0, width) * max(0.0, height)
    area = lambda box: (box["x_max"] - box["x_min"]) * (box["y_max"] - box["y_min"])  # noqa: E731
    return inter / (area(a) + area(b) - inter)


def datapoints_of(job_id: str):
    from jobs.models import JobDatapoint

    return {slot.position: slot.datapoint for slot in
            JobDatapoint.objects.filter(job__public_id=job_id).select_related("datapoint__asset", "datapoint__asset_b")}


def assert_draw_results(results, *, job_id: str, images: list[str], responses: int) -> None:
    """Every datapoint has its responses, and its largest consensus box is
    where the oracle tells good labelers to color (URL images: a fixed
    pseudo-random region per datapoint)."""
    assert results.info["jobId"] == job_id and results.info["state"] == "completed"
    assert [entry["item"] for entry in results["results"]] == images
    assert results.summary["responses"] == responses * len(images)
    assert results.summary["meanAgreement"] > 0.6
    datapoints = datapoints_of(job_id)
    for entry in results["results"]:
        assert entry["responses"] == len(entry["detailedResults"]) == responses
        assert entry["imageSize"] is None and entry["gridSize"] == [256, 256]
        assert entry["consensusMask"]["size"] == [256, 256] and entry["agreement"] > 0.5
        region = pseudo_region(datapoints[entry["position"]].pk)
        assert box_iou(entry["consensusBoxes"][0], region) > 0.7, (entry["consensusBoxes"], region)
    frame = results.to_pandas()
    assert list(frame["responses"]) == [responses] * len(images)
    assert len(results.to_pandas(split_details=True)) == responses * len(images)


def assert_compare_winners(results, *, job_id: str) -> None:
    """Every datapoint's winner is the item good labelers prefer."""
    datapoints = datapoints_of(job_id)
    for entry in results["results"]:
        datapoint = datapoints[entry["position"]]
        preferred = datapoint.asset if _stable_random("prefer", datapoint.pk).random() < 0.5 else datapoint.asset_b
        assert entry["winner"] == entry["weightedWinner"] == preferred.url, entry
        assert entry["confidence"] > 0.99
        assert entry["responses"] == sum(entry["aggregatedResults"].values()) == len(entry["detailedResults"])


# --- the scenarios --------------------------------------------------------------------------------------------


def test_simple_draw_job_on_the_global_audience(server, requester, capsys):
    with Crew(server.url, requester, labelers=38) as crew:
        seed = run_seed(DRAW_SIMPLE, crew, server)
    job, results = seed["job"], seed["results"]
    assert job.audience["id"] == "global"
    assert_draw_results(results, job_id=job.id, images=seed["IMAGE_URLS"], responses=35)
    out, err = capsys.readouterr()
    assert f"Preview of 'Blue Books Example': {server.url}/preview/" in out
    assert "'results': [" in out and "140/140" in err


def test_advanced_draw_job_on_a_custom_audience(server, requester, capsys):
    from audiences.models import Audience

    with Crew(server.url, requester, labelers=40) as crew:
        seed = run_seed(DRAW_ADVANCED, crew, server)
    job, results, audience = seed["job"], seed["results"], seed["audience"]
    stored = Audience.objects.get(public_id=audience.id)
    assert (stored.name, stored.kind, stored.examples.filter(kind="draw").count()) == (
        "Artifact Drawing Audience", "custom", 7)
    assert job.audience["id"] == audience.id and crew.graduated(audience.id) >= 35
    assert_draw_results(results, job_id=job.id, images=seed["IMAGE_URLS"], responses=35)
    assert "105/105" in capsys.readouterr().err


def test_custom_compare_audience_found_by_name_and_reused(server, requester, capsys):
    from audiences.models import Audience, Membership

    with Crew(server.url, requester, labelers=14) as crew:
        seed = run_seed(CUSTOM_COMPARE, crew, server)
        first_job, results, audience = seed["job"], seed["results"], seed["audience"]
        stored = Audience.objects.get(public_id=audience.id)
        assert stored.examples.filter(kind="compare").count() == 8
        assert [entry["items"] for entry in results["results"]] == [seed["DATAPOINTS"][2]]
        (entry,) = results["results"]
        assert entry["context"] == "A small blue book sitting on a large red book." and entry["responses"] == 10
        assert_compare_winners(results, job_id=first_job.id)
        graduated = Membership.objects.filter(audience=stored, state="graduated").count()
        assert crew.graduated(audience.id) == graduated >= 10
        qualifications = crew.qualifications

        # Reusing the audience: found by name, a second job, nobody qualifies again.
        seed = run_seed(REUSE_AUDIENCE, crew, server, namespace=seed)
    assert [a.id for a in seed["audiences"]] == [audience.id]
    assert seed["audience"].id == audience.id and seed["job"].id != first_job.id
    assert crew.qualifications == qualifications
    reused = seed["new_results"]
    assert [entry["items"] for entry in reused["results"]] == seed["DATAPOINTS"]
    assert [entry["context"] for entry in reused["results"]] == seed["PROMPTS"]
    assert all(entry["responses"] == 10 for entry in reused["results"])
    assert_compare_winners(reused, job_id=seed["job"].id)
    ranking = reused.summary["ranking"]
    assert ranking["comparisons"] == 80 and len(ranking["items"]) == 16
    frame = reused.to_pandas()
    assert list(frame["item_a"]) == [pair[0] for pair in seed["DATAPOINTS"]]
    assert list(frame["winner"]) == [entry["winner"] for entry in reused["results"]]
    assert len(reused.to_pandas(split_details=True)) == 80
