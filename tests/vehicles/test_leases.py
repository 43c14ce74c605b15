"""Several dispatchers and workers never hold the same vehicle at once; a crashed holder's lease expires."""

import threading
from collections import Counter
from datetime import timedelta

import time_machine
from django.conf import settings
from django.db import connection, connections
from django.utils import timezone

from tests.vehicles.conftest import connect_simulated
from vehicles import sync
from vehicles.models import Vehicle, VehicleStatus, VehicleSync


def _vehicles(fleet, account, count):
    return Vehicle.objects.bulk_create(
        Vehicle(fleet=fleet, account=account, smartcar_id=f"v-{i}", make="FORD", model="F-150", permissions=[])
        for i in range(count)
    )


def test_concurrent_dispatchers_on_postgresql_never_lease_the_same_vehicle(fleet, postgres):
    account = connect_simulated(fleet).account
    _vehicles(fleet, account, 300)
    sync.vehicles_ensure_sync_rows()
    claimed: list[int] = []
    lock = threading.Lock()
    start = threading.Barrier(8)

    def dispatcher():
        try:
            start.wait()
            for _ in range(10):
                _, ids = sync.vehicles_lease_due(limit=25)
                with lock:
                    claimed.extend(ids)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=dispatcher) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    counts = Counter(claimed)
    assert [vid for vid, n in counts.items() if n > 1] == []
    assert len(counts) == 300


def test_a_held_vehicle_is_not_leased_again_until_its_lease_expires(fleet, transactional_db):
    account = connect_simulated(fleet).account
    (vehicle,) = _vehicles(fleet, account, 1)
    sync.vehicles_ensure_sync_rows()
    first_token, first = sync.vehicles_lease_due()
    assert first == [vehicle.pk]
    assert sync.vehicles_lease_due()[1] == []
    # The holder died without releasing: after the lease's expiry the vehicle is due to someone else.
    with time_machine.travel(timezone.now() + timedelta(seconds=settings.SYNC_LEASE_SECONDS + 1)):
        second_token, second = sync.vehicles_lease_due()
    assert second == [vehicle.pk]
    assert VehicleSync.objects.get(vehicle=vehicle).lease_token == second_token != first_token


def test_dispatched_vehicles_wait_in_the_queue_under_a_long_lease_and_their_round_shortens_it(fleet, transactional_db):
    connected = connect_simulated(fleet, makes=["FORD", "TESLA"])
    ids = sorted(v.pk for v in connected.vehicles)
    sync.vehicles_ensure_sync_rows()
    token, dispatched = sync.vehicles_lease_due(queued=True)
    assert sorted(dispatched) == ids
    # Their task waits behind a backlog for longer than a round's lease: no other dispatch takes them meanwhile.
    queued_for = timedelta(seconds=settings.SYNC_LEASE_SECONDS * 3)
    assert queued_for < timedelta(seconds=settings.SYNC_QUEUE_LEASE_SECONDS)
    with time_machine.travel(timezone.now() + queued_for):
        assert sync.vehicles_lease_due()[1] == []
        # Its round starts: the lease becomes a round's short one, which its worker's death would let run out.
        started = timezone.now()
        lease_ends = []
        with connection.execute_wrapper(_lease_ends_seen(lease_ends)):
            sync.vehicles_sync(vehicle_ids=dispatched, lease_token=token)
    assert lease_ends and all(end <= started + timedelta(seconds=settings.SYNC_LEASE_SECONDS + 5) for end in lease_ends)
    assert VehicleStatus.objects.filter(vehicle_id__in=ids, last_success_at__isnull=False).count() == 2


def _lease_ends_seen(seen: list):
    """Records the lease ends a round writes (its renewals), from the statements it sends."""

    def wrapper(execute, sql, params, many, context):
        if sql.startswith('UPDATE "vehicles_vehiclesync" SET "lease_until"') and params and params[0] is not None:
            seen.append(params[0])
        return execute(sql, params, many, context)

    return wrapper


def test_vehicles_of_disconnected_or_reconnect_needing_accounts_are_not_leased(fleet, transactional_db):
    account = connect_simulated(fleet).account
    kept, disconnected = _vehicles(fleet, account, 2)
    Vehicle.objects.filter(pk=disconnected.pk).update(disconnected_at=timezone.now())
    assert sync.vehicles_lease_due()[1] == [kept.pk]
    VehicleSync.objects.update(lease_until=None, lease_token="")
    account.status = "needs_reconnect"
    account.save()
    assert sync.vehicles_lease_due()[1] == []
