"""Requester REST API routes of this app (mounted under /api/)."""

from django.urls import path  # noqa: F401

app_name = "audiences"
urlpatterns: list = []
