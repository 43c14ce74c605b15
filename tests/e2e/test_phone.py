"""On a phone (390 px wide) nothing is wider than the screen: tables are stacked cards, every button in reach."""

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from tests.e2e.conftest import PHONE, sign_in
from tests.e2e.layout import overflow, overflows

pytestmark = pytest.mark.e2e


def test_it_fits_the_overview_the_vehicle_pages_and_the_diagnostics_board(page, live_server, demo_fleet):
    page.set_viewport_size(PHONE)
    sign_in(page, live_server, demo_fleet.owner)
    slug = demo_fleet.fleet.slug
    paths = [reverse("fleet_home", args=[slug]), reverse("fleet_diagnostics", args=[slug])]
    paths += [v.get_absolute_url() for v in demo_fleet.vehicles]
    findings = overflows(page, live_server.url, paths)
    assert not findings, findings

    # The navigation folds behind a Menu button, so that the page starts with its own content.
    page.goto(live_server.url + reverse("fleet_home", args=[slug]))
    diagnostics = page.locator(".mainnav").get_by_role("link", name="Diagnostics")
    expect(diagnostics).to_be_hidden()
    page.get_by_role("button", name="Menu").click()
    expect(diagnostics).to_be_visible()
    assert not overflow(page)

    # The overview's rows are cards whose cells are labelled with their columns' names.
    cell = page.locator("table.vehicles tbody tr").first.locator("td").nth(1)
    expect(cell).to_have_attribute("data-label", "Battery / fuel")
    assert cell.evaluate("td => getComputedStyle(td, '::before').content") == '"Battery / fuel"'

    # Acknowledge is on the screen and works.
    page.goto(live_server.url + reverse("fleet_diagnostics", args=[slug]))
    row = page.locator("table.board tbody tr", has_text="P0420").first
    button = row.get_by_role("button", name="Acknowledge")
    button.scroll_into_view_if_needed()
    box = button.bounding_box()
    assert box and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], box
    row.locator("input[name=note]").fill("Booked at the dealer")
    button.click()
    expect(page.locator("table.board tbody tr", has_text="Booked at the dealer")).to_contain_text("Acknowledged")
