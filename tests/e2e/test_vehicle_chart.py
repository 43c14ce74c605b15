"""In a real browser: the vehicle page's history charts read as times of day whatever the span of the data — a
vehicle read every few seconds (a drive followed closely, a burst of webhook events) shows "14:05:20", not ":20"."""

import zoneinfo
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from tests.charging.test_browser import sign_in
from tests.dashboard.factories import make_account, make_vehicles
from tests.e2e.conftest import browser_settings, chromium, fleet_owner, page  # noqa: F401 — the e2e fixtures, reused
from vehicles.models import StatusHistory, VehicleStatus

pytestmark = pytest.mark.e2e

AXIS = """() => {
  const plot = document.querySelector("figure.chart[data-chart=energy]").plot;
  return {splits: plot.axes[0]._splits, values: plot.axes[0]._values.map(String)};
}"""


@pytest.mark.parametrize("width", [1280, 390])
def test_sub_minute_history_labels_its_time_axis_with_the_time_of_day(page, live_server, fleet_owner, width):  # noqa: F811
    user, fleet = fleet_owner  # Europe/Berlin: an hour or two ahead of the browser's UTC
    (vehicle,) = make_vehicles(fleet, 1, account=make_account(fleet))
    end = timezone.now().replace(microsecond=0)
    VehicleStatus.objects.filter(vehicle=vehicle).update(last_success_at=end)
    for step in range(10):  # every 5 seconds for 45 seconds
        at = end - timedelta(seconds=45 - 5 * step)
        StatusHistory.objects.create(vehicle=vehicle, field="battery_percent", number=80 - step, recorded_at=at)

    page.set_viewport_size({"width": width, "height": 900})
    sign_in(page, live_server, user.email)
    page.goto(f"{live_server.url}/fleets/{fleet.slug}/vehicles/{vehicle.pk}/")
    expect(page.locator("figure.chart[data-chart=energy] canvas")).to_be_visible()
    axis = page.evaluate(AXIS)

    berlin = zoneinfo.ZoneInfo("Europe/Berlin")
    assert len(axis["splits"]) >= 2
    for split, label in zip(axis["splits"], axis["values"], strict=True):
        local = datetime.fromtimestamp(split, UTC).astimezone(berlin)
        assert label.split("\n")[0] == f"{local:%H:%M:%S}", axis
    # The day is told once, on the first tick, as on every other chart.
    first = datetime.fromtimestamp(axis["splits"][0], UTC).astimezone(berlin)
    assert axis["values"][0].split("\n")[1] == f"{first.day} {first:%b} {first.year}", axis


# The odometer chart's value axis: the room it was given and the room its widest label takes, in CSS pixels.
VALUE_AXIS = """() => {
  const plot = document.querySelector("figure.chart[data-chart=odometer]").plot;
  const axis = plot.axes[1];
  const context = document.createElement("canvas").getContext("2d");
  context.font = axis.font[0];
  const widest = Math.max(...axis._values.map((label) => context.measureText(label).width / devicePixelRatio));
  return {size: axis._size, needed: axis.ticks.size + axis.gap + widest, values: axis._values};
}"""


def test_a_six_figure_odometer_s_axis_labels_are_not_cut_off_on_a_phone(page, live_server, fleet_owner):  # noqa: F811
    user, fleet = fleet_owner
    (vehicle,) = make_vehicles(fleet, 1, account=make_account(fleet))
    end = timezone.now().replace(microsecond=0)
    VehicleStatus.objects.filter(vehicle=vehicle).update(last_success_at=end)
    for step, km in enumerate([123_400, 123_480, 123_575]):
        StatusHistory.objects.create(
            vehicle=vehicle, field="odometer_km", number=km, recorded_at=end - timedelta(hours=3 - step)
        )

    page.set_viewport_size({"width": 390, "height": 844})
    sign_in(page, live_server, user.email)
    page.goto(f"{live_server.url}/fleets/{fleet.slug}/vehicles/{vehicle.pk}/")
    expect(page.locator("figure.chart[data-chart=odometer] canvas")).to_be_visible()
    axis = page.evaluate(VALUE_AXIS)
    assert any(len(label) >= 7 for label in axis["values"]), axis  # "123,500": six figures and a separator
    assert axis["size"] >= axis["needed"], axis
