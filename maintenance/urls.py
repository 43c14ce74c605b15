from django.urls import path

from maintenance import board, history, views

urlpatterns = [
    path("fleets/<slug:fleet_slug>/maintenance/costs/", history.fleet_costs, name="maintenance_costs"),
    path("fleets/<slug:fleet_slug>/maintenance/history.csv", history.history_csv, name="maintenance_history_csv"),
    path(
        "fleets/<slug:fleet_slug>/vehicles/<int:pk>/maintenance/history/",
        history.vehicle_history,
        name="vehicle_maintenance_history",
    ),
    path("fleets/<slug:fleet_slug>/maintenance/", board.board, name="maintenance_board"),
    path("fleets/<slug:fleet_slug>/maintenance/program/", views.program, name="maintenance_program"),
    path("fleets/<slug:fleet_slug>/maintenance/program/<int:pk>/", views.program_task, name="maintenance_program_task"),
    path(
        "fleets/<slug:fleet_slug>/maintenance/work-orders/new/", views.work_order_new, name="maintenance_work_order_new"
    ),
    path(
        "fleets/<slug:fleet_slug>/maintenance/work-orders/from-diagnostics/",
        views.work_order_from_diagnostic,
        name="maintenance_work_order_from_diagnostic",
    ),
    path(
        "fleets/<slug:fleet_slug>/maintenance/work-orders/<int:pk>/",
        views.work_order_detail,
        name="maintenance_work_order",
    ),
    path(
        "fleets/<slug:fleet_slug>/vehicles/<int:pk>/maintenance/", views.vehicle_maintenance, name="vehicle_maintenance"
    ),
    path(
        "fleets/<slug:fleet_slug>/vehicles/<int:pk>/maintenance/<int:task_id>/work-order/",
        views.work_order_from_service,
        name="maintenance_work_order_from_service",
    ),
]
