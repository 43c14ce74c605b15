"""Token endpoint, Connect pages and management API.

Mounted at /simulator/: oauth/token, connect/oauth/authorize, management/v2.0/management/connections.
"""

from django.urls import path, re_path

from simulator import connect_views, management, oauth

urlpatterns = [
    path("oauth/token", oauth.token, name="simulator_oauth_token"),
    path("connect/oauth/authorize", connect_views.authorize, name="simulator_connect_authorize"),
    path("connect/oauth/sign-in", connect_views.sign_in, name="simulator_connect_sign_in"),
    path("connect/oauth/grant", connect_views.grant, name="simulator_connect_grant"),
    # The official SDKs add a trailing slash to this path; Smartcar's documentation does not.
    re_path(
        r"^management/v2\.0/management/connections/?$", management.connections, name="simulator_management_connections"
    ),
    re_path(r"^management/(?P<path>.*)$", management.unknown_path),
]
