"""The simulated Smartcar platform, each surface under its own prefix (mounted at /simulator/)."""

from django.urls import include, path, re_path

from simulator import api

urlpatterns = [
    path("api/v2.0/", include("simulator.api_urls")),
    # Any other version answers the documented RESOURCE_NOT_FOUND / VERSION error.
    re_path(r"^api/(?P<version>v(?!2\.0/)[^/]+)/(?P<path>.*)$", api.unknown_version),
    path("", include("simulator.platform_urls")),
]
