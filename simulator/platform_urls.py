"""Token endpoint, Connect pages and management API.

Mounted at /simulator/: oauth/token, connect/oauth/authorize, management/v2.0/management/connections.
"""

urlpatterns: list = []
