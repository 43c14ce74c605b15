"""The README's screenshots (docs/screenshot-*.png), taken from a demo-like fleet after a simulated day.

Run by ``make screenshots`` (``FLEET_SCREENSHOTS=docs pytest tests/e2e/screenshots.py``); not part of ``make test``
(pytest collects only test_*.py files unless it is given one by name).
"""

import os
from pathlib import Path

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from tests.e2e.conftest import DESKTOP, PHONE, sign_in

pytestmark = pytest.mark.e2e

OUT = Path(os.environ.get("FLEET_SCREENSHOTS") or "docs")


def _settle(page) -> None:
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(500)  # charts and the map draw after load


def test_screenshots(chromium, live_server, demo_fleet):
    assert os.environ.get("FLEET_SCREENSHOTS"), "set FLEET_SCREENSHOTS to the folder the screenshots go to"
    slug = demo_fleet.fleet.slug
    # The vehicle that moved most: a track on the map and lines in the charts.
    travelled = max(demo_fleet.vehicles, key=lambda v: v.history.filter(field="latitude").count())
    shots = {
        "fleet": (DESKTOP, reverse("fleet_home", args=[slug]), True),
        "vehicle": (DESKTOP, travelled.get_absolute_url(), True),
        "diagnostics": (DESKTOP, reverse("fleet_diagnostics", args=[slug]), True),
        "map": (DESKTOP, reverse("trips_map", args=[slug]), False),
        "alerts": (DESKTOP, reverse("alerts_inbox", args=[slug]), False),
        # On a phone: what the screen shows first, as a person holding it sees it.
        "phone-fleet": (PHONE, reverse("fleet_home", args=[slug]), False),
        "phone-vehicle": (PHONE, travelled.get_absolute_url(), False),
    }
    context = chromium.new_context(viewport=DESKTOP, device_scale_factor=1)
    page = context.new_page()
    sign_in(page, live_server, demo_fleet.owner)
    expect(page.locator(".tile").first).to_be_visible()
    for name, (viewport, path, full_page) in shots.items():
        page.set_viewport_size(viewport)
        page.goto(live_server.url + path)
        _settle(page)
        page.screenshot(path=str(OUT / f"screenshot-{name}.png"), full_page=full_page)
    context.close()
