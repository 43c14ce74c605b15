"""In a real browser: a chart's time axis reads in the fleet's time zone, on the 24-hour clock, whatever the
browser's own zone."""

import zoneinfo
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from charging.models import ChargingSession, SessionSource
from tests.charging.test_browser import sign_in
from tests.dashboard.factories import make_account, make_vehicles
from tests.e2e.conftest import browser_settings, chromium, fleet_owner, page  # noqa: F401 — the e2e fixtures, reused

pytestmark = pytest.mark.e2e

AXIS = """() => {
  const plot = document.querySelector("figure.chart").plot;
  return {splits: plot.axes[0]._splits, values: plot.axes[0]._values.map(String)};
}"""


def test_the_charging_charts_days_begin_at_midnight_in_the_fleets_zone(page, live_server, fleet_owner):  # noqa: F811
    user, fleet = fleet_owner
    fleet.time_zone = "Asia/Tokyo"  # nine hours ahead of the browser's UTC: a day tick at UTC midnight reads 09:00
    fleet.save()
    (vehicle,) = make_vehicles(fleet, 1, account=make_account(fleet))
    for days in (2, 9, 16):
        started = timezone.now() - timedelta(days=days)
        ChargingSession.objects.create(vehicle=vehicle, source=SessionSource.SYNC, started_at=started, energy_kwh=9)

    sign_in(page, live_server, user.email)
    page.goto(f"{live_server.url}/fleets/{fleet.slug}/charging/")
    expect(page.locator("figure.chart canvas").first).to_be_visible()
    axis = page.evaluate(AXIS)

    tokyo = zoneinfo.ZoneInfo("Asia/Tokyo")
    assert axis["splits"]
    for split, label in zip(axis["splits"], axis["values"], strict=True):
        local = datetime.fromtimestamp(split, UTC).astimezone(tokyo)
        assert (local.hour, local.minute) == (0, 0), label
        assert label.split("\n")[0] == f"{local.day} {local:%b}"
    assert not any(mark in "".join(axis["values"]) for mark in ("am", "pm", "/"))
