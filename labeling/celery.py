"""The Celery application. Broker and result store come from ``REDIS_URL``;
without it tasks run in-process (see settings)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "labeling.settings")

app = Celery("crowdcanvas")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
