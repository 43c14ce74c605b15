from django.urls import path, re_path

from connect import views

urlpatterns = [
    # One URL per webhook configured in Smartcar's Dashboard; ids are UUIDs, anything else never reaches the view.
    re_path(r"^webhooks/(?P<webhook_id>[A-Za-z0-9-]{1,64})/$", views.webhook_receive, name="webhook_receive"),
    path(
        "fleets/<slug:fleet_slug>/vehicles/<int:vehicle_id>/webhooks/subscribe/",
        views.vehicle_webhooks_subscribe,
        name="vehicle_webhooks_subscribe",
    ),
    path(
        "fleets/<slug:fleet_slug>/vehicles/<int:vehicle_id>/webhooks/unsubscribe/",
        views.vehicle_webhooks_unsubscribe,
        name="vehicle_webhooks_unsubscribe",
    ),
    # The redirect URI registered with Smartcar (settings.SMARTCAR_REDIRECT_URI): one for every fleet, the fleet
    # travels in the session-bound state.
    path("connect/callback/", views.connect_callback, name="connect_callback"),
    path("fleets/<slug:fleet_slug>/connect/", views.connect_start, name="connect_start"),
    path("fleets/<slug:fleet_slug>/compatibility/", views.compatibility_check, name="compatibility_check"),
    path("fleets/<slug:fleet_slug>/compatibility/matrix/", views.compatibility_matrix, name="compatibility_matrix"),
    path("fleets/<slug:fleet_slug>/connections/", views.accounts, name="connect_accounts"),
    path("fleets/<slug:fleet_slug>/connections/smartcar/", views.connections_reconcile, name="connect_reconcile"),
    path(
        "fleets/<slug:fleet_slug>/connections/smartcar/<int:account_id>/adopt/",
        views.connection_adopt,
        name="connect_connection_adopt",
    ),
    path(
        "fleets/<slug:fleet_slug>/connections/smartcar/vehicles/<int:vehicle_id>/clean-up/",
        views.connection_clean_up,
        name="connect_connection_clean_up",
    ),
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
        "fleets/<slug:fleet_slug>/connections/vehicles/<int:vehicle_id>/reconnect/",
        views.vehicle_reconnect,
        name="connect_vehicle_reconnect",
    ),
    path(
        "fleets/<slug:fleet_slug>/connections/vehicles/<int:vehicle_id>/disconnect/",
        views.vehicle_disconnect,
        name="connect_vehicle_disconnect",
    ),
]
