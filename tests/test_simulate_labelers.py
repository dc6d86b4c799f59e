"""``manage.py simulate_labelers`` against a live server (uvicorn, PostgreSQL):
every labeler works at once and a labeler with nothing left gives way (40
labelers fill a job needing 35 responses per datapoint), 5xx replies,
dropped connections and 429s are waited out and counted, and ``--watch``
serves jobs created after it started, on the global audience and on a
custom one it qualifies for, until stopped."""

from __future__ import annotations

import io
import re
import signal
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from audiences.models import Membership
from audiences.selectors import global_audience
from jobs.models import Job, Response
from tests import factories
from tests.stack import PYTHON, AsgiServer, ManagedProcess, django_env
from tests.test_faults import assert_exact_counts
from tests.waiting import wait_until


def simulate(*args: str) -> str:
    out = io.StringIO()
    call_command("simulate_labelers", *args, stdout=out)
    return out.getvalue()


def count(summary: str, pattern: str) -> int:
    match = re.search(pattern, summary)
    assert match, f"{pattern!r} not in\n{summary}"
    return int(match.group(1))


# --- arguments ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args, message",
    [
        (["--accuracy", "1.5"], "--accuracy must be between 0 and 1"),
        (["--labelers", "0"], "--labelers must be at least 1"),
        (["--timeout", "0"], "--timeout must be a positive number of seconds"),
        (["--poll", "-1"], "--poll must be a positive number of seconds"),
        (["--progress", "-1"], "--progress must be 0"),
        (["--base-url", "127.0.0.1:8000"], "--base-url must be an http:// or https:// URL"),
        (["--watch", "--job", "job_x"], "it takes no --job"),
        (["--audience", "global", "--audience", "aud_nope"], "no audience 'aud_nope'"),
        (["--audience", "global", "--job", "job_nope"], "no job 'job_nope' on audience 'global'"),
        (["--audience", "global"], "no running job on audience 'global': start one, or use --watch"),
    ],
)
def test_bad_arguments_are_refused_with_a_clear_message(db, args, message):
    global_audience()
    with pytest.raises(CommandError, match=re.escape(message)):
        simulate(*args)


def test_until_done_and_watch_do_not_go_together(db):
    with pytest.raises(CommandError, match="not allowed with argument"):
        simulate("--until-done", "--watch")


# --- every labeler at once ----------------------------------------------------------------------------------


@pytest.fixture
def server(test_database_url, artifacts_dir):
    log_path = artifacts_dir / "simulate-labelers-server.log"
    log_path.unlink(missing_ok=True)
    process = AsgiServer(django_env(test_database_url), log_path).start()
    yield process
    process.stop()


def test_forty_labelers_fill_a_job_needing_35_responses_per_datapoint(server, requester):
    """All 40 work at once; the first to answer every datapoint give way to
    the others (the old command ran 16 at a time, which stayed on the job,
    and it stalled at 16 responses per datapoint)."""
    job = factories.draw_job(requester, global_audience(), datapoints=4, responses=35)
    summary = simulate(
        "--audience",
        "global",
        "--job",
        job.public_id,
        "--labelers",
        "40",
        "--until-done",
        "--timeout",
        "120",
        "--base-url",
        server.url,
        "--quiet",
    )
    job.refresh_from_db()
    assert job.state == Job.State.COMPLETED, summary
    assert_exact_counts(job, 35)  # exactly 35 per datapoint, nobody twice on one
    assert Response.objects.filter(job=job).values("labeler").distinct().count() >= 35
    assert count(summary, r"answers: (\d+)") == 140
    assert count(summary, r"errors: (\d+)") == 0
    assert f"jobs completed: 1 of 1 served\n    {job.public_id} 'Blue books'" in summary
    assert "Traceback" not in server.log()


def test_until_done_says_when_the_labelers_are_too_few(server, requester):
    """Two labelers cannot give three responses per datapoint: once both
    answered every datapoint the command says so, rather than waiting for
    its timeout."""
    job = factories.draw_job(requester, global_audience(), datapoints=2, responses=3)
    started = time.monotonic()
    with pytest.raises(CommandError, match=re.escape(f"job(s) {job.public_id} still need answers: run more")):
        simulate(
            "--job",
            job.public_id,
            "--labelers",
            "2",
            "--until-done",
            "--timeout",
            "120",
            "--base-url",
            server.url,
            "--quiet",
        )
    assert time.monotonic() - started < 60
    assert Response.objects.filter(job=job).count() == 4


# --- a flaky server -----------------------------------------------------------------------------------------


class FlakyProxy:
    """An HTTP proxy to ``target`` that answers the first requests badly:
    503 (four), a connection closed without a reply (four), 429 with
    ``Retry-After: 0.1`` (two); after that it forwards each request but
    replaces the reply to every fifth answer by a 502 (the answer stored, its
    reply lost). A submit sent again is not a new answer: its reply always
    comes through."""

    def __init__(self, target: str) -> None:
        self.client = httpx.Client(base_url=target, timeout=30)
        self.lock = threading.Lock()
        self.requests = self.submits = self.lost_replies = 0
        self.submitted: set[str] = set()  # paths of the submits forwarded
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                self._handle("GET")

            def do_POST(self) -> None:
                self._handle("POST")

            def _reply(self, status: int, body: bytes, headers: dict | None = None) -> None:
                self.send_response(status)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _handle(self, method: str) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with proxy.lock:
                    proxy.requests += 1
                    number = proxy.requests
                    answer = number > 10 and self.path.endswith("/submit/") and self.path not in proxy.submitted
                    if answer:
                        proxy.submitted.add(self.path)
                        proxy.submits += 1
                    lose = answer and proxy.submits % 5 == 0
                if number <= 4:
                    return self._reply(503, b'{"detail": "unavailable"}', {"Content-Type": "application/json"})
                if number <= 8:
                    self.close_connection = True  # no reply at all
                    return None
                if number <= 10:
                    return self._reply(
                        429,
                        b'{"detail": "slow down", "code": "rate_limited"}',
                        {"Content-Type": "application/json", "Retry-After": "0.1"},
                    )
                headers = {
                    name: value
                    for name, value in self.headers.items()
                    if name.lower() in {"authorization", "content-type"}
                }
                upstream = proxy.client.request(method, self.path, content=body, headers=headers)
                if lose:
                    with proxy.lock:
                        proxy.lost_replies += 1
                    return self._reply(502, b"bad gateway", {"Content-Type": "text/plain"})
                return self._reply(
                    upstream.status_code,
                    upstream.content,
                    {"Content-Type": upstream.headers.get("Content-Type", "application/json")},
                )

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> FlakyProxy:
        self.thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.client.close()


def test_5xx_dropped_connections_and_429_are_waited_out_and_counted(server, requester):
    job = factories.draw_job(requester, global_audience(), datapoints=4, responses=3)
    with FlakyProxy(server.url) as proxy:
        summary = simulate(
            "--job",
            job.public_id,
            "--labelers",
            "4",
            "--until-done",
            "--timeout",
            "90",
            "--base-url",
            proxy.url,
            "--quiet",
        )
    job.refresh_from_db()
    assert job.state == Job.State.COMPLETED, summary
    assert_exact_counts(job, 3)
    assert proxy.lost_replies >= 2  # of 12 answers, every fifth reply lost
    # 503s and dropped connections, and each lost reply, sent again; what was stored is refused as answered.
    assert count(summary, r"retries: (\d+)") == 8 + proxy.lost_replies
    assert count(summary, r"waited out 429: (\d+)") == 2
    assert count(summary, r"409: (\d+)") >= proxy.lost_replies
    assert count(summary, r"answers: (\d+)") == 12 - proxy.lost_replies  # acknowledged ones
    assert count(summary, r"errors: (\d+)") == 0


# --- a crowd watching -----------------------------------------------------------------------------------------


def test_watch_times_out_with_a_summary(db):
    global_audience()
    started = time.monotonic()
    summary = simulate("--watch", "--labelers", "2", "--timeout", "1.5", "--base-url", "http://127.0.0.1:9")
    assert 1.5 <= time.monotonic() - started < 30
    assert "watching every audience with 2 labelers" in summary
    assert "simulate_labelers timed out after" in summary and "jobs completed: 0 of 0 served" in summary


@pytest.fixture
def serve(test_database_url, artifacts_dir):
    """Starts a server with extra settings (environment variables)."""
    started = []

    def start(**settings: str) -> AsgiServer:
        log_path = artifacts_dir / f"simulate-labelers-server-{len(started)}.log"
        log_path.unlink(missing_ok=True)
        started.append(AsgiServer(django_env(test_database_url, **settings), log_path).start())
        return started[-1]

    yield start
    for process in started:
        process.stop()


def test_a_stop_ends_the_wait_for_a_rate_limit(serve, requester):
    """Labelers who used up their writes wait the 429's Retry-After (up to a
    minute); a stop ends that wait at once."""
    server = serve(SUBMIT_RATE="10/min")
    job = factories.draw_job(requester, global_audience(), datapoints=50, responses=3)
    started = time.monotonic()
    summary = simulate("--watch", "--labelers", "3", "--timeout", "3", "--base-url", server.url, "--quiet")
    assert time.monotonic() - started < 20
    assert count(summary, r"waited out 429: (\d+)") >= 3
    assert count(summary, r"answers: (\d+)") == Response.objects.filter(job=job).count() <= 30
    assert count(summary, r"errors: (\d+)") == 0


def test_watch_serves_jobs_created_after_it_started_until_stopped(server, requester, test_database_url, artifacts_dir):
    log_path = artifacts_dir / "simulate-labelers-watch.log"
    log_path.unlink(missing_ok=True)
    crowd = ManagedProcess(
        [
            PYTHON,
            "manage.py",
            "simulate_labelers",
            "--watch",
            "--labelers",
            "12",
            "--accuracy",
            "1",
            "--base-url",
            server.url,
            "--timeout",
            "240",
            "--progress",
            "2",
            "--poll",
            "0.5",
        ],
        django_env(test_database_url),
        log_path,
    ).start()
    try:
        wait_until(lambda: "watching every audience" in crowd.log(), 60, "the crowd watching", crowd.log)
        on_global = factories.draw_job(requester, global_audience(), datapoints=3, responses=5)
        audience = factories.draw_audience(requester, examples=4, name="Blue book spotters")
        on_custom = factories.draw_job(requester, audience, datapoints=3, responses=5)
        jobs = [on_global, on_custom]

        def completed() -> bool:
            return all(Job.objects.get(pk=job.pk).state == Job.State.COMPLETED for job in jobs)

        wait_until(completed, 120, "both jobs completed", lambda: crowd.log() + server.log())
        crowd.stop(signal.SIGINT)  # Ctrl-C: a clean stop (SIGTERM takes the same way)
        assert crowd.process.returncode == 0, crowd.log()
    finally:
        crowd.stop()
    log = crowd.log()
    for job in jobs:
        job.refresh_from_db()
        assert_exact_counts(job, 5)
        assert f"serving job {job.public_id} 'Blue books'" in log
        assert f"completed job {job.public_id} 'Blue books'" in log
    summary = log[log.index("simulate_labelers stopped after") :]
    assert count(summary, r"answers: (\d+)") >= 30  # and quality checks
    assert count(summary, r"errors: (\d+)") == 0
    graduated = Membership.objects.filter(audience=audience, state=Membership.State.GRADUATED).count()
    assert graduated >= 5  # 15 answers, at most 3 each
    assert f"audience {audience.public_id} 'Blue book spotters': {graduated} qualified, 0 dropped" in summary
    assert "jobs completed: 2 of 2 served" in summary
    assert f"    {on_global.public_id} 'Blue books'\n    {on_custom.public_id} 'Blue books'" in summary
    assert re.search(r"\[\d+s\] \d+ jobs running", log)  # progress lines
    assert "Traceback" not in log and "Traceback" not in server.log()


def test_a_stopped_crowd_gives_its_tasks_in_hand_back(server, requester):
    """Stopped mid-job, each labeler releases the task it holds, as a closed
    page does: the datapoints are served again at once, not when the leases
    run out."""
    from jobs.models import Lease
    from tests.factories import miscounted_leases

    job = factories.draw_job(requester, global_audience(), datapoints=100, responses=3)
    summary = simulate("--watch", "--labelers", "4", "--timeout", "2", "--base-url", server.url, "--quiet")
    assert count(summary, r"answers: (\d+)") == Response.objects.filter(job=job).count() > 0
    assert not Job.objects.get(pk=job.pk).state == Job.State.COMPLETED
    assert Lease.objects.filter(job=job, status=Lease.Status.ACTIVE).count() == 0
    assert Lease.objects.filter(job=job, status=Lease.Status.RELEASED).count() == 4
    assert miscounted_leases(job) == {}
