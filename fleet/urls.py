from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from fleet import views

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("favicon.ico", views.favicon, name="favicon"),
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    path("fleets/new/", views.fleet_create, name="fleet_create"),
    path("fleets/<slug:fleet_slug>/settings/", views.fleet_settings, name="fleet_settings"),
    path("fleets/<slug:fleet_slug>/members/", views.members, name="fleet_members"),
    path("fleets/<slug:fleet_slug>/members/<int:membership_id>/role/", views.member_role, name="fleet_member_role"),
    path(
        "fleets/<slug:fleet_slug>/members/<int:membership_id>/remove/", views.member_remove, name="fleet_member_remove"
    ),
    path(
        "fleets/<slug:fleet_slug>/invitations/<int:invitation_id>/revoke/",
        views.invitation_revoke,
        name="fleet_invitation_revoke",
    ),
    path("invitations/<str:token>/", views.invitation_accept, name="invitation_accept"),
    path("", include("dashboard.urls")),
    path("", include("connect.urls")),
    path("", include("vehicles.urls")),
    path("", include("charging.urls")),
    path("", include("alerts.urls")),
    path("", include("trips.urls")),
    path("", include("maintenance.urls")),
]

if settings.SIMULATED:
    # The simulated Smartcar platform; absent (neither installed nor mounted) in live mode.
    urlpatterns.append(path("simulator/", include("simulator.urls")))
