"""The sync engine through a database outage and a broker outage: nothing fetched is lost, one ERROR line says so.

The database outage is a real one on PostgreSQL: the round's connection is terminated (``pg_terminate_backend``)
once every answer is in, and the database refuses new connections (``ALLOW_CONNECTIONS false``) for a few seconds.
"""

import logging
import threading
import time
from contextlib import contextmanager

import psycopg
import pytest
from django.db import connection, connections
from django.utils import timezone

from simulator import clock
from simulator.models import BillingCounter
from simulator.models import Vehicle as SimVehicle
from tests.vehicles.conftest import connect_simulated
from vehicles import sync
from vehicles.models import EndpointState, StatusHistory, VehicleStatus, VehicleSync

OUTAGE_SECONDS = 3.0


@pytest.fixture(autouse=True)
def pinned_simulator_clock():
    clock.pin(timezone.now())
    yield
    clock.unpin()


def billed_by_vehicle(connected) -> dict[int, int]:
    simulated = {s.pk: v.pk for v, s in zip(connected.vehicles, connected.sim_vehicles, strict=True)}
    calls = dict.fromkeys(simulated.values(), 0)
    for sim_id, count in BillingCounter.objects.values_list("vehicle_id", "calls"):
        calls[simulated[sim_id]] += count
    return calls


class DatabaseOutage:
    """Terminates a connection and keeps the test database refusing new ones until ``end()``; connections already
    open (the test's own) stay. Run from the server's maintenance database: a database cannot lock itself out."""

    def __init__(self):
        database = connection.settings_dict
        self.name = database["NAME"]
        self.server = {
            "host": database["HOST"] or "127.0.0.1",
            "port": database["PORT"] or 5432,
            "user": database["USER"],
            "password": database["PASSWORD"] or None,
            "dbname": "postgres",
            "autocommit": True,
        }
        self.ended_at: float | None = None

    def begin(self, backend_pid: int) -> None:
        with psycopg.connect(**self.server) as admin:
            admin.execute(f'ALTER DATABASE "{self.name}" ALLOW_CONNECTIONS false')
            admin.execute("SELECT pg_terminate_backend(%s, 5000)", [backend_pid])

    def end(self) -> None:
        with psycopg.connect(**self.server) as admin:
            admin.execute(f'ALTER DATABASE "{self.name}" ALLOW_CONNECTIONS true')
        self.ended_at = time.monotonic()


@contextmanager
def outage_before_storing(outage: DatabaseOutage):
    """In the calling thread: the first time it is about to lock its vehicles for storing (every answer is in),
    its connection is terminated and the database stays down for OUTAGE_SECONDS."""
    fired = threading.Event()

    def wrapper(execute, sql, params, many, context):
        if not fired.is_set() and "FOR UPDATE" in sql and "vehicles_vehiclesync" in sql:
            fired.set()
            with context["connection"].cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                pid = cursor.fetchone()[0]
            terminated = threading.Event()
            threading.Thread(target=_outage, args=(outage, pid, terminated)).start()
            terminated.wait(30)  # however long a loaded machine takes to connect and terminate it
        return execute(sql, params, many, context)

    with connection.execute_wrapper(wrapper):
        yield fired


def _outage(outage: DatabaseOutage, pid: int, terminated: threading.Event) -> None:
    try:
        outage.begin(pid)  # returns once the connection is gone (pg_terminate_backend waits for it)
    finally:
        terminated.set()
    time.sleep(OUTAGE_SECONDS)
    outage.end()


def test_a_database_outage_mid_round_loses_no_fetched_answer_and_fetches_nothing_twice(fleet, postgres, caplog):
    connected = connect_simulated(fleet, makes=["TESLA", "FORD", "CHEVROLET", "NISSAN"])
    SimVehicle.objects.update(latency_ms=300)
    token, leased = sync.vehicles_lease_due()
    outage = DatabaseOutage()
    result = {}

    def round_in_its_own_thread():
        try:
            with outage_before_storing(outage) as fired:
                result["report"] = sync.vehicles_sync(vehicle_ids=leased, lease_token=token)
            result["fired"] = fired.is_set()
            result["stored_at"] = time.monotonic()
        finally:
            connections.close_all()

    caplog.set_level(logging.INFO, logger="vehicles.sync")
    worker = threading.Thread(target=round_in_its_own_thread)
    try:
        worker.start()
        worker.join(timeout=60)
    finally:
        outage.end()
    assert result["fired"], "the outage was not injected"
    report = result["report"]
    assert (report.synced, report.dropped) == (len(leased), 0)

    # Every answer fetched before the outage is stored, each billed once, and every lease is released.
    statuses = VehicleStatus.objects.filter(vehicle__in=connected.vehicles)
    assert statuses.filter(last_success_at__isnull=False).count() == len(connected.vehicles)
    answered = {
        v.pk: EndpointState.objects.filter(vehicle=v, last_success_at__isnull=False).count() for v in connected.vehicles
    }
    assert billed_by_vehicle(connected) == answered
    assert StatusHistory.objects.filter(vehicle__in=connected.vehicles).exists()
    assert not VehicleSync.objects.filter(lease_until__isnull=False).exists()
    # Stored within a few seconds of the database's return.
    assert result["stored_at"] - outage.ended_at < 6

    # One ERROR line for the round, with a count and the first cause; no traceback. (The simulator's own request log
    # says ERROR for each 501 it answers: it is not the engine's.)
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR and r.name.startswith("vehicles.")]
    assert len(errors) == 1, [r.getMessage() for r in errors]
    assert "the database failed" in errors[0].getMessage()
    assert "OperationalError" in errors[0].getMessage()
    assert "nothing lost" in errors[0].getMessage()
    assert not [r for r in caplog.records if r.exc_info]


def test_a_dispatch_with_the_broker_down_releases_the_vehicles_and_says_so_once(fleet, transactional_db, broker_down,
                                                                                  caplog, settings):  # fmt: skip
    connected = connect_simulated(fleet, makes=["TESLA", "FORD", "CHEVROLET"])
    settings.SYNC_TASK_VEHICLES = 1
    assert sync.vehicles_dispatch() == 0
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR and r.name.startswith("vehicles.")]
    assert [r.getMessage().split(" (")[0] for r in errors] == ["sync dispatch: the broker is unreachable"]
    assert "3 of 3 vehicles wait" in errors[0].getMessage()
    assert not [r for r in caplog.records if r.exc_info]
    # Released: the next dispatch takes them at once.
    assert not VehicleSync.objects.filter(lease_until__isnull=False).exists()
    broker_down.restore()
    assert sync.vehicles_dispatch() == len(connected.vehicles)
    assert VehicleStatus.objects.filter(last_success_at__isnull=False).count() == len(connected.vehicles)
