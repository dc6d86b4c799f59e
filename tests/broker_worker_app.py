"""A Celery app with the project's broker settings and one slow task, for the
broker-outage test (``tests/test_broker.py``): aggregation tasks finish too
fast to be caught running when Redis goes away."""

import os
import time
from pathlib import Path

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("broker-test")
app.config_from_object("django.conf:settings", namespace="CELERY")


@app.task
def nap(seconds: float, log: str, name: str) -> None:
    """Append ``<name> started`` to ``log``, sleep, append ``<name> done``."""
    with Path(log).open("a") as out:
        out.write(f"{name} started\n")
    time.sleep(seconds)
    with Path(log).open("a") as out:
        out.write(f"{name} done\n")
