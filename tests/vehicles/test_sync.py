"""A sync round against the simulated platform, through the real client and HTTP stack."""

import io
import re
from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from simulator import clock
from simulator.models import Connection
from tests.vehicles.conftest import connect_simulated
from vehicles import sync
from vehicles.models import (
    DiagnosticTroubleCode,
    EndpointState,
    FleetSync,
    StatusHistory,
    SyncCounter,
    SyncState,
    SystemStatus,
    VehicleStatus,
    VehicleSync,
)


@pytest.fixture(autouse=True)
def pinned_simulator_clock():
    clock.pin(timezone.now())
    yield
    clock.unpin()


def sync_all():
    call_command("sync", "--all", stdout=io.StringIO())


def test_sync_all_stores_typed_status_every_reading_and_counts_calls(fleet, transactional_db):
    connected = connect_simulated(fleet, makes=["TESLA", "FORD", "CHEVROLET", "TOYOTA"])
    sync_all()
    statuses = {s.vehicle.make: s for s in VehicleStatus.objects.select_related("vehicle")}
    assert set(statuses) == {"TESLA", "FORD", "CHEVROLET", "TOYOTA"}
    for status in statuses.values():
        assert status.last_success_at is not None
        assert status.latitude is not None and status.odometer_km is not None
        assert status.data_age is not None
    tesla = statuses["TESLA"]
    assert tesla.battery_percent is not None and 0 <= tesla.battery_percent <= 100
    # Diagnostics of a GM vehicle: the count on the status, one row per system, DTCs with first/last seen.
    chevrolet = statuses["CHEVROLET"]
    assert chevrolet.active_dtc_count is not None
    assert (
        chevrolet.active_dtc_count
        == DiagnosticTroubleCode.objects.filter(vehicle=chevrolet.vehicle, cleared_at__isnull=True).count()
    )
    assert SystemStatus.objects.filter(vehicle=chevrolet.vehicle).count() >= 1
    assert (
        chevrolet.system_alert_count == SystemStatus.objects.filter(vehicle=chevrolet.vehicle, status="ALERT").count()
    )
    # Make-specific readings are kept as they came.
    assert EndpointState.objects.get(vehicle__make="TESLA", path="/tesla/charge").body is not None
    billed = sum(s.billed_calls_month for s in VehicleSync.objects.all())
    counter = SyncCounter.objects.get(fleet=fleet)
    assert counter.billed_calls == billed > 0
    assert counter.requests == len(connected.vehicles)  # one batch per vehicle


def test_unchanged_values_add_no_history_and_changed_ones_do(fleet, transactional_db):
    connect_simulated(fleet, makes=["TESLA", "FORD"])
    sync_all()
    rows = StatusHistory.objects.count()
    assert rows > 0
    sync_all()  # the simulated clock is pinned: nothing changed
    assert StatusHistory.objects.count() == rows
    clock.advance(timedelta(hours=3))
    sync_all()
    assert StatusHistory.objects.count() > rows


def test_without_batch_each_path_is_its_own_request(fleet, transactional_db):
    connect_simulated(fleet, makes=["FORD"])
    FleetSync.objects.create(fleet=fleet, use_batch=False)
    sync_all()
    counter = SyncCounter.objects.get(fleet=fleet)
    assert counter.requests == counter.billed_calls > 1
    # Many calls at once to one vehicle may find it busy (500, retried later): a few rounds store everything.
    for _ in range(3):
        if VehicleStatus.objects.get().odometer_km is not None:
            break
        sync_all()
    assert VehicleStatus.objects.get().odometer_km is not None, EndpointState.objects.get(path="/odometer").last_error


def test_after_a_round_nothing_is_due_until_the_fast_interval_passes(fleet, transactional_db, settings):
    connect_simulated(fleet, makes=["FORD"])
    token, leased = sync.vehicles_lease_due()
    assert len(leased) == 1
    assert sync.vehicles_sync(vehicle_ids=leased, lease_token=token).synced == 1
    assert sync.vehicles_lease_due()[1] == []
    later = timezone.now() + timedelta(seconds=max(settings.SYNC_INTERVALS["fast"].values()) + 60)
    with time_machine.travel(later):
        assert len(sync.vehicles_lease_due()[1]) == 1
        due = set(EndpointState.objects.filter(next_sync_at__lte=timezone.now()).values_list("path", flat=True))
        assert {"/location", "/charge"} & due
        assert "/vin" not in due  # daily data is not due again after hours


def test_a_revoked_permission_drops_the_endpoint_until_permissions_change(fleet, transactional_db):
    connected = connect_simulated(fleet, makes=["FORD"])
    sim_connection = Connection.objects.get()
    sim_connection.permissions = [p for p in sim_connection.permissions if p != "read_odometer"]
    sim_connection.save()
    sync_all()
    state = EndpointState.objects.get(path="/odometer")
    assert state.denied_with_permissions is not None
    with time_machine.travel(timezone.now() + timedelta(days=2)):
        sync_all()
        assert EndpointState.objects.get(path="/odometer").last_attempt_at == state.last_attempt_at
        assert EndpointState.objects.get(path="/location").last_attempt_at > state.last_attempt_at
        # A reconnection with other permissions brings it back.
        vehicle = connected.vehicles[0]
        vehicle.permissions = [*vehicle.permissions, "control_security"]
        vehicle.save()
        sync_all()
        assert EndpointState.objects.get(path="/odometer").last_attempt_at > state.last_attempt_at


def test_a_revoked_grant_marks_the_account_for_reconnect_and_stops_its_vehicles(fleet, transactional_db):
    from simulator.models import Token

    connected = connect_simulated(fleet, makes=["FORD", "TESLA"])
    Token.objects.all().delete()  # the simulator no longer knows the access token: 401
    sync_all()
    connected.account.refresh_from_db()
    assert connected.account.needs_reconnect
    assert set(VehicleStatus.objects.values_list("sync_state", flat=True)) == {SyncState.NEEDS_RECONNECT}
    assert sync.vehicles_lease_due()[1] == []


def test_a_billing_error_pauses_the_fleet_and_alerts_its_owners(fleet, owner, transactional_db):
    from connect.errors import BillingError

    connect_simulated(fleet, makes=["FORD"])
    sync.fleet_billing_pause(
        fleet_id=fleet.pk, error=BillingError("limit", type="BILLING", code="VEHICLE_REQUEST_LIMIT", status=430)
    )
    fleet_sync = FleetSync.objects.get(fleet=fleet)
    assert fleet_sync.paused_until > timezone.now()
    assert "billing" in fleet_sync.alert
    assert [m.to for m in mail.outbox] == [[owner.email]]
    assert sync.vehicles_lease_due()[1] == []
    # A second billing error during the same pause does not mail again.
    sync.fleet_billing_pause(fleet_id=fleet.pk, error=BillingError("limit", type="BILLING", status=430))
    assert len(mail.outbox) == 1
    sync.fleet_sync_resume(fleet_sync=fleet_sync)
    assert len(sync.vehicles_lease_due()[1]) == 1


def test_the_monthly_budget_is_never_exceeded_pro_rata(fleet, transactional_db):
    connect_simulated(fleet, makes=["TESLA"])
    FleetSync.objects.create(fleet=fleet, monthly_call_budget_per_vehicle=300)
    for _ in range(5):
        sync_all()
    spent = VehicleSync.objects.get().billed_calls_month
    from vehicles.cadence import pro_rata_allowance

    assert 0 < spent <= pro_rata_allowance(300, timezone.now())


def test_sync_now_fetches_only_the_requested_paths(fleet, transactional_db):
    connected = connect_simulated(fleet, makes=["FORD"])
    sync_all()
    before = {s.path: s.last_attempt_at for s in EndpointState.objects.all()}
    sync.vehicle_sync_now(vehicle=connected.vehicles[0], paths=["/location"])
    after = {s.path: s.last_attempt_at for s in EndpointState.objects.all()}
    assert after["/location"] > before["/location"]
    assert after["/vin"] == before["/vin"]


def test_an_asleep_vehicle_is_left_alone_until_its_back_off_ends_even_on_sync_now(fleet, faults, settings):
    connected = connect_simulated(fleet, makes=["FORD"])
    faults.asleep_rate = 1.0
    faults.save()
    sync_all()
    vehicle_sync = VehicleSync.objects.get()
    assert VehicleStatus.objects.get().sync_state == SyncState.BACKING_OFF
    assert vehicle_sync.backoff_until > timezone.now() + timedelta(seconds=settings.SYNC_BACKOFF_BASE_SECONDS * 0.7)
    attempts = dict(EndpointState.objects.values_list("path", "last_attempt_at"))
    sync.vehicle_sync_now(vehicle=connected.vehicles[0])
    assert dict(EndpointState.objects.values_list("path", "last_attempt_at")) == attempts
    assert VehicleSync.objects.get().backoff_until == vehicle_sync.backoff_until
    faults.asleep_rate = 0
    faults.save()
    with time_machine.travel(vehicle_sync.backoff_until + timedelta(seconds=1)):
        assert len(sync.vehicles_lease_due()[1]) == 1


def test_a_round_stores_the_vehicles_own_values_on_either_api(fleet, transactional_db, api_version):
    from simulator.models import Vehicle as SimulatedVehicle

    connected = connect_simulated(fleet, makes=["TESLA", "CHEVROLET", "TOYOTA"])
    sync_all()
    for vehicle in connected.vehicles:
        status = VehicleStatus.objects.get(vehicle=vehicle)
        state = SimulatedVehicle.objects.get(vehicle_id=vehicle.smartcar_id).state
        assert status.last_success_at is not None and status.data_age is not None, vehicle.make
        assert status.odometer_km == pytest.approx(state["odometer"], abs=0.01)
        assert [status.latitude, status.longitude] == pytest.approx(state["location"], abs=1e-4)
        if "ev" in state:
            assert status.battery_percent == pytest.approx(state["ev"]["soc"] * 100, abs=0.1)
            assert status.charging_state == state["ev"]["charging"]
        if "fuel" in state:
            assert status.fuel_percent == pytest.approx(state["fuel"]["percent"] * 100, abs=0.1)
    chevrolet = VehicleStatus.objects.get(vehicle__make="CHEVROLET")
    open_dtcs = DiagnosticTroubleCode.objects.filter(vehicle=chevrolet.vehicle, cleared_at__isnull=True)
    assert chevrolet.active_dtc_count == open_dtcs.count()
    assert (
        chevrolet.system_alert_count == SystemStatus.objects.filter(vehicle=chevrolet.vehicle, status="ALERT").count()
    )
    assert SystemStatus.objects.filter(vehicle=chevrolet.vehicle, system_id="SYSTEM_ABS").exists()
    counter = SyncCounter.objects.get(fleet=fleet)
    assert counter.requests == len(connected.vehicles)  # one batch (v2) or one read of every signal (v3) each
    assert counter.billed_calls == sum(s.billed_calls_month for s in VehicleSync.objects.all())


@pytest.mark.parametrize("api_version", ["3"], indirect=True)
def test_on_api_v3_one_read_of_every_signal_is_one_billed_call(fleet, transactional_db, api_version):
    from simulator.models import BillingCounter

    connected = connect_simulated(fleet, makes=["TESLA", "FORD"])
    sync_all()
    assert set(EndpointState.objects.values_list("path", flat=True)) == {"/signals"}
    assert SyncCounter.objects.get(fleet=fleet).billed_calls == 2
    assert sum(BillingCounter.objects.values_list("calls", flat=True)) == 2
    assert all(s.billed_calls_month == 1 for s in VehicleSync.objects.filter(vehicle__in=connected.vehicles))


@pytest.mark.parametrize("api_version", ["3"], indirect=True)
def test_on_api_v3_a_signal_without_its_unit_is_kept_and_logged_once(fleet, transactional_db, api_version, caplog):
    from vehicles.models import UnparsedReading

    connect_simulated(fleet, makes=["TESLA"])
    sync_all()
    clock.advance(timedelta(hours=1))
    EndpointState.objects.update(next_sync_at=None)
    sync_all()
    # signals__wheel.md documents no unit for tirePressure, so the simulator sends none: no pressure is guessed.
    unparsed = UnparsedReading.objects.get()
    assert (unparsed.code, unparsed.reason, unparsed.count) == ("wheel-tires", "tire pressure has no unit", 2)
    assert VehicleStatus.objects.get().tire_pressure_front_left_kpa is None
    assert sum("wheel-tires" in record.getMessage() for record in caplog.records) == 1


def test_a_rounds_reads_of_its_vehicles_rows_never_go_through_the_rest_of_the_fleet(fleet, transactional_db):
    # The endpoint rows' default ordering (by vehicle, which sorts by make, model, VIN) joined every vehicle of the
    # fleet to sort a chunk's rows: at 10,000 vehicles 13 ms of PostgreSQL for 50 of them instead of 0.3 ms, and the
    # same for system statuses and charging observations. A round reads its vehicles' rows by their own keys.
    connect_simulated(fleet, makes=["TESLA", "BMW", "FORD"])
    token, leased = sync.vehicles_lease_due()
    with CaptureQueriesContext(connection) as captured:
        assert sync.vehicles_sync(vehicle_ids=leased, lease_token=token).synced == 3
    own_rows = re.compile(r'FROM "(vehicles_endpointstate|vehicles_systemstatus|charging_chargingobservation)"')
    reads = [query["sql"] for query in captured.captured_queries if own_rows.search(query["sql"])]
    assert reads
    assert [sql for sql in reads if 'JOIN "vehicles_vehicle"' in sql] == []
