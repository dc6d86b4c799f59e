"""URL map: admin, API (requester and labeler), schema, pages, media."""

from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from jobs.media import serve_media

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    re_path(r"^media/(?P<path>.+)$", serve_media, name="media"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("api/", include("audiences.urls")),
    path("api/", include("jobs.urls")),
    path("", include("labeling.labeler_urls")),
]
