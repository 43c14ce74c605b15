"""Judging vehicles' conditions where their data arrives, and moving their alerts through their lifecycle.

``vehicles_evaluate`` runs when sync stored readings, a webhook event was applied or a connection changed
(vehicles.signals.vehicles_changed), for those vehicles only:

1. load the vehicles with the columns the conditions and their fleets' limits read (``vehicles.conditions.judged``)
   and what a condition reads beyond them (the departures of trips.conditions), the fleets' rules and the vehicles'
   active alerts (four queries; a fifth for the vehicles' groups when a fleet has group exceptions);
2. for every alerting condition, judge it with the fleet's limits, or a group's or the vehicle's own threshold
   (``Rules.effective``);
3. start the alerts of conditions that began to hold, all of them in one transaction (one INSERT of alerts, one of
   events) — or one by one when another worker started one first, or one holds again within the cooldown;
4. move each active alert whose condition changed: open it once the delay passed, update its words, resolve it — each
   a conditional UPDATE on the state it was read in, so two workers judging the same vehicle record a transition once.
   Each transition's event is written in the same transaction, and whatever delivers it (alerts.delivery) reads that
   event.

Nothing is written while nothing changed. ``due_check`` (beat, every minute) covers what starts with time rather than
data: alerts whose delay passed, and the conditions of catalog.TIMED found by their database form.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable
from contextvars import ContextVar
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q, Subquery
from django.db.models.lookups import Exact
from django.utils import timezone

from alerts import catalog
from alerts.catalog import AlertKind
from alerts.models import ACTIVE, Alert, AlertEvent, AlertRule, AlertState, EventKind
from fleet.models import Fleet
from vehicles import conditions
from vehicles.conditions import Condition, Limits
from vehicles.models import DiagnosticTroubleCode, SystemStatus, Vehicle, VehicleGroup
from vehicles.obd import describe

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Effective:
    enabled: bool
    after: timedelta
    threshold: float | None = None  # None: the fleet's
    # Which rule decided: the vehicle's own exception, a group's (its name), or neither (the fleet's).
    own: bool = False
    group: str = ""


class Rules:
    """The rules of some fleets, groups and vehicles, with the catalogue's defaults where they have none.

    Which applies to a vehicle, for one condition:

    - the fleet's rule says whether the condition alerts at all and after how long (off there: off for every vehicle);
    - the vehicle's own exception, where it has one, decides the rest: on or off, its threshold or the fleet's;
    - else the rules of the vehicle's groups: on if any of them is on; of the thresholds they set, the highest — every
      threshold warns sooner the higher it is, so a vehicle in two groups is warned as early as either asks;
    - else the fleet's threshold.
    """

    def __init__(self, rows: Iterable[AlertRule], memberships: Iterable[tuple[int, int]] = ()):
        self.fleet: dict[tuple[int, str], AlertRule] = {}
        self.group: dict[tuple[int, str], AlertRule] = {}
        self.vehicle: dict[tuple[int, str], AlertRule] = {}
        for row in rows:
            if row.vehicle_id is not None:
                self.vehicle[(row.vehicle_id, row.condition)] = row
            elif row.group_id is not None:
                self.group[(row.group_id, row.condition)] = row
            else:
                self.fleet[(row.fleet_id, row.condition)] = row
        self.groups_of: dict[int, list[int]] = defaultdict(list)
        for vehicle_id, group_id in memberships:
            self.groups_of[vehicle_id].append(group_id)
        # Most vehicles have no exception: they take their fleet's rule, worked out once per fleet and condition.
        self.excepted = {vehicle_id for vehicle_id, _ in self.vehicle} | set(self.groups_of)
        self.of_fleet: dict[tuple[int, str], Effective] = {}

    @classmethod
    def load(cls, fleet_ids: Iterable[int], vehicle_ids: Iterable[int]) -> Rules:
        """The fleets' rules, their groups' rules and these vehicles' (one query), and these vehicles' memberships of
        groups with rules (a second query, only when a fleet has group rules)."""
        from django.db.models import Q

        ids = list(vehicle_ids)
        rows = list(
            AlertRule.objects.filter(fleet_id__in=list(fleet_ids))
            .filter(Q(vehicle__isnull=True) | Q(vehicle_id__in=ids))
            .select_related("group")
        )
        ruled = {row.group_id for row in rows if row.group_id is not None}
        memberships = (
            VehicleGroup.vehicles.through.objects.filter(vehicle_id__in=ids, vehiclegroup_id__in=ruled).values_list(
                "vehicle_id", "vehiclegroup_id"
            )
            if ruled
            else []
        )
        return cls(rows, memberships)

    def effective(self, vehicle: Vehicle, kind: AlertKind) -> Effective:
        fleets = self.fleet_effective(vehicle.fleet_id, kind)
        if vehicle.pk not in self.excepted:
            return fleets
        enabled, after = fleets.enabled, fleets.after
        own = self.vehicle.get((vehicle.pk, kind.key))
        if own is not None:
            return Effective(enabled and own.enabled, after, own.threshold if kind.threshold else None, own=True)
        groups = sorted(
            (rule for g in self.groups_of.get(vehicle.pk, ()) if (rule := self.group.get((g, kind.key)))),
            key=lambda rule: rule.group.name,
        )
        if not groups:
            return Effective(enabled, after)
        on = any(rule.enabled for rule in groups)
        setting = [rule for rule in groups if rule.enabled and rule.threshold is not None] if kind.threshold else []
        if setting:
            decides = max(setting, key=lambda rule: rule.threshold)  # the first by name of the highest
            return Effective(enabled, after, decides.threshold, group=decides.group.name)
        decides = next(rule for rule in groups if rule.enabled == on)
        return Effective(enabled and on, after, group=decides.group.name)

    def fleet_effective(self, fleet_id: int, kind: AlertKind) -> Effective:
        key = (fleet_id, kind.key)
        found = self.of_fleet.get(key)
        if found is None:
            rule = self.fleet.get(key)
            enabled = rule.enabled if rule else kind.enabled
            after = timedelta(minutes=rule.after_minutes if rule else kind.after_minutes)
            found = self.of_fleet[key] = Effective(enabled, after)
        return found


def limits_for(kind: AlertKind, base: Limits, rule: Effective) -> Limits:
    if rule.threshold is None:
        return base
    return replace(base, **{kind.threshold: rule.threshold})


# --- Evaluation -----------------------------------------------------------------------------------------------------


def vehicles_evaluate(*, vehicle_ids: Iterable[int], now: datetime | None = None) -> int:
    """Judges these vehicles' alerting conditions and records what changed; returns the number of transitions."""
    now = now or timezone.now()
    ids = list(vehicle_ids)
    prefetch = [p for kind in catalog.VEHICLE_KINDS for p in kind.condition.prefetch()]
    vehicles = list(conditions.judged(Vehicle.objects.filter(pk__in=ids)).prefetch_related(*prefetch))
    if not vehicles:
        return 0
    rules = Rules.load({v.fleet_id for v in vehicles}, ids)
    active = {(a.vehicle_id, a.condition): a for a in Alert.objects.filter(vehicle_id__in=ids, state__in=ACTIVE)}
    token = CALL_CACHE.set({"ids": ids})
    try:
        return _judge(vehicles, rules, active, now)
    finally:
        CALL_CACHE.reset(token)


def _judge(vehicles: list[Vehicle], rules: Rules, active: dict, now: datetime) -> int:
    limits: dict[int, Limits] = {}
    transitions = 0
    starts: list[Start] = []
    for vehicle in vehicles:
        base = limits.get(vehicle.fleet_id)
        if base is None:
            base = limits[vehicle.fleet_id] = Limits.for_fleet(vehicle.fleet, now)
        for kind in catalog.VEHICLE_KINDS:
            rule = rules.effective(vehicle, kind)
            judged = limits_for(kind, base, rule)
            holds = rule.enabled and kind.condition.holds(vehicle, judged)
            alert = active.get((vehicle.pk, kind.key))
            if alert is None and holds:
                starts.append(Start(vehicle, kind, judged, rule))
            elif alert is not None:
                transitions += _move(vehicle, kind, judged, rule, alert, holds, now)
    return transitions + _start_all(starts, now)


@dataclass(frozen=True)
class Start:
    """A condition that started to hold for a vehicle without an active alert."""

    vehicle: Vehicle
    kind: AlertKind
    limits: Limits
    rule: Effective


def _move(vehicle, kind: AlertKind, limits: Limits, rule: Effective, alert: Alert, holds: bool, now) -> int:
    if not holds:
        return _clear(alert, now)
    if alert.state == AlertState.PENDING:
        return _open(alert, vehicle, kind, limits, now) if now >= alert.since + rule.after else 0
    summary = _summary(vehicle, kind, limits)
    if summary != alert.summary:
        return _update(alert, vehicle, kind, summary, now)
    return 0


def _recently_resolved(vehicle, key: str, now) -> Alert | None:
    """The alert of this vehicle and condition resolved within the cooldown, if any. Loaded on an evaluation's first
    start for all its vehicles at once: starts are rare, and this keeps them to one query between them."""
    cache = CALL_CACHE.get()
    recent = cache.get("recent") if cache is not None else None
    if recent is None:
        ids = cache["ids"] if cache is not None else [vehicle.pk]
        rows = Alert.objects.filter(
            vehicle_id__in=ids,
            state=AlertState.RESOLVED,
            resolved_at__gte=now - timedelta(minutes=catalog.COOLDOWN_MINUTES),
        ).order_by("resolved_at")
        recent = {(a.vehicle_id, a.condition): a for a in rows}  # the latest wins
        if cache is not None:
            cache["recent"] = recent
    return recent.get((vehicle.pk, key))


def _start_all(starts: list[Start], now) -> int:
    """The evaluation's new alerts, written together: one transaction, one INSERT of alerts and one of events (sync
    rounds judge vehicles in groups, and a fleet's vehicles often go low or stale together). One that holds again
    within the cooldown reopens its alert instead, on its own; if another worker started one of them first (the
    constraint refuses it), each is started on its own."""
    if not starts:
        return 0
    fresh, again = [], []
    for start in starts:
        (again if _recently_resolved(start.vehicle, start.kind.key, now) else fresh).append(start)
    transitions = sum(_start(*_args(start), now) for start in again)
    if fresh:
        try:
            transitions += _create_together(fresh, now)
        except IntegrityError:
            transitions += sum(_start(*_args(start), now) for start in fresh)
    return transitions


def _args(start: Start) -> tuple:
    return start.vehicle, start.kind, start.limits, start.rule


def _create_together(starts: list[Start], now) -> int:
    # Inserted in one order (vehicle, condition): two evaluations starting overlapping alerts at once (a round's group
    # and the minute's due check) then wait on each other's rows instead of deadlocking on the unique index.
    starts = sorted(starts, key=lambda start: (start.vehicle.pk, start.kind.key))
    alerts = [_new_alert(*_args(start), now) for start in starts]
    with transaction.atomic():
        Alert.objects.bulk_create(alerts)
        _events([(alert, EventKind.OPENED, alert.summary) for alert in alerts if alert.state == AlertState.OPEN], now)
    return len(alerts)


def _new_alert(vehicle, kind: AlertKind, limits: Limits, rule: Effective, now) -> Alert:
    """A new alert: open at once, or waiting for its rule's delay."""
    opens = rule.after <= timedelta(0)
    return Alert(
        fleet_id=vehicle.fleet_id,
        vehicle=vehicle,
        condition=kind.key,
        state=AlertState.OPEN if opens else AlertState.PENDING,
        summary=_summary(vehicle, kind, limits),
        detail=_detail(vehicle, kind) if opens else "",
        since=now,
        opened_at=now if opens else None,
        changed_at=now,
    )


def _start(vehicle, kind: AlertKind, limits: Limits, rule: Effective, now) -> int:
    summary = _summary(vehicle, kind, limits)
    recent = _recently_resolved(vehicle, kind.key, now)
    try:
        with transaction.atomic():
            if recent is not None:
                # Flapping: the same alert holds again rather than a new one opening (and being sent) each time.
                reopened = Alert.objects.filter(pk=recent.pk, state=AlertState.RESOLVED).update(
                    state=AlertState.OPEN, resolved_at=None, changed_at=now, summary=summary
                )
                if reopened:
                    _event(recent, EventKind.REOPENED, now, summary)
                return reopened
            alert = _new_alert(vehicle, kind, limits, rule, now)
            alert.save(force_insert=True)
            if alert.state == AlertState.OPEN:
                _event(alert, EventKind.OPENED, now, summary)
    except IntegrityError:
        return 0  # another worker started it first
    return 1


def _open(alert: Alert, vehicle, kind: AlertKind, limits: Limits, now) -> int:
    summary = _summary(vehicle, kind, limits)
    with transaction.atomic():
        opened = Alert.objects.filter(pk=alert.pk, state=AlertState.PENDING).update(
            state=AlertState.OPEN, opened_at=now, changed_at=now, summary=summary, detail=_detail(vehicle, kind)
        )
        if opened:
            _event(alert, EventKind.OPENED, now, summary)
    return opened


def _update(alert: Alert, vehicle, kind: AlertKind, summary: str, now) -> int:
    with transaction.atomic():
        updated = Alert.objects.filter(pk=alert.pk, state=alert.state, summary=alert.summary).update(
            summary=summary, detail=_detail(vehicle, kind), changed_at=now
        )
        if updated:
            _event(alert, EventKind.UPDATED, now, summary)
    return updated


def _clear(alert: Alert, now) -> int:
    if alert.state == AlertState.PENDING:
        # It never lasted long enough to be opened: nobody was told, nothing to resolve.
        Alert.objects.filter(pk=alert.pk, state=AlertState.PENDING).delete()
        return 0
    with transaction.atomic():
        resolved = Alert.objects.filter(pk=alert.pk, state=alert.state).update(
            state=AlertState.RESOLVED, resolved_at=now, changed_at=now
        )
        if resolved:
            _event(alert, EventKind.RESOLVED, now, alert.summary)
    return resolved


def _event(alert: Alert, kind: str, now, summary: str, *, by=None, note: str = "") -> AlertEvent:
    event = AlertEvent.objects.create(
        alert=alert, kind=kind, at=now, by=by, by_email=by.email if by else "", summary=summary, note=note
    )
    for hook in EVENT_HOOKS:
        hook(event)
    return event


def _events(transitions: list[tuple[Alert, str, str]], now) -> list[AlertEvent]:
    """Fleet's own transitions (alert, kind, words), recorded in one INSERT; the hooks see each."""
    events = AlertEvent.objects.bulk_create(
        [AlertEvent(alert=alert, kind=kind, at=now, summary=summary) for alert, kind, summary in transitions]
    )
    for event in events:
        for hook in EVENT_HOOKS:
            hook(event)
    return events


# Called with every transition's event inside its transaction (alerts.delivery plans its deliveries there).
EVENT_HOOKS: list = []
# What one evaluation loads once for all its vehicles (recently resolved alerts; a fleet's channels, for
# alerts.delivery); None outside an evaluation.
CALL_CACHE: ContextVar[dict | None] = ContextVar("alerts_evaluation_cache", default=None)


# --- Words ----------------------------------------------------------------------------------------------------------


def _summary(vehicle: Vehicle, kind: AlertKind, limits: Limits) -> str:
    words = kind.condition.badge(vehicle, limits)
    status = conditions.status_of(vehicle)
    if kind.condition is conditions.LOW_ENERGY and status is not None:
        energy = status.battery_percent if status.battery_percent is not None else status.fuel_percent
        words = f"{words} ({energy:.0f} %)"
    return (words[:1].upper() + words[1:])[:200]


def _detail(vehicle: Vehicle, kind: AlertKind) -> str:
    """The plain descriptions behind a count: each trouble code, each system in alert."""
    if kind.condition is conditions.TROUBLE_CODES:
        codes = DiagnosticTroubleCode.objects.filter(vehicle=vehicle, cleared_at__isnull=True).order_by("code")
        return "\n".join(f"{c.code}: {describe(c.code) or 'no description'}" for c in codes)
    if kind.condition is conditions.SYSTEM_ALERT:
        systems = SystemStatus.objects.filter(vehicle=vehicle, status="ALERT").order_by("system_id")
        return "\n".join(s.description or s.system_id for s in systems)
    return ""


# --- Time ----------------------------------------------------------------------------------------------------------


def due_check(*, now: datetime | None = None) -> int:
    """What starts with time rather than data: alerts whose delay passed (or whose vehicle stopped reporting while
    they waited), and vehicles for which a timed condition (stale data, not plugged in) now holds without an alert.
    Found by query, never by judging every vehicle: one query per timed condition and distinct set of thresholds
    (fleets that share them share the query), which finds nothing once every such vehicle has its alert."""
    from alerts.fleetwide import fleets_due, fleets_evaluate

    now = now or timezone.now()
    waiting = set(
        Alert.objects.filter(state=AlertState.PENDING, vehicle__isnull=False).values_list("vehicle_id", flat=True)
    )
    judged = vehicles_evaluate_in_batches(vehicle_ids=waiting | _timed_without_alert(now), now=now)
    return judged + fleets_evaluate(fleet_ids=fleets_due(now=now), now=now)


def vehicles_evaluate_in_batches(*, vehicle_ids: Iterable[int], now: datetime | None = None, size: int = 500) -> int:
    """``vehicles_evaluate`` for any number of vehicles, ``size`` at a time."""
    ids = sorted(set(vehicle_ids))
    return sum(vehicles_evaluate(vehicle_ids=ids[i : i + size], now=now) for i in range(0, len(ids), size))


def _turned_off(key: str) -> Q:
    """The vehicles for which an exception turns this alert off, by the precedence of ``Rules.effective``: their own
    exception when they have one, else their groups' — off when every group of theirs with an exception has it off."""
    rules = AlertRule.objects.filter(condition=key)
    own = rules.filter(vehicle=OuterRef("pk"))
    groups = rules.filter(group__vehicles=OuterRef("pk"))
    own_off = Exists(own.filter(enabled=False))
    groups_off = ~Exists(own) & Exists(groups.filter(enabled=False)) & ~Exists(groups.filter(enabled=True))
    return Q(own_off) | Q(groups_off)


def _threshold_is(kind: AlertKind, threshold: float | None) -> Q:
    """The vehicles whose threshold for this alert is ``threshold`` (None: the fleet's), by the precedence of
    ``Rules.effective``: their own exception's threshold when it sets one, else the highest their groups set."""
    if not kind.threshold:
        return Q()
    rules = AlertRule.objects.filter(condition=kind.key)
    own = rules.filter(vehicle=OuterRef("pk"))
    own_sets = own.filter(enabled=True, threshold__isnull=False)
    groups_set = rules.filter(group__vehicles=OuterRef("pk"), enabled=True, threshold__isnull=False)
    if threshold is None:
        return ~Q(Exists(own_sets)) & ~(~Q(Exists(own)) & Q(Exists(groups_set)))
    highest = Subquery(groups_set.order_by("-threshold").values("threshold")[:1])
    return Q(Exists(own_sets.filter(threshold=threshold))) | (~Q(Exists(own)) & Q(Exact(highest, threshold)))


def _timed_without_alert(now: datetime) -> set[int]:
    """Vehicles for which a timed condition holds, alerting is on (the fleet's rule, then the vehicle's own exception
    or its groups', as ``Rules.effective`` decides), and no alert of it is active. A vehicle whose exceptions set
    its own threshold is looked for with that threshold (one query per threshold set), every other with its
    fleet's."""
    keys = [condition.key for condition in catalog.TIMED]
    # The fleets' rules of these conditions, and the thresholds their exceptions set, in one query.
    fleet_rules: dict[tuple[int, str], bool] = {}
    own_thresholds: dict[tuple[int, str], set[float]] = defaultdict(set)
    for fleet_id, key, enabled, threshold, for_fleet in (
        AlertRule.objects.filter(condition__in=keys)
        .filter(Q(vehicle__isnull=True, group__isnull=True) | Q(enabled=True, threshold__isnull=False))
        .values_list("fleet_id", "condition", "enabled", "threshold", Q(vehicle__isnull=True, group__isnull=True))
    ):
        if for_fleet:
            fleet_rules[(fleet_id, key)] = enabled
        else:
            own_thresholds[(fleet_id, key)].add(threshold)
    searches: dict[tuple[Condition, Q, float | None], list[int]] = defaultdict(list)
    for fleet in Fleet.objects.all():
        limits = Limits.for_fleet(fleet, now)
        for condition in catalog.TIMED:
            kind = catalog.BY_KEY[condition.key]
            if not fleet_rules.get((fleet.pk, condition.key), kind.enabled):
                continue
            searches[(condition, condition.q(limits), None)].append(fleet.pk)
            for threshold in sorted(own_thresholds[(fleet.pk, condition.key)]) if kind.threshold else []:
                judged = replace(limits, **{kind.threshold: threshold})
                searches[(condition, condition.q(judged), threshold)].append(fleet.pk)
    found: set[int] = set()
    for (condition, q, threshold), fleet_ids in searches.items():
        found.update(
            Vehicle.objects.filter(fleet_id__in=fleet_ids)
            .filter(q)
            .filter(_threshold_is(catalog.BY_KEY[condition.key], threshold))
            # Each relation in a subquery of its own: two lookups across one relation in one exclude() would each
            # match any of the vehicle's rows (a resolved alert of this condition and an open one of another would
            # hide the vehicle). "Not resolved" is the predicate of the unique index of active alerts, which answers
            # the subquery per vehicle whatever the planner guesses of the alerts' numbers.
            .exclude(
                Exists(
                    Alert.objects.filter(vehicle=OuterRef("pk"), condition=condition.key).exclude(
                        state=AlertState.RESOLVED
                    )
                )
            )
            .exclude(_turned_off(condition.key))
            .order_by()
            .values_list("pk", flat=True)
        )
    return found
