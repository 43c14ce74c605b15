"""A simulated commuter's day, for real: the simulator drives the car to work and home again as its clock runs and
charges it at home in the evening, the sync engine polls it through the HTTP stack every ten minutes, and the trips
derived after each round, the charging session, its cost and the driver's statement are checked against the
simulator's own plan of the day, its odometer and its charge record."""

import gc
import math
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.urls import reverse

from charging.models import ChargingSession
from charging.sessions import vehicle_sessions_settle
from tests.dashboard.conftest import sync_rounds
from tests.vehicles.conftest import ALL_READ, connect_simulated
from trips.models import Assignment, Driver, Place, PlaceKind, SessionCost, Statement, Tariff, Trip, TripKind
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

    # Home in the evening: plugged in and charged to its limit, then priced at the home tariff.
    Tariff.objects.create(fleet=fleet, place=home, currency="USD", price_per_kwh=Decimal("0.25"))
    plug_in_at_home(simulated)
    sync_rounds([vehicle], sim_clock, rounds=14, step=POLL)
    vehicle_sessions_settle(vehicle=vehicle)  # as the periodic settle does (its window is the app's own clock)
    sync_rounds([vehicle], sim_clock, rounds=1, step=POLL)  # the round after prices the settled session
    simulated.refresh_from_db()
    evening = seen[-1][1]
    (record,) = [r for r in simulated.state["charge_records"] if moment(r["chargeStart"]) >= evening]
    (session,) = ChargingSession.objects.filter(vehicle=vehicle, started_at__gte=evening)
    assert session.energy_kwh == pytest.approx(record["energy"], rel=0.05)
    cost = SessionCost.objects.get(session=session)
    assert (cost.place, cost.driver, cost.currency) == (home, driver, "USD")
    assert cost.amount == (Decimal(str(session.energy_kwh)) * Decimal("0.25")).quantize(Decimal("0.01"))

    issue = reverse("trips_statement_issue", args=[fleet.slug, driver.pk])
    owner_client.post(issue, {"month": month})
    statement = Statement.objects.get(driver=driver)
    (line,) = statement.lines.all()
    assert line.session_id_at_issue == session.pk and line.amount == cost.amount == statement.amount
    assert line.energy_kwh == pytest.approx(record["energy"], rel=0.05)


def moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def plug_in_at_home(simulated) -> None:
    """Plugged in at the home charger with room to charge, unless it plugged itself in on arrival."""
    simulated.refresh_from_db()
    state = simulated.state
    state["trip_chance"] = 0
    if state["ev"]["plugged"]:
        simulated.save()
        return
    soc = min(state["ev"]["soc"], state["ev"]["limit"] - 0.08)
    charger = {"kind": "AC", "kw": 11.0, "volts": 240, "max_amps": 48, "phases": 1, "public": False, "place": "home"}
    state["ev"].update(plugged=True, charger=charger, charging="NOT_CHARGING", user_stopped=False, soc=soc)
    simulated.save()
