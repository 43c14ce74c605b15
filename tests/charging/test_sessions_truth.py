"""Sessions against the simulator's own account of what happened (its charge records, kept for every make).

Everything runs for real: simulated vehicles charge as simulated time passes, the sync engine polls them through the
HTTP stack, the simulator delivers its charging events to the webhook receiver, records are imported through the
charging page, and the periodic settle runs as beat would start it. Then each real charge is one session, with the
levels the car went through and the energy it took.
"""

import gc
from datetime import datetime, timedelta

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from charging.models import ChargingSession, EnergySource
from connect import subscriptions
from fleet.celery import app as project_app
from tests.dashboard.conftest import sync_rounds
from tests.vehicles.conftest import ALL_READ, connect_simulated
from vehicles.models import Vehicle

HOME = {"kind": "AC", "kw": 11.0, "volts": 240, "max_amps": 48, "phases": 1, "public": False, "place": "home"}
SUPERCHARGER = {"kind": "DC", "kw": 150.0, "volts": 400, "max_amps": 375, "phases": 1, "public": True, "place": "x"}


@pytest.fixture
def simulated(transactional_db, settings, fleet):
    """Simulated time pinned six hours ago; the app's webhook registered with the simulator, as in the demo."""
    from simulator import clock

    settings.SMARTCAR_WEBHOOK_CALLBACK_URL = f"/webhooks/{settings.SMARTCAR_WEBHOOK_ID}/"
    project_app.set_default()  # the simulator delivers on threads of its own, with Celery's default app
    clock.pin(timezone.now() - timedelta(hours=6))
    yield clock
    clock.unpin()
    gc.collect()  # closes the in-process clients' connections before the test database is dropped


def connected_ev(fleet, make: str, model: str, *, email: str):
    """One electric vehicle of ``make`` connected to ``fleet`` and subscribed to its charging events."""
    from simulator import world
    from simulator.models import Connection, SmartcarUser

    connected = connect_simulated(fleet, email=email, permissions=[*ALL_READ, "control_charge"])
    user = SmartcarUser.objects.get(user_id=connected.account.smartcar_user_id)
    simulated = world.create_vehicle(user, make=make, model=model, seed=3)
    Connection.objects.create(
        application=Connection.objects.model.application.field.related_model.objects.get(),
        user=user,
        vehicle=simulated,
        permissions=[*ALL_READ, "control_charge"],
    )
    vehicle = Vehicle.objects.create(
        fleet=fleet,
        account=connected.account,
        smartcar_id=simulated.vehicle_id,
        make=simulated.make,
        model=simulated.model,
        vin=simulated.vin,
        permissions=[*ALL_READ, "control_charge"],
    )
    assert subscriptions.vehicle_webhooks_subscribe(vehicle=vehicle).errors == []
    return vehicle, simulated


def plugged_in(simulated, *, charger: dict, soc: float, limit: float) -> None:
    """Parked, plugged in and about to charge from ``soc`` to ``limit``, with no schedule holding it back."""
    simulated.refresh_from_db()
    state = simulated.state
    state["trip_chance"] = 0
    state["ev"].update(plugged=True, charger=charger, charging="NOT_CHARGING", user_stopped=False, soc=soc, limit=limit)
    for location in state.get("ford_locations", []):
        location.update(chargeLimit=limit, weekday=[], weekend=[])
    simulated.save()


def moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def records_of(simulated) -> list[dict]:
    simulated.refresh_from_db()
    return simulated.state["charge_records"]


def assert_one_session_per_record(vehicle, records, *, energy_from: str) -> None:
    sessions = list(ChargingSession.objects.filter(vehicle=vehicle).order_by("started_at"))
    assert len(sessions) == len(records) > 0, [(s.started_at, s.ended_at, s.seen_in) for s in sessions]
    for session, record in zip(sessions, records, strict=True):
        assert (session.started_at, session.ended_at) == (moment(record["chargeStart"]), moment(record["chargeEnd"]))
        assert session.start_percent == pytest.approx(record["startPercentRemaining"] * 100, abs=0.5)
        assert session.end_percent == pytest.approx(record["endPercentRemaining"] * 100, abs=0.5)
        assert session.energy_kwh == pytest.approx(record["energy"], rel=0.05)
        assert session.energy_source == energy_from
        assert "Charging events" in session.seen_in and "Synced readings" in session.seen_in


def test_a_ford_charging_from_93_to_100_percent_is_one_session_of_93_to_100(simulated, fleet):
    ford, car = connected_ev(fleet, "FORD", "Mustang Mach-E", email="ford@sim.example")
    plugged_in(car, charger=HOME, soc=0.93, limit=1.0)

    sync_rounds([ford], simulated, rounds=12, step=timedelta(minutes=10))
    from charging.tasks import sessions_derive_all

    sessions_derive_all.delay()  # the periodic settle, eager here

    records = records_of(car)
    assert [(r["startPercentRemaining"], r["endPercentRemaining"]) for r in records] == [(0.93, 1.0)]
    assert_one_session_per_record(ford, records, energy_from=EnergySource.CAPACITY)


def test_a_tesla_at_a_supercharger_is_one_session_with_the_billing_records_energy(simulated, fleet, owner_client):
    tesla, car = connected_ev(fleet, "TESLA", "Model 3", email="tesla@sim.example")
    plugged_in(car, charger=SUPERCHARGER, soc=0.35, limit=0.8)

    sync_rounds([tesla], simulated, rounds=8, step=timedelta(minutes=10))
    from charging.tasks import sessions_derive_all

    sessions_derive_all.delay()
    records = records_of(car)
    # Before the record is fetched, the energy is what the vehicle reported added (tesla__get-charge.md).
    assert_one_session_per_record(tesla, records, energy_from=EnergySource.ENERGY_ADDED)

    owner_client.get(reverse("charging_records", args=[fleet.slug, tesla.pk]), {"page": "1"})
    assert_one_session_per_record(tesla, records, energy_from=EnergySource.RECORD)
    (session,) = ChargingSession.objects.filter(vehicle=tesla)
    assert session.seen_in == ["Tesla billing record", "Charging events", "Synced readings"]
    assert session.cost_total is not None
    csv = owner_client.get(reverse("charging_fleet_csv", args=[fleet.slug])).content.decode().splitlines()
    row = dict(zip(csv[0].split(","), csv[1].split(","), strict=True))
    assert row["energy_from"] == "The car maker's record"
    assert row["seen_in"] == "Tesla billing record; Charging events; Synced readings"
    assert row["end_percent"] == "80" and row["start_percent"] == "35"
    assert settings.SMARTCAR_WEBHOOK_ID  # the events came through the app's own receiver
