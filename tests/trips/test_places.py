"""Places: circles with a sensible radius on real coordinates; Ford's saved charging locations are offered."""

import pytest
from django.urls import reverse

from tests.trips.conftest import vehicle_of
from trips.models import Place
from trips.places import place_at
from vehicles.models import EndpointState


def post_place(client, fleet, **fields):
    data = {"name": "Depot North", "kind": "depot", "latitude": "52.52", "longitude": "13.405", "radius_m": "200"}
    return client.post(reverse("trips_place_create", args=[fleet.slug]), {**data, **fields})


@pytest.mark.django_db
def test_a_depot_is_saved_and_listed(owner_client, fleet):
    assert post_place(owner_client, fleet).status_code == 302
    place = Place.objects.get(fleet=fleet)
    assert (place.kind, place.latitude, place.radius_m) == ("depot", 52.52, 200)
    assert "Depot North" in owner_client.get(reverse("trips_places", args=[fleet.slug])).content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"radius_m": "0"}, "Give a radius of more than 0"),
        ({"radius_m": "-5"}, "greater than or equal to 0"),
        ({"radius_m": "90000"}, "at most 50,000 metres"),
        ({"latitude": "91"}, "A latitude lies between -90 and 90 degrees."),
        ({"longitude": "-181"}, "A longitude lies between -180 and 180 degrees."),
        ({"latitude": "north"}, "Enter a number."),
    ],
)
def test_absurd_places_are_refused_with_a_clear_message(owner_client, fleet, fields, message):
    response = post_place(owner_client, fleet, **fields)
    assert response.status_code == 422
    assert message in response.content.decode()
    assert not Place.objects.exists()


@pytest.mark.django_db
def test_the_smallest_circle_holding_a_position_names_it(fleet):
    town = Place.objects.create(fleet=fleet, name="Town", latitude=52.52, longitude=13.405, radius_m=5000)
    home = Place.objects.create(fleet=fleet, name="Home", kind="home", latitude=52.53, longitude=13.41, radius_m=100)
    places = [town, home]
    assert place_at(places, 52.5301, 13.4101) == home
    assert place_at(places, 52.515, 13.40) == town
    assert place_at(places, 48.0, 11.0) is None and place_at(places, None, None) is None


@pytest.mark.django_db
def test_fords_saved_charging_locations_are_offered_until_a_place_covers_them(owner_client, fleet):
    ford = vehicle_of(fleet, make="FORD", smartcar_id="ford-1")
    body = {"chargingLocations": [{"location": {"latitude": 42.3314, "longitude": -83.0458}, "chargeLimit": 0.9}]}
    EndpointState.objects.create(vehicle=ford, path="/ford/charge/schedule_by_location", body=body)
    page = owner_client.get(reverse("trips_places", args=[fleet.slug])).content.decode()
    assert "Charging locations saved in your Fords" in page and "42.33140, -83.04580" in page
    Place.objects.create(fleet=fleet, name="Ford home", kind="home", latitude=42.3314, longitude=-83.0458, radius_m=50)
    page = owner_client.get(reverse("trips_places", args=[fleet.slug])).content.decode()
    assert "Charging locations saved in your Fords" not in page


@pytest.mark.django_db
def test_viewers_cannot_add_or_remove_places_and_other_fleets_places_are_404(viewer_client, fleet, other_fleet):
    assert post_place(viewer_client, fleet).status_code == 403
    theirs = Place.objects.create(fleet=other_fleet, name="T", latitude=1, longitude=1, radius_m=10)
    ours = Place.objects.create(fleet=fleet, name="O", latitude=1, longitude=1, radius_m=10)
    assert viewer_client.post(reverse("trips_place_delete", args=[fleet.slug, ours.pk])).status_code == 403
    viewer_client.force_login(fleet.memberships.get(role="owner").user)
    assert viewer_client.post(reverse("trips_place_delete", args=[fleet.slug, theirs.pk])).status_code == 404
    assert Place.objects.count() == 2


@pytest.mark.django_db
def test_a_places_page_lists_the_arrivals_and_departures_of_its_trips(owner_client, fleet, other_fleet):
    from datetime import UTC, datetime, timedelta

    from trips.models import Trip

    depot = Place.objects.create(fleet=fleet, name="Depot", kind="depot", latitude=52.5, longitude=13.4, radius_m=200)
    start = datetime(2026, 3, 2, 7, 0, tzinfo=UTC)
    common = {
        "start_after": start - timedelta(minutes=5),
        "started_at": start,
        "end_after": start + timedelta(minutes=20),
        "ended_at": start + timedelta(minutes=25),
    }
    Trip.objects.create(vehicle=vehicle_of(fleet, smartcar_id="in", nickname="Van In"), end_place=depot, **common)
    Trip.objects.create(vehicle=vehicle_of(fleet, smartcar_id="out", nickname="Van Out"), start_place=depot, **common)
    page = owner_client.get(reverse("trips_place", args=[fleet.slug, depot.pk])).content.decode()
    arrivals, departures = page.split("<h2>Departures</h2>")
    assert "Van In" in arrivals and "Van Out" not in arrivals
    assert "Van Out" in departures and "after 08:20, by 08:25" in arrivals  # Berlin time
    theirs = Place.objects.create(fleet=other_fleet, name="T", latitude=1, longitude=1, radius_m=10)
    assert owner_client.get(reverse("trips_place", args=[fleet.slug, theirs.pk])).status_code == 404


@pytest.mark.django_db
def test_with_no_place_yet_the_page_says_what_a_place_is_for_and_who_adds_one(client, owner, viewer, fleet):
    client.force_login(owner)
    page = client.get(reverse("trips_places", args=[fleet.slug])).content.decode()
    assert "No places yet: trips show coordinates only." in page
    assert "Add your depots and drivers' homes below, so trips name where they start and end." in page
    client.force_login(viewer)
    page = client.get(reverse("trips_places", args=[fleet.slug])).content.decode()
    assert "An owner or manager adds depots and drivers' homes here." in page
    assert "Add your depots" not in page


@pytest.mark.django_db
def test_a_place_without_opening_hours_says_so_in_the_list(owner_client, fleet):
    post_place(owner_client, fleet)
    page = owner_client.get(reverse("trips_places", args=[fleet.slug])).content.decode()
    assert "<td>No opening hours</td>" in page
