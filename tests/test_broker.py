"""The Celery worker survives Redis going away while it runs a task.

Real processes: a redis-server and a Celery worker with the project's broker
settings (``tests/broker_worker_app.py``)."""

import pytest
from celery import Celery

from tests import stack
from tests.waiting import wait_until

pytestmark = pytest.mark.services


def wait_for(condition, timeout: float, what: str, worker: stack.ManagedProcess) -> None:
    wait_until(condition, timeout, what=what, log=worker.log, interval=0.1)


def test_worker_keeps_running_when_redis_goes_away_during_a_task(tmp_path):
    redis_server = stack.RedisServer().start()
    tasks_log = tmp_path / "tasks.log"
    worker = stack.ManagedProcess(
        [
            stack.PYTHON,
            "-m",
            "celery",
            "-A",
            "tests.broker_worker_app",
            "worker",
            "--loglevel",
            "INFO",
            "--concurrency",
            "2",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "-n",
            f"broker-test-{stack.free_port()}@%h",
        ],
        stack.django_env(None, redis_server.url),
        tmp_path / "worker.log",
    ).start()
    # Not the process's current app: tasks looked up through it would resolve here.
    sender = Celery("broker-test-sender", broker=redis_server.url, set_as_current=False)
    try:
        wait_for(lambda: "ready." in worker.log(), 60, "the worker to start", worker)
        assert "Connected to core.broker:Transport://" in worker.log()  # the settings chose it
        running = lambda name: tasks_log.exists() and f"{name} started" in tasks_log.read_text()  # noqa: E731
        done = lambda name: tasks_log.exists() and f"{name} done" in tasks_log.read_text()  # noqa: E731

        # A task is running (unacknowledged: acks_late) and the worker has a
        # free process, so it is also waiting on Redis for the next message.
        sender.send_task("tests.broker_worker_app.nap", args=(3, str(tasks_log), "first"))
        wait_for(lambda: running("first"), 30, "the first task to start", worker)
        # And one it holds, waiting for its countdown.
        sender.send_task("tests.broker_worker_app.nap", args=(0, str(tasks_log), "delayed"), countdown=3)
        wait_for(lambda: worker.log().count("] received") == 2, 30, "the delayed task to arrive", worker)
        redis_server.stop()
        wait_for(lambda: "Connection to broker lost" in worker.log(), 30, "the worker to notice", worker)
        wait_for(lambda: done("first"), 30, "the running task to finish", worker)
        assert worker.process.poll() is None, worker.log()[-4000:]

        # Redis comes back empty (it keeps nothing on disk here): what was
        # queued is gone, as after an outage that loses data. Recovering the
        # results is the sweeper's job (test_pipeline_integration); here the
        # worker must simply be there to run what is sent next.
        redis_server.start()
        sender.send_task("tests.broker_worker_app.nap", args=(0, str(tasks_log), "second"))
        wait_for(lambda: done("second"), 60, "a task sent after Redis came back", worker)
        assert worker.process.poll() is None
        assert "Unrecoverable error" not in worker.log()
    finally:
        worker.stop()
        sender.close()
        redis_server.close()
