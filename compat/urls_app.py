"""``app.<SERVICE_DOMAIN>``: the pages the client opens or prints, sent to
ours (a definition's preview, a job's dashboard page), then the project's
own URL map."""

from django.urls import include, path
from django.views.generic import RedirectView

urlpatterns = [
    path(
        "definitions/<str:definition_id>",
        RedirectView.as_view(pattern_name="labeling:preview"),
        name="compat-definition-page",
    ),
    path(
        "audiences/<str:audience_id>/job/<str:job_id>",
        RedirectView.as_view(url="/dashboard/jobs/%(job_id)s/"),
        name="compat-job-page",
    ),
    path("", include("config.urls")),
]
