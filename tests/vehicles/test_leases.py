"""Several dispatchers and workers never hold the same vehicle at once; a crashed holder's lease expires."""

import threading
from collections import Counter
from datetime import timedelta

import time_machine
from django.conf import settings
from django.db import connections
from django.utils import timezone

from tests.vehicles.conftest import connect_simulated
from vehicles import sync
from vehicles.models import Vehicle, VehicleSync


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


def test_vehicles_of_disconnected_or_reconnect_needing_accounts_are_not_leased(fleet, transactional_db):
    account = connect_simulated(fleet).account
    kept, disconnected = _vehicles(fleet, account, 2)
    Vehicle.objects.filter(pk=disconnected.pk).update(disconnected_at=timezone.now())
    assert sync.vehicles_lease_due()[1] == [kept.pk]
    VehicleSync.objects.update(lease_until=None, lease_token="")
    account.status = "needs_reconnect"
    account.save()
    assert sync.vehicles_lease_due()[1] == []
