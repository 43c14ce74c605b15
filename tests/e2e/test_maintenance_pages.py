"""The maintenance pages in a real browser: a work order opened from a trouble code in one click, no CSP complaint
or console error, and on a phone nothing is wider than the screen."""

import os
from pathlib import Path

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from tests.e2e.conftest import PHONE, sign_in
from tests.e2e.layout import overflows

pytestmark = pytest.mark.e2e
SCREENSHOTS = os.environ.get("FLEET_SCREENSHOTS")


def test_the_maintenance_pages_work_and_fit_a_phone(page, live_server, demo_fleet):
    from datetime import date

    from maintenance.models import ServicePoint, ServiceTask, WorkOrder

    fleet, owner = demo_fleet.fleet, demo_fleet.owner
    gm = next(v for v in demo_fleet.vehicles if v.dtcs.filter(cleared_at__isnull=True).exists())
    oil = ServiceTask.objects.create(fleet=fleet, name="Oil change", every_km=15000, every_months=12, make=gm.make)
    ServicePoint.objects.create(vehicle=gm, task=oil, done_on=date(2025, 1, 15), done_km=0)  # long overdue
    tires = ServiceTask.objects.create(fleet=fleet, name="Tire check", tire_pressure_below_kpa=400, every_months=6)
    tires.vehicles.add(*demo_fleet.vehicles)  # every tire is below 400 kPa: due on every vehicle that reports them
    problems: list[str] = []
    page.on("console", lambda message: message.type == "error" and problems.append(message.text))
    page.on("pageerror", lambda error: problems.append(str(error)))
    sign_in(page, live_server, owner)

    # One click on the diagnostics board opens the code's work order.
    page.goto(live_server.url + reverse("fleet_diagnostics", args=[fleet.slug]))
    page.get_by_role("button", name="Open a work order").first.click()
    expect(page.locator(".message")).to_contain_text("opened")
    order = WorkOrder.objects.get(fleet=fleet)
    page.fill("input[name=assignee]", "North garage")
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".message")).to_contain_text("Work order saved")
    # The vehicle page loads its maintenance section.
    page.goto(live_server.url + gm.get_absolute_url())
    expect(page.locator("#maintenance-section")).to_contain_text("Oil change")

    page.goto(live_server.url + reverse("maintenance_board", args=[fleet.slug]))
    expect(page.locator("#board")).to_contain_text("North garage")
    if SCREENSHOTS:
        page.screenshot(path=str(Path(SCREENSHOTS) / "screenshot-maintenance.png"), full_page=True)
    paths = [
        reverse("maintenance_board", args=[fleet.slug]),
        reverse("maintenance_program", args=[fleet.slug]),
        reverse("maintenance_costs", args=[fleet.slug]),
        reverse("vehicle_maintenance", args=[fleet.slug, gm.pk]),
        reverse("vehicle_maintenance_history", args=[fleet.slug, gm.pk]),
        order.get_absolute_url(),
        reverse("maintenance_work_order_new", args=[fleet.slug]),
    ]
    page.set_viewport_size(PHONE)
    findings = overflows(page, live_server.url, paths)
    assert not findings, findings
    assert problems == []
