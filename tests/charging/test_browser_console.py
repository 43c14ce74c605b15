"""In a real browser: saving a charging schedule leaves the console clean — no Content-Security-Policy violation,
no htmx error."""

import pytest
from playwright.sync_api import expect

from tests.charging.conftest import V2_ONLY
from tests.charging.test_browser import sign_in
from tests.e2e.conftest import browser_settings, chromium, page  # noqa: F401 — the e2e fixtures, reused

pytestmark = pytest.mark.e2e

VIOLATIONS = """() => {
  window.violations = [];
  document.addEventListener("securitypolicyviolation", (e) => {
    window.violations.push(`${e.violatedDirective} ${e.sourceFile}:${e.lineNumber} ${e.sample}`);
  });
}"""


@V2_ONLY
def test_saving_a_tesla_schedule_breaks_no_policy(page, live_server, owner, fleet, connected):  # noqa: F811
    tesla = connected("TESLA")
    problems = []
    page.on("console", lambda message: message.type in ("error", "warning") and problems.append(message.text))
    refused = "the server responded with a status of 422"  # the form's errors, answered as intended and shown
    page.on("pageerror", lambda error: problems.append(str(error)))
    sign_in(page, live_server, owner.email)

    page.goto(f"{live_server.url}/fleets/{fleet.slug}/vehicles/{tesla.pk}/charging/")
    schedule = page.locator("#charge-schedule")
    page.evaluate(VIOLATIONS)
    for mode, field, value in [("START_TIME", "start_time", ""), ("START_TIME", "start_time", "22:00"),
                               ("DEPARTURE_TIME", "departure_time", "07:30")]:  # fmt: skip
        schedule = page.locator("#charge-schedule")
        schedule.locator(f"input[name=mode][value={mode}]").check()
        schedule.locator(f"input[name={field}]").fill(value)
        with page.expect_response(lambda response: response.request.method == "POST"):
            schedule.get_by_role("button", name="Save schedule").click()
        outcome = "Done:" if value else "Enter the time charging should start"
        expect(page.locator("#charge-schedule")).to_contain_text(outcome, timeout=20_000)
    page.wait_for_timeout(500)
    problems += page.evaluate("() => window.violations")

    assert [problem for problem in problems if refused not in problem] == []
