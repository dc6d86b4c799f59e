"""The requester dashboard's pages, named in the "labeling" namespace with the
labeler workspace's (see the project's urls)."""

from django.urls import path

from . import authoring, views

urlpatterns = [
    # Before the pages below: "new" is not an audience or job id.
    *authoring.urlpatterns,
    path("dashboard/", views.index, name="dashboard"),
    path("dashboard/tokens/", views.tokens, name="dashboard-tokens"),
    path("dashboard/audiences/<str:audience_id>/", views.audience, name="dashboard-audience"),
    path("dashboard/jobs/<str:job_id>/", views.job, name="dashboard-job"),
    path("dashboard/jobs/<str:job_id>/cards/", views.job_cards, name="dashboard-job-cards"),
]
