"""What people do with alerts: acknowledge one with a note; set the fleet's rules and vehicles' exceptions."""

from __future__ import annotations

from dataclasses import dataclass

from django.core.paginator import Page, Paginator
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from alerts import catalog, channels
from alerts.evaluation import Effective, Rules, _event, vehicles_evaluate_in_batches
from alerts.fleetwide import fleets_evaluate
from alerts.models import ACTIVE, Alert, AlertRule, AlertState, Endpoint, EventKind, Mode, Subscription
from connect import vault
from fleet import formatting
from fleet.errors import ApplicationError
from vehicles.conditions import Limits
from vehicles.models import Vehicle, VehicleGroup, name_sort_key


class AlertError(ApplicationError):
    pass


def alert_acknowledge(*, alert: Alert, user, note: str = "") -> Alert:
    """An open alert becomes acknowledged: someone has seen it. It still resolves by itself when its condition ends."""
    now = timezone.now()
    note = note.strip()[:500]
    with transaction.atomic():
        done = Alert.objects.filter(pk=alert.pk, state=AlertState.OPEN).update(
            state=AlertState.ACKNOWLEDGED, acknowledged_at=now, acknowledged_by=user, note=note, changed_at=now
        )
        if not done:
            raise AlertError("This alert is no longer open: someone acknowledged it or it resolved.")
        _event(alert, EventKind.ACKNOWLEDGED, now, alert.summary, by=user, note=note)
    alert.refresh_from_db()
    return alert


def rules_save(*, fleet, rules: dict[str, tuple[bool, int]]) -> None:
    """The fleet's rules as the rules page set them (with its thresholds): one row per condition, all or nothing;
    the fleet's active alerts are judged again by them once saved."""
    with transaction.atomic():
        for key, (enabled, after) in rules.items():
            AlertRule.objects.update_or_create(
                fleet=fleet,
                condition=key,
                vehicle=None,
                group=None,
                defaults={"enabled": enabled, "after_minutes": after},
            )
        alerted = Alert.objects.filter(fleet=fleet, state__in=ACTIVE, vehicle__isnull=False)
        _judge_again(alerted.values_list("vehicle_id", flat=True))
        transaction.on_commit(lambda: fleets_evaluate(fleet_ids=[fleet.pk]))


def vehicle_rule_save(*, fleet, vehicle, condition: str, enabled: bool, threshold: float | None) -> AlertRule:
    """One vehicle's exception; the vehicle is judged by it at once."""
    rule, _ = AlertRule.objects.update_or_create(
        fleet=fleet, condition=condition, vehicle=vehicle, defaults={"enabled": enabled, "threshold": threshold}
    )
    _judge_again([vehicle.pk])
    return rule


def group_rule_save(*, fleet, group, condition: str, enabled: bool, threshold: float | None) -> AlertRule:
    """A group's exception; the group's vehicles are judged by it at once."""
    rule, _ = AlertRule.objects.update_or_create(
        fleet=fleet, condition=condition, group=group, defaults={"enabled": enabled, "threshold": threshold}
    )
    _judge_again(group.vehicles.values_list("pk", flat=True))
    return rule


def exception_delete(*, rule: AlertRule) -> None:
    """A group's or a vehicle's exception removed; its vehicles are judged by the rules left at once."""
    ids = [rule.vehicle_id] if rule.vehicle_id else list(rule.group.vehicles.values_list("pk", flat=True))
    rule.delete()
    _judge_again(ids)


def _judge_again(vehicle_ids) -> None:
    ids = list(vehicle_ids)
    transaction.on_commit(lambda: vehicles_evaluate_in_batches(vehicle_ids=ids))


def rules_effective(*, fleet) -> dict[str, tuple[bool, int]]:
    """Each condition's (enabled, delay in minutes) for the fleet: its rule, or the catalogue's default."""
    rows = {r.condition: r for r in AlertRule.objects.filter(fleet=fleet, vehicle__isnull=True, group__isnull=True)}
    return {
        kind.key: (rows[kind.key].enabled, rows[kind.key].after_minutes)
        if kind.key in rows
        else (kind.enabled, kind.after_minutes)
        for kind in catalog.KINDS
    }


def endpoint_create(*, fleet, name: str, url: str) -> tuple[Endpoint, str]:
    """A new webhook with a new secret; returns the secret in clear this once, for the page to show."""
    secret = channels.new_secret()
    endpoint = Endpoint.objects.create(fleet=fleet, name=name, url=url, secret_encrypted=vault.encrypt(secret))
    return endpoint, secret


def subscription_for(*, fleet, user) -> Subscription:
    """The member's subscription; members who never chose get none (immediate e-mail is opt-in)."""
    subscription = Subscription.objects.filter(fleet=fleet, user=user).first()
    return subscription or Subscription(fleet=fleet, user=user, mode=Mode.OFF)


@dataclass(frozen=True)
class ThresholdSource:
    """One alert of one vehicle: on or off, its threshold in words, and which rule decided."""

    kind: catalog.AlertKind
    rule: Effective
    value: str


def threshold_sources(*, fleet, page=None) -> Page:
    """The connected vehicles whose alerts do not simply follow the fleet's rules (an exception of their own or of a
    group they are in), a page at a time, each with ``sources``: every alert with a threshold, and every other alert
    that is off for it, judged by the very ``Rules`` that evaluation applies. Every other vehicle follows the fleet."""
    group_rules = AlertRule.objects.filter(fleet=fleet, group__isnull=False).values("group_id")
    in_ruled_group = VehicleGroup.vehicles.through.objects.filter(vehiclegroup_id__in=group_rules).values("vehicle_id")
    own_rules = AlertRule.objects.filter(fleet=fleet, vehicle__isnull=False).values("vehicle_id")
    vehicles = (
        Vehicle.objects.filter(fleet=fleet, disconnected_at__isnull=True)
        .filter(Q(pk__in=own_rules) | Q(pk__in=in_ruled_group))
        .order_by(name_sort_key(), "pk")
    )
    found = Paginator(vehicles, SOURCES_PAGE_SIZE).get_page(page)
    rules = Rules.load([fleet.pk], [vehicle.pk for vehicle in found.object_list])
    limits = Limits.for_fleet(fleet, timezone.now())
    for vehicle in found.object_list:
        vehicle.sources = [
            source
            for kind in catalog.VEHICLE_KINDS
            if (source := _source(vehicle, kind, rules.effective(vehicle, kind), limits, fleet.unit_system))
        ]
    return found


SOURCES_PAGE_SIZE = 50


def _source(vehicle, kind: catalog.AlertKind, rule: Effective, limits: Limits, system: str) -> ThresholdSource | None:
    if not kind.threshold:
        return ThresholdSource(kind, rule, "") if not rule.enabled and (rule.own or rule.group) else None
    value = rule.threshold if rule.threshold is not None else getattr(limits, kind.threshold)
    return ThresholdSource(kind, rule, formatting.quantity(value, kind.threshold_quantity, system))
