"""A fleet manager's first session, in a real browser: sign in, connect simulated vehicles, watch, act."""

import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from simulator.models import Vehicle as SimulatedVehicle
from tests.dashboard.conftest import sync_rounds
from tests.e2e.conftest import HISTORY, PASSWORD
from vehicles.models import Vehicle, VehicleStatus

pytestmark = pytest.mark.e2e


def _inject_dtc(vehicle: Vehicle, code: str) -> None:
    """The simulated car reports a trouble code (as its world would, some day)."""
    from simulator import clock
    from simulator.models import Vehicle as SimulatedVehicle

    simulated = SimulatedVehicle.objects.get(vehicle_id=vehicle.smartcar_id)
    simulated.state["dtcs"] = [{"code": code, "timestamp": clock.now().isoformat().replace("+00:00", "Z")}]
    simulated.save(update_fields=["state"])


def test_a_manager_connects_watches_and_acts(page, live_server, fleet_owner, simulated_clock):
    user, fleet = fleet_owner
    # Nothing the pages do may trip the Content-Security-Policy or fail in the browser.
    problems = []
    page.on("console", lambda message: message.type == "error" and problems.append(message.text))
    page.on("pageerror", lambda error: problems.append(str(error)))

    # Sign in.
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=login]", user.email)
    page.fill("input[name=password]", PASSWORD)
    page.click("form button[type=submit]")
    expect(page.get_by_role("heading", name="No vehicles yet")).to_be_visible()

    # Connect simulated vehicles through the simulator's Connect pages.
    page.get_by_role("button", name="Connect vehicles").first.click()
    page.fill("input[name=email]", "12-vehicles@e2e.example")
    page.click("button[value=sign_in]")
    page.click("button[value=approve]")
    expect(page.locator(".message")).to_contain_text("12 vehicles connected")

    # The background sync reads them as the hours pass (workers' rounds); then a trouble code appears.
    vehicles = list(Vehicle.objects.filter(fleet=fleet))
    rounds = 2
    sync_rounds(vehicles, simulated_clock, rounds=rounds, step=HISTORY / (rounds - 1))
    simulated_clock.pin(timezone.now())
    chevrolet = next(v for v in vehicles if v.make == "CHEVROLET")
    _inject_dtc(chevrolet, "P0420")
    sync_rounds(vehicles, simulated_clock, rounds=1, step=None)
    page.goto(f"{live_server.url}/fleets/{fleet.slug}/")
    expect(page.locator(".tile").first).to_contain_text("12")
    expect(page.locator("table.vehicles tbody tr")).to_have_count(12)
    expect(page.locator("table.vehicles tbody tr").first).to_contain_text(re.compile(r"just now|min ago"))

    # A tile filters the table in place.
    page.locator(".tile", has_text="Needs attention").click()
    expect(page).to_have_url(re.compile(r"state=attention"))
    expect(page.locator("table.vehicles")).to_contain_text(chevrolet.display_name)

    # Open a vehicle and lock it; the command goes queued → sending → done, is read back, and the security panel
    # shows the vehicle's new state without a reload.
    ford = next(v for v in vehicles if v.make == "FORD")
    simulated_ford = SimulatedVehicle.objects.get(vehicle_id=ford.smartcar_id)
    simulated_ford.state["locked"] = False
    simulated_ford.save(update_fields=["state"])
    VehicleStatus.objects.filter(vehicle=ford).update(is_locked=False)
    page.goto(f"{live_server.url}/fleets/{fleet.slug}/")
    page.get_by_role("link", name=ford.display_name).first.click()
    expect(page.get_by_role("heading", name=ford.display_name)).to_be_visible()
    expect(page.locator("#group-energy")).to_be_visible()
    expect(page.locator("#group-security")).to_contain_text("Unlocked")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("button[data-command=lock]")
    row = page.locator("#command-log tr").first
    expect(row).to_contain_text("Lock")
    expect(row).to_contain_text("Locked confirmed", timeout=20_000)
    expect(page.locator("#group-security")).to_contain_text("Locked")
    page.reload()
    expect(page.locator("#command-log")).to_contain_text(user.email)

    # The trouble code is on the diagnostics board; acknowledge it with a note.
    page.get_by_role("link", name="Diagnostics").first.click()
    board_row = page.locator("table.board tr", has_text="P0420")
    expect(board_row).to_contain_text("Catalyst system efficiency below threshold")
    board_row.locator("input[name=note]").fill("Booked at the dealer on Friday")
    board_row.get_by_role("button", name="Acknowledge").click()
    expect(page.locator("table.board tr", has_text="P0420")).to_contain_text("Booked at the dealer on Friday")
    expect(page.locator("table.board tr", has_text="P0420")).to_contain_text(user.email)
    assert problems == []
