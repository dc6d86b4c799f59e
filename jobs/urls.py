"""Requester REST API routes of this app (mounted under /api/)."""

from django.urls import path

from . import api

app_name = "jobs"
urlpatterns = [
    path("assets/", api.AssetUploadApi.as_view(), name="asset-upload"),
    path("assets/fetch/", api.AssetFetchApi.as_view(), name="asset-fetch"),
    path("job-definitions/", api.JobDefinitionListApi.as_view(), name="job-definition-list"),
    path("job-definitions/<slug:definition_id>/", api.JobDefinitionDetailApi.as_view(), name="job-definition-detail"),
    path(
        "job-definitions/<slug:definition_id>/datapoints/",
        api.JobDefinitionDatapointsApi.as_view(),
        name="job-definition-datapoints",
    ),
    path("jobs/", api.JobListApi.as_view(), name="job-list"),
    path("jobs/<slug:job_id>/", api.JobDetailApi.as_view(), name="job-detail"),
    path("jobs/<slug:job_id>/pause/", api.JobPauseApi.as_view(), name="job-pause"),
    path("jobs/<slug:job_id>/resume/", api.JobResumeApi.as_view(), name="job-resume"),
    path("jobs/<slug:job_id>/progress/", api.JobProgressApi.as_view(), name="job-progress"),
    path("jobs/<slug:job_id>/results/", api.JobResultsApi.as_view(), name="job-results"),
    path("jobs/<slug:job_id>/results/download/", api.JobResultsDownloadApi.as_view(), name="job-results-download"),
    path(
        "jobs/<slug:job_id>/datapoints/<int:position>/heatmap.png",
        api.JobDatapointHeatmapApi.as_view(),
        name="job-datapoint-heatmap",
    ),
]
