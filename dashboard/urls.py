from django.urls import path

from dashboard import diagnostics, overview

urlpatterns = [
    path("fleets/<slug:fleet_slug>/", overview.fleet_overview, name="fleet_home"),
    path("fleets/<slug:fleet_slug>/vehicles.csv", overview.fleet_overview_csv, name="fleet_overview_csv"),
    path("fleets/<slug:fleet_slug>/diagnostics/", diagnostics.diagnostics_board, name="fleet_diagnostics"),
    path(
        "fleets/<slug:fleet_slug>/diagnostics/acknowledge/",
        diagnostics.diagnostics_acknowledge,
        name="fleet_diagnostics_acknowledge",
    ),
    path(
        "fleets/<slug:fleet_slug>/diagnostics/history/",
        diagnostics.diagnostics_history,
        name="fleet_diagnostics_history",
    ),
]
