"""How a sync round that went wrong ends, by cause: each cause its own state, driven through the simulator.

The overview tells these apart (vehicles/conditions.py): a vehicle that said it is asleep is "asleep or offline";
one waiting out a rate limit, one Smartcar did not answer for, one that got errors, and one whose access is gone
are "sync failing", each with its reason.
"""

from django.utils import timezone

from tests.simulator.platform_fixtures import management_auth
from tests.vehicles.conftest import connect_simulated
from tests.vehicles.test_sync import pinned_simulator_clock, sync_all  # noqa: F401 — the clock fixture is autouse
from vehicles.models import EndpointState, FleetSync, SyncState, VehicleStatus, VehicleSync


def sync_state() -> str:
    return VehicleStatus.objects.get().sync_state


def test_a_vehicle_whose_connection_was_deleted_at_smartcar_needs_reconnect(client, fleet, transactional_db):
    connected = connect_simulated(fleet, makes=["FORD"])
    sync_all()
    vehicle = connected.vehicles[0]
    deleted = client.delete(
        f"/simulator/management/v2.0/management/connections?vehicle_id={vehicle.smartcar_id}",
        HTTP_AUTHORIZATION=management_auth(),
    )
    assert deleted.status_code == 200
    VehicleSync.objects.update(next_sync_at=None)
    EndpointState.objects.update(next_sync_at=None)

    sync_all()

    assert sync_state() == SyncState.NEEDS_RECONNECT
    # Not a permission of this vehicle refused: nothing is dropped, so a reconnect restores every reading.
    assert not EndpointState.objects.filter(denied_with_permissions__isnull=False).exists()
    # Asked again later, each time later, rather than at every round.
    assert VehicleSync.objects.get().backoff_until > timezone.now()
    # The account's other vehicles are not concerned: the account itself still works.
    connected.account.refresh_from_db()
    assert connected.account.is_active


def test_path_by_path_every_read_refused_is_lost_access_too(client, fleet, transactional_db):
    connected = connect_simulated(fleet, makes=["TESLA"])
    FleetSync.objects.create(fleet=fleet, use_batch=False)
    client.delete(
        f"/simulator/management/v2.0/management/connections?vehicle_id={connected.vehicles[0].smartcar_id}",
        HTTP_AUTHORIZATION=management_auth(),
    )

    sync_all()

    assert sync_state() == SyncState.NEEDS_RECONNECT
    assert not EndpointState.objects.filter(denied_with_permissions__isnull=False).exists()


def test_one_permission_withdrawn_is_not_lost_access(fleet, transactional_db):
    from simulator.models import Connection

    connect_simulated(fleet, makes=["FORD"])
    sim_connection = Connection.objects.get()
    sim_connection.permissions = [p for p in sim_connection.permissions if p != "read_odometer"]
    sim_connection.save()

    sync_all()

    assert sync_state() == SyncState.OK
    assert EndpointState.objects.get(path="/odometer").denied_with_permissions is not None


def test_a_rate_limited_vehicle_is_rate_limited_not_asleep(fleet, faults, transactional_db):
    connect_simulated(fleet, makes=["FORD"])
    faults.requests_per_minute = 1
    faults.save()
    sync_all()
    VehicleSync.objects.update(next_sync_at=None)
    EndpointState.objects.update(next_sync_at=None)

    sync_all()

    assert sync_state() == SyncState.RATE_LIMITED
    assert VehicleSync.objects.get().backoff_until > timezone.now()


def test_an_asleep_vehicle_backs_off(fleet, faults, transactional_db):
    connect_simulated(fleet, makes=["FORD"])
    faults.asleep_rate = 1.0
    faults.save()

    sync_all()

    assert sync_state() == SyncState.BACKING_OFF


def test_no_answer_from_smartcar_is_unreachable(fleet, faults, settings, transactional_db):
    settings.SMARTCAR_VEHICLE_TIMEOUT_SECONDS = 0.5
    connect_simulated(fleet, makes=["FORD"])
    # Path by path: the simulator's timeouts hang single calls (a batch's members do not time out there).
    FleetSync.objects.create(fleet=fleet, use_batch=False)
    faults.timeout_rate = 1.0
    faults.save()

    sync_all()

    assert sync_state() == SyncState.UNREACHABLE


def test_errors_from_smartcar_are_retried(fleet, faults, transactional_db):
    connect_simulated(fleet, makes=["FORD"])
    faults.upstream_rate = 1.0
    faults.save()

    sync_all()

    assert sync_state() == SyncState.RETRYING
