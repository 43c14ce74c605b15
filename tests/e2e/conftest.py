"""Browser tests: Debian's Chromium driven headless through Playwright's Python package, against the live server.

No browser is ever downloaded: Playwright launches the system executable (``make test`` installs it where it runs
as root on Debian). Where Chromium is missing the tests are skipped locally and fail on CI (tests/conftest.py).
"""

import os
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connections
from django.utils import timezone

from tests.conftest import make_user, require_service

CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PASSWORD = "correct horse battery"


@pytest.fixture
def browser_settings(settings, live_server):
    """The live server as the Connect redirect URI; cookies over plain http on loopback."""
    settings.SMARTCAR_REDIRECT_URI = f"{live_server.url}/connect/callback/"
    settings.SESSION_COOKIE_SECURE = False
    settings.CSRF_COOKIE_SECURE = False
    return settings


# Simulated hours the test lets pass before the manager looks: a whole day when taking the README's screenshots, so
# that the charts and the map show a day of driving and charging.
HISTORY = timedelta(hours=24 if os.environ.get("FLEET_SCREENSHOTS") else 6)


@pytest.fixture
def simulated_clock(transactional_db):
    """Simulated time starts HISTORY ago and moves only when the test moves it (no code clears itself mid-test)."""
    from simulator import clock

    clock.pin(timezone.now() - HISTORY)
    yield clock
    clock.unpin()


@pytest.fixture
def chromium(browser_settings, monkeypatch):
    """Chromium, headless; contexts (a member's cookies, a screen size) are the test's to open."""
    require_service(CHROMIUM.exists(), f"Chromium at {CHROMIUM}")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop in this thread; the test's own ORM calls are still synchronous.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()
        # Inside Playwright's context the test's ORM calls got database connections of their own (asgiref keys
        # them by context, and an event loop was current): close them here, or the test database cannot be dropped.
        connections.close_all()


@pytest.fixture
def page(chromium):
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    yield context.new_page()
    context.close()


@pytest.fixture
def fleet_owner(transactional_db):
    from fleet.services import fleet_create

    user = make_user("owner@e2e.example", PASSWORD)
    fleet = fleet_create(name="Acme Logistics", owner=user, time_zone="Europe/Berlin")
    return user, fleet


PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


@dataclass
class DemoFleet:
    fleet: object
    owner: object
    manager: object
    viewer: object
    vehicles: list


def _report_trouble_codes(vehicles, codes: list[str]) -> None:
    """The simulated GM cars report trouble codes (as their world would, some day)."""
    from simulator import clock
    from simulator.models import Vehicle as SimulatedVehicle

    now = clock.now().isoformat().replace("+00:00", "Z")
    for vehicle in vehicles:
        if vehicle.make in ("CHEVROLET", "CADILLAC"):
            simulated = SimulatedVehicle.objects.get(vehicle_id=vehicle.smartcar_id)
            simulated.state["dtcs"] = [{"code": code, "timestamp": now} for code in codes]
            simulated.save(update_fields=["state"])


@pytest.fixture
def demo_fleet(browser_settings, simulated_clock) -> DemoFleet:
    """A fleet like the demo's: its owner, a manager and a viewer; a dozen simulated vehicles of every make connected
    through Connect and read over a few simulated hours; trouble codes on the GM cars."""
    from django.test import Client

    from fleet.models import Membership, Role
    from fleet.services import fleet_create
    from simulator.platform import ensure_default_application
    from tests.dashboard.conftest import connect_simulated, sync_rounds
    from vehicles.models import VehicleGroup

    ensure_default_application()
    owner = make_user("owner@e2e.example", PASSWORD)
    fleet = fleet_create(name="Demo Fleet", owner=owner, time_zone="America/New_York")
    manager = make_user("manager@e2e.example", PASSWORD)
    viewer = make_user("viewer@e2e.example", PASSWORD)
    Membership.objects.create(user=manager, fleet=fleet, role=Role.MANAGER)
    Membership.objects.create(user=viewer, fleet=fleet, role=Role.VIEWER)
    client = Client()
    client.force_login(owner)
    vehicles = connect_simulated(client, fleet, "12-vehicles@demo.fleet")
    rounds = 49 if os.environ.get("FLEET_SCREENSHOTS") else 3  # for the screenshots, a reading every half hour
    sync_rounds(vehicles, simulated_clock, rounds=rounds, step=HISTORY / (rounds - 1))
    simulated_clock.pin(timezone.now())
    _report_trouble_codes(vehicles, ["P0420", "P0171"])
    sync_rounds(vehicles, simulated_clock, rounds=1, step=None)
    VehicleGroup.objects.create(fleet=fleet, name="Depot North").vehicles.add(*vehicles[:4])
    return DemoFleet(fleet=fleet, owner=owner, manager=manager, viewer=viewer, vehicles=vehicles)


def sign_in(page, live_server, user) -> None:
    """Signs ``user`` in through the sign-in page (a fresh browser context has no session)."""
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=login]", user.email)
    page.fill("input[name=password]", PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_url(lambda url: "/accounts/login/" not in url)
