"""In a real browser: a form field's hint reads under its field, not glued to the field's right edge."""

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
