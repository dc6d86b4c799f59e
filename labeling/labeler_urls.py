"""Labeler workspace: HTML pages and the JSON labeler API."""

from django.urls import path

from . import api, views

# Named in the "labeling" namespace with the dashboard's (see the project's urls).

api_patterns = [
    path("api/labeler/home/", api.LabelerHomeView.as_view(), name="api-home"),
    path("api/labeler/heartbeat/", api.HeartbeatView.as_view(), name="api-heartbeat"),
    path(
        "api/labeler/audiences/<str:audience_id>/qualification/next/",
        api.QualificationNextView.as_view(),
        name="api-qualification-next",
    ),
    path(
        "api/labeler/audiences/<str:audience_id>/qualification/answer/",
        api.QualificationAnswerView.as_view(),
        name="api-qualification-answer",
    ),
    path("api/labeler/jobs/<str:job_id>/tasks/next/", api.TaskNextView.as_view(), name="api-task-next"),
    path("api/labeler/tasks/<str:task_id>/submit/", api.TaskSubmitView.as_view(), name="api-task-submit"),
    path("api/labeler/tasks/<str:task_id>/skip/", api.TaskSkipView.as_view(), name="api-task-skip"),
    path("api/labeler/tasks/<str:task_id>/renew/", api.TaskRenewView.as_view(), name="api-task-renew"),
    path("api/labeler/tasks/<str:task_id>/release/", api.TaskReleaseView.as_view(), name="api-task-release"),
    path(
        "api/preview/<str:definition_id>/tasks/<int:position>/", api.PreviewTaskView.as_view(), name="api-preview-task"
    ),
    path(
        "api/preview/<str:definition_id>/tasks/<int:position>/check/",
        api.PreviewCheckView.as_view(),
        name="api-preview-check",
    ),
]

page_patterns = [
    path("", views.home, name="home"),
    path("signup/", views.signup, name="signup"),
    path("audiences/<str:audience_id>/qualify/", views.qualify, name="qualify"),
    path("jobs/<str:job_id>/work/", views.work, name="work"),
    path("preview/<str:definition_id>/", views.preview, name="preview"),
]

urlpatterns = [*api_patterns, *page_patterns]
