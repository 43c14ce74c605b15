"""The overview: tiles, the vehicle table and its CSV export.

It reads only our database — what the sync engine stored — never Smartcar. It runs a fixed number of
queries whatever the fleet's size: one aggregate for every tile, one count and one page of rows for the table, one
list of makes for the filter. Its live part (tiles and table) is the ``live`` partial of dashboard/overview.html, which
htmx fetches every 30 seconds and whenever a tile, a sort header, a filter or a page link is used.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlencode

from django import forms
from django.core.paginator import Page, Paginator
from django.db.models import Count, F, Q, QuerySet, Value
from django.db.models.functions import Coalesce, Concat, Lower, NullIf
from django.http import StreamingHttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET
from django.views.decorators.vary import vary_on_headers

from connect.models import AccountStatus
from fleet import units
from fleet.models import Fleet
from fleet.templatetags.units import age_in_words
from fleet.templatetags.units import distance as format_distance
from fleet.tenancy import FleetRequest, fleet_view
from vehicles.models import (
    Activity,
    SyncState,
    Vehicle,
    VehicleStatus,
)

PAGE_SIZE = 50
# Below this a tyre is flagged (about 27.5 psi): under every passenger car's placard pressure, above a flat.
LOW_TIRE_KPA = 190
# Oil life at or under this percentage is due for a change soon.
LOW_OIL_PERCENT = 15
TIRE_FIELDS = (
    "tire_pressure_front_left_kpa",
    "tire_pressure_front_right_kpa",
    "tire_pressure_back_left_kpa",
    "tire_pressure_back_right_kpa",
)

# --- What each tile (and state filter) means --------------------------------------------------------------------


def _parked() -> Q:
    return Q(status__activity__in=[Activity.PARKED, Activity.ASLEEP])


def needs_attention_q() -> Q:
    """Active DTCs, system alerts, a low tyre, low oil life, or — while parked — a door or trunk open or unlocked."""
    low_tire = Q()
    for field in TIRE_FIELDS:
        low_tire |= Q(**{f"status__{field}__lt": LOW_TIRE_KPA})
    open_while_parked = _parked() & (
        ~Q(status__doors_open=[]) | ~Q(status__storage_open=[]) | Q(status__is_locked=False)
    )
    return (
        Q(status__active_dtc_count__gt=0)
        | Q(status__system_alert_count__gt=0)
        | low_tire
        | Q(status__oil_life_percent__lte=LOW_OIL_PERCENT)
        | open_while_parked
    )


def state_filters(fleet: Fleet, now: datetime) -> dict[str, Q]:
    """Tile key → condition on Vehicle. The same conditions count the tiles and filter the table."""
    low = fleet.low_energy_percent
    return {
        "driving": Q(status__activity=Activity.DRIVING),
        "charging": Q(status__charging_state="CHARGING"),
        # Battery first (an EV or a plug-in hybrid's battery is what runs out); fuel for vehicles without one.
        "low": Q(status__battery_percent__lte=low)
        | Q(status__battery_percent__isnull=True, status__fuel_percent__lte=low),
        "attention": needs_attention_q(),
        "asleep": Q(status__activity=Activity.ASLEEP) | Q(status__sync_state=SyncState.BACKING_OFF),
        "reconnect": Q(account__status=AccountStatus.NEEDS_RECONNECT) | Q(status__sync_state=SyncState.NEEDS_RECONNECT),
        "stale": Q(status__data_age__lt=now - timedelta(minutes=fleet.stale_after_minutes)),
        "never": Q(status__isnull=True) | Q(status__sync_state=SyncState.NEVER),
    }


TILES = [
    ("", "Total"),
    ("driving", "Driving"),
    ("charging", "Charging"),
    ("low", "Low battery or fuel"),
    ("attention", "Needs attention"),
    ("asleep", "Asleep or offline"),
    ("reconnect", "Needs reconnect"),
]
STATE_CHOICES = [
    ("", "All vehicles"),
    *TILES[1:],
    ("stale", "Stale data"),
    ("never", "Never synced"),
    ("disconnected", "Disconnected"),
]

SORTS = {
    "name": [F("sort_name").asc()],  # annotations from SORT_COLUMNS
    "make": [F("make").asc(), F("model").asc(), F("year").asc(nulls_last=True)],
    "energy": [F("energy_percent").asc(nulls_last=True)],
    "range": [F("range_value").asc(nulls_last=True)],
    "odometer": [F("status__odometer_km").asc(nulls_last=True)],
    "age": [F("status__data_age").desc(nulls_last=True)],  # newest first reads as "youngest data"
    "dtcs": [F("status__active_dtc_count").desc(nulls_last=True)],
}
DEFAULT_SORT = "name"


class TableQuery(forms.Form):
    """The table's query string. Anything unknown or malformed falls back to its default instead of erroring."""

    q = forms.CharField(required=False, max_length=80, strip=True)
    make = forms.CharField(required=False, max_length=40)
    state = forms.ChoiceField(required=False, choices=STATE_CHOICES)
    sort = forms.CharField(required=False, max_length=20)

    def __init__(self, data, *, makes: list[str]):
        super().__init__(data)
        self.makes = makes

    def values(self) -> dict[str, str]:
        self.is_valid()
        cleaned = self.cleaned_data
        sort = cleaned.get("sort") or ""
        return {
            "q": cleaned.get("q") or "",
            "make": cleaned.get("make") if cleaned.get("make") in self.makes else "",
            "state": cleaned.get("state") or "",
            "sort": sort if sort.lstrip("-") in SORTS else DEFAULT_SORT,
        }


SORT_COLUMNS = {
    "name": lambda: Lower(Coalesce(NullIf("nickname", Value("")), Concat("make", Value(" "), "model"))),
    "energy": lambda: Coalesce("status__battery_percent", "status__fuel_percent"),
    "range": lambda: Coalesce("status__range_km", "status__fuel_range_km"),
}
_SORT_ANNOTATION = {"name": "sort_name", "energy": "energy_percent", "range": "range_value"}


def vehicles_table(*, fleet: Fleet, query: dict[str, str], now: datetime) -> QuerySet:
    """The fleet's vehicles as filtered and sorted by the table's query (every row, for the page or the CSV).

    Without select_related: the page first picks its 50 ids with this narrow query (it joins the status row only
    when a filter or the sort needs it), then loads those rows whole (``vehicles_page``).
    """
    vehicles = Vehicle.objects.filter(fleet=fleet)
    if query["state"] == "disconnected":
        vehicles = vehicles.filter(disconnected_at__isnull=False)
    else:
        vehicles = vehicles.filter(disconnected_at__isnull=True)
        if query["state"]:
            vehicles = vehicles.filter(state_filters(fleet, now)[query["state"]])
    if query["make"]:
        vehicles = vehicles.filter(make=query["make"])
    if query["q"]:
        term = query["q"]
        vehicles = vehicles.filter(
            Q(nickname__icontains=term) | Q(vin__icontains=term) | Q(model__icontains=term) | Q(make__icontains=term)
        )
    key = query["sort"].lstrip("-")
    if key in SORT_COLUMNS:
        vehicles = vehicles.annotate(**{_SORT_ANNOTATION[key]: SORT_COLUMNS[key]()})
    ordering = [o.copy() for o in SORTS[key]]
    if query["sort"].startswith("-"):
        for order in ordering:
            order.reverse_ordering()
    return vehicles.order_by(*ordering, "pk")


def vehicles_page(*, table: QuerySet, number) -> tuple[Page, list[Vehicle]]:
    """One page of the table in three constant queries: the count, the page's ids in order, then its rows whole."""
    page = Paginator(table.values_list("pk", flat=True), PAGE_SIZE).get_page(number)
    ids = list(page.object_list)
    by_id = Vehicle.objects.select_related("status", "account").in_bulk(ids)
    return page, [by_id[pk] for pk in ids if pk in by_id]


def tile_counts(*, fleet: Fleet, now: datetime) -> dict[str, int]:
    """Every tile's count in one aggregate query."""
    conditions = state_filters(fleet, now)
    aggregates = {key: Count("pk", filter=conditions[key]) for key, _ in TILES if key}
    counts = Vehicle.objects.filter(fleet=fleet, disconnected_at__isnull=True).aggregate(
        total=Count("pk"), **aggregates
    )
    return counts


# --- Per-row facts (computed in Python from the row already loaded: no query per row) ------------------------------


def _status(vehicle: Vehicle) -> VehicleStatus | None:
    try:
        return vehicle.status
    except VehicleStatus.DoesNotExist:
        return None


def attention_reasons(status: VehicleStatus | None) -> list[str]:
    """The same conditions as ``needs_attention_q``, in words, for one vehicle's badges."""
    if status is None:
        return []
    reasons = []
    if status.active_dtc_count:
        reasons.append(f"{status.active_dtc_count} DTC{'s' if status.active_dtc_count != 1 else ''}")
    if status.system_alert_count:
        reasons.append("system alert")
    if any((getattr(status, f) or LOW_TIRE_KPA) < LOW_TIRE_KPA for f in TIRE_FIELDS):
        reasons.append("low tyre")
    if status.oil_life_percent is not None and status.oil_life_percent <= LOW_OIL_PERCENT:
        reasons.append("oil life low")
    if status.activity in (Activity.PARKED, Activity.ASLEEP):
        if status.doors_open or status.storage_open:
            reasons.append("open while parked")
        if status.is_locked is False:
            reasons.append("unlocked while parked")
    return reasons


@dataclass
class Row:
    """One table row with its cells already in words: formatting 50 rows in Python is several times cheaper than
    running a template filter per cell (the 30-second refresh renders this for every open dashboard)."""

    vehicle: Vehicle
    status: VehicleStatus | None
    url: str
    energy: str
    range: str
    odometer: str
    location: str
    age: str
    attention: list[str]
    is_stale: bool
    needs_reconnect: bool


def _rows(vehicles: list[Vehicle], fleet: Fleet, now: datetime) -> list[Row]:
    stale_before = now - timedelta(minutes=fleet.stale_after_minutes)
    system = fleet.unit_system
    base_url = reverse("vehicle_detail", args=[fleet.slug, 0])[: -len("0/")]
    rows = []
    for vehicle in vehicles:
        status = _status(vehicle)
        s = status or VehicleStatus()
        if s.battery_percent is not None:
            energy = f"{s.battery_percent:.0f} %"
        elif s.fuel_percent is not None:
            energy = f"{s.fuel_percent:.0f} % fuel"
        else:
            energy = "—"
        range_km = s.range_km if s.range_km is not None else s.fuel_range_km
        rows.append(
            Row(
                vehicle=vehicle,
                status=status,
                url=f"{base_url}{vehicle.pk}/",
                energy=energy,
                range=format_distance(range_km, system),
                odometer=format_distance(s.odometer_km, system),
                location="—" if s.latitude is None else f"{s.latitude:.4f}, {s.longitude:.4f}",
                age=age_in_words(s.data_age, now),
                attention=attention_reasons(status),
                is_stale=bool(s.data_age and s.data_age < stale_before),
                needs_reconnect=bool(
                    (vehicle.account and vehicle.account.needs_reconnect)
                    or (status and status.sync_state == SyncState.NEEDS_RECONNECT)
                ),
            )
        )
    return rows


def _url(query: dict[str, str], **changes) -> str:
    merged = {**query, **changes}
    merged = {k: v for k, v in merged.items() if v and not (k == "sort" and v == DEFAULT_SORT) and v != 1}
    return "?" + urlencode(merged) if merged else "?"


def fleet_makes(fleet: Fleet) -> list[str]:
    return list(Vehicle.objects.filter(fleet=fleet).values_list("make", flat=True).distinct().order_by("make"))


# --- Views ------------------------------------------------------------------------------------------------------


@vary_on_headers("HX-Request")
@require_GET
@fleet_view
def fleet_overview(request: FleetRequest):
    fleet, now = request.fleet, timezone.now()
    makes = fleet_makes(fleet)
    query = TableQuery(request.GET, makes=makes).values()
    counts = tile_counts(fleet=fleet, now=now)
    page, vehicles = vehicles_page(
        table=vehicles_table(fleet=fleet, query=query, now=now), number=request.GET.get("page")
    )
    sort_key = query["sort"].lstrip("-")
    descending = query["sort"].startswith("-")
    context = {
        "query": query,
        "makes": makes,
        "state_choices": STATE_CHOICES,
        "tiles": [
            {
                "key": key,
                "label": label,
                "count": counts[key or "total"],
                "url": _url(query, state=key, page=""),
                "alert": key in ("low", "attention", "reconnect") and counts[key] > 0,
            }
            for key, label in TILES
        ],
        "page": page,
        "rows": _rows(vehicles, fleet, now),
        "sort_urls": {
            key: _url(query, sort=f"-{key}" if key == sort_key and not descending else key, page="") for key in SORTS
        },
        "sort_key": sort_key,
        "descending": descending,
        "page_urls": {
            "previous": _url(query, page=page.previous_page_number()) if page.has_previous() else "",
            "next": _url(query, page=page.next_page_number()) if page.has_next() else "",
        },
        "csv_url": _url(query),
        "live_url": _url(query, page=page.number),
        "units": {
            "distance": units.label("distance", fleet.unit_system),
        },
        "filtered": any(query[k] for k in ("q", "make", "state")),
    }
    template = "dashboard/overview.html#live" if request.htmx else "dashboard/overview.html"
    return render(request, template, context)


class _Echo:
    def write(self, value):
        return value


def _cell(value) -> str:
    """A CSV cell that a spreadsheet will not run as a formula (names and nicknames are typed by people)."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _number(value, decimals: int = 1) -> str:
    return "" if value is None else f"{value:.{decimals}f}"


@require_GET
@fleet_view
def fleet_overview_csv(request: FleetRequest):
    """The table as filtered and sorted on screen, every page, values in the fleet's units."""
    fleet, now = request.fleet, timezone.now()
    query = TableQuery(request.GET, makes=fleet_makes(fleet)).values()
    vehicles = vehicles_table(fleet=fleet, query=query, now=now).select_related("status")
    system, zone = fleet.unit_system, fleet.zone
    distance_unit = units.label("distance", system)
    stale_before = now - timedelta(minutes=fleet.stale_after_minutes)
    header = [
        "name", "make", "model", "year", "vin", "battery_percent", "fuel_percent", f"range_{distance_unit}",
        "charging_state", "plugged_in", "locked", f"odometer_{distance_unit}", "latitude", "longitude",
        "data_age", "stale", "active_dtcs", "needs_attention",
    ]  # fmt: skip

    def lines():
        writer = csv.writer(_Echo())
        yield writer.writerow(header)
        for vehicle in vehicles.iterator(chunk_size=500):
            status = _status(vehicle)
            s = status or VehicleStatus()
            range_km = s.range_km if s.range_km is not None else s.fuel_range_km
            data_age = s.data_age.astimezone(zone).isoformat(timespec="seconds") if s.data_age else ""
            yield writer.writerow(
                [
                    _cell(vehicle.display_name),
                    _cell(vehicle.make),
                    _cell(vehicle.model),
                    vehicle.year or "",
                    _cell(vehicle.vin),
                    _number(s.battery_percent, 0),
                    _number(s.fuel_percent, 0),
                    _number(units.distance(range_km, system), 0),
                    s.charging_state,
                    "" if s.is_plugged_in is None else ("yes" if s.is_plugged_in else "no"),
                    "" if s.is_locked is None else ("yes" if s.is_locked else "no"),
                    _number(units.distance(s.odometer_km, system), 0),
                    _number(s.latitude, 5),
                    _number(s.longitude, 5),
                    data_age,
                    "yes" if s.data_age and s.data_age < stale_before else "no",
                    s.active_dtc_count if s.active_dtc_count is not None else "",
                    "; ".join(attention_reasons(status)),
                ]
            )

    filename = f"{fleet.slug}-vehicles-{now.astimezone(zone):%Y%m%d-%H%M}.csv"
    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
