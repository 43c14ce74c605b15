"""The calls each fleet's vehicles made, counted per day by every worker that stores a group: two workers storing
groups of vehicles of the same fleets at once both count, neither waiting for the other's counters in the opposite
order (a deadlock, which PostgreSQL ends by failing one of them)."""

import threading
import time

from django.db import connection, connections, transaction
from django.utils import timezone

from tests.conftest import require_service
from tests.dashboard.factories import make_account, make_vehicles
from vehicles.models import FleetSync, SyncCounter, VehicleStatus, VehicleSync
from vehicles.sync.planning import Plan
from vehicles.sync.storing import VehicleWrite, group_store


def _answered(vehicle, token: str) -> VehicleWrite:
    """The vehicle as a round leased with ``token`` holds it after one answered call."""
    sync, _ = VehicleSync.objects.get_or_create(vehicle=vehicle)
    VehicleSync.objects.filter(pk=sync.pk).update(lease_token=token, lease_until=timezone.now())
    sync.refresh_from_db()
    sync.lease_token, sync.lease_until = "", None  # released by the store
    fleet_sync, _ = FleetSync.objects.get_or_create(fleet_id=vehicle.fleet_id)
    plan = Plan(vehicle, sync, VehicleStatus.objects.get(vehicle=vehicle), fleet_sync, {}, paths=["/odometer"])
    return VehicleWrite(plan, requests=1)


def _waiting_for_a_counter() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")  # a transaction keeps its first look at the statistics
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE %s",
            ["%vehicles_synccounter%"],
        )
        return cursor.fetchone()[0] > 0


def test_two_workers_storing_vehicles_of_the_same_fleets_at_once_both_count_their_calls(
    fleet, other_fleet, transactional_db
):
    # Each worker's group holds the counters it updated until it commits. A worker that holds the first fleet's and
    # then needs the second's must never meet one that holds the second's and waits for the first's.
    require_service(connection.vendor == "postgresql", "PostgreSQL")
    low, high = sorted([fleet, other_fleet], key=lambda f: f.pk)
    (low_1, low_2), (high_1, high_2) = (
        make_vehicles(f, 2, account=make_account(f), start=10 * n) for n, f in enumerate((low, high))
    )
    counted_low = threading.Event()
    failures: list[BaseException] = []

    def other_worker():
        try:
            with transaction.atomic():  # one transaction from the first fleet's counter to the second's
                group_store([_answered(low_1, "other")], "other")
                counted_low.set()
                deadline = time.monotonic() + 30
                while not _waiting_for_a_counter():  # this worker's group is now waiting for a counter
                    assert time.monotonic() < deadline
                    time.sleep(0.05)
                group_store([_answered(high_1, "other")], "other")
        except BaseException as exc:
            failures.append(exc)
        finally:
            counted_low.set()
            connections.close_all()

    writes = [_answered(high_2, "this"), _answered(low_2, "this")]
    other = threading.Thread(target=other_worker)
    other.start()
    assert counted_low.wait(30)
    assert len(group_store(writes, "this")) == 2
    other.join(30)
    assert failures == []
    counts = dict(SyncCounter.objects.values_list("fleet_id", "requests"))
    assert counts == {low.pk: 2, high.pk: 2}
