"""What a round does with each kind of answer, driven through the simulator's faults, world and billing.

Each test puts the simulated platform into a state (a forced error, a vehicle that sets off, a spent budget), runs
rounds as the dispatcher would, and asserts what the database holds afterwards and what was asked of the platform.
"""

from datetime import datetime, timedelta

import pytest
import time_machine
from django.core import mail
from django.utils import timezone

from connect.models import AccountStatus
from simulator import clock, world
from simulator.models import BillingCounter
from simulator.models import Vehicle as SimVehicle
from tests.vehicles.conftest import connect_simulated
from vehicles import cadence, sync
from vehicles.cadence import pro_rata_allowance
from vehicles.models import (
    Activity,
    DueReason,
    EndpointState,
    FleetSync,
    SyncCounter,
    SyncState,
    VehicleStatus,
    VehicleSync,
)


@pytest.fixture(autouse=True)
def pinned_simulator_clock():
    clock.pin(timezone.now())
    yield
    clock.unpin()


def run_round() -> list[int]:
    """What the dispatcher and a worker do: lease the due vehicles, run their round; the ids leased."""
    token, due = sync.vehicles_lease_due()
    if due:
        sync.vehicles_sync(vehicle_ids=due, lease_token=token)
    return due


def set_state(sim_vehicle: SimVehicle, **changes) -> None:
    sim_vehicle.refresh_from_db()
    sim_vehicle.state.update(changes)
    sim_vehicle.save(update_fields=["state"])


def attempts(vehicle) -> dict[str, datetime | None]:
    return dict(EndpointState.objects.filter(vehicle=vehicle).values_list("path", "last_attempt_at"))


def test_a_billing_error_pauses_the_whole_fleet_and_tells_its_owners_once(fleet, owner, transactional_db):
    connected = connect_simulated(fleet, makes=["FORD", "TESLA"])
    refusing, other = connected.vehicles
    set_state(connected.sim_vehicles[0], force_error="BILLING:VEHICLE_REQUEST_LIMIT")
    assert sorted(run_round()) == sorted([refusing.pk, other.pk])

    fleet_sync = FleetSync.objects.get(fleet=fleet)
    assert fleet_sync.paused_until > timezone.now() + timedelta(hours=23)
    assert "billing" in fleet_sync.alert
    assert [m.to for m in mail.outbox] == [[owner.email]]
    assert VehicleStatus.objects.get(vehicle=refusing).sync_state == SyncState.PAUSED
    # Neither vehicle of the fleet is asked again during the pause, not even when its paths fall due.
    with time_machine.travel(timezone.now() + timedelta(hours=12)):
        assert run_round() == []
    assert len(mail.outbox) == 1


@pytest.mark.parametrize(
    "answer",
    [
        pytest.param({"conditional_not_capable": ["odometer"]}, id="501 COMPATIBILITY"),
        pytest.param({"force_error": {"odometer": "RESOURCE_NOT_FOUND:PATH"}}, id="404 RESOURCE_NOT_FOUND"),
    ],
)
def test_an_endpoint_the_vehicle_cannot_serve_is_parked_for_days_then_probed_once(
    fleet, transactional_db, settings, answer
):
    connected = connect_simulated(fleet, makes=["FORD"])
    (vehicle,), (sim_vehicle,) = connected.vehicles, connected.sim_vehicles
    set_state(sim_vehicle, **answer)
    run_round()
    refused = EndpointState.objects.get(vehicle=vehicle, path="/odometer")
    park_days = timedelta(days=settings.SYNC_COMPATIBILITY_PARK_DAYS)
    assert refused.parked_until == refused.last_attempt_at + park_days
    first_attempt = refused.last_attempt_at

    set_state(sim_vehicle, conditional_not_capable=[], force_error=None)
    now = timezone.now()
    for _ in range(8):  # a day of rounds: every other path is asked again, the parked one is not
        now += timedelta(hours=3, minutes=5)
        with time_machine.travel(now, tick=False):
            run_round()
    assert EndpointState.objects.get(vehicle=vehicle, path="/odometer").last_attempt_at == first_attempt
    assert EndpointState.objects.get(vehicle=vehicle, path="/location").last_attempt_at > first_attempt

    with time_machine.travel(first_attempt + park_days + timedelta(minutes=1), tick=False):
        run_round()
    probed = EndpointState.objects.get(vehicle=vehicle, path="/odometer")
    assert probed.last_attempt_at > first_attempt + park_days
    assert probed.parked_until is None and probed.last_success_at == probed.last_attempt_at


def test_one_path_asking_for_reauthentication_is_parked_and_the_account_keeps_syncing(fleet, transactional_db):
    """A Tesla driver's account: /tesla/virtual_key answers CONNECTED_SERVICES_ACCOUNT:VEHICLE_MISSING (resolution
    REAUTHENTICATE) while every other path answers. That concerns one feature, not the account's grant."""
    connected = connect_simulated(fleet, makes=["TESLA"])
    (vehicle,), (sim_vehicle,) = connected.vehicles, connected.sim_vehicles
    set_state(sim_vehicle, access_type="DRIVER")
    run_round()

    connected.account.refresh_from_db()
    assert connected.account.status == AccountStatus.ACTIVE
    key = EndpointState.objects.get(vehicle=vehicle, path="/tesla/virtual_key")
    assert key.parked_until > timezone.now() + timedelta(days=1)
    assert "no longer in your connected services account" in key.last_error  # the owner's words
    assert VehicleStatus.objects.get(vehicle=vehicle).sync_state != SyncState.NEEDS_RECONNECT
    asked = attempts(vehicle)
    with time_machine.travel(timezone.now() + timedelta(hours=26), tick=False):
        assert run_round() == [vehicle.pk]
    assert attempts(vehicle)["/tesla/virtual_key"] == asked["/tesla/virtual_key"]
    assert attempts(vehicle)["/vin"] > asked["/vin"]


def test_a_round_the_budget_cut_short_is_not_followed_by_rounds_that_cannot_ask_anything(fleet, transactional_db):
    """Half-way through a month the vehicle has spent its pro-rata allowance but for two calls, and every path is
    due: the round asks the two most valuable. Until the allowance has grown, the vehicle is not leased again only
    to find no room."""
    (vehicle,) = connect_simulated(fleet, makes=["TESLA"]).vehicles
    budget = 3000  # about 100 calls a day: one every quarter of an hour
    FleetSync.objects.create(fleet=fleet, monthly_call_budget_per_vehicle=budget)
    # Days in the past, so that the simulator's tokens stay valid whatever the time the rounds run at.
    now = timezone.now().replace(hour=8, minute=0, second=0, microsecond=0) - timedelta(days=3)
    with time_machine.travel(now, tick=False):
        clock.pin(now)
        run_round()
    now += timedelta(days=2)  # every path is due again, the daily ones too
    VehicleSync.objects.filter(vehicle=vehicle).update(billed_calls_month=pro_rata_allowance(budget, now) - 2)
    with time_machine.travel(now, tick=False):
        clock.pin(now)
        assert run_round() == [vehicle.pk]
    assert EndpointState.objects.filter(vehicle=vehicle, last_attempt_at=now).count() == 2
    assert set(EndpointState.objects.filter(vehicle=vehicle, last_attempt_at=now).values_list("path", flat=True)) <= {
        "/location",
        "/battery",
        "/charge",
        "/tesla/speedometer",
    }
    leased = fetched = 0
    for _ in range(36):  # six hours in steps of ten minutes
        now += timedelta(minutes=10)
        clock.pin(now)
        with time_machine.travel(now, tick=False):
            if run_round():
                leased += 1
                fetched += EndpointState.objects.filter(vehicle=vehicle, last_attempt_at=now).exists()
    assert leased == fetched, f"{leased - fetched} rounds leased the vehicle and asked nothing"
    assert VehicleSync.objects.get(vehicle=vehicle).billed_calls_month <= pro_rata_allowance(budget, now)


def test_fast_signals_come_forward_when_the_vehicle_sets_off(fleet, transactional_db, settings):
    """Parked, the fast signals are asked every half hour. A targeted read of the location (a webhook event, say)
    finds the vehicle moving: the other fast signals are due within the driving interval, not half an hour on."""
    connected = connect_simulated(fleet, makes=["TESLA"])
    (vehicle,), (sim_vehicle,) = connected.vehicles, connected.sim_vehicles
    moment = clock.now()
    future = SimVehicle.objects.get(pk=sim_vehicle.pk)  # a copy to look ahead with, never saved
    for _ in range(2000):  # the simulated vehicle's days, in its own five-minute steps, until just before a trip
        ahead = moment + timedelta(minutes=5)
        world.advance(future, ahead)
        if future.state["trip"]:
            break
        moment = ahead
    else:
        pytest.fail("the simulated vehicle never set off")
    clock.pin(moment)
    run_round()
    assert VehicleStatus.objects.get(vehicle=vehicle).activity == Activity.PARKED
    parked_due = EndpointState.objects.get(vehicle=vehicle, path="/charge").next_sync_at
    assert parked_due > timezone.now() + timedelta(minutes=20)

    clock.pin(moment + timedelta(minutes=15))  # on the road
    sync.vehicle_sync_now(vehicle=vehicle, paths=["/location"])
    assert VehicleStatus.objects.get(vehicle=vehicle).activity == Activity.DRIVING
    driving = timedelta(seconds=settings.SYNC_INTERVALS["fast"]["driving"])
    for path in ("/charge", "/battery", "/tesla/speedometer"):
        assert EndpointState.objects.get(vehicle=vehicle, path=path).next_sync_at <= timezone.now() + driving
    assert VehicleSync.objects.get(vehicle=vehicle).next_sync_at <= timezone.now() + driving


def test_a_make_specific_path_the_batch_refuses_is_read_with_a_call_of_its_own(fleet, transactional_db):
    """An implementation of the API that routes only core paths inside a batch: /tesla/charge answers 404 there, yet
    a GET of it answers. The round reads it directly at once, and from then on beside the batch."""
    connected = connect_simulated(fleet, makes=["TESLA"])
    (vehicle,), (sim_vehicle,) = connected.vehicles, connected.sim_vehicles
    set_state(sim_vehicle, force_error={"batch:tesla/charge": "RESOURCE_NOT_FOUND:PATH"})
    run_round()
    charge = EndpointState.objects.get(vehicle=vehicle, path="/tesla/charge")
    assert charge.parked_until is None and charge.read_directly
    assert charge.last_success_at == charge.last_attempt_at and charge.body
    assert SyncCounter.objects.get(fleet=fleet).requests == 2  # the batch, then the refused path on its own

    set_state(sim_vehicle, force_error=None)
    with time_machine.travel(timezone.now() + timedelta(days=2), tick=False):
        run_round()
    assert EndpointState.objects.get(vehicle=vehicle, path="/tesla/charge").last_attempt_at > charge.last_attempt_at
    # Read beside the batch, no longer inside it: two requests again although the batch would now take it.
    assert sum(SyncCounter.objects.filter(fleet=fleet).values_list("requests", flat=True)) == 4


def days_ago(days: int) -> datetime:
    """A morning some days back: rounds run there keep the simulator's tokens valid whatever the time now."""
    return timezone.now().replace(hour=8, minute=0, second=0, microsecond=0) - timedelta(days=days)


def reads(vehicle, path: str, since: datetime) -> int:
    """Rounds that read this path since then (each round stamps its paths with its own time)."""
    return int(EndpointState.objects.filter(vehicle=vehicle, path=path, last_attempt_at__gte=since).exists())


def test_a_charging_vehicle_over_its_budget_is_read_as_its_allowance_grows_fast_signals_first(fleet, transactional_db):
    """The fleet's budget allows a call every 4.5 minutes and this charging vehicle has spent its share: rather than
    waiting until every path it left out fits (over an hour), it reads its charge and battery as each call's worth
    of allowance comes, and says that the budget is what it waits for."""
    connected = connect_simulated(fleet, makes=["TESLA"])
    (vehicle,), (sim_vehicle,) = connected.vehicles, connected.sim_vehicles
    budget = 10_000
    FleetSync.objects.create(fleet=fleet, monthly_call_budget_per_vehicle=budget)
    sim_vehicle.refresh_from_db()
    ev = {**sim_vehicle.state["ev"], "plugged": True, "soc": 0.3, "limit": 0.9, "user_stopped": False}
    set_state(sim_vehicle, ev=ev, trip_chance=0, asleep=False)
    now = days_ago(3)
    with time_machine.travel(now, tick=False):
        clock.pin(now)
        run_round()
    assert VehicleStatus.objects.get(vehicle=vehicle).activity == Activity.CHARGING
    now += timedelta(days=1)  # every path is due again, and the month's allowance is spent
    VehicleSync.objects.filter(vehicle=vehicle).update(billed_calls_month=pro_rata_allowance(budget, now))
    started, read_at = now, {"/charge": set(), "/battery": set()}
    for _ in range(12):  # an hour in steps of five minutes
        clock.pin(now)
        with time_machine.travel(now, tick=False):
            run_round()
        for path, moments in read_at.items():
            moments.add(EndpointState.objects.get(vehicle=vehicle, path=path).last_attempt_at)
        now += timedelta(minutes=5)
    for path, moments in read_at.items():
        assert len({m for m in moments if m >= started}) >= 3, (path, sorted(moments))
    sync_row = VehicleSync.objects.get(vehicle=vehicle)
    assert sync_row.next_sync_reason == DueReason.BUDGET
    assert sync_row.billed_calls_month <= pro_rata_allowance(budget, now)
    assert VehicleStatus.objects.get(vehicle=vehicle).activity == Activity.CHARGING


def test_a_make_whose_calls_of_the_day_are_spent_is_not_asked_again_before_the_next_day(fleet, transactional_db):
    """The simulator counts 20 calls of the Hyundai's day already (another application, say): every path answers
    UPSTREAM:RATE_LIMIT. The vehicle waits for the next day (UTC) rather than asking all day."""
    connected = connect_simulated(fleet, makes=["HYUNDAI"])
    (vehicle,), (sim_vehicle,) = connected.vehicles, connected.sim_vehicles
    now = days_ago(2)
    BillingCounter.objects.create(vehicle=sim_vehicle, day=now.date(), calls=20)
    with time_machine.travel(now, tick=False):
        clock.pin(now)
        run_round()
    attempted = EndpointState.objects.get(vehicle=vehicle, path="/battery").last_attempt_at
    assert attempted == now and "UPSTREAM:RATE_LIMIT" in VehicleStatus.objects.get(vehicle=vehicle).last_error
    sync_row = VehicleSync.objects.get(vehicle=vehicle)
    midnight = cadence.next_day(now)
    assert midnight <= sync_row.next_sync_at <= midnight + timedelta(minutes=10)
    assert sync_row.next_sync_reason == DueReason.BRAND_LIMIT
    assert VehicleStatus.objects.get(vehicle=vehicle).sync_state == SyncState.RATE_LIMITED
    for hour in range(1, 16):  # the rest of the day, "Sync now" included
        moment = now + timedelta(hours=hour)
        with time_machine.travel(moment, tick=False):
            if hour == 8:
                sync.vehicle_sync_now(vehicle=vehicle)
            run_round()
    assert EndpointState.objects.get(vehicle=vehicle, path="/battery").last_attempt_at == attempted
    with time_machine.travel(midnight + timedelta(minutes=11), tick=False):
        run_round()
    assert EndpointState.objects.get(vehicle=vehicle, path="/battery").last_success_at > midnight


def test_a_make_with_so_many_calls_a_day_spreads_them_over_the_day_fast_signals_first(fleet, transactional_db):
    """Hyundai answers 20 calls a day per vehicle: over a day of rounds the vehicle spends no more, is never refused
    for it, and reads its fast signals through the day rather than everything at once in the morning."""
    connected = connect_simulated(fleet, makes=["HYUNDAI"])
    (vehicle,), (sim_vehicle,) = connected.vehicles, connected.sim_vehicles
    day = days_ago(2).replace(hour=0)
    rounds_reading_location = 0
    for step in range(96):  # a day in steps of a quarter of an hour
        moment = day + timedelta(minutes=15 * step)
        clock.pin(moment)
        with time_machine.travel(moment, tick=False):
            run_round()
        rounds_reading_location += reads(vehicle, "/location", moment)
    billed = BillingCounter.objects.get(vehicle=sim_vehicle, day=day.date()).calls
    assert 15 <= billed <= 20
    refused = EndpointState.objects.filter(vehicle=vehicle, last_error__contains="RATE_LIMIT")
    assert not refused.exists(), list(refused.values_list("path", "last_error"))
    assert rounds_reading_location >= 3
