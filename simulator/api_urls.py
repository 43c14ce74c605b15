"""The vehicle API: /simulator/api/v2.0/… — one entry point routes every path (simulator/api.py), so
unknown paths and methods get the documented RESOURCE_NOT_FOUND body rather than Django's 404 page."""

from django.urls import re_path

from simulator import api

urlpatterns = [
    re_path(r"^(?P<path>.*)$", api.entry, name="simulator_api"),
]
