"""The crowdcanvas client waiting for results: polling, progress bars and
the job's websocket (requests go to an httpx.MockTransport)."""

from __future__ import annotations

import json

import httpx
import pandas as pd
import pytest

import crowdcanvas
from crowdcanvas import CrowdCanvasClient
from tests.client_fakes import (  # noqa: F401 (fixtures, clean_environment autouse)
    BASE,
    JOB,
    URL_A,
    URL_B,
    clean_environment,
    client,
    job,
    server,
)

# --- waiting for results ------------------------------------------------------------------------------------


def progress(state="running", collected=0, needed=6, done=0, graduated=3, qualifying=0) -> dict:
    return {
        "job_id": "job_1",
        "state": state,
        "datapoints_total": 2,
        "datapoints_done": done,
        "responses_collected": collected,
        "responses_needed": needed,
        "completion_percentage": 100.0 * collected / needed,
        "audience": {
            "id": "global",
            "name": "Global",
            "kind": "global",
            "graduated": graduated,
            "qualifying": qualifying,
            "dropped": 0,
        },
        "last_response_at": None,
        "created": "2025-01-01T00:00:00Z",
        "completed": None,
    }


INFO = {
    "jobId": "job_1",
    "definitionId": "jdf_1",
    "name": "Books",
    "type": "compare",
    "instruction": "Which?",
    "responsesPerDatapoint": 2,
    "audienceId": "global",
    "state": "completed",
    "created": "2025-01-01T00:00:00Z",
    "completed": "2025-01-01T01:00:00Z",
    "aggregatorVersion": "1.0",
}
RESULTS = {
    "info": INFO,
    "results": [
        {
            "position": 0,
            "items": [URL_A, URL_B],
            "context": "A duck",
            "mediaContext": None,
            "responses": 2,
            "stoppedEarly": False,
            "aggregatedResults": {URL_A: 1, URL_B: 1},
            "aggregatedResultsRatios": {URL_A: 0.5, URL_B: 0.5},
            "summedUserScores": {URL_A: 0.8, URL_B: 0.4},
            "summedUserScoresRatios": {URL_A: 2 / 3, URL_B: 1 / 3},
            "winner": None,
            "weightedWinner": URL_A,
            "confidence": 0.6,
            "detailedResults": [
                {"votedFor": URL_A, "userScore": 0.8, "labeler": "aaaa", "timeSpentMs": 900, "created": "t1"},
                {"votedFor": URL_B, "userScore": 0.4, "labeler": "bbbb", "timeSpentMs": 1200, "created": "t2"},
            ],
        },
        {
            "position": 1,
            "items": [URL_B, "text"],
            "context": "",
            "mediaContext": None,
            "responses": 0,
            "stoppedEarly": False,
            "aggregatedResults": None,
            "aggregatedResultsRatios": None,
            "summedUserScores": None,
            "summedUserScoresRatios": None,
            "winner": None,
            "weightedWinner": None,
            "confidence": None,
            "detailedResults": [],
        },
    ],
    "summary": {"datapoints": 2, "responses": 2, "ranking": None},
}
BOX = {"x_min": 0.1, "y_min": 0.1, "x_max": 0.4, "y_max": 0.5}
LINES = [{"size": 0.02, "points": [{"x": 0.2, "y": 0.2}, {"x": 0.3, "y": 0.3}]}]
DRAW_RESULTS = {
    "info": {**INFO, "type": "draw", "drawAlgorithm": "majority"},
    "results": [
        {
            "position": 0,
            "item": "books.png",
            "context": "",
            "mediaContext": None,
            "imageSize": [96, 64],
            "responses": 2,
            "gridSize": [171, 256],
            "consensusMask": {"size": [171, 256], "counts": [43776]},
            "consensusBoxes": [BOX, BOX],
            "agreement": 0.75,
            "summedUserScores": 1.0,
            "heatmapUrl": f"{BASE}/api/jobs/job_1/datapoints/0/heatmap.png",
            "detailedResults": [
                {"labeler": "aaaa", "userScore": 0.5, "lines": LINES, "timeSpentMs": 3000, "created": "t1"},
                {"labeler": "bbbb", "userScore": 0.5, "lines": [], "timeSpentMs": 2000, "created": "t2"},
            ],
        },
        {
            "position": 1,
            "item": URL_A,
            "context": "",
            "mediaContext": None,
            "imageSize": None,
            "responses": 0,
            "gridSize": [256, 256],
            "consensusMask": None,
            "consensusBoxes": None,
            "agreement": None,
            "summedUserScores": None,
            "heatmapUrl": f"{BASE}/api/jobs/job_1/datapoints/1/heatmap.png",
            "detailedResults": [],
        },
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


def test_get_results_waits_for_completion(job, server, clock):
    server.route(
        "GET",
        "/api/jobs/job_1/progress/",
        [progress(collected=0), progress(collected=3, done=1), progress("completed", collected=6, done=2)],
    )
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
    server.route(
        "GET",
        "/api/jobs/job_1/progress/",
        [progress(collected=n, graduated=0) for n in range(5)] + [progress("completed", collected=6, graduated=0)],
    )
    server.route("GET", "/api/jobs/job_1/results/", RESULTS)
    assert job.get_results(stall_timeout=15, poll_interval=10) == RESULTS


def test_a_failed_job_raises(job, server, clock):
    server.route("GET", "/api/jobs/job_1/progress/", progress("failed"))
    with pytest.raises(crowdcanvas.JobFailed):
        job.get_results()


def test_display_progress_bar_follows_to_completion(job, server, clock, capsys):
    server.route(
        "GET",
        "/api/jobs/job_1/progress/",
        [progress(collected=1), progress(collected=4, done=1), progress("completed", collected=6, done=2)],
    )
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
    assert {
        "item_b",
        "votes_a",
        "votes_b",
        "ratio_a",
        "ratio_b",
        "summed_score_a",
        "summed_score_b",
        "winner",
        "weightedWinner",
        "confidence",
        "responses",
        "stoppedEarly",
    } <= set(frame.columns)
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
        return httpx.Response(
            200,
            content=f"{fmt} body".encode(),
            headers={
                "Content-Type": "text/csv" if fmt == "csv" else "application/json",
                "Content-Disposition": f'attachment; filename="{name}"',
            },
        )

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
    server.route(
        "GET",
        "/api/jobs/job_1/results/download/",
        (400, {"format": ["csv is for compare jobs; download draw results as json or coco."]}),
    )
    with pytest.raises(crowdcanvas.BadRequestError, match="csv is for compare jobs"):
        job.download_results(tmp_path / "x.csv", format="csv")
    assert not (tmp_path / "x.csv").exists()


def test_a_download_names_no_path_outside_the_directory(job, server, tmp_path):
    server.route(
        "GET",
        "/api/jobs/job_1/results/download/",
        httpx.Response(200, content=b"{}", headers={"Content-Disposition": 'attachment; filename="../../evil.json"'}),
    )
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
    scripts.append(
        [
            live(collected=1),
            {"type": "results", "positions": [0]},
            live(collected=4, done=1),
            {"type": "state", "state": "completed"},
            live("completed", collected=6, done=2),
        ]
    )
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
