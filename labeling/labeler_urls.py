"""Labeler workspace: HTML pages and the JSON labeler API."""

from django.urls import path  # noqa: F401

app_name = "labeling"
urlpatterns: list = []
