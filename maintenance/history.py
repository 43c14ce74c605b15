"""A vehicle's maintenance history — its completed work orders and its dealer's service records in one timeline —
and what maintenance cost, per vehicle and per month, on a page and as CSV.

Dealer records are what Smartcar's service history endpoint returned at the last sync (Reference:
smartcar-api/get-service-records.md; Ford, Lincoln, Toyota, Lexus, Mazda and Volkswagen share it).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from django.db.models import Count, DecimalField, F, Sum, Value
from django.db.models.functions import Coalesce, TruncMonth
from django.shortcuts import render
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.views.decorators.http import require_GET

from fleet import formatting, units
from fleet.exports import csv_download, safe_cell
from fleet.models import Fleet
from fleet.tenancy import FleetRequest, fleet_view, get_fleet_object_or_404
from maintenance.models import WorkOrder, WorkOrderStatus
from vehicles.models import EndpointState, Vehicle, make_label

SERVICE_HISTORY_PATH = "/service/history"
SHARES_SERVICE_HISTORY = {"FORD", "LINCOLN", "TOYOTA", "LEXUS", "MAZDA", "VOLKSWAGEN"}
_MONEY = DecimalField(max_digits=12, decimal_places=2)


@dataclass
class TimelineEntry:
    on: date
    kind: str  # "work_order" or "dealer"
    title: str
    odometer_km: float | None
    cost: Decimal | None
    currency: str = ""
    work_order: WorkOrder | None = None
    detail: str = ""


def dealer_records(vehicle: Vehicle, zone) -> list[TimelineEntry]:
    """The dealer's service records as last read; anything that is not a record of the documented shape is left out."""
    body = EndpointState.objects.filter(vehicle=vehicle, path=SERVICE_HISTORY_PATH).values_list("body", flat=True)
    body = body.first()
    records = body if isinstance(body, list) else (body or {}).get("records", []) if isinstance(body, dict) else []
    entries = []
    for record in records if isinstance(records, list) else []:
        if not isinstance(record, dict):
            continue
        moment = parse_datetime(str(record.get("serviceDate") or ""))
        if moment is None:
            continue
        if timezone.is_naive(moment):
            moment = timezone.make_aware(moment, timezone.utc)
        tasks = [t.get("taskDescription") for t in record.get("serviceTasks") or [] if isinstance(t, dict)]
        details = [
            str(d.get("value")) for d in record.get("serviceDetails") or [] if isinstance(d, dict) and d.get("value")
        ]
        cost = record.get("serviceCost") if isinstance(record.get("serviceCost"), dict) else {}
        total = cost.get("totalCost")
        entries.append(
            TimelineEntry(
                on=timezone.localtime(moment, zone).date(),
                kind="dealer",
                title="; ".join(t for t in tasks if t) or "Dealer service",
                odometer_km=_number(record.get("odometerDistance")),
                cost=Decimal(str(total)) if isinstance(total, int | float) else None,
                currency=str(cost.get("currency") or ""),
                detail=", ".join(details),
            )
        )
    return entries


def _number(value) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def vehicle_timeline(vehicle: Vehicle) -> list[TimelineEntry]:
    """Completed work orders and dealer records, newest first."""
    done = WorkOrder.objects.filter(vehicle=vehicle, status=WorkOrderStatus.DONE).select_related("fleet")
    entries = [
        TimelineEntry(o.completed_on, "work_order", o.title, o.completion_odometer_km, o.total_cost, work_order=o)
        for o in done
        if o.completed_on
    ]
    entries += dealer_records(vehicle, vehicle.fleet.zone)
    entries.sort(key=lambda e: (e.on, e.odometer_km or 0), reverse=True)
    return entries


def _total():
    zero = Value(Decimal("0"), output_field=_MONEY)
    return Sum(Coalesce("parts_cost", zero) + Coalesce("labour_cost", zero), output_field=_MONEY)


def costs_by_month(*, fleet: Fleet, vehicle: Vehicle | None = None) -> list[dict]:
    done = WorkOrder.objects.filter(fleet=fleet, status=WorkOrderStatus.DONE, completed_on__isnull=False)
    if vehicle is not None:
        done = done.filter(vehicle=vehicle)
    rows = (
        done.annotate(month=TruncMonth("completed_on"))
        .values("month")
        .annotate(parts=Sum("parts_cost"), labour=Sum("labour_cost"), total=_total(), orders=Count("pk"))
        .order_by("-month")
    )
    return [{**r, "month": r["month"] if isinstance(r["month"], date) else r["month"].date()} for r in rows]


def costs_by_vehicle(*, fleet: Fleet, limit: int = 50) -> list[dict]:
    done = WorkOrder.objects.filter(fleet=fleet, status=WorkOrderStatus.DONE)
    return list(
        done.values("vehicle_id")
        .annotate(total=_total(), orders=Count("pk"), parts=Sum("parts_cost"), labour=Sum("labour_cost"))
        .order_by(F("total").desc(nulls_last=True), "vehicle_id")[:limit]
    )


@require_GET
@fleet_view
def vehicle_history(request: FleetRequest, pk: int):
    vehicle = get_fleet_object_or_404(request, Vehicle.objects.select_related("fleet"), pk=pk)
    context = {
        "vehicle": vehicle,
        "timeline": vehicle_timeline(vehicle),
        "months": costs_by_month(fleet=request.fleet, vehicle=vehicle),
        "shares_history": vehicle.make in SHARES_SERVICE_HISTORY,
    }
    return render(request, "maintenance/history.html", context)


@require_GET
@fleet_view
def fleet_costs(request: FleetRequest):
    fleet = request.fleet
    by_vehicle = costs_by_vehicle(fleet=fleet)
    vehicles = Vehicle.objects.in_bulk([row["vehicle_id"] for row in by_vehicle])
    for row in by_vehicle:
        row["vehicle"] = vehicles[row["vehicle_id"]]
    context = {"months": costs_by_month(fleet=fleet), "by_vehicle": by_vehicle}
    return render(request, "maintenance/costs.html", context)


@require_GET
@fleet_view
def history_csv(request: FleetRequest):
    """Every completed work order of the fleet (or of one vehicle, with its dealer records), oldest first."""
    fleet = request.fleet
    vehicle = None
    if request.GET.get("vehicle", "").isdigit():
        vehicle = get_fleet_object_or_404(request, Vehicle.objects.select_related("fleet"), pk=request.GET["vehicle"])
    distance_unit = units.label("distance", fleet.unit_system)
    header = [
        "date", "vehicle", "make", "model", "vin", "kind", "work", f"odometer_{distance_unit}", "parts_cost",
        "labour_cost", "total_cost", "currency", "assigned_to", "work_order",
    ]  # fmt: skip

    def lines():
        yield header
        for row in _history_rows(fleet, vehicle):
            yield [safe_cell(value) for value in row]

    name = f"maintenance-{fleet.slug}{f'-{vehicle.pk}' if vehicle else ''}-{datetime.now(fleet.zone):%Y-%m-%d}.csv"
    return csv_download(lines(), name)


def _history_rows(fleet: Fleet, vehicle: Vehicle | None):
    """The fleet's completed work orders; for one vehicle, its work orders and its dealer's records in date order."""
    if vehicle is None:
        yield from _work_order_rows(fleet, None)
        return
    system = fleet.unit_system
    dealer = [
        [
            entry.on.isoformat(), vehicle.display_name, make_label(vehicle.make), vehicle.model, vehicle.vin,
            "Dealer service", entry.title, formatting.amount(entry.odometer_km, "distance", system), "", "",
            entry.cost, entry.currency, entry.detail, "",
        ]
        for entry in dealer_records(vehicle, fleet.zone)
    ]  # fmt: skip
    yield from sorted([*_work_order_rows(fleet, vehicle), *dealer], key=lambda row: row[0])


def _work_order_rows(fleet: Fleet, vehicle: Vehicle | None):
    done = WorkOrder.objects.filter(fleet=fleet, status=WorkOrderStatus.DONE, completed_on__isnull=False)
    if vehicle is not None:
        done = done.filter(vehicle=vehicle)
    system = fleet.unit_system
    for order in done.select_related("vehicle").order_by("completed_on", "pk").iterator(chunk_size=2000):
        v = order.vehicle
        yield [
            order.completed_on.isoformat(), v.display_name, make_label(v.make), v.model, v.vin, "Work order",
            order.title, formatting.amount(order.completion_odometer_km, "distance", system),
            order.parts_cost, order.labour_cost, order.total_cost, "", order.assignee, order.pk,
        ]  # fmt: skip
