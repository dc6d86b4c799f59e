"""``api.<SERVICE_DOMAIN>``: the compatible API at the root path, then the project's own URL map."""

from django.urls import include, path

from . import api, schema

urlpatterns = [
    path("audience", api.AudienceCreateApi.as_view(), name="compat-audience-create"),
    path("audiences", api.AudienceListApi.as_view(), name="compat-audience-list"),
    path("audience/<str:audience_id>", api.AudienceDetailApi.as_view(), name="compat-audience"),
    path(
        "audience/<str:audience_id>/user-metrics", api.AudienceUserMetricsApi.as_view(), name="compat-audience-metrics"
    ),
    path("audience/<str:audience_id>/recruit", api.AudienceRecruitApi.as_view(), name="compat-audience-recruit"),
    path("audience/<str:audience_id>/example", api.AudienceExampleApi.as_view(), name="compat-audience-example"),
    path("asset/file", api.AssetFileApi.as_view(), name="compat-asset-file"),
    path("asset/url", api.AssetUrlApi.as_view(), name="compat-asset-url"),
    path("asset/batch-upload", api.BatchUploadCreateApi.as_view(), name="compat-batch-upload"),
    path("asset/batch-upload/status", api.BatchUploadStatusApi.as_view(), name="compat-batch-status"),
    path("asset/batch-upload/<str:batch_id>", api.BatchUploadDetailApi.as_view(), name="compat-batch"),
    path("asset/batch-upload/<str:batch_id>/abort", api.BatchUploadAbortApi.as_view(), name="compat-batch-abort"),
    path("dataset", api.DatasetCreateApi.as_view(), name="compat-dataset-create"),
    path("dataset/<str:dataset_id>/datapoint", api.DatasetDatapointApi.as_view(), name="compat-datapoint"),
    path("job/definition", api.JobDefinitionCreateApi.as_view(), name="compat-definition-create"),
    path("job", api.JobCreateApi.as_view(), name="compat-job-create"),
    path("job/<str:job_id>", api.JobDetailApi.as_view(), name="compat-job"),
    path("job/<str:job_id>/progress", api.JobProgressApi.as_view(), name="compat-job-progress"),
    path("job/<str:job_id>/download-results", api.JobDownloadResultsApi.as_view(), name="compat-job-results"),
    path("job/<str:job_id>/retry", api.JobRetryApi.as_view(), name="compat-job-retry"),
    path("openapi.json", schema.openapi, name="compat-openapi"),
    path("", include("config.urls")),
]
