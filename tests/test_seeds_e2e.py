"""The requester workflows of seeds/ run end to end, as written (only the
import line changed to ``crowdcanvas``), against a live server process
(uvicorn, PostgreSQL; aggregation in the server after commit), while
simulated labelers qualify and work over HTTP until each job completes;
then the results must be complete and sensible.

Scenarios: the simple draw job on the global audience (4 URL images x 35
responses), the advanced draw job on a custom audience with 7 draw
examples, the custom compare audience with 8 examples, that audience found
by name and reused for a second job. The images are fetched and stored by
the server, as by default (served on loopback: tests/image_hosts.py), and
named in results by their URL's file name. Only the "Reusing Audiences" snippet is completed: it
finds the audience by its name and gets it by the id found, where the page
has the placeholders ``"audience_id"`` and ``new_job_definition``.
"""

from __future__ import annotations

import threading
import traceback
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.conf import settings
from django.db import close_old_connections, connection

from assets.raster import grid_shape
from demo.simulation import Oracle, SimulatedLabeler, _stable_random, create_labelers, pseudo_region
from tests.image_hosts import image_hosts  # noqa: F401 (fixture)
from tests.seeds import CUSTOM_COMPARE, DRAW_ADVANCED, DRAW_SIMPLE, REUSE_AUDIENCE
from tests.stack import AsgiServer, django_env

pytestmark = pytest.mark.services

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
                jobs = list(
                    Job.objects.filter(owner=self.owner, state=Job.State.RUNNING)
                    .exclude(public_id__in=self.seen)
                    .values_list("public_id", "audience__public_id", "audience__kind")
                )
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
        return sum(
            1 for (_, audience), status in self.status.items() if audience == audience_id and status == "graduated"
        )


# --- running a seed -----------------------------------------------------------------------------------------


@pytest.fixture
def server(test_database_url, artifacts_dir, image_hosts):
    log_path = artifacts_dir / "seeds-e2e-server.log"
    log_path.unlink(missing_ok=True)
    process = AsgiServer(django_env(test_database_url, **image_hosts.env), log_path).start()
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


# The image hosts' generated images (tests.hosted_client.generated_image).
IMAGE_SIZE = (96, 72)


def names(urls: list[str]) -> list[str]:
    """How results name images fetched from ``urls``: by their file names."""
    return [url.rsplit("/", 1)[-1] for url in urls]


def box_iou(a: dict, b: dict) -> float:
    width = min(a["x_max"], b["x_max"]) - max(a["x_min"], b["x_min"])
    height = min(a["y_max"], b["y_max"]) - max(a["y_min"], b["y_min"])
    inter = max(0.0, width) * max(0.0, height)
    area = lambda box: (box["x_max"] - box["x_min"]) * (box["y_max"] - box["y_min"])  # noqa: E731
    return inter / (area(a) + area(b) - inter)


def datapoints_of(job_id: str):
    from jobs.models import JobDatapoint

    return {
        slot.position: slot.datapoint
        for slot in JobDatapoint.objects.filter(job__public_id=job_id).select_related(
            "datapoint__asset", "datapoint__asset_b"
        )
    }


def assert_draw_results(results, *, job_id: str, images: list[str], responses: int) -> None:
    """Every datapoint has its responses, and its largest consensus box is
    where the oracle tells good labelers to color (URL images: a fixed
    pseudo-random region per datapoint)."""
    assert results.info["jobId"] == job_id and results.info["state"] == "completed"
    assert [entry["item"] for entry in results["results"]] == names(images)
    assert results.summary["responses"] == responses * len(images)
    assert results.summary["meanAgreement"] > 0.6
    datapoints = datapoints_of(job_id)
    for entry in results["results"]:
        assert entry["responses"] == len(entry["detailedResults"]) == responses
        grid = list(grid_shape(*IMAGE_SIZE, settings.RASTER_LONG_SIDE))
        assert entry["imageSize"] == list(IMAGE_SIZE) and entry["gridSize"] == grid
        assert entry["consensusMask"]["size"] == grid and entry["agreement"] > 0.5
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
        assert preferred.kind == "image" and entry["winner"] == entry["weightedWinner"] == preferred.value, entry
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
        "Artifact Drawing Audience",
        "custom",
        7,
    )
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
        assert [entry["items"] for entry in results["results"]] == [names(seed["DATAPOINTS"][2])]
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
    assert [entry["items"] for entry in reused["results"]] == [names(pair) for pair in seed["DATAPOINTS"]]
    assert [entry["context"] for entry in reused["results"]] == seed["PROMPTS"]
    assert all(entry["responses"] == 10 for entry in reused["results"])
    assert_compare_winners(reused, job_id=seed["job"].id)
    ranking = reused.summary["ranking"]
    assert ranking["comparisons"] == 80 and len(ranking["items"]) == 16
    frame = reused.to_pandas()
    assert list(frame["item_a"]) == [names(pair)[0] for pair in seed["DATAPOINTS"]]
    assert list(frame["winner"]) == [entry["winner"] for entry in reused["results"]]
    assert len(reused.to_pandas(split_details=True)) == 80
