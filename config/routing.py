"""Websocket routes (live progress)."""

from django.urls import path

from labeling import consumers

websocket_urlpatterns = [
    path("ws/jobs/<str:job_id>/", consumers.JobProgressConsumer.as_asgi()),
    path("ws/labeler/", consumers.LabelerWorkConsumer.as_asgi()),
]
