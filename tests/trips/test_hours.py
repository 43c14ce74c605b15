"""A place's opening hours, and the alert of a vehicle that leaves a place while it is closed: the simulated vehicle
is driven out of its depot at night and back through real sync rounds, and one alert opens, then resolves."""

import gc
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse

from alerts.models import Alert, AlertState, EventKind
from tests.dashboard.conftest import sync_rounds
from tests.trips.conftest import vehicle_of
from tests.vehicles.conftest import connect_simulated
from trips.hours import closed_throughout, hours_parse
from trips.models import OffHoursDeparture, Place, PlaceKind, Trip

POLL = timedelta(minutes=10)
BERLIN = ZoneInfo("Europe/Berlin")
NIGHT = datetime(2026, 3, 3, 1, 0, tzinfo=UTC)  # a Tuesday, 02:00 in Berlin (the fleet's zone)


@pytest.fixture
def sim_clock(transactional_db):
    from simulator import clock

    clock.pin(NIGHT - timedelta(minutes=40))
    yield clock
    clock.unpin()
    gc.collect()  # closes the in-process clients' connections before the test database is dropped


def night_out_and_back(vehicle):
    """The simulated car leaves where it stands at 02:00 (Berlin) for a point 5 km north and comes back at 02:40."""
    from simulator.models import Vehicle as SimulatedVehicle
    from simulator.world import STEP_SECONDS

    simulated = SimulatedVehicle.objects.get(vehicle_id=vehicle.smartcar_id)
    state = simulated.state
    state["tz"] = 1
    out = int(NIGHT.timestamp()) // STEP_SECONDS
    local_day = (out * STEP_SECONDS + 3600) // 86400
    away = [state["location"][0] + 0.05, state["location"][1]]
    state["plan"] = {"day": local_day, "trips": [[out, 4, away], [out + 8, 4, state["place"]]]}
    simulated.save()
    return state["location"]


def depot_at(fleet, position, text):
    return Place.objects.create(fleet=fleet, name="North depot", kind=PlaceKind.DEPOT, latitude=position[0],
                                longitude=position[1], radius_m=300, opening_hours=_json(text))  # fmt: skip


def _json(text):
    from trips.hours import hours_to_json

    return hours_to_json(hours_parse(text))


def test_leaving_the_depot_at_night_opens_one_alert_that_resolves_when_the_car_is_back(sim_clock, fleet):
    vehicle = connect_simulated(fleet, makes=["TESLA"]).vehicles[0]
    depot = depot_at(fleet, night_out_and_back(vehicle), "Mon-Fri 6-22\nSat 8-14")
    sync_rounds([vehicle], sim_clock, rounds=4, step=POLL)  # 00:20 to 00:50 UTC: standing at the depot
    assert not Alert.objects.filter(vehicle=vehicle, condition="left_outside_hours").exists()

    sync_rounds([vehicle], sim_clock, rounds=4, step=POLL)  # 00:50 to 01:20 UTC: it left at 01:00
    alert = Alert.objects.get(vehicle=vehicle, condition="left_outside_hours")
    assert alert.state == AlertState.OPEN
    assert alert.summary == "Left North depot by 3 Mar 2026 02:" + alert.summary.split("02:")[1]
    assert alert.summary.endswith(", outside its hours")
    departure = OffHoursDeparture.objects.get(vehicle=vehicle)
    assert departure.place == depot and departure.left_after < NIGHT <= departure.left_at

    sync_rounds([vehicle], sim_clock, rounds=7, step=POLL)  # 01:20 to 02:20 UTC: it came back by 02:00
    alert.refresh_from_db()
    assert alert.state == AlertState.RESOLVED
    assert list(alert.events.values_list("kind", flat=True)) == [EventKind.OPENED, EventKind.RESOLVED]
    assert Alert.objects.filter(vehicle=vehicle, condition="left_outside_hours").count() == 1
    trips = list(Trip.objects.filter(vehicle=vehicle).order_by("started_at"))
    assert [(t.start_place, t.end_place) for t in trips] == [(depot, None), (None, depot)]
    departure.refresh_from_db()
    assert departure.returned_at == trips[1].ended_at


def test_leaving_while_the_depot_is_open_alerts_nobody(sim_clock, fleet):
    vehicle = connect_simulated(fleet, makes=["TESLA"]).vehicles[0]
    depot_at(fleet, night_out_and_back(vehicle), "Mon-Sun 0-24")
    sync_rounds([vehicle], sim_clock, rounds=8, step=POLL)
    assert Trip.objects.filter(vehicle=vehicle).exists()
    assert not OffHoursDeparture.objects.exists()
    assert not Alert.objects.filter(vehicle=vehicle, condition="left_outside_hours").exists()


# --- Opening hours ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "closed"),
    [
        ("2026-03-03 01:50", "2026-03-03 02:00", True),  # Tuesday night
        ("2026-03-03 05:50", "2026-03-03 06:00", False),  # reaches the opening at 06:00
        ("2026-03-03 21:50", "2026-03-03 22:10", False),  # left before or after the closing: cannot tell
        ("2026-03-03 22:00", "2026-03-04 05:59", True),  # the whole night
        ("2026-03-07 15:00", "2026-03-08 23:00", True),  # Saturday afternoon and Sunday: closed
        ("2026-03-29 02:30", "2026-03-29 03:30", True),  # the night the clocks go forward
        ("2026-03-01 00:00", "2026-03-09 00:00", False),  # over a week: some hours were open
    ],
)
def test_closed_throughout_reads_the_hours_in_the_fleets_zone(start, end, closed):
    bands = hours_parse("Mon-Fri 6-22\nSat 8-14")
    moments = [datetime.fromisoformat(t).replace(tzinfo=BERLIN) for t in (start, end)]
    assert closed_throughout(bands, *moments, BERLIN) is closed


def hours_url(fleet, place):
    return reverse("trips_place_hours", args=[fleet.slug, place.pk])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("Mon-Fri 7-19\nFri 18-22", "Friday 18:00–19:00 is in more than one line: opening hours overlap."),
        ("Mon-Fri", "Line 1: write the days and the hours, for example “Mon-Fri 7-19”."),
        ("Mon-Fri 7-19 0.30", "Line 1: write the days and the hours, for example “Mon-Fri 7-19”."),
        ("Mon 19-7", "Line 1: hours run from 0 to 24 and the end comes after the start"),
        ("Mun 7-19", "Line 1: “Mun” is not a weekday"),
    ],
)
def test_it_refuses_hours_that_overlap_or_cannot_be_read(owner_client, fleet, depot, text, message):
    depot.opening_hours = _json("Mon-Fri 6-22")
    depot.save()
    response = owner_client.post(hours_url(fleet, depot), {"hours": text})
    assert response.status_code == 422
    assert message in response.content.decode()
    depot.refresh_from_db()
    assert depot.opening_hours == _json("Mon-Fri 6-22")


def test_it_saves_hours_and_the_page_shows_them(owner_client, fleet, depot):
    response = owner_client.post(hours_url(fleet, depot), {"hours": "Mon-Fri 7-19\nSat 8-12"})
    assert response.status_code == 302
    depot.refresh_from_db()
    assert depot.opening_hours == [
        {"weekdays": [0, 1, 2, 3, 4], "start": 7, "end": 19},
        {"weekdays": [5], "start": 8, "end": 12},
    ]
    page = owner_client.get(reverse("trips_place", args=[fleet.slug, depot.pk])).content.decode()
    assert "Open Mon-Fri 7-19; Sat 8-12" in page
    places = owner_client.get(reverse("trips_places", args=[fleet.slug])).content.decode()
    assert "<td>Mon-Fri 7-19; Sat 8-12</td>" in places

    owner_client.post(hours_url(fleet, depot), {"hours": ""})
    depot.refresh_from_db()
    assert depot.opening_hours == []


def test_a_new_place_takes_its_hours_and_refuses_bad_ones(owner_client, fleet):
    url = reverse("trips_place_create", args=[fleet.slug])
    data = {"name": "Yard", "kind": PlaceKind.DEPOT, "latitude": 52.5, "longitude": 13.4, "radius_m": 200}
    response = owner_client.post(url, {**data, "hours": "Mon-Fri 7-19\nWed 12-13"})
    assert response.status_code == 422 and "Wednesday 12:00–13:00 is in more than one line" in response.content.decode()
    assert not Place.objects.filter(fleet=fleet).exists()
    owner_client.post(url, {**data, "hours": "Mon-Fri 7-19"})
    assert Place.objects.get(fleet=fleet).opening_hours == _json("Mon-Fri 7-19")


def test_a_viewer_cannot_set_hours(client, viewer, fleet, depot):
    client.force_login(viewer)
    assert client.post(hours_url(fleet, depot), {"hours": "Mon-Fri 7-19"}).status_code == 403
    depot.refresh_from_db()
    assert depot.opening_hours == []


def test_the_condition_holds_while_a_departure_is_away_in_both_forms(fleet, depot):
    from alerts.catalog import BY_KEY
    from vehicles.conditions import Limits
    from vehicles.models import Vehicle

    condition = BY_KEY["left_outside_hours"].condition
    away, back = vehicle_of(fleet, "v-1"), vehicle_of(fleet, "v-2")
    for vehicle, returned in ((away, None), (back, NIGHT + timedelta(hours=1))):
        trip = Trip.objects.create(vehicle=vehicle, start_after=NIGHT, started_at=NIGHT, start_place=depot)
        OffHoursDeparture.objects.create(vehicle=vehicle, place=depot, trip=trip, left_after=NIGHT, left_at=NIGHT,
                                         returned_at=returned)  # fmt: skip
    limits = Limits.for_fleet(fleet, NIGHT)
    assert list(Vehicle.objects.filter(condition.q(limits))) == [away]
    loaded = Vehicle.objects.select_related("status", "account").prefetch_related(*condition.prefetch())
    assert [v for v in loaded.order_by("pk") if condition.holds(v, limits)] == [away]


@pytest.mark.django_db
def test_the_rules_and_e_mail_pages_offer_the_alert(owner_client, fleet):
    rules = owner_client.get(reverse("alerts_rules", args=[fleet.slug])).content.decode()
    assert "Left a place outside its hours" in rules and 'name="r-left_outside_hours-enabled"' in rules
    emails = owner_client.get(reverse("alerts_subscription", args=[fleet.slug])).content.decode()
    assert 'value="left_outside_hours"' in emails
