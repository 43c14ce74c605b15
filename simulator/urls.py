"""The simulated Smartcar platform, each surface under its own prefix (mounted at /simulator/)."""

from django.urls import include, path

urlpatterns = [
    path("api/v2.0/", include("simulator.api_urls")),
    path("", include("simulator.platform_urls")),
]
