from django.urls import path

from trips import views

fleet = "fleets/<slug:fleet_slug>/"

urlpatterns = [
    path(fleet + "drivers/", views.driver_list, name="trips_drivers"),
    path(fleet + "drivers/new/", views.driver_create, name="trips_driver_create"),
    path(fleet + "drivers/<int:driver_id>/", views.driver_detail, name="trips_driver"),
    path(fleet + "drivers/<int:driver_id>/assign/", views.driver_assign, name="trips_driver_assign"),
    path(fleet + "drivers/<int:driver_id>/home/", views.driver_home, name="trips_driver_home"),
    path(fleet + "assignments/<int:assignment_id>/end/", views.assignment_end, name="trips_assignment_end"),
    path(fleet + "places/", views.place_list, name="trips_places"),
    path(fleet + "places/new/", views.place_create, name="trips_place_create"),
    path(fleet + "places/<int:place_id>/", views.place_detail, name="trips_place"),
    path(fleet + "places/<int:place_id>/delete/", views.place_delete, name="trips_place_delete"),
    path(fleet + "places/<int:place_id>/hours/", views.place_hours, name="trips_place_hours"),
    path(fleet + "vehicles/<int:vehicle_id>/trips/", views.vehicle_trips, name="trips_vehicle"),
    path(fleet + "drivers/<int:driver_id>/trips/", views.driver_trips, name="trips_driver_trips"),
    path(fleet + "trips/<int:trip_id>/purpose/", views.trip_purpose, name="trips_trip_purpose"),
    path(fleet + "tariffs/", views.tariff_list, name="trips_tariffs"),
    path(fleet + "tariffs/save/", views.tariff_save, name="trips_tariff_save"),
    path(fleet + "drivers/<int:driver_id>/statement/", views.driver_statement, name="trips_statement"),
    path(
        fleet + "drivers/<int:driver_id>/statement/issue/", views.driver_statement_issue, name="trips_statement_issue"
    ),
    path(fleet + "map/", views.fleet_map, name="trips_map"),
]
