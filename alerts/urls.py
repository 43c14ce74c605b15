from django.urls import path

from alerts import views, views_channels

urlpatterns = [
    path("fleets/<slug:fleet_slug>/alerts/", views.inbox, name="alerts_inbox"),
    path("fleets/<slug:fleet_slug>/alerts/badge/", views.badge, name="alerts_badge"),
    path("fleets/<slug:fleet_slug>/alerts/rules/", views.rules, name="alerts_rules"),
    path("fleets/<slug:fleet_slug>/alerts/rules/vehicle/", views.vehicle_rule_add, name="alerts_vehicle_rule_add"),
    path("fleets/<slug:fleet_slug>/alerts/rules/group/", views.group_rule_add, name="alerts_group_rule_add"),
    path(
        "fleets/<slug:fleet_slug>/alerts/rules/exceptions/<int:rule_id>/delete/",
        views.exception_delete,
        name="alerts_exception_delete",
    ),
    path("fleets/<slug:fleet_slug>/alerts/my-emails/", views_channels.subscription, name="alerts_subscription"),
    path("fleets/<slug:fleet_slug>/alerts/webhooks/", views_channels.endpoints, name="alerts_endpoints"),
    path(
        "fleets/<slug:fleet_slug>/alerts/webhooks/<int:endpoint_id>/",
        views_channels.endpoint_detail,
        name="alerts_endpoint",
    ),
    path(
        "fleets/<slug:fleet_slug>/alerts/webhooks/<int:endpoint_id>/<str:action>/",
        views_channels.endpoint_action,
        name="alerts_endpoint_action",
    ),
    path("fleets/<slug:fleet_slug>/alerts/<int:alert_id>/", views.detail, name="alerts_detail"),
    path("fleets/<slug:fleet_slug>/alerts/<int:alert_id>/acknowledge/", views.acknowledge, name="alerts_acknowledge"),
]
