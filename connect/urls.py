from django.urls import path

from connect import views

urlpatterns = [
    # The redirect URI registered with Smartcar (settings.SMARTCAR_REDIRECT_URI): one for every fleet, the fleet
    # travels in the session-bound state.
    path("connect/callback/", views.connect_callback, name="connect_callback"),
    path("fleets/<slug:fleet_slug>/connect/", views.connect_start, name="connect_start"),
    path("fleets/<slug:fleet_slug>/connections/", views.accounts, name="connect_accounts"),
    path(
        "fleets/<slug:fleet_slug>/connections/<int:account_id>/reconnect/",
        views.account_reconnect,
        name="connect_account_reconnect",
    ),
    path(
        "fleets/<slug:fleet_slug>/connections/<int:account_id>/disconnect/",
        views.account_disconnect,
        name="connect_account_disconnect",
    ),
    path(
        "fleets/<slug:fleet_slug>/connections/vehicles/<int:vehicle_id>/disconnect/",
        views.vehicle_disconnect,
        name="connect_vehicle_disconnect",
    ),
]
