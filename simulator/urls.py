"""The simulated Smartcar platform, each surface under its own prefix (mounted at /simulator/)."""

from django.urls import include, path, re_path

from simulator import api
from simulator.v3 import iam, management, vehicle_api

urlpatterns = [
    path("api/v2.0/", include("simulator.api_urls")),
    # API v3 (simulator/v3/): the Vehicle API, the Management API and the application token endpoint.
    re_path(r"^vehicle/v3/(?P<path>.*)$", vehicle_api.entry, name="simulator_vehicle_api_v3"),
    re_path(r"^management-api/v3/(?P<path>.*)$", management.entry, name="simulator_management_api_v3"),
    path("iam/oauth2/token", iam.token, name="simulator_iam_token"),
    # Any other version answers the documented RESOURCE_NOT_FOUND / VERSION error.
    re_path(r"^api/(?P<version>v(?!2\.0/)[^/]+)/(?P<path>.*)$", api.unknown_version),
    path("", include("simulator.platform_urls")),
]
