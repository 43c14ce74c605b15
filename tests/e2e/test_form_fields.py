"""In a real browser: form fields look alike and read well — a hint under its field, not glued to its right edge;
a date-and-time field as wide and in the same type as the fields around it."""

import pytest

from tests.charging.test_browser import sign_in
from tests.e2e.conftest import browser_settings, chromium, fleet_owner, page  # noqa: F401 — the e2e fixtures, reused

pytestmark = pytest.mark.e2e

# Each hint (the field's help text) with the box of the input, select or textarea of its field.
HINTS = """() => [...document.querySelectorAll('form .field')].flatMap((field) => {
  const input = field.querySelector('input:not([type=checkbox]):not([type=radio]), select, textarea');
  const hint = field.querySelector('.help, .helptext, small');
  if (!input || !hint) return [];
  const below = hint.getBoundingClientRect().top >= input.getBoundingClientRect().bottom;
  return [{hint: hint.innerText.trim(), below}];
})"""


@pytest.mark.parametrize("path", ["alerts/rules/", "alerts/my-emails/", "alerts/webhooks/"])
def test_the_alert_forms_hints_sit_under_their_fields(page, live_server, fleet_owner, path):  # noqa: F811
    user, fleet = fleet_owner
    sign_in(page, live_server, user.email)
    page.wait_for_url(lambda url: "/accounts/login/" not in url)
    page.goto(f"{live_server.url}/fleets/{fleet.slug}/{path}")
    hints = page.evaluate(HINTS)
    assert hints, "no field with a hint on the page"
    assert [hint["hint"] for hint in hints if not hint["below"]] == []


# The box and type of the date-and-time fields and of the vehicle list of the driver's "Give … a vehicle" form.
ASSIGN_FIELDS = """() => Object.fromEntries(['vehicle', 'starts_at', 'ends_at'].map((name) => {
  const field = document.querySelector(`form [name=${name}]`);
  const style = getComputedStyle(field);
  return [name, {width: field.getBoundingClientRect().width, font: style.fontFamily, size: style.fontSize}];
}))"""


def test_a_drivers_date_and_time_fields_look_like_the_forms_other_fields(page, live_server, fleet_owner):  # noqa: F811
    from trips.models import Driver

    user, fleet = fleet_owner
    driver = Driver.objects.create(fleet=fleet, name="Ana Lopez")
    sign_in(page, live_server, user.email)
    page.wait_for_url(lambda url: "/accounts/login/" not in url)
    page.goto(f"{live_server.url}/fleets/{fleet.slug}/drivers/{driver.pk}/")
    fields = page.evaluate(ASSIGN_FIELDS)
    assert fields["starts_at"] == fields["vehicle"]
    assert fields["ends_at"] == fields["vehicle"]
