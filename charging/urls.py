from django.urls import path

from charging import views

vehicle = "fleets/<slug:fleet_slug>/vehicles/<int:vehicle_id>/charging/"
fleet = "fleets/<slug:fleet_slug>/charging/"

urlpatterns = [
    path(vehicle, views.vehicle_charging, name="charging_vehicle"),
    path(vehicle + "schedule/ford/", views.ford_schedule_save, name="charging_ford_schedule"),
    path(vehicle + "schedule/nissan/", views.nissan_schedule_save, name="charging_nissan_schedule"),
    path(vehicle + "schedule/tesla/", views.tesla_schedule_save, name="charging_tesla_schedule"),
    path(vehicle + "locations/label/", views.location_label, name="charging_location_label"),
    path(vehicle + "limit/", views.charge_limit_save, name="charging_limit"),
    path(vehicle + "control/", views.charge_control, name="charging_control"),
    path(vehicle + "amperage/", views.amperage_save, name="charging_amperage"),
    path(vehicle + "changes/<int:command_id>/", views.change_status, name="charging_change_status"),
    path(vehicle + "records/", views.vehicle_records, name="charging_records"),
    path(fleet, views.fleet_charging, name="charging_fleet"),
    path(fleet + "export.csv", views.fleet_charging_csv, name="charging_fleet_csv"),
    path(fleet + "sessions/derive/", views.fleet_sessions_derive, name="charging_sessions_derive"),
    path(fleet + "bulk/", views.bulk_new, name="charging_bulk_new"),
    path(fleet + "bulk/<int:run_id>/", views.bulk_run, name="charging_bulk_run"),
]
