"""Maintenance services: what is due where, and every write to a work order, each one recorded (changes.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.db import transaction
from django.db.models import Max, Q
from django.utils import timezone

from fleet.models import Fleet
from maintenance import changes
from maintenance.due import DUE, OVERDUE, URGENCY, Due, Program, Readings, service_due
from maintenance.models import (
    ACTIVE_STATUSES,
    ChangeAction,
    ServicePoint,
    ServiceTask,
    WorkOrder,
    WorkOrderSource,
    WorkOrderStatus,
)
from vehicles import obd
from vehicles.conditions import TIRE_FIELDS
from vehicles.models import DiagnosticTroubleCode, StatusHistory, SystemStatus, Vehicle, VehicleStatus

# The readings a work order copies from the vehicle when it is opened (VehicleStatus fields).
STATE_FIELDS = ("odometer_km", "oil_life_percent", *TIRE_FIELDS, "battery_percent", "fuel_percent")


class MaintenanceError(Exception):
    """A request the maintenance rules refuse, in words a manager understands."""


def fleet_today(fleet: Fleet) -> date:
    return timezone.localdate(timezone=fleet.zone)


# --- What is due ----------------------------------------------------------------------------------------------------


@dataclass(slots=True)
class DueService:
    vehicle: Vehicle | None
    vehicle_id: int
    task: ServiceTask
    due: Due


def _lowest_tire(values) -> float | None:
    known = [v for v in values if v is not None]
    return min(known) if known else None


def _tasks_by_vehicle(tasks: list[ServiceTask], vehicles: list[tuple[int, str, str]]) -> dict[int, tuple[int, ...]]:
    """Which tasks (ids) apply to which vehicle, by make and model or by hand: one query for the hand-assigned.

    Vehicles share a handful of (make, model, hand-assigned tasks) combinations, so each is worked out once.
    """
    by_hand: dict[int, set[int]] = {}
    through = ServiceTask.vehicles.through.objects.filter(servicetask__in=tasks)
    for task_id, vehicle_id in through.values_list("servicetask_id", "vehicle_id"):
        by_hand.setdefault(vehicle_id, set()).add(task_id)
    combinations: dict[tuple, tuple[int, ...]] = {}
    result = {}
    for vehicle_id, make, model in vehicles:
        hand = by_hand.get(vehicle_id)
        key = (make, model, frozenset(hand) if hand else None)
        applying = combinations.get(key)
        if applying is None:
            applying = combinations[key] = tuple(
                t.id for t in tasks if (hand and t.id in hand) or t.applies_by_make(make, model)
            )
        if applying:
            result[vehicle_id] = applying
    return result


def fleet_due(
    *, fleet: Fleet, vehicle_ids=None, make: str = "", today: date | None = None, urgent_only: bool = False
) -> list[DueService]:
    """Every applying task of every connected vehicle of the fleet with its due point, most urgent first
    (``urgent_only``: the overdue and due ones only, as the board and the tiles need).

    Four queries whatever the fleet's size: the tasks, the hand assignments, the vehicles with their readings, the
    service points — and, the first time a service is counted on a vehicle, two more to store its starting point.
    ``vehicle`` on each entry is left None (the caller loads the few it shows).
    """
    today = today or fleet_today(fleet)
    tasks = list(ServiceTask.objects.filter(fleet=fleet))
    if not tasks:
        return []
    rows = _vehicle_readings(fleet, vehicle_ids=vehicle_ids, make=make)
    applying = _tasks_by_vehicle(tasks, [(r[0], r[1], r[2]) for r in rows])
    if not applying:
        return []
    points = _service_points(fleet, [r[0] for r in rows] if vehicle_ids is not None or make else None)
    programs = {t.id: Program.of(t) for t in tasks}
    by_id = {t.id: t for t in tasks}
    starts = _starting_points(fleet, rows, applying, points, by_id)
    keep = (OVERDUE, DUE) if urgent_only else None
    found = []
    for pk, _make, _model, odometer, oil, *tires in rows:
        tasks_here = applying.get(pk)
        if not tasks_here:
            continue
        readings = Readings(odometer, oil, _lowest_tire(tires))
        for task_id in tasks_here:
            done_on, done_km, _ = starts.get((pk, task_id)) or points[pk, task_id]
            due = service_due(
                programs[task_id], readings, today=today, done_on=done_on, done_km=done_km, baseline_on=done_on
            )
            if keep is None or due.state in keep:
                found.append(DueService(None, pk, by_id[task_id], due))
    found.sort(key=_urgency_order)
    return found


def _vehicle_readings(fleet: Fleet, *, vehicle_ids, make: str) -> list[tuple]:
    """The connected vehicles (all, those of ``vehicle_ids``, those of ``make``): pk, make, model, odometer, oil life
    and the tire pressures."""
    vehicles = Vehicle.objects.filter(fleet=fleet, disconnected_at__isnull=True)
    if vehicle_ids is not None:
        vehicles = vehicles.filter(pk__in=vehicle_ids)
    if make:
        vehicles = vehicles.filter(make=make)
    return list(
        vehicles.values_list(
            "pk", "make", "model", "status__odometer_km", "status__oil_life_percent",
            *(f"status__{f}" for f in TIRE_FIELDS),
        )
    )  # fmt: skip


def _service_points(fleet: Fleet, vehicle_ids: list[int] | None) -> dict[tuple[int, int], tuple]:
    """(vehicle, task) → (done on, done at km, baseline) for the fleet's vehicles, or only ``vehicle_ids``."""
    points = ServicePoint.objects.filter(task__fleet=fleet)
    if vehicle_ids is not None:
        points = points.filter(vehicle_id__in=vehicle_ids)
    return {
        (vehicle_id, task_id): (done_on, done_km, baseline)
        for vehicle_id, task_id, done_on, done_km, baseline in points.values_list(
            "vehicle_id", "task_id", "done_on", "done_km", "baseline"
        )
    }


def _starting_points(fleet: Fleet, rows, applying, points, by_id) -> dict:
    """The services counted on a vehicle for the first time get their starting point, stored now: so that a due
    point the odometer passes stays passed instead of rolling on to the next multiple of the interval.

    Distance counts from the odometer's multiple of the interval below the reading; time from the day the vehicle
    joined the fleet. A starting point stored before the vehicle's first odometer reading gets its distance later.
    """
    missing, filled = [], []
    for pk, _make, _model, odometer, *_ in rows:
        for task_id in applying.get(pk, ()):
            task = by_id[task_id]
            point = points.get((pk, task_id))
            if point is None:
                missing.append((pk, task, odometer))
            elif point[2] and point[1] is None and task.every_km and odometer is not None:
                filled.append((pk, task, odometer))
    if not missing and not filled:
        return {}
    joined = dict(
        Vehicle.objects.filter(pk__in={pk for pk, _, _ in missing}).values_list("pk", "connected_at")
    ) if missing else {}  # fmt: skip
    zone, starts, new = fleet.zone, {}, []
    for pk, task, odometer in [*missing, *filled]:
        km = (odometer // task.every_km) * task.every_km if task.every_km and odometer is not None else None
        on = points[pk, task.pk][0] if (pk, task.pk) in points else timezone.localtime(joined[pk], zone).date()
        starts[pk, task.pk] = (on, km, True)
        new.append(ServicePoint(vehicle_id=pk, task=task, done_on=on, done_km=km, baseline=True))
    created = [p for p in new if (p.vehicle_id, p.task.pk) not in points]
    if created:
        ServicePoint.objects.bulk_create(created, ignore_conflicts=True, batch_size=2000)
    for point in new:
        if (point.vehicle_id, point.task.pk) in points:  # rare: a first odometer reading after the first count
            ServicePoint.objects.filter(vehicle_id=point.vehicle_id, task=point.task, baseline=True).update(
                done_km=point.done_km
            )
    return starts


def _urgency_order(entry: DueService):
    due = entry.due
    # Within a state: the furthest past (or nearest) first, distance and days compared as a tenth of the interval.
    task = entry.task
    days = task.every_months * 30 if task.every_months else None
    return (URGENCY[due.state], min(_fraction(due.km_left, task.every_km), _fraction(due.days_left, days)))


def _fraction(left, interval) -> float:
    if left is None or not interval:
        return 0.0 if left is None and interval is None else 1e9
    return left / interval


def vehicle_due(*, vehicle: Vehicle, today: date | None = None) -> list[DueService]:
    """The applying tasks of one vehicle with their due points, most urgent first."""
    entries = fleet_due(fleet=vehicle.fleet, vehicle_ids=[vehicle.pk], today=today)
    for entry in entries:
        entry.vehicle = vehicle
    return entries


# --- Work orders ----------------------------------------------------------------------------------------------------


def vehicle_state_snapshot(vehicle: Vehicle) -> dict:
    """The vehicle's latest readings, copied into a work order when it is opened (they will change; the copy stays)."""
    status = VehicleStatus.objects.filter(vehicle=vehicle).first()
    if status is None:
        return {}
    state = {field: getattr(status, field) for field in STATE_FIELDS if getattr(status, field) is not None}
    if status.data_age:
        state["data_age"] = status.data_age.isoformat()
    return state


def _record(work_order: WorkOrder, user, action: str, fields: dict | None = None, note: str = "") -> None:
    changes.record(
        fleet=work_order.fleet, user=user, action=action, fields=fields, subject=work_order.title, note=note,
        work_order=work_order, vehicle=work_order.vehicle,
    )  # fmt: skip


@transaction.atomic
def work_order_open(
    *,
    fleet: Fleet,
    vehicle: Vehicle,
    user,
    title: str,
    source: str = WorkOrderSource.MANUAL,
    service_task: ServiceTask | None = None,
    code: str = "",
    code_description: str = "",
    **fields,
) -> WorkOrder:
    if vehicle.fleet_id != fleet.pk:
        raise MaintenanceError("That vehicle is not in this fleet.")
    work_order = WorkOrder.objects.create(
        fleet=fleet,
        vehicle=vehicle,
        title=title,
        source=source,
        service_task=service_task,
        code=code,
        code_description=code_description,
        vehicle_state=vehicle_state_snapshot(vehicle),
        created_by_email=getattr(user, "email", "") or "",
        **fields,
    )
    _record(work_order, user, ChangeAction.OPENED)
    return work_order


def work_order_for_service(*, fleet: Fleet, vehicle: Vehicle, task: ServiceTask, user) -> tuple[WorkOrder, bool]:
    """The active work order of this service on this vehicle, or a new one. True when it was opened now."""
    if task.fleet_id != fleet.pk:
        raise MaintenanceError("That service is not in this fleet's program.")
    with transaction.atomic():
        # Serialises two clicks on the same service (two managers, a double submit): the second finds the first's order.
        Vehicle.objects.select_for_update().filter(pk=vehicle.pk).first()
        existing = WorkOrder.objects.filter(vehicle=vehicle, service_task=task, status__in=ACTIVE_STATUSES).first()
        if existing:
            return existing, False
        return work_order_open(
            fleet=fleet, vehicle=vehicle, user=user, title=task.name, source=WorkOrderSource.SERVICE, service_task=task
        ), True


def work_order_for_diagnostic(*, fleet: Fleet, kind: str, pk: int, user) -> tuple[WorkOrder, str]:
    """A work order for an active trouble code or system alert, with the code, its meaning and the vehicle's state.

    A code already seen on this vehicle keeps its one work order: when the code cleared and came back, that order is
    reopened (and says so) rather than a second one opened. Returns the order and "opened", "reopened" or "existing".
    """
    found = _diagnostic(fleet, kind, pk)
    vehicle, code, source = found.vehicle, found.code, found.source
    with transaction.atomic():
        # Serialises two clicks on the same code: the second finds the first's order.
        Vehicle.objects.select_for_update().filter(pk=vehicle.pk).first()
        existing = WorkOrder.objects.filter(vehicle=vehicle, code=code, source=source).order_by("-created_at").first()
        if existing is None:
            work_order = work_order_open(
                fleet=fleet, vehicle=vehicle, user=user, title=found.title[:200], source=source, code=code,
                code_description=found.description[:300],
            )  # fmt: skip
            return work_order, "opened"
        if existing.is_active:
            return existing, "existing"
        before = existing.status
        after = code_after_work(existing, found.first_seen_at, found.last_seen_at)
        reported = found.named + REOPENED_WORDS.get(after, " is reported")
        existing.status = WorkOrderStatus.OPEN
        existing.closed_at = None
        existing.vehicle_state = vehicle_state_snapshot(vehicle)
        existing.save(update_fields=["status", "closed_at", "vehicle_state", "updated_at"])
        _record(existing, user, ChangeAction.REOPENED, {"status": [before, WorkOrderStatus.OPEN]}, reported)
        return existing, "reopened"


@dataclass(frozen=True)
class Diagnostic:
    """An active trouble code or system alert as a work order takes it."""

    vehicle: Vehicle
    code: str
    description: str
    source: str
    title: str
    named: str  # the code in a manager's words: "P0420", "The alert “ABS sensor”"
    first_seen_at: datetime  # since when this occurrence (or this alert) has been reported
    last_seen_at: datetime


def _diagnostic(fleet: Fleet, kind: str, pk: int) -> Diagnostic:
    """An active trouble code ("dtc") or system alert of the fleet: its vehicle, code, meaning, source, the title of
    its work order and when it was seen."""
    if kind == "dtc":
        dtc = DiagnosticTroubleCode.objects.select_related("vehicle").get(
            pk=pk, vehicle__fleet=fleet, cleared_at__isnull=True
        )
        description = obd.describe(dtc.code)
        title = f"Trouble code {dtc.code}" + (f": {description}" if description else "")
        return Diagnostic(
            dtc.vehicle, dtc.code, description, WorkOrderSource.DTC, title, dtc.code, dtc.first_seen_at,
            dtc.last_seen_at,
        )  # fmt: skip
    alert = SystemStatus.objects.select_related("vehicle").get(pk=pk, vehicle__fleet=fleet, status="ALERT")
    description = alert.description or obd.describe_system(alert.system_id)
    return Diagnostic(
        alert.vehicle, alert.system_id, description, WorkOrderSource.SYSTEM, f"System alert: {description}",
        f"The alert “{description}”", alert.changed_at, alert.last_seen_at,
    )  # fmt: skip


# What a workshop may change on an order (WorkOrderForm); each change is recorded.
EDITABLE = (
    "title", "status", "assignee", "due_on", "notes", "parts_cost", "labour_cost", "completed_on",
    "completion_odometer_km",
)  # fmt: skip


def previous_odometer(work_order: WorkOrder, completed_on: date | None) -> tuple[float, str] | None:
    """The highest odometer known before the work, and where it comes from: the vehicle's earlier completed work (on
    or before ``completed_on``) or its last synced reading before that day began. None when nothing is known."""
    fleet = work_order.fleet
    day = completed_on or fleet_today(fleet)
    earlier = WorkOrder.objects.filter(
        vehicle_id=work_order.vehicle_id, status=WorkOrderStatus.DONE, completion_odometer_km__isnull=False,
        completed_on__lte=day,
    ).exclude(pk=work_order.pk)  # fmt: skip
    worked = earlier.aggregate(highest=Max("completion_odometer_km"))["highest"]
    synced = odometer_on(work_order.vehicle_id, day - timedelta(days=1), fleet)
    sources = (
        (worked, "recorded by earlier work on this vehicle"),
        (synced, "the vehicle's odometer read before that day"),
    )
    known = [(km, words) for km, words in sources if km]
    return max(known) if known else None


@transaction.atomic
def work_order_update(*, work_order: WorkOrder, user, data: dict) -> WorkOrder:
    """Applies a manager's edit (already validated by WorkOrderForm) and records what changed.

    Marking an order done stamps when; a service order's done resets that service's due point to the completion
    date and odometer (the synced odometer when none was entered).
    """
    changed = changes.diff(changes.values(work_order, EDITABLE), {f: data[f] for f in EDITABLE if f in data})
    if not changed:
        return work_order
    for field in changed:
        setattr(work_order, field, data[field])
    closing = "status" in changed and work_order.status == WorkOrderStatus.DONE
    if closing:
        work_order.closed_at = timezone.now()
        if work_order.completed_on is None:
            work_order.completed_on = fleet_today(work_order.fleet)
        if work_order.completion_odometer_km is None:
            work_order.completion_odometer_km = odometer_on(
                work_order.vehicle_id, work_order.completed_on, work_order.fleet
            )
    elif "status" in changed:
        work_order.closed_at = None
    work_order.save()
    _record(work_order, user, ChangeAction.CHANGED, changed)
    if closing and work_order.service_task_id:
        service_point_reset(work_order=work_order, user=user)
    return work_order


def odometer_on(vehicle_id: int, day: date, fleet: Fleet) -> float | None:
    """The vehicle's last synced odometer reading by the end of ``day`` (the fleet's day): today, the latest one."""
    if day >= fleet_today(fleet):
        return VehicleStatus.objects.filter(vehicle_id=vehicle_id).values_list("odometer_km", flat=True).first()
    end = datetime.combine(day + timedelta(days=1), time.min, tzinfo=fleet.zone)
    readings = StatusHistory.objects.filter(vehicle_id=vehicle_id, field="odometer_km", recorded_at__lt=end)
    return readings.order_by("-recorded_at").values_list("number", flat=True).first()


def service_point_reset(*, work_order: WorkOrder, user) -> None:
    """The service is counted again from this work: its date and odometer (never moved back to an older service)."""
    point = ServicePoint.objects.filter(vehicle_id=work_order.vehicle_id, task_id=work_order.service_task_id).first()
    if point and not point.baseline and point.done_on > work_order.completed_on:
        return
    before = {"done_on": point.done_on, "done_km": point.done_km} if point else {}
    after = {"done_on": work_order.completed_on, "done_km": work_order.completion_odometer_km}
    ServicePoint.objects.update_or_create(
        vehicle_id=work_order.vehicle_id,
        task_id=work_order.service_task_id,
        defaults={**after, "baseline": False},
    )
    task = work_order.service_task
    fields = {name: [changes.stored(before.get(name)), changes.stored(value)] for name, value in after.items()}
    changes.record(
        fleet=work_order.fleet, user=user, action=ChangeAction.RESET, fields=fields, subject=task.name,
        work_order=work_order, service_task=task, vehicle=work_order.vehicle,
    )  # fmt: skip


# --- After a trouble code's work: is the code gone? -----------------------------------------------------------------


def first_seen_at(seen: DiagnosticTroubleCode | SystemStatus) -> datetime:
    """Since when this occurrence of a code (or this alert) has been reported."""
    return seen.first_seen_at if isinstance(seen, DiagnosticTroubleCode) else seen.changed_at


def code_after_work(work_order: WorkOrder, first_seen: datetime, last_seen: datetime) -> str:
    """An active code or alert set against its work order once the work is done: "came back" (a new occurrence
    since), "still" (read again since) or "unread" (not read since). "" for an order still open or cancelled."""
    if work_order.status != WorkOrderStatus.DONE or work_order.closed_at is None:
        return ""
    if first_seen > work_order.closed_at:
        return "came back"
    return "still" if last_seen > work_order.closed_at else "unread"


# A reopened order's record, after the code's name, for each state of code_after_work.
REOPENED_WORDS = {"came back": " came back after the work", "still": " is still reported after the work"}
# The diagnostics board's words for each state of code_after_work.
AFTER_WORK_WORDS = {
    "came back": "The code came back after the work",
    "still": "Still reported after the work",
    "unread": "Not read again since the work",
}


@dataclass(frozen=True)
class CodeCheck:
    state: str  # "gone", or a state of code_after_work: "unread", "still", "came back"
    at: datetime | None = None

    @property
    def words(self) -> str:
        return {
            "unread": "Fleet checks whether the code is gone at the vehicle's next sync.",
            "gone": "The code is gone: the vehicle no longer reports it.",
            "still": "The vehicle still reports the code after the work.",
            "came back": "The code went away and came back after the work.",
        }[self.state]


def code_check(work_order: WorkOrder) -> CodeCheck | None:
    """For a done trouble-code or system-alert order: whether the readings after it was closed still show the code."""
    if work_order.status != WorkOrderStatus.DONE or not work_order.code or work_order.closed_at is None:
        return None
    vehicle_id, code = work_order.vehicle_id, work_order.code
    active: DiagnosticTroubleCode | SystemStatus | None
    if work_order.source == WorkOrderSource.DTC:
        occurrences = DiagnosticTroubleCode.objects.filter(vehicle_id=vehicle_id, code=code)
        active = occurrences.filter(cleared_at__isnull=True).first()
        if active is None:
            last = occurrences.order_by("-cleared_at").first()
            return CodeCheck("gone", last.cleared_at if last else None)
    else:
        active = SystemStatus.objects.filter(vehicle_id=vehicle_id, system_id=code).first()
        if active is None or active.status != "ALERT":
            return CodeCheck("gone", active.changed_at if active else None)
    state = code_after_work(work_order, first_seen_at(active), active.last_seen_at)
    return CodeCheck(state, None if state == "unread" else active.last_seen_at)


def open_codes_with_orders(*, fleet: Fleet, vehicle_codes: list[tuple[int, str]]) -> dict[tuple[int, str], WorkOrder]:
    """The work order of each (vehicle, code) pair, when there is one (for the diagnostics board's links)."""
    if not vehicle_codes:
        return {}
    query = Q()
    for vehicle_id, code in vehicle_codes:
        query |= Q(vehicle_id=vehicle_id, code=code)
    orders = WorkOrder.objects.filter(query, fleet=fleet).exclude(code="").order_by("created_at")
    return {(o.vehicle_id, o.code): o for o in orders}
