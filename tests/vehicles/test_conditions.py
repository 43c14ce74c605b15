"""The two forms of every condition agree: the database filter selects exactly the vehicles the per-vehicle test
holds for, over generated states (values at and around every threshold, missing status rows, every sync and
account state, disconnected vehicles)."""

from datetime import time, timedelta

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connect.models import AccountStatus, SmartcarAccount
from vehicles import conditions
from vehicles.models import Activity, SyncState, Vehicle, VehicleStatus

NOW = timezone.now()


def around(*values: float):
    """None, or a value at, just under or just over one of these thresholds."""
    near = sorted({round(v + d, 1) for v in values for d in (-0.1, 0.0, 0.1)})
    return st.one_of(st.none(), st.sampled_from(near))


def ago(*minutes: float):
    return st.one_of(st.none(), st.sampled_from([NOW - timedelta(minutes=m) for m in minutes]))


statuses = st.fixed_dictionaries(
    {
        "battery_percent": around(0, 20, 50, 100),
        "fuel_percent": around(0, 20, 50),
        "charging_state": st.sampled_from(["", "CHARGING", "FULLY_CHARGED", "NOT_CHARGING"]),
        "is_locked": st.sampled_from([None, True, False]),
        "is_plugged_in": st.sampled_from([None, True, False]),
        "charge_limit_percent": around(52, 80),
        "doors_open": st.sampled_from([[], ["FRONT_LEFT"]]),
        "storage_open": st.sampled_from([[], ["REAR"]]),
        "windows_open": st.sampled_from([[], ["BACK_RIGHT"]]),
        "oil_life_percent": around(15, 60),
        **{name: around(190, 250) for name in conditions.TIRE_FIELDS},
        "active_dtc_count": st.sampled_from([None, 0, 1, 3]),
        "system_alert_count": st.sampled_from([None, 0, 2]),
        "activity": st.sampled_from(Activity.values),
        "sync_state": st.sampled_from(SyncState.values),
        "data_age": ago(0, 59.9, 60, 60.1, 179.9, 180, 180.1, 600),
        "last_success_at": ago(0, 60.1, 180.1, 600),
    }
)
vehicles = st.fixed_dictionaries(
    {
        "status": st.one_of(st.none(), statuses),
        "account": st.sampled_from([None, *AccountStatus.values]),
        "disconnected": st.booleans(),
    }
)
limits = st.builds(
    conditions.Limits,
    now=st.just(NOW),
    low_energy_percent=st.sampled_from([0.0, 20.0, 50.0]),
    stale_after=st.sampled_from([timedelta(minutes=60), timedelta(minutes=180)]),
    low_tire_kpa=st.sampled_from([190.0, 250.0]),
    low_oil_percent=st.sampled_from([15.0, 60.0]),
    # Before and after the plug-in time wherever the test runs: 00:00 has always passed, 23:59:59 almost never.
    charge_by=st.sampled_from([None, time(0, 0), time(23, 59, 59, 999999)]),
    charge_below_percent=st.sampled_from([20.0, 50.0]),
    time_zone=st.sampled_from(["UTC", "Pacific/Kiritimati"]),
)


def _create(fleet, generated: list[dict]) -> list[int]:
    accounts = {
        state: SmartcarAccount.objects.create(
            fleet=fleet,
            smartcar_user_id=f"user-{state}",
            access_token_encrypted="x",
            refresh_token_encrypted="x",
            access_expires_at=NOW,
            refresh_expires_at=NOW,
            status=state,
        )
        for state in AccountStatus.values
    }
    made = Vehicle.objects.bulk_create(
        [
            Vehicle(
                fleet=fleet,
                account=accounts.get(spec["account"]),
                smartcar_id=f"generated-{index}",
                make="FORD",
                model="Escape",
                disconnected_at=NOW if spec["disconnected"] else None,
            )
            for index, spec in enumerate(generated)
        ]
    )
    VehicleStatus.objects.bulk_create(
        [
            VehicleStatus(vehicle=vehicle, **spec["status"])
            for vehicle, spec in zip(made, generated, strict=True)
            if spec["status"]
        ]
    )
    return [vehicle.pk for vehicle in made]


@pytest.mark.django_db
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(generated=st.lists(vehicles, min_size=1, max_size=12), limits=limits)
def test_the_database_form_and_the_per_vehicle_form_agree(fleet, generated, limits):
    with transaction.atomic():
        ids = _create(fleet, generated)
        loaded = list(conditions.judged(Vehicle.objects.filter(pk__in=ids)))
        for key, condition in conditions.ALL.items():
            in_database = set(
                Vehicle.objects.filter(pk__in=ids).filter(condition.q(limits)).values_list("pk", flat=True)
            )
            with CaptureQueriesContext(connection) as queries:  # judged() loaded all that a condition reads
                per_vehicle = {vehicle.pk for vehicle in loaded if condition.holds(vehicle, limits)}
                badges = {
                    vehicle.pk: condition.badge(vehicle, limits) for vehicle in loaded if vehicle.pk in per_vehicle
                }
            assert not queries.captured_queries, key
            assert in_database == per_vehicle, key
            assert all(badges.values()), key
        transaction.set_rollback(True)


def test_the_check_would_see_a_disagreement(fleet, db):
    """Guards the guard: a per-vehicle form that forgets one case is caught by the comparison above."""

    class Careless(conditions.LowEnergy):
        def _holds(self, vehicle, status, limits):
            return status is not None and status.battery_percent is not None and status.battery_percent <= 20

    spec = {"status": {"battery_percent": None, "fuel_percent": 5.0}, "account": None, "disconnected": False}
    ids = _create(fleet, [spec])
    vehicle = Vehicle.objects.select_related("status", "account").get(pk__in=ids)
    limits = conditions.Limits(now=NOW)
    assert Vehicle.objects.filter(conditions.LOW_ENERGY.q(limits)).filter(pk=vehicle.pk).exists()
    assert conditions.LOW_ENERGY.holds(vehicle, limits)
    assert not Careless().holds(vehicle, limits)
