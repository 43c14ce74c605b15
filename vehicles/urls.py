from django.urls import path

from vehicles import views, views_groups

urlpatterns = [
    path("fleets/<slug:fleet_slug>/vehicles/<int:pk>/", views.vehicle_detail, name="vehicle_detail"),
    path("fleets/<slug:fleet_slug>/vehicles/<int:pk>/commands/", views.vehicle_command, name="vehicle_command"),
    path(
        "fleets/<slug:fleet_slug>/vehicles/<int:pk>/commands/<int:command_id>/",
        views.command_status,
        name="vehicle_command_status",
    ),
    path(
        "fleets/<slug:fleet_slug>/vehicles/<int:pk>/commands/<int:command_id>/retry/",
        views.command_retry,
        name="vehicle_command_retry",
    ),
    path("fleets/<slug:fleet_slug>/vehicles/<int:pk>/sync/", views.vehicle_sync, name="vehicle_sync"),
    path("fleets/<slug:fleet_slug>/energy/", views.fleet_energy, name="fleet_energy"),
    path("fleets/<slug:fleet_slug>/vehicles/<int:pk>/groups/", views_groups.vehicle_groups, name="vehicle_groups_set"),
    path("fleets/<slug:fleet_slug>/groups/", views_groups.group_list, name="vehicle_groups"),
    path("fleets/<slug:fleet_slug>/groups/new/", views_groups.group_create, name="vehicle_group_create"),
    path("fleets/<slug:fleet_slug>/groups/<int:group_id>/", views_groups.group_detail, name="vehicle_group"),
    path(
        "fleets/<slug:fleet_slug>/groups/<int:group_id>/rename/", views_groups.group_rename, name="vehicle_group_rename"
    ),
    path(
        "fleets/<slug:fleet_slug>/groups/<int:group_id>/delete/", views_groups.group_delete, name="vehicle_group_delete"
    ),
    path(
        "fleets/<slug:fleet_slug>/groups/<int:group_id>/vehicles/",
        views_groups.group_vehicles_add,
        name="vehicle_group_add",
    ),
    path(
        "fleets/<slug:fleet_slug>/groups/<int:group_id>/vehicles/<int:vehicle_id>/remove/",
        views_groups.group_vehicle_remove,
        name="vehicle_group_remove",
    ),
]
