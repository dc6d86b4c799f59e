"""The Celery application. Broker and result store come from ``REDIS_URL``;
without it tasks run in-process (see settings).

Database connections in a worker follow the rule requests follow: around
every task, Django's ``close_old_connections`` returns a connection to the
pool (or drops it when it broke). Celery's own Django fix-up would instead
close the whole pool before and after every task, and every task would open
new PostgreSQL connections; ``CELERY_DB_REUSE_MAX`` (settings) holds it back.
"""

import gc
import os

from celery import Celery
from celery.signals import task_postrun, task_prerun, worker_process_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("crowdcanvas")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@task_prerun.connect
@task_postrun.connect
def release_old_connections(sender=None, **kwargs) -> None:
    if getattr(getattr(sender, "request", None), "is_eager", False):
        return  # in-process: the request or test that ran it owns the connection
    from django.db import close_old_connections

    close_old_connections()


@worker_process_init.connect
def freeze_startup_objects(**kwargs) -> None:
    """What a worker process loaded at start lives as long as it does: kept
    out of the collector's full passes (see config.asgi)."""
    gc.freeze()
