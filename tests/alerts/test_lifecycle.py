"""An alert opens once when sync stores a vehicle in a condition, holds without repeating, resolves when the
condition clears; delays, the cooldown against flapping and acknowledgement, each with its transitions recorded."""

from datetime import timedelta

import pytest
from django.utils import timezone

from alerts.evaluation import due_check, vehicles_evaluate
from alerts.models import Alert, AlertEvent, AlertRule, AlertState, EventKind
from alerts.services import AlertError, alert_acknowledge
from tests.alerts.conftest import nudge, sync_all
from tests.vehicles.conftest import connect_simulated


def kinds(alert):
    return list(alert.events.values_list("kind", flat=True))


def low_battery(state):
    state["ev"].update(soc=0.08, plugged=False, charging="NOT_CHARGING", charger=None)


def charged(state):
    state["ev"].update(soc=0.75)


def test_low_battery_opens_one_alert_that_holds_then_resolves(fleet, transactional_db):
    tesla = connect_simulated(fleet, makes=["TESLA"]).vehicles[0]
    sync_all()
    assert not Alert.objects.filter(condition="low").exists()

    nudge(tesla, low_battery)
    sync_all()
    alert = Alert.objects.get(vehicle=tesla, condition="low")
    assert alert.state == AlertState.OPEN and alert.summary == "Battery low (8 %)"
    sync_all()  # still low: no second alert, no second event
    assert Alert.objects.filter(vehicle=tesla, condition="low").count() == 1
    assert kinds(alert) == [EventKind.OPENED]

    nudge(tesla, charged)
    sync_all()
    alert.refresh_from_db()
    assert alert.state == AlertState.RESOLVED and alert.resolved_at is not None
    assert kinds(alert) == [EventKind.OPENED, EventKind.RESOLVED]
    assert AlertEvent.objects.filter(alert=alert, by__isnull=True).count() == 2  # Fleet itself, nobody's click


def test_a_new_trouble_code_opens_an_alert_with_its_description_and_updates_it(fleet, transactional_db):
    chevrolet = connect_simulated(fleet, makes=["CHEVROLET"]).vehicles[0]
    nudge(chevrolet, lambda s: s.update(dtcs=[{"code": "P0420", "timestamp": None}]))
    sync_all()
    alert = Alert.objects.get(vehicle=chevrolet, condition="trouble_codes")
    assert alert.summary == "1 trouble code"
    assert alert.detail.startswith("P0420: Catalyst")

    nudge(chevrolet, lambda s: s["dtcs"].append({"code": "P0171", "timestamp": None}))
    sync_all()
    alert.refresh_from_db()
    assert (alert.state, alert.summary) == (AlertState.OPEN, "2 trouble codes")
    assert "P0171" in alert.detail
    assert kinds(alert) == [EventKind.OPENED, EventKind.UPDATED]

    nudge(chevrolet, lambda s: s.update(dtcs=[]))
    sync_all()
    alert.refresh_from_db()
    assert alert.state == AlertState.RESOLVED


def test_unlocked_while_parked_waits_for_its_delay_and_a_short_unlock_is_never_told(fleet, transactional_db):
    ford = connect_simulated(fleet, makes=["FORD"]).vehicles[0]
    nudge(ford, lambda s: s.update(locked=False))
    sync_all()
    alert = Alert.objects.get(vehicle=ford, condition="unlocked_while_parked")
    assert alert.state == AlertState.PENDING and kinds(alert) == []  # waiting: nobody told yet

    assert due_check(now=timezone.now() + timedelta(minutes=5)) == 0
    assert due_check(now=timezone.now() + timedelta(minutes=11)) == 1
    alert.refresh_from_db()
    assert alert.state == AlertState.OPEN and kinds(alert) == [EventKind.OPENED]

    nudge(ford, lambda s: s.update(locked=True))
    sync_all()
    alert.refresh_from_db()
    assert alert.state == AlertState.RESOLVED

    # Unlocked and locked again within the delay: the waiting alert goes without a trace.
    AlertRule.objects.create(fleet=fleet, condition="unlocked_while_parked", after_minutes=60)
    Alert.objects.all().delete()
    nudge(ford, lambda s: s.update(locked=False))
    sync_all()
    nudge(ford, lambda s: s.update(locked=True))
    sync_all()
    assert not Alert.objects.exists()


def test_a_condition_that_holds_again_soon_reopens_its_alert_rather_than_a_new_one(fleet, transactional_db):
    tesla = connect_simulated(fleet, makes=["TESLA"]).vehicles[0]
    for change in (low_battery, charged, low_battery):
        nudge(tesla, change)
        sync_all()
    alert = Alert.objects.get(vehicle=tesla, condition="low")
    assert alert.state == AlertState.OPEN
    assert kinds(alert) == [EventKind.OPENED, EventKind.RESOLVED, EventKind.REOPENED]

    # Past the cooldown, a new alert.
    nudge(tesla, charged)
    sync_all()
    Alert.objects.filter(pk=alert.pk).update(resolved_at=timezone.now() - timedelta(hours=1))
    nudge(tesla, low_battery)
    sync_all()
    assert Alert.objects.filter(vehicle=tesla, condition="low").count() == 2


def test_a_disabled_rule_or_a_vehicle_threshold_changes_what_alerts(fleet, transactional_db):
    tesla = connect_simulated(fleet, makes=["TESLA"]).vehicles[0]
    nudge(tesla, lambda s: s["ev"].update(soc=0.3, plugged=False, charging="NOT_CHARGING"))
    sync_all()
    assert not Alert.objects.filter(condition="low").exists()  # 30 % is above the fleet's 20 %
    AlertRule.objects.create(fleet=fleet, vehicle=tesla, condition="low", threshold=35)
    vehicles_evaluate(vehicle_ids=[tesla.pk])
    assert Alert.objects.get(condition="low").state == AlertState.OPEN

    AlertRule.objects.create(fleet=fleet, condition="low", enabled=False)
    vehicles_evaluate(vehicle_ids=[tesla.pk])
    assert Alert.objects.get(condition="low").state == AlertState.RESOLVED


def test_an_open_alert_is_acknowledged_once_with_who_and_a_note(fleet, manager, transactional_db):
    tesla = connect_simulated(fleet, makes=["TESLA"]).vehicles[0]
    nudge(tesla, low_battery)
    sync_all()
    alert = Alert.objects.get(condition="low")
    alert_acknowledge(alert=alert, user=manager, note="  Driver is on the way to a charger ")
    alert.refresh_from_db()
    assert (alert.state, alert.acknowledged_by, alert.note) == (
        AlertState.ACKNOWLEDGED,
        manager,
        "Driver is on the way to a charger",
    )
    event = alert.events.get(kind=EventKind.ACKNOWLEDGED)
    assert (event.by, event.by_email, event.note) == (manager, manager.email, "Driver is on the way to a charger")
    with pytest.raises(AlertError):
        alert_acknowledge(alert=alert, user=manager)

    nudge(tesla, charged)  # acknowledged alerts still resolve by themselves
    sync_all()
    alert.refresh_from_db()
    assert alert.state == AlertState.RESOLVED


def test_evaluating_the_same_readings_twice_records_each_transition_once(fleet, transactional_db):
    tesla = connect_simulated(fleet, makes=["TESLA"]).vehicles[0]
    nudge(tesla, low_battery)
    sync_all()
    stale = Alert.objects.get(condition="low")
    # A second worker that read the alert before the first one moved it: its conditional update changes nothing.
    from alerts.evaluation import _clear

    Alert.objects.filter(pk=stale.pk).update(state=AlertState.RESOLVED)
    assert _clear(stale, timezone.now()) == 0
    assert vehicles_evaluate(vehicle_ids=[tesla.pk]) == 1  # reopened within the cooldown, once
    assert vehicles_evaluate(vehicle_ids=[tesla.pk]) == 0
    assert AlertEvent.objects.filter(kind=EventKind.RESOLVED).count() == 0
