from django.urls import path

from vehicles import views

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
]
