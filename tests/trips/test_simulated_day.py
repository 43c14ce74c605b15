"""A simulated commuter's day, for real: the simulator drives the car to work and home again as its clock runs, the
sync engine polls it through the HTTP stack every ten minutes, and the trips derived after each round are checked
against the simulator's own plan of the day and its odometer."""

import gc
import math
from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse

from tests.dashboard.conftest import sync_rounds
from tests.vehicles.conftest import ALL_READ, connect_simulated
from trips.models import Assignment, Driver, Place, PlaceKind, Trip, TripKind
from vehicles.models import Vehicle

POLL = timedelta(minutes=10)


@pytest.fixture
def sim_clock(transactional_db):
    from simulator import clock

    clock.pin(datetime(2026, 3, 1, 12, 0, tzinfo=UTC))
    yield clock
    clock.unpin()
    gc.collect()  # closes the in-process clients' connections before the test database is dropped


def commuter(fleet):
    """A connected Tesla on the commute routine and the first weekday on which it drives to work and back."""
    from simulator import world
    from simulator.models import Connection, SmartcarUser

    connected = connect_simulated(fleet, email="commuter@sim.example", permissions=ALL_READ)
    user = SmartcarUser.objects.get(user_id=connected.account.smartcar_user_id)
    simulated = world.create_vehicle(user, make="TESLA", model="Model 3", routine="commute", seed=11)
    Connection.objects.create(
        application=Connection.objects.model.application.field.related_model.objects.get(),
        user=user,
        vehicle=simulated,
        permissions=ALL_READ,
    )
    vehicle = Vehicle.objects.create(
        fleet=fleet,
        account=connected.account,
        smartcar_id=simulated.vehicle_id,
        make=simulated.make,
        model=simulated.model,
        vin=simulated.vin,
        permissions=ALL_READ,
    )
    state = simulated.state
    first_day = math.floor((simulated.simulated_at.timestamp() + state["tz"] * 3600) / 86400) + 1
    for day in range(first_day, first_day + 14):
        plan = world._day_plan(simulated, state, day)
        if [trip[2] for trip in plan] == ["work", "home"]:
            return vehicle, simulated, plan
    raise AssertionError("no commuting day in two weeks")


def at_step(step: int) -> datetime:
    from simulator.world import STEP_SECONDS

    return datetime.fromtimestamp(step * STEP_SECONDS, UTC)


def odometer(simulated) -> float:
    simulated.refresh_from_db()
    return simulated.state["odometer"]


def drive_through(vehicle, simulated, clock, trip):
    """Polls from before the departure to after the arrival; returns the simulator's departure, arrival and the
    kilometres its odometer ran."""
    departure, steps = at_step(trip[0]), trip[1]
    arrival = at_step(trip[0] + steps - 1)
    clock.pin(departure - timedelta(minutes=25))
    sync_rounds([vehicle], clock, rounds=1, step=POLL)
    before = odometer(simulated)
    rounds = math.ceil((arrival - clock.now()) / POLL) + 4
    sync_rounds([vehicle], clock, rounds=rounds, step=POLL)
    clock.advance(POLL)
    return departure, arrival, odometer(simulated) - before


def test_a_commuters_day_is_two_trips_between_home_and_work_as_the_simulator_drove_them(sim_clock, fleet, owner_client):
    vehicle, simulated, plan = commuter(fleet)
    places = simulated.state["places"]
    home = Place.objects.create(fleet=fleet, name="Home", kind=PlaceKind.HOME, latitude=places["home"][0],
                                longitude=places["home"][1], radius_m=300)  # fmt: skip
    work = Place.objects.create(fleet=fleet, name="Office", kind=PlaceKind.OTHER, latitude=places["work"][0],
                                longitude=places["work"][1], radius_m=300)  # fmt: skip
    driver = Driver.objects.create(fleet=fleet, name="Casey Commuter", home=home)
    Assignment.objects.create(driver=driver, vehicle=vehicle, starts_at=sim_clock.now() - timedelta(days=30))

    seen = [drive_through(vehicle, simulated, sim_clock, trip) for trip in plan]

    trips = list(Trip.objects.filter(vehicle=vehicle).order_by("started_at"))
    assert [(t.kind, t.start_place, t.end_place, t.ongoing) for t in trips] == [
        (TripKind.TRIP, home, work, False),
        (TripKind.TRIP, work, home, False),
    ]
    for trip, (departure, arrival, kilometres) in zip(trips, seen, strict=True):
        # As precise as the polls: it left between two readings ten minutes apart, and arrived between two.
        assert trip.start_after < departure <= trip.started_at and trip.started_at - trip.start_after <= POLL
        assert trip.end_after < arrival <= trip.ended_at and trip.ended_at - trip.end_after <= POLL
        assert trip.distance_km == pytest.approx(kilometres, abs=0.2)
        assert trip.driver == driver and trip.battery_used_percent > 0

    month = trips[0].started_at.astimezone(fleet.zone).strftime("%Y-%m")
    page = owner_client.get(reverse("trips_driver_trips", args=[fleet.slug, driver.pk]), {"month": month})
    assert page.status_code == 200 and "Home" in page.content.decode() and "Office" in page.content.decode()
    csv = owner_client.get(reverse("trips_vehicle", args=[fleet.slug, vehicle.pk]), {"month": month, "format": "csv"})
    lines = csv.content.decode().splitlines()
    assert len(lines) == 3 and lines[1].split(",")[7:9] == ["Home", "Office"]
