"""A vehicle's maintenance history — its completed work orders and its dealer's service records in one timeline —
and what maintenance cost, per vehicle and per month, on a page and as CSV.

Dealer records are what Smartcar sent at the last sync, through API v2.0's service history endpoint or API v3's
``service-records`` signal (vehicles/service_history.py reads either).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from django.db.models import Count, DecimalField, F, Sum, Value
from django.db.models.functions import Coalesce, TruncMonth
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from fleet import formatting, units
from fleet.exports import csv_download, safe_cell
from fleet.models import Fleet
from fleet.tenancy import FleetRequest, fleet_view, get_fleet_object_or_404
from maintenance.models import WorkOrder, WorkOrderStatus
from vehicles.models import Vehicle, make_label
from vehicles.service_history import DealerHistory, dealer_history

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


def dealer_entries(history: DealerHistory, zone) -> list[TimelineEntry]:
    return [
        TimelineEntry(
            on=timezone.localtime(record.at, zone).date(),
            kind="dealer",
            title="; ".join(record.tasks) or "Dealer service",
            odometer_km=record.odometer_km,
            cost=record.cost,
            currency=record.currency,
            detail=", ".join(record.details),
        )
        for record in history.records
    ]


def vehicle_timeline(vehicle: Vehicle, history: DealerHistory) -> list[TimelineEntry]:
    """Completed work orders and dealer records, newest first."""
    done = WorkOrder.objects.filter(vehicle=vehicle, status=WorkOrderStatus.DONE).select_related("fleet")
    entries = [
        TimelineEntry(o.completed_on, "work_order", o.title, o.completion_odometer_km, o.total_cost, work_order=o)
        for o in done
        if o.completed_on
    ]
    entries += dealer_entries(history, vehicle.fleet.zone)
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
    history = dealer_history(vehicle)
    context = {
        "vehicle": vehicle,
        "timeline": vehicle_timeline(vehicle, history),
        "months": costs_by_month(fleet=request.fleet, vehicle=vehicle),
        "dealer": _dealer_words(vehicle, history),
    }
    return render(request, "maintenance/history.html", context)


def _dealer_words(vehicle: Vehicle, history: DealerHistory) -> str:
    """What the timeline holds: the dealer's records too, or why not."""
    make = make_label(vehicle.make)
    if history.shared:
        return f"Completed work orders and the dealer's service records, as {make} shares them through Smartcar."
    if history.shared is None:
        return "Completed work orders; the dealer's service records appear here once Smartcar has sent them."
    return f"Completed work orders; Smartcar does not share the dealer's service records of this {make}."


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
        for entry in dealer_entries(dealer_history(vehicle), fleet.zone)
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
