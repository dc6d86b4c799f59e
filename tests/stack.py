"""Real services for tests and benchmarks: PostgreSQL, Redis, Celery workers
and ASGI servers, each started on a free loopback port in a temporary
directory and stopped afterwards.

Used by the pytest plugin (``tests/plugin.py``), the fixtures in
``tests/conftest.py`` and the benchmarks under ``bench/``.
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import closing
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


def free_port() -> int:
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, timeout: float = 30.0, process: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode} before listening on {port}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port} after {timeout}s")


def _stop(process: subprocess.Popen | None, sig: int = signal.SIGTERM, timeout: float = 15.0) -> None:
    if process is None or process.poll() is not None:
        return
    try:
        os.killpg(process.pid, sig)
    except (ProcessLookupError, PermissionError):
        process.send_signal(sig)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait(5)


# --- PostgreSQL -------------------------------------------------------------------


def _pg_bindir() -> Path:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    if candidates:
        return Path(candidates[0]).parent
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    raise RuntimeError("PostgreSQL server binaries not found: apt-get install postgresql")


class PostgresServer:
    """A throwaway PostgreSQL cluster (trust auth on loopback, no fsync)."""

    def __init__(self, port: int | None = None, *, durable: bool = False) -> None:
        """``durable`` keeps PostgreSQL's crash-safety settings (fsync and
        synchronous commit on), as production runs it; tests turn them off."""
        self.port = port or free_port()
        self.durable = durable
        self.bindir = _pg_bindir()
        self.tmp = Path(tempfile.mkdtemp(prefix="crowdcanvas-pg-"))
        self.datadir = self.tmp / "data"
        self.user = "crowdcanvas"
        # PostgreSQL refuses to run as root; run it as the postgres account then.
        self.run_as = "postgres" if os.geteuid() == 0 else None

    def _cmd(self, *args: str) -> list[str]:
        if self.run_as:
            return ["runuser", "-u", self.run_as, "--", *args]
        return list(args)

    def start(self) -> PostgresServer:
        if self.run_as:
            shutil.chown(self.tmp, self.run_as)
            os.chmod(self.tmp, 0o755)
        subprocess.run(
            self._cmd(
                str(self.bindir / "initdb"),
                "-D",
                str(self.datadir),
                "-U",
                self.user,
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
            ),
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        options = (
            f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.tmp} "
            "-c max_connections=300 -c shared_buffers=256MB -c timezone=UTC"
        )
        if not self.durable:
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        subprocess.run(
            self._cmd(
                str(self.bindir / "pg_ctl"),
                "-D",
                str(self.datadir),
                "-o",
                options,
                "-l",
                str(self.tmp / "server.log"),
                "-w",
                "-t",
                "60",
                "start",
            ),
            check=True,
            stdout=subprocess.DEVNULL,
        )
        subprocess.run(
            self._cmd(
                str(self.bindir / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", self.user, "crowdcanvas"
            ),
            check=True,
        )
        return self

    def url(self, database: str = "crowdcanvas") -> str:
        return f"postgres://{self.user}@127.0.0.1:{self.port}/{database}"

    def stop(self) -> None:
        if self.datadir.exists():
            subprocess.run(
                self._cmd(str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-m", "immediate", "-w", "stop"),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        shutil.rmtree(self.tmp, ignore_errors=True)


# --- Redis -------------------------------------------------------------------------


class RedisServer:
    """A redis-server without persistence; ``stop()`` and ``start()`` again
    keep the same port (used by the outage tests)."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.tmp = Path(tempfile.mkdtemp(prefix="crowdcanvas-redis-"))
        self.process: subprocess.Popen | None = None
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        if not Path(binary).exists():
            raise RuntimeError("redis-server not found: apt-get install redis-server")
        self.binary = binary

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        self.process = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.tmp),
                "--save",
                "",
                "--appendonly",
                "no",
                "--protected-mode",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        wait_for_port(self.port, process=self.process)
        return self

    def stop(self) -> None:
        _stop(self.process)
        self.process = None

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)


# --- Django processes -------------------------------------------------------------------


def django_env(database_url: str | None, redis_url: str | None = None, **extra: str) -> dict[str, str]:
    """Environment for a server or worker process sharing the tests' database."""
    env = dict(os.environ)
    env.pop("DATABASE_URL", None)
    env.pop("REDIS_URL", None)
    if database_url:
        env["DATABASE_URL"] = database_url
    if redis_url:
        env["REDIS_URL"] = redis_url
    env.setdefault("DEBUG", "0")  # servers and workers under test run as deployed
    env.setdefault("SECRET_KEY", "test-secret-key-for-crowdcanvas-processes")
    env.setdefault("ALLOWED_HOSTS", "127.0.0.1,localhost")
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


class ManagedProcess:
    """A child process in its own process group, its output in a log file."""

    def __init__(self, args: list[str], env: dict[str, str], log_path: Path) -> None:
        self.args = args
        self.env = env
        self.log_path = log_path
        self.process: subprocess.Popen | None = None

    def start(self) -> ManagedProcess:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            self.args, env=self.env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        log.close()
        return self

    def stop(self, sig: int = signal.SIGTERM) -> None:
        _stop(self.process, sig)

    def kill(self) -> None:
        """SIGKILL the whole process group, as a crash would."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


class AsgiServer(ManagedProcess):
    """The ASGI app under uvicorn (``workers`` processes share the port)."""

    def __init__(self, env: dict[str, str], log_path: Path, port: int | None = None, workers: int = 1) -> None:
        self.port = port or free_port()
        args = [
            PYTHON,
            "-m",
            "uvicorn",
            "config.asgi:application",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--log-level",
            "warning",
            "--no-access-log",
        ]
        if workers > 1:
            args += ["--workers", str(workers)]
        super().__init__(args, env, log_path)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> AsgiServer:
        super().start()
        try:
            wait_for_port(self.port, timeout=60, process=self.process)
            # First request imports everything; do it before tests time anything.
            urllib.request.urlopen(self.url + "/accounts/login/", timeout=30).read()
        except Exception as exc:
            raise RuntimeError(f"ASGI server failed to start: {exc}\n{self.log()[-3000:]}") from exc
        return self


class CeleryWorker(ManagedProcess):
    def __init__(self, env: dict[str, str], log_path: Path, concurrency: int = 1, beat: bool = False) -> None:
        args = [
            PYTHON,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "--loglevel",
            "INFO",
            "--concurrency",
            str(concurrency),
            "--without-gossip",
            "--without-mingle",
            "-n",
            f"worker-{os.getpid()}-{free_port()}@%h",
        ]
        if beat:
            args.append("--beat")
            args += ["--schedule", str(log_path.with_suffix(".beat"))]
        super().__init__(args, env, log_path)

    def wait_ready(self, timeout: float = 60.0) -> CeleryWorker:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if "ready." in self.log():
                return self
            if self.process and self.process.poll() is not None:
                raise RuntimeError(f"celery worker exited:\n{self.log()[-3000:]}")
            time.sleep(0.1)
        raise TimeoutError(f"celery worker not ready:\n{self.log()[-3000:]}")
