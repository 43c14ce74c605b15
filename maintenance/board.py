"""The maintenance board: overdue services first, then services due soon, then open work orders.

A constant number of queries whatever the fleet's size: the due computation's four (maintenance/services.py), the
vehicles shown, and for the work orders one count and one page. Filtered by a place (trips' places), the vehicles
whose last known position lies in it.
"""

from __future__ import annotations

from dataclasses import dataclass

from django import forms
from django.db.models import Count, Q
from django.shortcuts import render
from django.views.decorators.http import require_GET
from django.views.decorators.vary import vary_on_headers

from fleet.models import Fleet
from fleet.tenancy import FleetRequest, fleet_view
from maintenance.due import DUE, OVERDUE
from maintenance.models import ACTIVE_STATUSES, WorkOrder
from maintenance.services import DueService, fleet_due, fleet_today
from trips.models import Place
from trips.places import distance_m
from vehicles.models import Vehicle, VehicleStatus

BOARD_ROWS = 50


class BoardQuery(forms.Form):
    make = forms.CharField(required=False, max_length=40)
    place = forms.CharField(required=False, max_length=12)
    assignee = forms.CharField(required=False, max_length=100, strip=True)

    def values(self, makes: list[str], places: list[Place]) -> dict[str, str]:
        self.is_valid()
        make = self.cleaned_data.get("make") or ""
        place = self.cleaned_data.get("place") or ""
        return {
            "make": make if make in makes else "",
            "place": place if place in {str(p.pk) for p in places} else "",
            "assignee": self.cleaned_data.get("assignee") or "",
        }


def vehicles_at(*, fleet: Fleet, place: Place) -> list[int]:
    """The connected vehicles whose last known position lies in the place (trips/places.py draws its circle)."""
    positions = VehicleStatus.objects.filter(
        vehicle__fleet=fleet, vehicle__disconnected_at__isnull=True, latitude__isnull=False, longitude__isnull=False
    ).values_list("vehicle_id", "latitude", "longitude")
    return [pk for pk, lat, lon in positions if distance_m(place.latitude, place.longitude, lat, lon) <= place.radius_m]


@dataclass
class Board:
    overdue: list[DueService]
    due_soon: list[DueService]
    overdue_count: int
    due_soon_count: int
    work_orders: list[WorkOrder]
    work_order_count: int


def maintenance_board(*, fleet: Fleet, make: str = "", place: Place | None = None, assignee: str = "") -> Board:
    at_place = vehicles_at(fleet=fleet, place=place) if place else None
    # A service is assigned to someone through its work order: filtered by assignee, the board shows their orders.
    due = [] if assignee else fleet_due(fleet=fleet, make=make, vehicle_ids=at_place, urgent_only=True)
    # Services someone already works on are on the board once, as their work order.
    taken = set(
        WorkOrder.objects.filter(fleet=fleet, status__in=ACTIVE_STATUSES, service_task__isnull=False).values_list(
            "vehicle_id", "service_task_id"
        )
    ) if due else set()  # fmt: skip
    overdue = [e for e in due if e.due.state == OVERDUE and (e.vehicle_id, e.task.pk) not in taken]
    soon = [e for e in due if e.due.state == DUE and (e.vehicle_id, e.task.pk) not in taken]
    shown = overdue[:BOARD_ROWS] + soon[:BOARD_ROWS]
    vehicles = Vehicle.objects.in_bulk([e.vehicle_id for e in shown])
    for entry in shown:
        entry.vehicle = vehicles[entry.vehicle_id]
    orders = WorkOrder.objects.filter(fleet=fleet, status__in=ACTIVE_STATUSES)
    if make:
        orders = orders.filter(vehicle__make=make)
    if at_place is not None:
        orders = orders.filter(vehicle_id__in=at_place)
    if assignee:
        orders = orders.filter(assignee__icontains=assignee)
    page = list(orders.select_related("vehicle", "fleet").order_by("due_on", "created_at", "pk")[:BOARD_ROWS])
    count = len(page) if len(page) < BOARD_ROWS else orders.count()
    return Board(overdue[:BOARD_ROWS], soon[:BOARD_ROWS], len(overdue), len(soon), page, count)


def maintenance_counts(*, fleet: Fleet) -> dict[str, int]:
    """The overview's tiles: services overdue, services due soon, open work orders."""
    due = fleet_due(fleet=fleet, urgent_only=True)
    orders = WorkOrder.objects.filter(fleet=fleet).aggregate(open=Count("pk", filter=Q(status__in=ACTIVE_STATUSES)))
    return {
        "overdue": sum(1 for e in due if e.due.state == OVERDUE),
        "due_soon": sum(1 for e in due if e.due.state == DUE),
        "open_work_orders": orders["open"],
    }


@vary_on_headers("HX-Request")
@require_GET
@fleet_view
def board(request: FleetRequest):
    fleet = request.fleet
    makes = list(Vehicle.objects.filter(fleet=fleet).values_list("make", flat=True).distinct().order_by("make"))
    places = list(Place.objects.filter(fleet=fleet))
    query = BoardQuery(request.GET).values(makes, places)
    place = next((p for p in places if str(p.pk) == query["place"]), None)
    context = {
        "board": maintenance_board(fleet=fleet, make=query["make"], place=place, assignee=query["assignee"]),
        "query": query,
        "makes": makes,
        "places": places,
        "filtered": any(query.values()),
        "today": fleet_today(fleet),
    }
    template = "maintenance/board.html#board" if request.htmx else "maintenance/board.html"
    return render(request, template, context)
