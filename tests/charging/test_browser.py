"""In a real browser: a manager edits a Ford location schedule, a Nissan schedule and a Tesla schedule (htmx inline)."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from charging import services
from charging.models import ChargingSession, SessionSource
from tests.e2e.conftest import PASSWORD, browser_settings, page  # noqa: F401 — the e2e fixtures, reused

pytestmark = pytest.mark.e2e


def sign_in(page, live_server, email):  # noqa: F811
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=login]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("form button[type=submit]")


def test_a_manager_edits_one_schedule_of_each_kind(page, live_server, owner, fleet, connected):  # noqa: F811
    ford, nissan, tesla = connected("FORD"), connected("NISSAN"), connected("TESLA")
    sign_in(page, live_server, owner.email)

    # Ford: a limit and a weekday window across midnight, added in place.
    page.goto(f"{live_server.url}/fleets/{fleet.slug}/vehicles/{ford.pk}/charging/")
    schedule = page.locator("#charge-schedule")
    schedule.locator("input[name=limit_percent]").fill("90")
    schedule.locator("button[name=add_weekday]").click()
    expect(schedule.locator("select[name=weekday-0-start]")).to_be_visible()
    schedule.locator("select[name=weekday-0-start]").select_option("21:00")
    schedule.locator("select[name=weekday-0-end]").select_option("05:00")
    schedule.get_by_role("button", name="Save schedule for this location").click()
    expect(page.locator("#charge-schedule")).to_contain_text("Done:", timeout=20_000)
    (saved,) = services.ford_schedule_read(vehicle=ford).locations
    assert (saved.charge_limit, [w.label for w in saved.weekday]) == (0.9, ["21:00–05:00"])

    # Nissan: a window in the fleet's time zone on two days.
    page.goto(f"{live_server.url}/fleets/{fleet.slug}/vehicles/{nissan.pk}/charging/")
    schedule = page.locator("#charge-schedule")
    schedule.locator("button[name=add_nissan]").click()
    expect(schedule.locator("input[name=nissan-0-start]")).to_be_visible()
    schedule.locator("input[name=nissan-0-start]").fill("23:00")
    schedule.locator("input[name=nissan-0-end]").fill("05:00")
    schedule.locator("input[name=nissan-0-days][value=TUESDAY]").check()
    schedule.locator("input[name=nissan-0-days][value=THURSDAY]").check()
    schedule.get_by_role("button", name="Save schedules").click()
    expect(page.locator("#charge-schedule")).to_contain_text("Done:", timeout=20_000)
    (stored,) = services.nissan_schedule_read(vehicle=nissan)
    offset = services.fleet_offset_minutes(fleet)
    assert services.schedules.nissan_utc_to_local(stored, offset).label == "23:00–05:00 Tue, Thu"

    # Tesla: a departure time; the one choice makes the start time off.
    page.goto(f"{live_server.url}/fleets/{fleet.slug}/vehicles/{tesla.pk}/charging/")
    schedule = page.locator("#charge-schedule")
    schedule.locator("input[name=mode][value=DEPARTURE_TIME]").check()
    schedule.locator("input[name=departure_time]").fill("07:30")
    schedule.get_by_role("button", name="Save schedule").click()
    expect(page.locator("#charge-schedule")).to_contain_text("Done:", timeout=20_000)
    stored = services.tesla_schedule_read(vehicle=tesla)
    assert (stored.mode, stored.departure_time) == ("DEPARTURE_TIME", 7 * 60 + 30)

    # The fleet's charging page draws energy per week with the vendored chart library.
    started = timezone.now() - timedelta(days=2)
    ChargingSession.objects.create(
        vehicle=tesla, source=SessionSource.SYNC, external_id="s", started_at=started, energy_kwh=18.5
    )
    page.goto(f"{live_server.url}/fleets/{fleet.slug}/charging/")
    expect(page.locator("figure.chart canvas")).to_be_visible()
    expect(page.locator("main")).to_contain_text("18.5")
