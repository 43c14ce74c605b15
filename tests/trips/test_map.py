"""The fleet map: every vehicle's last position and state and the places, in a constant number of queries; htmx
gets the data part alone; nothing of another fleet shows."""

import json
import re

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.trips.conftest import vehicle_of
from trips.models import Place
from vehicles.models import VehicleStatus


def positioned(fleet, count, start=0, activity="parked"):
    for index in range(start, start + count):
        vehicle = vehicle_of(fleet, smartcar_id=f"{fleet.slug}-{index}", nickname=f"Van {index}")
        VehicleStatus.objects.update_or_create(
            vehicle=vehicle, defaults={"latitude": 52.5 + index / 100, "longitude": 13.4, "activity": activity}
        )


def map_data(response) -> dict:
    text = response.content.decode()
    start = text.index('<script id="fleet-map-data" type="application/json">') + len(
        '<script id="fleet-map-data" type="application/json">'
    )
    return json.loads(text[start : text.index("</script>", start)])


@pytest.mark.django_db
def test_every_positioned_vehicle_and_place_is_on_the_map_in_constant_queries(owner_client, fleet, other_fleet):
    Place.objects.create(fleet=fleet, name="Depot", kind="depot", latitude=52.5, longitude=13.4, radius_m=250)
    positioned(fleet, 3, activity="charging")
    positioned(other_fleet, 2)
    url = reverse("trips_map", args=[fleet.slug])
    with CaptureQueriesContext(connection) as few:
        data = map_data(owner_client.get(url))
    assert [v[1] for v in data["vehicles"]] == ["Van 0", "Van 1", "Van 2"]
    assert data["vehicles"][1][3:7] == ["TESLA", "Model 3", 52.51, 13.4] and data["makes"] == {"TESLA": "Tesla"}
    assert {v[7] for v in data["vehicles"]} == {"charging"} and data["places"][0][:2] == ["Depot", "depot"]
    assert data["link"].endswith("/vehicles/0/")
    positioned(fleet, 40, start=3)
    with CaptureQueriesContext(connection) as many:
        data = map_data(owner_client.get(url))
    assert len(data["vehicles"]) == 43
    assert len(many.captured_queries) == len(few.captured_queries)


@pytest.mark.django_db
def test_htmx_refresh_gets_the_data_part_alone(owner_client, fleet):
    positioned(fleet, 1)
    response = owner_client.get(reverse("trips_map", args=[fleet.slug]), headers={"HX-Request": "true"})
    text = response.content.decode()
    assert text.lstrip().startswith('<div id="map-data"') and "<html" not in text
    assert map_data(response)["vehicles"][0][1] == "Van 0"
    assert "HX-Request" in response["Vary"]


@pytest.mark.django_db
def test_the_page_has_no_inline_script_or_style_and_another_fleets_map_is_404(owner_client, fleet, other_fleet):
    text = owner_client.get(reverse("trips_map", args=[fleet.slug])).content.decode()
    assert " style=" not in text and "<script>" not in text
    assert owner_client.get(reverse("trips_map", args=[other_fleet.slug])).status_code == 404


@pytest.mark.django_db
def test_without_map_tiles_the_page_says_so_in_words(owner_client, fleet, settings):
    settings.MAP_TILE_URL = ""
    html = owner_client.get(reverse("trips_map", args=[fleet.slug])).content.decode()

    assert "No street map is set up" in html
    assert "MAP_TILE_URL" in html  # for the administrator, under Details
    assert "MAP_TILE_URL" not in re.sub(r"<details.*?</details>", "", html, flags=re.S)


@pytest.mark.django_db
def test_a_circle_of_several_vehicles_is_not_drawn_in_a_states_colour_and_the_legend_names_it(owner_client, fleet):
    """A cluster in the blue of "Driving" read as driving vehicles while the overview counted none driving."""
    html = owner_client.get(reverse("trips_map", args=[fleet.slug])).content.decode()
    css = (settings.BASE_DIR / "static" / "css" / "trips.css").read_text()

    cluster = re.search(r"^\.cluster \{[^}]*background: ([^;]+);", css, re.M).group(1)
    states = dict(re.findall(r"^\.state-(\w+) \{ background: ([^;]+); \}", css, re.M))
    assert states and all(hex_of(colour) != hex_of(cluster) for colour in states.values())
    assert '<span class="dot cluster"></span> Several vehicles close together' in html


def hex_of(colour: str) -> str:
    """ "#1f6feb" and "rgba(31, 111, 235, .85)" alike as "1f6feb"."""
    if colour.startswith("#"):
        return colour[1:].lower()
    red, green, blue = re.findall(r"\d+", colour)[:3]
    return f"{int(red):02x}{int(green):02x}{int(blue):02x}"
