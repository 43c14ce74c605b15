"""The sync engine under the simulator's fault injection, rounds run in the test process.

The same through real Celery workers on Redis, and a worker killed mid-round: tests/vehicles/test_worker_faults.py.
"""

from datetime import timedelta

import time_machine
from django.utils import timezone

from simulator import clock
from tests.vehicles.conftest import connect_simulated
from vehicles import sync
from vehicles.models import EndpointState, StatusHistory, SyncState, VehicleStatus
from vehicles.readings import read


def assert_history_has_no_repeats():
    """History is written only on change: two consecutive rows of a field never hold the same value."""
    last: dict = {}
    rows = StatusHistory.objects.order_by("vehicle_id", "field", "recorded_at", "pk")
    for row in rows.values_list("vehicle_id", "field", "number", "text"):
        key, value = row[:2], row[2:]
        assert last.get(key) != value, f"repeated history row {row}"
        last[key] = value


def assert_answers_were_stored(round_started):
    """Every path that answered this round is in the typed status (paths whose fields no other path sets)."""
    for state in EndpointState.objects.filter(last_success_at__gte=round_started, path__in=["/location", "/odometer"]):
        status = VehicleStatus.objects.get(vehicle_id=state.vehicle_id)
        for name, value in read(state.path, state.body).items():
            assert getattr(status, name) == value, (state.vehicle_id, name)


def run_round():
    token, due = sync.vehicles_lease_due()
    if due:
        sync.vehicles_sync(vehicle_ids=due, lease_token=token)
    return due


def test_random_faults_across_a_fleet_lose_nothing_and_every_vehicle_ends_fresh(fleet, faults, settings):
    settings.SMARTCAR_VEHICLE_TIMEOUT_SECONDS = 1.5
    settings.SYNC_WORKER_CONCURRENCY = 16
    connect_simulated(fleet, count=10, seed=3)
    faults.upstream_rate = 0.15
    faults.asleep_rate = 0.1
    faults.timeout_rate = 0.05
    faults.malformed_rate = 0.1
    faults.requests_per_minute = 30
    faults.save()
    now = timezone.now()
    clock.pin(now)
    try:
        rounds_with_work = 0
        for _ in range(8):
            now += timedelta(minutes=20)
            clock.pin(now)
            with time_machine.travel(now, tick=False):
                if run_round():
                    rounds_with_work += 1
                assert_answers_were_stored(now)
        assert rounds_with_work >= 4
        assert_history_has_no_repeats()
        assert VehicleStatus.objects.exclude(last_error="").exists(), "faults were injected and seen"

        faults.upstream_rate = faults.asleep_rate = faults.timeout_rate = faults.malformed_rate = 0
        faults.requests_per_minute = None
        faults.save()
        healed = now
        # Longest back-off: the cap plus its jitter.
        for _ in range(6):
            now += timedelta(seconds=settings.SYNC_BACKOFF_MAX_SECONDS * 1.3)
            clock.pin(now)
            with time_machine.travel(now, tick=False):
                run_round()
        stale = VehicleStatus.objects.filter(last_success_at__lt=healed) | VehicleStatus.objects.filter(
            last_success_at__isnull=True
        )
        assert list(stale.values_list("vehicle_id", flat=True)) == []
        states = dict(VehicleStatus.objects.values_list("vehicle_id", "sync_state"))
        assert set(states.values()) == {SyncState.OK}, VehicleStatus.objects.exclude(sync_state=SyncState.OK).values(
            "vehicle_id", "last_error"
        )
        assert_history_has_no_repeats()
    finally:
        clock.unpin()
