"""Requester REST API routes of this app (mounted under /api/)."""

from django.urls import path

from . import api

app_name = "audiences"
urlpatterns = [
    path("audiences/", api.AudienceListApi.as_view(), name="audience-list"),
    path("audiences/<slug:audience_id>/", api.AudienceDetailApi.as_view(), name="audience-detail"),
    path("audiences/<slug:audience_id>/examples/", api.ExampleListApi.as_view(), name="example-list"),
    path("audiences/<slug:audience_id>/examples/draw/", api.DrawExampleCreateApi.as_view(), name="example-create-draw"),
    path(
        "audiences/<slug:audience_id>/examples/compare/",
        api.CompareExampleCreateApi.as_view(),
        name="example-create-compare",
    ),
]
