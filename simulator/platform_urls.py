"""Token endpoint, Connect pages and management API.

Mounted at /simulator/: oauth/token, connect/oauth/authorize, management/v2.0/management/connections.
"""

from django.urls import path, re_path

from simulator import management, oauth

urlpatterns = [
    path("oauth/token", oauth.token, name="simulator_oauth_token"),
    # The official SDKs add a trailing slash to this path; Smartcar's documentation does not.
    re_path(
        r"^management/v2\.0/management/connections/?$", management.connections, name="simulator_management_connections"
    ),
]
