"""URL map: admin, API (requester and labeler), schema, pages, media."""

from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from assets.media import serve_media
from compat.dashboard import client_credentials
from dashboard import urls as dashboard_urls
from labeling import auth_views, labeler_urls

# The labeler workspace and the requester dashboard share the "labeling"
# namespace, which page templates and redirects name.
PAGES = ([*labeler_urls.urlpatterns, *dashboard_urls.urlpatterns], "labeling")

urlpatterns = [
    # Logins with a limit on failed attempts, before the views they replace.
    path("admin/login/", auth_views.admin_login),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves its script from our origin: no inline script (CSP).
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    re_path(r"^media/(?P<path>.+)$", serve_media, name="media"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("dashboard/client-credentials/", client_credentials, name="dashboard-client-credentials"),
    path("api/", include("audiences.urls")),
    path("api/", include("jobs.urls")),
    path("", include(PAGES)),
]
