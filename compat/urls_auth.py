"""``auth.<SERVICE_DOMAIN>``: token endpoints, then the project's own URL map."""

from django.urls import include, path

from . import auth_views

urlpatterns = [
    path("connect/token", auth_views.token, name="compat-token"),
    path("connect/userinfo", auth_views.userinfo, name="compat-userinfo"),
    path("", include("config.urls")),
]
