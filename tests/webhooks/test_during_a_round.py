"""A webhook event that arrives while a round of its vehicle is waiting for Smartcar's answers: the round, storing
afterwards, neither turns the event's values back to those it read before the event nor drops the targeted sync the
event asked for; an event processed while the round stores waits for it (or the round for the event), never both."""

import threading
import time
from contextlib import contextmanager
from datetime import timedelta

import pytest
from django.db import connection, connections
from django.utils import timezone

from connect.models import EventStatus, WebhookEvent
from connect.webhook_events import webhook_event_process
from simulator import clock, faults
from tests.conftest import require_service
from tests.vehicles.conftest import connect_simulated
from tests.webhooks.conftest import charging_event
from vehicles import sync
from vehicles.models import EndpointState, FleetSync, StatusHistory, VehicleStatus, VehicleSync
from vehicles.sync.planning import Plan
from vehicles.sync.storing import VehicleWrite, group_store


@pytest.fixture(autouse=True)
def pinned_simulator_clock():
    clock.pin(timezone.now())
    yield
    clock.unpin()


@pytest.fixture
def tesla(fleet, transactional_db):
    require_service(connection.vendor == "postgresql", "PostgreSQL")  # a round and an event at once
    vehicle = connect_simulated(fleet, makes=["TESLA"]).vehicles[0]
    token, leased = sync.vehicles_lease_due()
    assert sync.vehicles_sync(vehicle_ids=leased, lease_token=token).synced == 1
    assert VehicleStatus.objects.get(vehicle=vehicle).charging_state == "CHARGING"  # the simulated car charges
    return vehicle


@contextmanager
def round_waiting_for_smartcar(vehicle, monkeypatch, paths):
    """A round of the vehicle (for ``paths``) that has read its rows and sent its request, its answer held back until
    the block ends; the round then stores."""
    asked, answer = threading.Event(), threading.Event()
    failures: list[BaseException] = []

    def held(seconds):
        asked.set()
        assert answer.wait(30)

    def round_():
        try:
            sync.vehicle_sync_now(vehicle=vehicle, paths=paths)
        except BaseException as exc:
            failures.append(exc)
        finally:
            asked.set()
            connections.close_all()

    monkeypatch.setattr(faults, "wait", held)
    worker = threading.Thread(target=round_)
    worker.start()
    try:
        assert asked.wait(30)
        assert VehicleSync.objects.get(vehicle=vehicle).lease_token  # the round holds the vehicle
        yield
    finally:
        answer.set()
        worker.join(30)
    assert failures == []
    assert not VehicleSync.objects.get(vehicle=vehicle).lease_token  # the round stored and let the vehicle go


def _charging_stopped(webhook, vehicle):
    body = charging_event(webhook.smartcar_id, vehicle.smartcar_id, "CHARGING_STOPPED")
    event = WebhookEvent.objects.create(
        webhook=webhook,
        event_id=body["payload"]["eventId"],
        event_name="eventBased",
        event_type="CHARGING_STOPPED",
        smartcar_vehicle_id=vehicle.smartcar_id,
        event_time=timezone.now(),
        body=body,
    )
    assert webhook_event_process(event_id=event.pk) == EventStatus.PROCESSED


def test_a_charging_event_during_a_round_is_not_turned_back_by_what_the_round_read_before_it(
    webhook, tesla, monkeypatch
):
    with round_waiting_for_smartcar(tesla, monkeypatch, paths=["/location"]):
        _charging_stopped(webhook, tesla)
        assert VehicleStatus.objects.get(vehicle=tesla).charging_state == "NOT_CHARGING"

    status = VehicleStatus.objects.get(vehicle=tesla)
    assert (status.charging_state, status.activity) == ("NOT_CHARGING", "parked")
    assert status.last_sync_at > timezone.now() - timedelta(minutes=1)  # the round's own fields are its


def test_the_targeted_sync_an_event_asks_for_during_a_round_still_happens_right_after_it(webhook, tesla, monkeypatch):
    with round_waiting_for_smartcar(tesla, monkeypatch, paths=["/location"]):
        _charging_stopped(webhook, tesla)  # its targeted sync finds the vehicle held: the round has it

    now = timezone.now()
    assert EndpointState.objects.get(vehicle=tesla, path="/charge").next_sync_at <= now
    assert VehicleSync.objects.get(vehicle=tesla).next_sync_at <= now
    assert sync.vehicles_lease_due()[1] == [tesla.pk]  # the next dispatch reads the charge at once


def _waiting_for_a_lock(cursor) -> bool:
    cursor.execute("SELECT pg_stat_clear_snapshot()")  # a transaction keeps its first look at the statistics
    cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'")
    return cursor.fetchone()[0] > 0


def test_an_event_and_a_round_storing_its_vehicle_at_the_same_moment_do_not_deadlock(webhook, tesla):
    """An event older than the charging state already known asks for a targeted sync, in one transaction with the
    rest of its processing, while a round stores the same vehicle. Both take the vehicle's sync row first; the one
    that comes second waits for the other instead of each holding what the other needs (PostgreSQL would end that
    by failing one of them: the event, or the round's whole group)."""
    newest = StatusHistory.objects.filter(vehicle=tesla, field="charging_state").latest("recorded_at").recorded_at
    body = charging_event(webhook.smartcar_id, tesla.smartcar_id, "CHARGING_STARTED")
    event = WebhookEvent.objects.create(
        webhook=webhook, event_id=body["payload"]["eventId"], event_name="eventBased", event_type="CHARGING_STARTED",
        smartcar_vehicle_id=tesla.smartcar_id, event_time=newest - timedelta(hours=1), body=body,
    )  # fmt: skip
    # The round that holds the vehicle has read the charge and is about to store it.
    held_until = timezone.now() + timedelta(minutes=5)
    VehicleSync.objects.filter(vehicle=tesla).update(lease_token="round", lease_until=held_until)
    plan = Plan(
        tesla,
        VehicleSync.objects.get(vehicle=tesla),
        VehicleStatus.objects.get(vehicle=tesla),
        FleetSync.objects.get_or_create(fleet_id=tesla.fleet_id)[0],
        {},
        paths=["/charge"],
    )
    write = VehicleWrite(plan, states=[EndpointState.objects.get(vehicle=tesla, path="/charge")])
    due_asked = threading.Event()
    outcome: list = []

    def paused_once_the_paths_are_due(execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        if not due_asked.is_set() and sql.startswith('UPDATE "vehicles_endpointstate"'):
            due_asked.set()
            with context["connection"].cursor() as cursor:
                deadline = time.monotonic() + 30
                while not _waiting_for_a_lock(cursor):  # the round's store is waiting for a row now
                    assert time.monotonic() < deadline
                    time.sleep(0.05)
        return result

    def event_worker():
        try:
            with connection.execute_wrapper(paused_once_the_paths_are_due):
                outcome.append(webhook_event_process(event_id=event.pk))
        finally:
            due_asked.set()
            connections.close_all()

    worker = threading.Thread(target=event_worker)
    worker.start()
    assert due_asked.wait(30)
    stored = group_store([write], "round")
    worker.join(30)
    assert outcome == [EventStatus.PROCESSED]
    assert [w.vehicle_id for w in stored] == [tesla.pk]


def test_two_events_of_one_vehicle_processed_at_once_do_not_deadlock(webhook, tesla):
    """Two workers process events of the same vehicle: one older than the charging state known (it only records the
    charge and asks for a sync), one newer (it changes the status first). Both take the vehicle's sync row before its
    charging lock, so the second waits for the first instead of each holding what the other needs."""
    newest = StatusHistory.objects.filter(vehicle=tesla, field="charging_state").latest("recorded_at").recorded_at

    def event(event_type, when):
        body = charging_event(webhook.smartcar_id, tesla.smartcar_id, event_type)
        return WebhookEvent.objects.create(
            webhook=webhook, event_id=body["payload"]["eventId"], event_name="eventBased", event_type=event_type,
            smartcar_vehicle_id=tesla.smartcar_id, event_time=when, body=body,
        )  # fmt: skip

    older, newer = event("CHARGING_STARTED", newest - timedelta(hours=1)), event("CHARGING_STOPPED", timezone.now())
    charge_locked = threading.Event()
    outcome: list = []

    def paused_once_the_charge_is_locked(execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        if not charge_locked.is_set() and 'FROM "vehicles_vehicle"' in sql and "FOR UPDATE" in sql:
            charge_locked.set()
            with context["connection"].cursor() as cursor:
                deadline = time.monotonic() + 30
                while not _waiting_for_a_lock(cursor):  # the other event's worker is waiting for a row now
                    assert time.monotonic() < deadline
                    time.sleep(0.05)
        return result

    def older_event_worker():
        try:
            with connection.execute_wrapper(paused_once_the_charge_is_locked):
                outcome.append(webhook_event_process(event_id=older.pk))
        finally:
            charge_locked.set()
            connections.close_all()

    worker = threading.Thread(target=older_event_worker)
    worker.start()
    assert charge_locked.wait(30)
    assert webhook_event_process(event_id=newer.pk) == EventStatus.PROCESSED
    worker.join(30)
    assert outcome == [EventStatus.PROCESSED]
    stopped = StatusHistory.objects.get(vehicle=tesla, field="charging_state", recorded_at=newer.event_time)
    assert stopped.text == "NOT_CHARGING"
