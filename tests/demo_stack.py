"""A newcomer's first hour, scripted: the demo served on the embedded
defaults (SQLite, ``manage.py runserver``, no Redis) or on the real stack
(PostgreSQL, Redis, a Celery worker, uvicorn), a crowd of simulated
labelers beside it (``simulate_labelers --watch``), and the seed workflows
run through the client in processes of their own, as a requester would run
them from a terminal. The seeds' image hosts are served on loopback
(``tests.image_hosts``): the server fetches their URLs, as by default.

Used by ``tests/test_first_hour.py`` and ``bench/seed_run.py``.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from tests.image_hosts import LocalImageHosts
from tests.stack import (
    PYTHON,
    ROOT,
    AsgiServer,
    CeleryWorker,
    ManagedProcess,
    PostgresServer,
    RedisServer,
    django_env,
    free_port,
    wait_for_port,
)

# A request answered with a 5xx, in runserver's log (``HTTP POST /path 500 [0.01, ...]``)
# or uvicorn's access log (``"POST /path HTTP/1.1" 500``).
SERVER_ERROR = re.compile(r'(?:HTTP [A-Z]+ \S+ 5\d\d \[|" 5\d\d )')
# What the seed runner prints once a seed script has finished.
SEED_DONE = "CROWDCANVAS-SEED-DONE "

# Runs a seed script from stdin as written, then prints what it left in the
# namespace that a check needs (the seed itself prints its results).
_SEED_RUNNER = f"""
import json, sys
namespace = {{"__name__": "seed"}}
exec(compile(sys.stdin.read(), "seed", "exec"), namespace)
job = namespace.get("job")
print({SEED_DONE!r} + json.dumps({{"job": getattr(job, "id", None)}}), flush=True)
"""

# Reads, on the server's database, what a check of exactness needs.
_CENSUS = """
import json
import django
django.setup()
from django.db.models import Count
from jobs.models import Job, JobDatapoint, Response
from tests.factories import miscounted_leases
out = {}
for job in Job.objects.filter(owner__username=%r).select_related("definition"):
    slots = list(JobDatapoint.objects.filter(job=job).order_by("position"))
    twice = (Response.objects.filter(job=job).values("job_datapoint", "labeler")
             .annotate(n=Count("id")).filter(n__gt=1).count())
    stored = dict(Response.objects.filter(job=job).values_list("job_datapoint").annotate(n=Count("id")))
    out[job.public_id] = {
        "name": job.definition.name,
        "state": job.state,
        "needed": job.definition.responses_per_datapoint,
        "responses": [stored.get(slot.pk, 0) for slot in slots],
        "counted": [slot.response_count for slot in slots],
        "twice": twice,
        "miscounted_leases": len(miscounted_leases(job)),
    }
print(json.dumps(out))
"""


@dataclass
class SeedRun:
    code: str
    process: subprocess.Popen
    started: float
    log_path: Path
    finished: float | None = None

    def wait(self, timeout: float) -> SeedRun:
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)
            raise TimeoutError(f"seed did not finish in {timeout:g}s:\n{self.output()[-3000:]}") from None
        self.finished = time.monotonic()
        return self

    @property
    def seconds(self) -> float:
        return (self.finished or time.monotonic()) - self.started

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    @property
    def job_id(self) -> str | None:
        for line in self.output().splitlines():
            if line.startswith(SEED_DONE):
                return json.loads(line[len(SEED_DONE) :])["job"]
        return None


class Demo:
    """The demo, served on ``stack`` ("embedded" or "real") from ``workdir``.

    Embedded: what ``make demo`` runs (``DEBUG=1``, SQLite under
    ``workdir``, ``runserver``, tasks run in the server process). Real:
    PostgreSQL (``database_url``, or a cluster of its own), Redis, one
    Celery worker and uvicorn with its access log."""

    def __init__(
        self,
        workdir: Path,
        *,
        stack: str = "embedded",
        database_url: str | None = None,
        seed_demo: bool = False,
        **settings: str,
    ) -> None:
        if stack not in ("embedded", "real"):
            raise ValueError(f"stack must be 'embedded' or 'real', not {stack!r}")
        self.workdir = Path(workdir)
        self.stack = stack
        self.seed_demo = seed_demo
        self.port = free_port()
        self.processes: list[ManagedProcess] = []
        self.postgres: PostgresServer | None = None
        self.redis: RedisServer | None = None
        self.server: ManagedProcess | None = None
        self._database_url = database_url
        self._settings = settings
        self.image_hosts = LocalImageHosts(self.workdir / "image-hosts")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _env(self) -> dict[str, str]:
        var = self.workdir / "var"
        extra = {
            "CROWDCANVAS_VAR_DIR": str(var),
            "MEDIA_ROOT": str(var / "media"),
            **self.image_hosts.env,
            **self._settings,
        }
        if self.stack == "embedded":
            return django_env(None, DEBUG="1", SQLITE_PATH=str(self.workdir / "demo.sqlite3"), **extra)
        return django_env(self._database_url, self.redis.url, **extra)

    def manage(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
        done = subprocess.run(
            [PYTHON, "manage.py", *args], cwd=ROOT, env=self._env(), capture_output=True, text=True, timeout=timeout
        )
        if done.returncode != 0:
            raise RuntimeError(f"manage.py {' '.join(args)} exited {done.returncode}:\n{done.stderr[-3000:]}")
        return done

    def start(self) -> Demo:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.image_hosts.__enter__()
        if self.stack == "real":
            if self._database_url is None:
                self.postgres = PostgresServer().start()
                self._database_url = self.postgres.url()
            self.redis = RedisServer().start()
        self.manage("migrate", "--no-input")
        if self.seed_demo:
            self.manage("seed_demo")
        logs = self.workdir / "logs"
        if self.stack == "embedded":
            self.server = ManagedProcess(
                [PYTHON, "manage.py", "runserver", "--noreload", f"127.0.0.1:{self.port}"],
                self._env(),
                logs / "server.log",
            ).start()
            wait_for_port(self.port, timeout=60, process=self.server.process)
        else:
            self.processes.append(CeleryWorker(self._env(), logs / "worker.log").start().wait_ready())
            self.server = AsgiServer(self._env(), logs / "server.log", port=self.port)
            self.server.args.remove("--no-access-log")
            self.server.start()
        self.processes.append(self.server)
        return self

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.stop()
        self.processes.clear()
        if self.redis is not None:
            self.redis.close()
        if self.postgres is not None:
            self.postgres.stop()
        self.image_hosts.__exit__(None, None, None)

    def __enter__(self) -> Demo:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    # --- what a newcomer does beside it ---

    def requester_token(self, name: str) -> str:
        return self.manage("create_requester", name).stdout.strip().splitlines()[-1]

    def crowd(
        self, *, labelers: int = 40, accuracy: float = 0.95, timeout: float = 900, extra: tuple[str, ...] = ()
    ) -> ManagedProcess:
        """``simulate_labelers --watch``: labelers serving every running job
        as it appears, until stopped."""
        crowd = ManagedProcess(
            [
                PYTHON,
                "manage.py",
                "simulate_labelers",
                "--watch",
                "--labelers",
                str(labelers),
                "--accuracy",
                str(accuracy),
                "--base-url",
                self.url,
                "--timeout",
                str(timeout),
                *extra,
            ],
            self._env(),
            self.workdir / "logs" / "crowd.log",
        ).start()
        self.processes.insert(0, crowd)  # stopped before the server
        return crowd

    @staticmethod
    def wait_watching(crowd: ManagedProcess, timeout: float = 120) -> None:
        """Until the crowd's labelers exist and it watches for jobs."""
        deadline = time.monotonic() + timeout
        while "watching" not in crowd.log():
            if crowd.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the crowd is not watching:\n{crowd.log()[-3000:]}")
            time.sleep(0.2)

    def run_seed(self, code: str, token: str, name: str) -> SeedRun:
        """Start a seed script in a process of its own, with the client's
        credentials in its environment (as the README tells a requester)."""
        env = {
            key: value
            for key, value in os.environ.items()
            if key not in ("DISPLAY", "WAYLAND_DISPLAY", "DATABASE_URL", "DJANGO_SETTINGS_MODULE")
        }
        home = self.workdir / "home" / name
        home.mkdir(parents=True, exist_ok=True)
        env.update(
            CROWDCANVAS_URL=self.url,
            CROWDCANVAS_TOKEN=token,
            XDG_CONFIG_HOME=str(home),
            BROWSER="true",
            PYTHONUNBUFFERED="1",
            PYTHONPATH=str(ROOT),
        )
        log_path = self.workdir / "logs" / f"seed-{name}.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(log_path, "wb") as log:
            process = subprocess.Popen(
                [PYTHON, "-c", _SEED_RUNNER],
                cwd=self.workdir,
                env=env,
                stdin=subprocess.PIPE,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        process.stdin.write(code.encode())
        process.stdin.close()
        return SeedRun(code=code, process=process, started=time.monotonic(), log_path=log_path)

    def census(self, requester: str) -> dict[str, dict]:
        """Per job of ``requester``: its name and state, responses per
        datapoint (stored and counted), answers given twice by one labeler,
        datapoints whose count of active leases is off."""
        return json.loads(self.django(_CENSUS % (requester,)).strip().splitlines()[-1])

    def django(self, code: str, timeout: float = 300) -> str:
        """Run ``code`` (which calls ``django.setup()``) in a process of its
        own on the demo's database and settings; what it printed."""
        result = subprocess.run(
            [PYTHON, "-c", code],
            cwd=ROOT,
            env={**self._env(), "DJANGO_SETTINGS_MODULE": "config.settings"},
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if result.returncode != 0:
            raise RuntimeError(f"script exited {result.returncode}:\n{result.stderr[-3000:]}")
        return result.stdout

    def server_errors(self) -> list[str]:
        """Lines of the server's log that record a 5xx reply or a traceback."""
        log = self.server.log() if self.server else ""
        return [line for line in log.splitlines() if SERVER_ERROR.search(line) or "Traceback" in line]
