"""The “Will this vehicle work?” page and the matrix browser, against the simulator's Compatibility API."""

import gc
import re

import pytest
from django.urls import reverse

from connect.permissions import permission_label
from connect.vin import vin_validate
from simulator import world
from simulator.models import SmartcarUser


@pytest.fixture
def platform(transactional_db):
    from simulator.platform import ensure_default_application

    ensure_default_application()
    yield
    gc.collect()  # closes the in-process clients' connections before the test database is dropped


@pytest.fixture
def simulated_tesla(platform):
    return world.create_vehicle(SmartcarUser.objects.create(email="vin@sim.example"), make="TESLA", seed=5)


def _check(client, fleet, **query):
    return client.get(reverse("compatibility_check", args=[fleet.slug]), query)


def test_a_compatible_vin_lists_each_capability_with_its_reason(simulated_tesla, viewer_client, fleet):
    page = _check(
        viewer_client, fleet, vin=simulated_tesla.vin, country="us", permissions=["read_battery", "read_fuel"]
    )

    html = page.content.decode()
    assert page.status_code == 200
    assert "Can connect" in html
    # Each feature in words; the permission and endpoint only behind "Details".
    assert permission_label("read_battery") in html and permission_label("read_fuel") in html
    details = re.findall(r"<details.*?</details>", html, re.S)
    assert any("<code>read_battery</code>" in d and "<code>/battery</code>" in d for d in details)
    outside = re.sub(r"<details.*?</details>", "", html, flags=re.S)
    assert "read_battery" not in outside and "/battery" not in outside
    # Tesla has no fuel tank: the capability is listed as unavailable, with the documented reason in words.
    assert "not support this feature" in html or "cannot yet support this feature" in html


def test_a_european_vin_gets_an_explanation_not_a_bare_refusal(platform, viewer_client, fleet):
    # A German VIN: outside North America position 9 is the maker's own, and Smartcar's check is for US vehicles.
    vin = "WVWZZZ1KZAW000001"
    assert vin_validate(vin) == vin  # nothing wrong with it as a VIN

    html = _check(viewer_client, fleet, vin=vin, country="US", permissions=["read_battery"]).content.decode()

    assert "The request was not valid" not in html
    assert "built for Europe" in html and "vehicles sold in the United States" in html
    assert f'href="{reverse("compatibility_matrix", args=[fleet.slug])}?region=EUROPE"' in html


def test_outside_the_us_only_the_make_is_checked(simulated_tesla, viewer_client, fleet):
    html = _check(viewer_client, fleet, vin=simulated_tesla.vin, country="DE", permissions=["read_battery"]).content

    assert b"Can connect" in html
    assert b"lists features only for vehicles sold in the United States" in html


def test_an_invalid_vin_is_refused_before_smartcar_is_asked(viewer_client, fleet, settings):
    settings.SMARTCAR_API_URL = "http://127.0.0.1:9/v2.0"  # nothing answers there: a call would show a problem

    page = _check(viewer_client, fleet, vin="1HGCM82643A004352", country="US", permissions=["read_battery"])

    html = page.content.decode()
    assert page.status_code == 200
    assert "check digit" in html
    assert "Can connect" not in html and "message error" not in html


def test_an_unreachable_api_is_told_in_plain_words(viewer_client, fleet, settings):
    settings.SMARTCAR_API_URL = "http://127.0.0.1:9/v2.0"

    page = _check(viewer_client, fleet, vin="1HGCM82633A004352", country="US", permissions=["read_battery"])

    assert "message error" in page.content.decode()


def test_the_matrix_lists_models_by_make_for_a_region_and_engine_type(platform, viewer_client, fleet):
    page = viewer_client.get(
        reverse("compatibility_matrix", args=[fleet.slug]), {"region": "US", "make": ["TESLA", "FORD"], "type": "BEV"}
    )

    html = page.content.decode()
    assert page.status_code == 200
    assert 'aria-label="Tesla"' in html and 'aria-label="Ford"' in html
    assert "<td>ICE</td>" not in html and "<td>BEV</td>" in html
    # Permissions in words, in the table and the filter; the scope names only as the filter's values.
    assert "Lock and unlock" in html and ">control_security<" not in html and "<code>" not in html


def test_the_make_filter_writes_makes_as_their_brands_do(platform, viewer_client, fleet):
    html = viewer_client.get(reverse("compatibility_matrix", args=[fleet.slug])).content.decode()
    for brand in ("BMW", "GMC", "DS", "Mercedes-Benz", "MINI", "Citroën", "Land Rover"):
        assert f">{brand}</option>" in html, brand
    assert ">Bmw<" not in html and ">Gmc<" not in html


def test_a_make_of_another_region_is_refused(platform, viewer_client, fleet):
    page = viewer_client.get(reverse("compatibility_matrix", args=[fleet.slug]), {"region": "CA", "make": "SKODA"})

    assert "Not a make of Canada: SKODA" in page.content.decode()


def test_pages_of_another_fleet_are_not_found(viewer_client, other_fleet):
    assert viewer_client.get(reverse("compatibility_check", args=[other_fleet.slug])).status_code == 404
