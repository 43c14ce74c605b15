"""Every alerting condition driven through the simulator: the vehicle's simulated state changes (or Smartcar stops
answering, refuses, bills, limits), sync reads it through the real client, one alert opens and stays the only one
while the condition holds; the state goes back, the alert resolves by itself — and the overview's tile for the
condition counts the vehicle exactly while its alert is open."""

from datetime import time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from alerts import tasks
from alerts.models import ACTIVE, Alert, AlertRule, AlertState, Delivery, EventKind, Mode, Subscription
from alerts.services import group_rule_save
from connect import subscriptions, transports
from connect.models import EventStatus, WebhookEvent
from dashboard.overview import TILES
from simulator.models import Token
from tests.alerts.conftest import nudge, sync_all
from tests.alerts.test_pages import _rules_post
from tests.connect.browser import connect
from tests.simulator.platform_fixtures import management_auth
from tests.vehicles.conftest import connect_simulated
from tests.webhooks.test_end_to_end import PUBLIC_CHARGER
from vehicles import conditions, sync
from vehicles.groups import group_create
from vehicles.models import EndpointState, FleetSync, SyncState, VehicleGroup, VehicleStatus, VehicleSync


def kinds(alert):
    return list(alert.events.values_list("kind", flat=True))


def tiles_of(condition: str) -> list[str]:
    """The overview's tiles that count a vehicle in this condition (its own, or one of several under one tile)."""
    return [tile.key for tile in TILES if condition in (tile.key, *(p.key for p in getattr(tile, "parts", [])))]


def overview(client, fleet):
    return client.get(reverse("fleet_home", args=[fleet.slug])).context


def assert_tiles(client, fleet, condition: str, count: int) -> None:
    """The overview counts ``count`` vehicles in this condition: on each tile that holds it, and where it is one of the
    reasons sync fails, under that reason (a vehicle may still fail for another)."""
    context = overview(client, fleet)
    counts = {tile["key"]: tile["count"] for tile in context["tiles"]}
    for key in tiles_of(condition):
        if key == conditions.SYNC_FAILING.key:
            phrase, summary = conditions.ALL[condition].phrase, context["failing_summary"]
            assert (f"{phrase} ({count})" in summary) if count else (phrase not in summary), summary
        else:
            assert counts[key] == count, (key, counts)


def _tires(kpa):
    return lambda s: s.update(tires_cold=[kpa, 240.0, 240.0, 240.0])


def _abs(description):
    return lambda s: s.update(system_alerts={"SYSTEM_ABS": description} if description else {})


def _fuel(fraction):
    return lambda s: s["fuel"].update(percent=fraction)


def _oil(fraction):
    def change(state):
        assert "oil_life" in state  # a vehicle with an engine
        state["oil_life"] = fraction

    return change


def _trunk(is_open):
    return lambda s: s.update(trunk_open=is_open, trip_chance=0)


CASES = {
    "low_tire": ("TESLA", _tires(150.0), _tires(240.0)),
    "system_alert": ("CHEVROLET", _abs("ABS sensor signal intermittent"), _abs(None)),
    "charging_stopped": (
        "TESLA",
        lambda s: s["ev"].update(soc=0.5, limit=0.9, plugged=True, charging="NOT_CHARGING", user_stopped=True),
        lambda s: s["ev"].update(soc=0.9, charging="FULLY_CHARGED"),
    ),
    "not_plugged_in": (
        "TESLA",
        lambda s: s["ev"].update(soc=0.3, plugged=False, charging="NOT_CHARGING", charger=None),
        lambda s: s["ev"].update(soc=0.8),
    ),
    # A Ford Explorer (petrol): fuel rather than a battery, and an engine whose oil wears.
    "low": ("FORD", _fuel(0.05), _fuel(0.6)),
    "low_oil": ("FORD", _oil(0.1), _oil(0.95)),
    "open_while_parked": ("FORD", _trunk(True), _trunk(False)),
}
CASE_IDS = {"low": "low_fuel"}


@pytest.mark.parametrize("condition", list(CASES), ids=[CASE_IDS.get(c, c) for c in CASES])
def test_the_condition_opens_one_alert_then_resolves(condition, owner_client, fleet, time_passes, transactional_db):
    make, into, out_of = CASES[condition]
    fleet.charge_by, fleet.charge_by_below_percent = time(0, 0), 50  # plugged in by midnight: always past
    fleet.save()
    vehicle = connect_simulated(fleet, makes=[make]).vehicles[0]
    sync_all()
    assert not Alert.objects.filter(vehicle=vehicle, condition=condition).exists()
    assert_tiles(owner_client, fleet, condition, 0)

    nudge(vehicle, into)
    sync_all()
    time_passes(timedelta(minutes=11))  # past any rule's delay
    tasks.due_check.delay()  # beat, every minute
    alert = Alert.objects.get(vehicle=vehicle, condition=condition)
    assert alert.state == AlertState.OPEN
    assert_tiles(owner_client, fleet, condition, 1)

    # While it holds: no second alert, no second word to anyone.
    sync_all()
    time_passes(timedelta(minutes=1))
    tasks.due_check.delay()
    assert Alert.objects.filter(vehicle=vehicle, condition=condition).count() == 1
    assert kinds(alert) == [EventKind.OPENED]

    nudge(vehicle, out_of)
    sync_all()
    alert.refresh_from_db()
    assert alert.state == AlertState.RESOLVED
    assert kinds(alert) == [EventKind.OPENED, EventKind.RESOLVED]
    assert Alert.objects.filter(vehicle=vehicle, condition=condition).count() == 1
    assert_tiles(owner_client, fleet, condition, 0)


def test_fuel_and_oil_alerts_say_what_is_low(fleet, transactional_db):
    ford = connect_simulated(fleet, makes=["FORD"]).vehicles[0]
    nudge(ford, lambda s: (_fuel(0.05)(s), _oil(0.1)(s)))
    sync_all()
    summaries = dict(Alert.objects.filter(vehicle=ford).values_list("condition", "summary"))
    assert summaries == {"low": "Fuel low (5 %)", "low_oil": "Oil life low"}


def flat_12v_battery(state):
    """The telematics unit goes quiet (the simulator answers VEHICLE_STATE:UNREACHABLE) until the car is charged."""
    state.update(aux_v=11.5, trip_chance=0)


def charged_12v_battery(state):
    state.update(aux_v=12.6)


def stale_listed(client, fleet) -> int:
    return client.get(reverse("fleet_home", args=[fleet.slug]), {"state": "stale"}).context["page"].paginator.count


def test_data_older_than_the_stale_threshold_opens_an_alert_with_nothing_arriving(
    owner_client, fleet, time_passes, transactional_db
):
    ford = connect_simulated(fleet, makes=["FORD"]).vehicles[0]
    sync_all()
    nudge(ford, flat_12v_battery)
    sync_all()  # no answer: Fleet backs off, and nothing new arrives from now on
    assert VehicleStatus.objects.get(vehicle=ford).sync_state == SyncState.BACKING_OFF

    time_passes(timedelta(minutes=fleet.stale_after_minutes - 5))
    tasks.due_check.delay()
    assert not Alert.objects.filter(condition="stale").exists()
    assert stale_listed(owner_client, fleet) == 0

    time_passes(timedelta(minutes=6))  # the readings are now older than the fleet's threshold
    tasks.due_check.delay()
    alert = Alert.objects.get(vehicle=ford, condition="stale")
    assert (alert.state, alert.summary) == (AlertState.OPEN, "Stale data")
    assert stale_listed(owner_client, fleet) == 1

    # Still stale: the next checks and a round that again gets no answer leave the one alert as it is.
    time_passes(timedelta(minutes=1))
    tasks.due_check.delay()
    sync_all()
    assert Alert.objects.filter(condition="stale").count() == 1 and kinds(alert) == [EventKind.OPENED]

    nudge(ford, charged_12v_battery)
    time_passes(timedelta(hours=1))  # past the back-off
    sync_all()
    alert.refresh_from_db()
    assert alert.state == AlertState.RESOLVED and kinds(alert) == [EventKind.OPENED, EventKind.RESOLVED]
    assert stale_listed(owner_client, fleet) == 0


def test_rules_that_no_longer_count_a_stale_vehicle_resolve_its_alert_at_once_and_the_minute_check_stays_cheap(
    manager_client, fleet, time_passes, django_assert_max_num_queries, transactional_db
):
    ford = connect_simulated(fleet, makes=["FORD"]).vehicles[0]
    sync_all()
    nudge(ford, flat_12v_battery)
    sync_all()
    time_passes(timedelta(minutes=fleet.stale_after_minutes + 1))
    tasks.due_check.delay()
    first = Alert.objects.get(condition="stale")

    # A manager allows a day before data counts as stale: nothing new arrives from the car, the alert resolves.
    rules = reverse("alerts_rules", args=[fleet.slug])
    assert manager_client.post(rules, _rules_post(fleet, **{"t-stale_after_minutes": 24 * 60})).status_code == 302
    first.refresh_from_db()
    assert first.state == AlertState.RESOLVED
    assert stale_listed(manager_client, fleet) == 0

    time_passes(timedelta(hours=24))
    tasks.due_check.delay()
    second = Alert.objects.get(condition="stale", state=AlertState.OPEN)

    # Then turns stale-data alerts off: the open one resolves, and none opens again.
    off = _rules_post(fleet, **{"t-stale_after_minutes": 24 * 60})
    del off["r-stale-enabled"]
    assert manager_client.post(rules, off).status_code == 302
    second.refresh_from_db()
    assert second.state == AlertState.RESOLVED
    # The minute's check with nothing to do: pending alerts, the fleets' rules, the fleets, one query for stale data
    # (the plug-in time is not set), the fleets paused or with a fleet-wide alert — however many vehicles are stale
    # with their alert turned off.
    with django_assert_max_num_queries(5):
        assert tasks.due_check.delay().get() == 0
    assert not Alert.objects.filter(condition="stale", state__in=ACTIVE).exists()


def test_the_minute_check_leaves_alone_vehicles_whose_groups_turn_stale_alerts_off_and_alerts_those_turned_back_on(
    fleet, time_passes, django_assert_max_num_queries, transactional_db
):
    pool, ford = connect_simulated(fleet, makes=["FORD", "FORD"]).vehicles
    quiet = VehicleGroup.objects.create(fleet=fleet, name="Pool cars")
    quiet.vehicles.add(pool, ford)
    AlertRule.objects.create(fleet=fleet, group=quiet, condition="stale", enabled=False)
    # The Ford is also in a group that wants the alert, and on in any group is on.
    watched = VehicleGroup.objects.create(fleet=fleet, name="Watched")
    watched.vehicles.add(ford)
    AlertRule.objects.create(fleet=fleet, group=watched, condition="stale", enabled=True)
    sync_all()
    nudge(pool, flat_12v_battery)
    nudge(ford, flat_12v_battery)
    sync_all()
    time_passes(timedelta(minutes=fleet.stale_after_minutes + 1))
    tasks.due_check.delay()
    assert list(Alert.objects.filter(condition="stale").values_list("vehicle", flat=True)) == [ford.pk]

    # The pool car is stale with its alert off through its group: the minute's check finds nothing to judge (pending
    # alerts, the fleets' rules, the fleets, one query for stale data, the fleets paused), minute after minute.
    for _ in range(2):
        time_passes(timedelta(minutes=1))
        with django_assert_max_num_queries(5):
            assert tasks.due_check.delay().get() == 0
    assert not Alert.objects.filter(vehicle=pool, condition="stale").exists()

    # Its own exception turns the alert back on for it: the next check opens it.
    AlertRule.objects.create(fleet=fleet, vehicle=pool, condition="stale", enabled=True)
    tasks.due_check.delay()
    assert Alert.objects.get(vehicle=pool, condition="stale").state == AlertState.OPEN


def _unplugged_at(fraction):
    return lambda s: s["ev"].update(soc=fraction, plugged=False, charging="NOT_CHARGING", charger=None, trip_chance=0)


def test_at_the_plug_in_time_the_minute_check_judges_each_vehicle_by_its_groups_threshold(
    fleet, time_passes, django_assert_max_num_queries, transactional_db
):
    # A zone where the plug-in time, 20 minutes from now, falls on today's date.
    fleet.time_zone = next(
        zone for zone in ("UTC", "Asia/Tokyo", "America/New_York", "Australia/Sydney")
        if 1 <= timezone.now().astimezone(ZoneInfo(zone)).hour <= 22
    )  # fmt: skip
    soon = timezone.now().astimezone(ZoneInfo(fleet.time_zone)) + timedelta(minutes=20)
    fleet.charge_by, fleet.charge_by_below_percent = time(soon.hour, soon.minute), 45
    fleet.save()
    long_shifts, short_hops = connect_simulated(fleet, makes=["TESLA", "TESLA"]).vehicles
    early = group_create(fleet=fleet, name="Long shifts", vehicles=[long_shifts])
    AlertRule.objects.create(fleet=fleet, group=early, condition="not_plugged_in", enabled=True, threshold=60)
    late = group_create(fleet=fleet, name="Short hops", vehicles=[short_hops])
    AlertRule.objects.create(fleet=fleet, group=late, condition="not_plugged_in", enabled=True, threshold=30)
    nudge(long_shifts, _unplugged_at(0.5))  # below its group's 60 %, above the fleet's 45 %
    nudge(short_hops, _unplugged_at(0.4))  # below the fleet's 45 %, above its group's 30 %
    sync_all()
    assert not Alert.objects.filter(condition="not_plugged_in").exists()  # not yet the plug-in time

    # The plug-in time passes with nothing arriving from the cars: the minute's check finds the vehicle its group
    # warns early, and not the one its group lets run lower.
    time_passes(timedelta(minutes=21))
    tasks.due_check.delay()
    assert list(Alert.objects.filter(condition="not_plugged_in").values_list("vehicle", flat=True)) == [long_shifts.pk]
    # Nor is that one judged again minute after minute (pending alerts, the fleets' rules and thresholds set, the
    # fleets, stale data, the plug-in time by the fleet's threshold and by each of the two set, the fleets paused).
    time_passes(timedelta(minutes=1))
    with django_assert_max_num_queries(8):
        assert tasks.due_check.delay().get() == 0


def test_a_vehicle_stale_again_while_another_of_its_alerts_is_open_gets_a_new_stale_alert(
    fleet, time_passes, transactional_db
):
    ford = connect_simulated(fleet, makes=["FORD"]).vehicles[0]
    nudge(ford, _fuel(0.05))
    sync_all()
    nudge(ford, flat_12v_battery)
    sync_all()
    time_passes(timedelta(minutes=fleet.stale_after_minutes + 1))
    tasks.due_check.delay()
    first = Alert.objects.get(condition="stale")
    nudge(ford, charged_12v_battery)
    time_passes(timedelta(hours=1))
    sync_all()
    first.refresh_from_db()
    assert first.state == AlertState.RESOLVED
    assert Alert.objects.get(condition="low").state == AlertState.OPEN  # still low on fuel

    nudge(ford, flat_12v_battery)
    sync_all()
    time_passes(timedelta(minutes=fleet.stale_after_minutes + 1))
    tasks.due_check.delay()
    assert Alert.objects.filter(condition="stale", state=AlertState.OPEN).count() == 1


# --- Whether Fleet can read the vehicle -----------------------------------------------------------------------------


def revoke_at_smartcar(account, vehicle, time_passes):
    """The owner revokes Fleet's access at Smartcar: the token pair is gone, the next read is refused (401)."""
    Token.objects.filter(user__user_id=account.smartcar_user_id).delete()


def revoke_and_let_the_access_token_expire(account, vehicle, time_passes):
    """Revoked, and noticed only when the access token runs out: its refresh is refused (invalid_grant)."""
    revoke_at_smartcar(account, vehicle, time_passes)
    time_passes(account.access_expires_at - timezone.now() + timedelta(minutes=1))


def delete_the_connection_at_smartcar(account, vehicle, time_passes):
    """This vehicle's connection is deleted (Smartcar's dashboard, the owner's app): every read of it is refused with
    PERMISSION while the account's sign-in still works."""
    response = Client().delete(
        f"/simulator/management/v2.0/management/connections?vehicle_id={vehicle.smartcar_id}",
        HTTP_AUTHORIZATION=management_auth(),
    )
    assert response.status_code == 200


@pytest.mark.parametrize(
    "lose_access",
    [revoke_at_smartcar, revoke_and_let_the_access_token_expire, delete_the_connection_at_smartcar],
    ids=["authentication", "refresh", "permission"],
)
def test_lost_access_opens_a_needs_reconnect_alert_that_resolves_when_the_owner_reconnects(
    lose_access, owner_client, fleet, time_passes, transactional_db
):
    connected = connect_simulated(fleet, makes=["FORD", "TESLA"])
    account, vehicle = connected.account, connected.vehicles[0]
    sync_all()
    lose_access(account, vehicle, time_passes)
    sync_all()
    alert = Alert.objects.get(vehicle=vehicle, condition="reconnect")
    assert alert.state == AlertState.OPEN
    lost = Alert.objects.filter(condition="reconnect", state=AlertState.OPEN).count()
    assert_tiles(owner_client, fleet, "reconnect", lost)

    sync_all()  # still refused, or not asked at all: the same alert
    assert Alert.objects.filter(condition="reconnect").count() == lost and kinds(alert) == [EventKind.OPENED]

    # The owner signs in to Smartcar Connect again from the connections page.
    reconnect = reverse("connect_account_reconnect", args=[fleet.slug, account.pk])
    connect(owner_client, fleet, "owner@sim.example", start_url=reconnect)
    alert.refresh_from_db()
    assert alert.state == AlertState.RESOLVED and kinds(alert) == [EventKind.OPENED, EventKind.RESOLVED]
    assert not Alert.objects.filter(condition="reconnect", state__in=ACTIVE).exists()
    assert_tiles(owner_client, fleet, "reconnect", 0)

    sync_all()
    assert Alert.objects.filter(condition="reconnect").count() == lost


def test_smartcar_not_answering_for_half_an_hour_opens_an_unreachable_alert(
    owner_client, fleet, faults, settings, time_passes, transactional_db
):
    settings.SIMULATOR_TIMEOUT_SECONDS = 2
    ford = connect_simulated(fleet, makes=["FORD"]).vehicles[0]
    # Path by path: the simulator's timeouts hang single calls (a batch's members do not time out there).
    FleetSync.objects.create(fleet=fleet, use_batch=False)
    sync_all()
    timeout, settings.SMARTCAR_VEHICLE_TIMEOUT_SECONDS = settings.SMARTCAR_VEHICLE_TIMEOUT_SECONDS, 0.5
    faults.timeout_rate = 1.0
    faults.save()
    sync_all()
    assert VehicleStatus.objects.get(vehicle=ford).sync_state == SyncState.UNREACHABLE
    alert = Alert.objects.get(vehicle=ford, condition="unreachable")
    assert alert.state == AlertState.PENDING  # a passing outage is nobody's business yet

    time_passes(timedelta(minutes=31))
    tasks.due_check.delay()
    alert.refresh_from_db()
    assert (alert.state, alert.summary) == (AlertState.OPEN, "Smartcar unreachable")
    assert_tiles(owner_client, fleet, "unreachable", 1)
    sync_all()
    assert Alert.objects.filter(condition="unreachable").count() == 1 and kinds(alert) == [EventKind.OPENED]

    faults.timeout_rate = 0.0
    faults.save()
    settings.SMARTCAR_VEHICLE_TIMEOUT_SECONDS = timeout  # a loaded machine answers slower than the half second
    sync_all()
    alert.refresh_from_db()
    assert alert.state == AlertState.RESOLVED and kinds(alert) == [EventKind.OPENED, EventKind.RESOLVED]
    assert_tiles(owner_client, fleet, "unreachable", 0)


def test_a_billing_error_opens_one_alert_for_the_whole_fleet_that_resolves_when_polling_resumes(
    owner_client, fleet, manager, django_capture_on_commit_callbacks, transactional_db
):
    Subscription.objects.create(fleet=fleet, user=manager, mode=Mode.IMMEDIATE, conditions=["paused"])
    ford, tesla = connect_simulated(fleet, makes=["FORD", "TESLA"]).vehicles
    sync_all()
    nudge(ford, lambda s: s.update(force_error="BILLING:VEHICLE_REQUEST_LIMIT"))
    sync_all()
    # The pause is the fleet's: every vehicle stops being read, and the fleet's members are told once.
    alert = Alert.objects.get(condition="paused")
    assert (alert.vehicle, alert.state, alert.about) == (None, AlertState.OPEN, "Whole fleet")
    emailed = Delivery.objects.filter(event__alert=alert, channel="email")
    assert list(emailed.values_list("user__email", flat=True)) == [manager.email]
    sync_all()  # the fleet's polling is paused: no vehicle is asked, the one alert holds
    assert VehicleStatus.objects.get(vehicle=tesla).sync_state == SyncState.PAUSED
    assert_tiles(owner_client, fleet, "paused", 2)
    assert Alert.objects.filter(condition="paused").count() == 1 and kinds(alert) == [EventKind.OPENED]
    tasks.due_check()
    assert Alert.objects.filter(condition="paused").count() == 1 and emailed.count() == 1
    inbox = owner_client.get(reverse("alerts_inbox", args=[fleet.slug])).content.decode()
    assert "Whole fleet" in inbox and "Paused by billing" in inbox
    detail = owner_client.get(reverse("alerts_detail", args=[fleet.slug, alert.pk]))
    assert detail.status_code == 200 and "every vehicle of this fleet" in detail.content.decode()

    # The plan is upgraded; an owner resumes polling (admin, fleet sync settings).
    nudge(ford, lambda s: s.pop("force_error"))
    with django_capture_on_commit_callbacks(execute=True):
        sync.fleet_sync_resume(fleet_sync=FleetSync.objects.get(fleet=fleet))
    alert.refresh_from_db()
    assert alert.state == AlertState.RESOLVED and kinds(alert) == [EventKind.OPENED, EventKind.RESOLVED]
    assert_tiles(owner_client, fleet, "paused", 0)
    sync_all()
    assert Alert.objects.filter(condition="paused").count() == 1


def test_a_billing_pause_that_ends_by_itself_resolves_the_fleets_alert_at_the_next_check(fleet, transactional_db):
    ford = connect_simulated(fleet, makes=["FORD"]).vehicles[0]
    sync_all()
    nudge(ford, lambda s: s.update(force_error="BILLING:VEHICLE_REQUEST_LIMIT"))
    sync_all()
    alert = Alert.objects.get(condition="paused", vehicle=None)
    FleetSync.objects.filter(fleet=fleet).update(paused_until=timezone.now() - timedelta(seconds=1))
    tasks.due_check()
    alert.refresh_from_db()
    assert alert.state == AlertState.RESOLVED


def test_a_rate_limited_vehicle_alerts_when_the_fleet_asks_for_it_and_resolves_once_the_limit_lifts(
    owner_client, fleet, faults, time_passes, transactional_db
):
    ford = connect_simulated(fleet, makes=["FORD"]).vehicles[0]
    faults.requests_per_minute = 1
    faults.save()
    sync_all()
    sync_all()  # a second request within the minute: 429 with its Retry-After
    assert VehicleStatus.objects.get(vehicle=ford).sync_state == SyncState.RATE_LIMITED
    assert not Alert.objects.filter(condition="rate_limited").exists()  # off unless the fleet turns it on

    AlertRule.objects.create(fleet=fleet, condition="rate_limited", enabled=True)
    sync_all()
    alert = Alert.objects.get(vehicle=ford, condition="rate_limited")
    assert alert.state == AlertState.OPEN
    assert_tiles(owner_client, fleet, "rate_limited", 1)
    sync_all()
    assert Alert.objects.filter(condition="rate_limited").count() == 1 and kinds(alert) == [EventKind.OPENED]

    time_passes(timedelta(minutes=2))  # past its Retry-After, in a new minute of the limit
    sync_all()
    alert.refresh_from_db()
    assert alert.state == AlertState.RESOLVED and kinds(alert) == [EventKind.OPENED, EventKind.RESOLVED]
    assert_tiles(owner_client, fleet, "rate_limited", 0)


# --- Where else data arrives: a webhook event --------------------------------------------------------------------


def test_a_charge_stopped_as_a_webhook_tells_opens_its_alert_and_the_restart_resolves_it(webhook_tesla, time_passes):
    vehicle, _ = webhook_tesla
    assert subscriptions.vehicle_webhooks_subscribe(vehicle=vehicle).errors == []
    nudge(vehicle, lambda s: s["ev"].update(plugged=True, charger=PUBLIC_CHARGER, charging="CHARGING", soc=0.4))
    sync_all()
    assert VehicleStatus.objects.get(vehicle=vehicle).charging_state == "CHARGING"
    cars = transports.current().vehicle_client(vehicle.account)
    # Asleep as far as the sync engine knows: no poll happens before the back-off ends, only the webhook tells.
    VehicleSync.objects.filter(vehicle=vehicle).update(backoff_until=timezone.now() + timedelta(hours=1))

    # Someone stops the charge (the car's own app, say).
    cars.charge_stop(vehicle.smartcar_id)
    assert WebhookEvent.objects.filter(vehicle=vehicle, status=EventStatus.PROCESSED).exists()
    alert = Alert.objects.get(vehicle=vehicle, condition="charging_stopped")
    assert alert.state == AlertState.PENDING  # a charge that pauses for a moment is no news
    time_passes(timedelta(minutes=11))
    tasks.due_check.delay()
    alert.refresh_from_db()
    assert alert.state == AlertState.OPEN

    cars.charge_start(vehicle.smartcar_id)
    alert.refresh_from_db()
    assert alert.state == AlertState.RESOLVED and kinds(alert) == [EventKind.OPENED, EventKind.RESOLVED]
    assert not EndpointState.objects.filter(vehicle=vehicle, last_success_at__gt=alert.since).exists()  # no poll


def test_saving_the_fleets_rules_leaves_a_groups_exception_as_it_was(manager_client, fleet, transactional_db):
    tesla = connect_simulated(fleet, makes=["TESLA"]).vehicles[0]
    group = group_create(fleet=fleet, name="Night shift", vehicles=[tesla])
    group_rule_save(fleet=fleet, group=group, condition="low", enabled=True, threshold=35)
    rules = reverse("alerts_rules", args=[fleet.slug])

    for _ in range(2):  # the first save creates the fleet's rules, the second updates them
        assert manager_client.post(rules, _rules_post(fleet, **{"r-low-after": 5})).status_code == 302

    assert AlertRule.objects.get(group=group).threshold == 35
    fleet_rule = AlertRule.objects.get(fleet=fleet, condition="low", vehicle=None, group=None)
    assert (fleet_rule.enabled, fleet_rule.after_minutes) == (True, 5)
