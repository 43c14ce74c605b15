"""In a real browser: a manager edits a Ford location schedule, a Nissan schedule and a Tesla schedule (htmx inline);
the charge control's buttons read as separate rows."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from charging import services
from charging.models import ChargingSession, SessionSource
from tests.charging.conftest import V2_ONLY
from tests.e2e.conftest import PASSWORD, browser_settings, chromium, page  # noqa: F401 — the e2e fixtures, reused
from vehicles.models import Command

pytestmark = pytest.mark.e2e


def sign_in(page, live_server, email):  # noqa: F811
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=login]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("form button[type=submit]")


@V2_ONLY
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

    # The fleet's charging page: one week is a table only; two weeks are drawn with the vendored chart library.
    started = timezone.now() - timedelta(days=2)
    ChargingSession.objects.create(vehicle=tesla, source=SessionSource.SYNC, started_at=started, energy_kwh=18.5)
    page.goto(f"{live_server.url}/fleets/{fleet.slug}/charging/")
    expect(page.locator("main")).to_contain_text("18.5")
    expect(page.locator("figure.chart")).to_have_count(0)
    ChargingSession.objects.create(
        vehicle=tesla, source=SessionSource.SYNC, started_at=started - timedelta(days=7), energy_kwh=9
    )
    page.goto(f"{live_server.url}/fleets/{fleet.slug}/charging/")
    expect(page.locator("figure.chart canvas")).to_be_visible()


@V2_ONLY
def test_every_refused_schedule_shows_its_error_in_place(page, live_server, owner, fleet, connected):  # noqa: F811
    """The forms answer 422 with themselves and their errors; htmx swaps them in (templates/base.html)."""
    lincoln, nissan, tesla = connected("LINCOLN"), connected("NISSAN"), connected("TESLA")
    sign_in(page, live_server, owner.email)

    def open_schedule(vehicle):
        page.goto(f"{live_server.url}/fleets/{fleet.slug}/vehicles/{vehicle.pk}/charging/")
        return page.locator("#charge-schedule")

    def save(schedule, button: str, error: str):
        with page.expect_response(lambda response: response.request.method == "POST") as answer:
            schedule.get_by_role("button", name=button).click()
        assert answer.value.status == 422
        expect(page.locator("#charge-schedule .errorlist", has_text=error)).to_be_visible()

    # Lincoln: a window that ends when it starts.
    schedule = open_schedule(lincoln)
    schedule.locator("button[name=add_weekday]").click()
    expect(schedule.locator("select[name=weekday-0-start]")).to_be_visible()
    expect(schedule.locator(".errorlist")).to_have_count(0)  # adding a row judges nothing yet
    schedule.locator("select[name=weekday-0-start]").select_option("08:00")
    schedule.locator("select[name=weekday-0-end]").select_option("08:00")
    save(schedule, "Save schedule for this location", "The window ends when it starts")

    # Lincoln: a location's charge limit below 50 %. The browser's own check (min=50) stops the form before it is
    # sent and shows its message at the field; the server's refusal is the same rule for a plain or forged POST.
    schedule = open_schedule(lincoln)
    limit = schedule.locator("input[name=limit_percent]")
    limit.fill("40")
    posts = []
    page.on("request", lambda request: posts.append(request) if request.method == "POST" else None)
    schedule.get_by_role("button", name="Save schedule for this location").click()
    expect(limit).to_be_focused()  # the browser took the manager to the field with its message
    assert limit.evaluate("input => input.validationMessage")
    assert posts == []

    # Lincoln: two weekday windows that share hours (the second row is offered free, then moved onto the first).
    schedule = open_schedule(lincoln)
    schedule.locator("button[name=add_weekday]").click()
    expect(schedule.locator("select[name=weekday-0-start]")).to_be_visible()
    schedule.locator("button[name=add_weekday]").click()
    expect(schedule.locator("select[name=weekday-1-start]")).to_be_visible()
    expect(schedule.locator(".errorlist")).to_have_count(0)
    schedule.locator("select[name=weekday-1-start]").select_option("23:00")
    schedule.locator("select[name=weekday-1-end]").select_option("01:00")
    save(schedule, "Save schedule for this location", "This window overlaps 22:00–06:00")

    # Tesla: "start charging at a time" without the time.
    schedule = open_schedule(tesla)
    schedule.locator("input[name=mode][value=START_TIME]").check()
    schedule.locator("input[name=start_time]").fill("")
    save(schedule, "Save schedule", "Enter the time charging should start.")

    # Nissan: a schedule on no day.
    schedule = open_schedule(nissan)
    schedule.locator("button[name=add_nissan]").click()
    expect(schedule.locator("input[name=nissan-0-start]")).to_be_visible()
    expect(schedule.locator(".errorlist")).to_have_count(0)
    save(schedule, "Save schedules", "Pick at least one day.")

    assert not Command.objects.exists()  # nothing was sent to any vehicle


def test_the_charge_controls_buttons_stand_apart_from_the_charge_limits(page, live_server, owner, fleet, connected):  # noqa: F811
    vehicle = connected("BMW")
    sign_in(page, live_server, owner.email)
    page.goto(f"{live_server.url}/fleets/{fleet.slug}/vehicles/{vehicle.pk}/charging/")
    limit = page.get_by_role("button", name="Set charge limit").bounding_box()
    start = page.get_by_role("button", name="Start charging").bounding_box()
    assert start["y"] - (limit["y"] + limit["height"]) >= 8


# Each labelled cell of the phone's stacked cards, with the height its label (the ::before, drawn again in a probe of
# the same style) takes and the height of the cell that holds it.
LABELS = """() => [...document.querySelectorAll('.container table tbody td[data-label]')].flatMap((cell) => {
  const style = getComputedStyle(cell, '::before');
  if (style.content === 'none' || !cell.offsetHeight) return [];
  const probe = document.createElement('div');
  const names = ['width', 'font-size', 'font-weight', 'font-family', 'line-height'];
  for (const name of names) probe.style[name] = style[name];
  probe.textContent = cell.dataset.label;
  document.body.append(probe);
  const label = probe.getBoundingClientRect().height;
  probe.remove();
  return [{label: cell.dataset.label, labelHeight: label, cellHeight: cell.getBoundingClientRect().height}];
})"""


def test_on_a_phone_a_label_on_two_lines_stays_inside_its_row(page, live_server, owner, fleet, connected):  # noqa: F811
    tesla = connected("TESLA")
    ChargingSession.objects.create(vehicle=tesla, source=SessionSource.SYNC, started_at=timezone.now(), energy_kwh=9)
    page.set_viewport_size({"width": 390, "height": 844})
    sign_in(page, live_server, owner.email)
    page.goto(f"{live_server.url}/fleets/{fleet.slug}/charging/")
    expect(page.locator("main")).to_contain_text("Per vehicle")
    cells = page.evaluate(LABELS)
    assert any(cell["label"] == "Cost (where known)" for cell in cells), cells
    assert [cell for cell in cells if cell["labelHeight"] > cell["cellHeight"] + 0.5] == []
