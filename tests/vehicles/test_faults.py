"""The sync engine under the simulator's fault injection, and a worker killed mid-round."""

import os
import signal
import subprocess
import sys
import time
from collections import defaultdict
from datetime import timedelta
from pathlib import Path

import pytest
import time_machine
from django.conf import settings
from django.db import connection
from django.utils import timezone

from simulator import clock
from simulator.models import Vehicle as SimVehicle
from tests.vehicles.conftest import connect_simulated
from vehicles import sync
from vehicles.models import EndpointState, StatusHistory, SyncState, VehicleStatus, VehicleSync
from vehicles.readings import read

ROOT = Path(__file__).resolve().parents[2]


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


@pytest.fixture
def subprocess_env(postgres):
    name = connection.settings_dict["NAME"]
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "fleet.settings",
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{name}",
        "SECRET_KEY": "test-secret-key-" + "x" * 40,
        "TOKEN_ENCRYPTION_KEYS": ",".join(settings.TOKEN_ENCRYPTION_KEYS),
        "SMARTCAR_MODE": "simulated",
        "SMARTCAR_SIMULATOR_ORIGIN": "",
        "SMARTCAR_REDIRECT_URI": settings.SMARTCAR_REDIRECT_URI,
        "FLEET_VAR_DIR": str(settings.VAR_DIR),
        "ALLOWED_HOSTS": "localhost,testserver",
        "SYNC_LEASE_SECONDS": "30",
        "LOG_LEVEL": "ERROR",
    }


def test_a_worker_killed_mid_round_loses_nothing_and_duplicates_nothing(fleet, subprocess_env):
    connected = connect_simulated(fleet, count=8, seed=5)
    slow = connected.sim_vehicles[4:]
    SimVehicle.objects.filter(pk__in=[v.pk for v in slow]).update(latency_ms=20_000)
    worker = subprocess.Popen(  # a real process doing a round, killed without warning
        [sys.executable, "manage.py", "sync", "--all"], cwd=ROOT, env=subprocess_env, stdout=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 60
        while VehicleStatus.objects.filter(last_success_at__isnull=False).count() < 4:
            assert time.monotonic() < deadline, "the fast vehicles were never stored"
            assert worker.poll() is None, "the worker ended before it could be killed"
            time.sleep(0.2)
        time.sleep(0.5)
        worker.send_signal(signal.SIGKILL)
    finally:
        worker.wait(timeout=30)
    stored = {s.vehicle_id: s.last_success_at for s in VehicleStatus.objects.filter(last_success_at__isnull=False)}
    assert len(stored) == 4
    history_before = StatusHistory.objects.count()
    attempts_before = dict(EndpointState.objects.filter(vehicle_id__in=stored).values_list("pk", "last_attempt_at"))
    # The killed worker's leases are still held: nobody else syncs those vehicles until they expire.
    assert sync.vehicles_lease_due()[1] == [], list(
        VehicleSync.objects.values("vehicle_id", "lease_until", "next_sync_at", "vehicle__status__last_success_at")
    )
    SimVehicle.objects.update(latency_ms=None)
    after_expiry = timezone.now() + timedelta(seconds=31)
    with time_machine.travel(after_expiry, tick=False):
        clock.pin(after_expiry)
        try:
            leased = run_round()
        finally:
            clock.unpin()
    unsynced = {v.pk for v in connected.vehicles} - set(stored)
    assert set(leased) == unsynced
    assert VehicleStatus.objects.filter(last_success_at__isnull=False).count() == 8
    # The vehicles stored before the kill were not fetched again, and nothing was written twice.
    assert dict(EndpointState.objects.filter(vehicle_id__in=stored).values_list("pk", "last_attempt_at")) == (
        attempts_before
    )
    per_vehicle = defaultdict(int)
    for vehicle_id in StatusHistory.objects.values_list("vehicle_id", flat=True):
        per_vehicle[vehicle_id] += 1
    assert sum(per_vehicle[v] for v in stored) == history_before
    assert_history_has_no_repeats()
    assert VehicleSync.objects.filter(lease_until__isnull=False).count() == 0
