"""Alerts about a whole fleet rather than one of its vehicles: its polling paused by Smartcar's billing error.

The pause is the fleet's (``vehicles.models.FleetSync``): every vehicle stops being read at once, so the fleet's
members are told once, by one alert without a vehicle, not once per vehicle that happened to be read first. It moves
through the same lifecycle, events and deliveries as a vehicle's (alerts.evaluation) and follows the fleet's rule for
the condition (on or off, a delay); a vehicle or a group has no exception for it.

``fleets_evaluate`` runs when a fleet's polling pauses or resumes (vehicles.signals.fleet_sync_changed), after its
rules are saved, and every minute from ``due_check`` (a delay that passed, a pause that ended by itself).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from alerts import catalog
from alerts.evaluation import _clear, _event
from alerts.models import ACTIVE, Alert, AlertRule, AlertState, EventKind
from vehicles import conditions
from vehicles.models import FleetSync

PAUSED = catalog.BY_KEY[conditions.SYNC_PAUSED.key]
SUMMARY = "Polling of every vehicle paused by billing"


def fleets_evaluate(*, fleet_ids: Iterable[int], now: datetime | None = None) -> int:
    """Judges these fleets' fleet-wide conditions and records what changed; returns the number of transitions."""
    now = now or timezone.now()
    ids = sorted(set(fleet_ids))
    paused = set(FleetSync.objects.filter(fleet_id__in=ids, paused_until__gt=now).values_list("fleet_id", flat=True))
    rules = {
        rule.fleet_id: rule
        for rule in AlertRule.objects.filter(
            fleet_id__in=ids, condition=PAUSED.key, vehicle__isnull=True, group__isnull=True
        )
    }
    active = {
        alert.fleet_id: alert
        for alert in Alert.objects.filter(
            fleet_id__in=ids, vehicle__isnull=True, condition=PAUSED.key, state__in=ACTIVE
        )
    }
    transitions = 0
    for fleet_id in ids:
        rule = rules.get(fleet_id)
        enabled = rule.enabled if rule else PAUSED.enabled
        after = timedelta(minutes=rule.after_minutes if rule else PAUSED.after_minutes)
        holds = enabled and fleet_id in paused
        alert = active.get(fleet_id)
        if alert is None and holds:
            transitions += _start(fleet_id, after, now)
        elif alert is not None and not holds:
            transitions += _clear(alert, now)
        elif alert is not None and alert.state == AlertState.PENDING and now >= alert.since + after:
            transitions += _open(alert, now)
    return transitions


def fleets_due(*, now: datetime) -> set[int]:
    """The fleets to judge every minute: those paused now, and those with an active fleet-wide alert (one query)."""
    paused = FleetSync.objects.filter(paused_until__gt=now).values_list("fleet_id", flat=True).order_by()
    alerted = Alert.objects.filter(vehicle__isnull=True, state__in=ACTIVE).values_list("fleet_id", flat=True).order_by()
    return set(paused.union(alerted))


def _detail() -> str:
    return (
        "Smartcar refused to answer for billing reasons (the plan's limit), so Fleet stopped reading every vehicle "
        f"of this fleet for now. {conditions.SYNC_PAUSED.action}"
    )


def _start(fleet_id: int, after: timedelta, now) -> int:
    opens = after <= timedelta(0)
    alert = Alert(
        fleet_id=fleet_id,
        vehicle=None,
        condition=PAUSED.key,
        state=AlertState.OPEN if opens else AlertState.PENDING,
        summary=SUMMARY,
        detail=_detail() if opens else "",
        since=now,
        opened_at=now if opens else None,
        changed_at=now,
    )
    try:
        with transaction.atomic():
            alert.save(force_insert=True)
            if opens:
                _event(alert, EventKind.OPENED, now, SUMMARY)
    except IntegrityError:
        return 0  # another worker started it first
    return 1


def _open(alert: Alert, now) -> int:
    with transaction.atomic():
        opened = Alert.objects.filter(pk=alert.pk, state=AlertState.PENDING).update(
            state=AlertState.OPEN, opened_at=now, changed_at=now, detail=_detail()
        )
        if opened:
            _event(alert, EventKind.OPENED, now, SUMMARY)
    return opened
