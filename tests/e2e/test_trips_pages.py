"""The drivers, places, map, logbook, tariffs and statement pages in a real browser: the map draws every vehicle
and the depot without a tile server and without a CSP complaint, and on a phone nothing is wider than the screen."""

import os
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.e2e.conftest import PHONE, sign_in
from tests.e2e.layout import overflows

pytestmark = pytest.mark.e2e
SCREENSHOTS = os.environ.get("FLEET_SCREENSHOTS")


def test_the_map_and_the_trips_pages_render_and_fit_a_phone(page, live_server, demo_fleet):
    from charging.models import ChargingSession
    from charging.sessions import vehicle_sessions_settle
    from trips.models import Assignment, Driver, Place, PlaceKind, Tariff
    from vehicles.models import VehicleStatus

    fleet, owner = demo_fleet.fleet, demo_fleet.owner
    for candidate in demo_fleet.vehicles:
        vehicle_sessions_settle(vehicle=candidate)
    charged = ChargingSession.objects.filter(vehicle__fleet=fleet, latitude__isnull=False, energy_kwh__gt=0).first()
    vehicle = charged.vehicle if charged else demo_fleet.vehicles[0]
    status = VehicleStatus.objects.get(vehicle=vehicle)
    where = (charged.latitude, charged.longitude) if charged else (status.latitude, status.longitude)
    depot = Place.objects.create(fleet=fleet, name="Main depot", kind=PlaceKind.DEPOT, latitude=where[0],
                                 longitude=where[1], radius_m=400)  # fmt: skip
    Tariff.objects.create(fleet=fleet, place=depot, currency="USD", price_per_kwh=Decimal("0.21"))
    driver = Driver.objects.create(fleet=fleet, name="Robin Reyes", home=depot)
    Assignment.objects.create(driver=driver, vehicle=vehicle, starts_at=timezone.now() - timedelta(days=40))
    problems: list[str] = []
    page.on("console", lambda message: message.type == "error" and problems.append(message.text))
    page.on("pageerror", lambda error: problems.append(str(error)))
    sign_in(page, live_server, owner)

    page.goto(live_server.url + reverse("trips_map", args=[fleet.slug]))
    page.wait_for_selector("#fleet-map .leaflet-interactive")
    positioned = VehicleStatus.objects.filter(vehicle__fleet=fleet, latitude__isnull=False).count()
    clusters = page.locator("#fleet-map .cluster")
    drawn = sum(int(text) for text in clusters.all_inner_texts()) + page.locator("#fleet-map path").count() - 1
    assert drawn == positioned  # every vehicle, alone or in a cluster, and the depot's circle

    statement = reverse("trips_statement", args=[fleet.slug, driver.pk])
    paths = [
        reverse("trips_map", args=[fleet.slug]),
        reverse("trips_drivers", args=[fleet.slug]),
        reverse("trips_driver", args=[fleet.slug, driver.pk]),
        reverse("trips_places", args=[fleet.slug]),
        reverse("trips_tariffs", args=[fleet.slug]),
        reverse("trips_vehicle", args=[fleet.slug, vehicle.pk]),
        statement,
        reverse("charging_fleet", args=[fleet.slug]),
    ]
    if SCREENSHOTS:
        page.goto(live_server.url + statement)
        page.screenshot(path=str(Path(SCREENSHOTS) / "screenshot-statement.png"), full_page=True)
    page.set_viewport_size(PHONE)
    findings = overflows(page, live_server.url, paths)
    assert not findings, findings
    assert problems == []
