"""The overview: tiles, the vehicle table and its CSV export.

It reads only our database — what the sync engine stored — never Smartcar. It runs a fixed number of
queries whatever the fleet's size: one aggregate for every tile, one list of makes for the filter, one of the fleet's
vehicle groups for the group filter, and for the table
its count and the page's ids (one query of both when a filter must read every match anyway: ``vehicles_page``),
then the page's rows. Its live part (tiles and table) is the ``live`` partial of dashboard/overview.html, which
htmx fetches every 30 seconds and whenever a tile, a sort header, a filter or a page link is used.

At 50,000 vehicles the tiles' aggregate and the list of makes read every vehicle of the fleet (tens to hundreds of
milliseconds), while the table reads one page through an index. So the tiles and makes (the fleet's summary) are
computed at most once every settings.DASHBOARD_SUMMARY_SECONDS per fleet and kept in the shared cache; the table is
always read live, and its unfiltered count is the summary's total. docs/benchmarks.md has the figures and plans.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from urllib.parse import urlencode

from django import forms
from django.conf import settings
from django.core.cache import cache
from django.core.paginator import Page, Paginator
from django.db.models import Count, F, Q, QuerySet
from django.db.models.functions import Coalesce
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET
from django.views.decorators.vary import vary_on_headers

from fleet import formatting, units
from fleet.exports import csv_download, moment_cell, safe_cell
from fleet.models import Fleet
from fleet.templatetags.units import age_in_words
from fleet.templatetags.units import distance as format_distance
from fleet.tenancy import FleetRequest, fleet_view
from maintenance.board import maintenance_counts
from vehicles import conditions
from vehicles.models import Vehicle, VehicleGroup, VehicleStatus, make_label, name_sort_key

PAGE_SIZE = 50

# --- What each tile (and state filter) means: vehicles/conditions.py, one definition for tiles, rows and pages ---

TILES = [
    conditions.DRIVING,
    conditions.CHARGING,
    conditions.LOW_ENERGY,
    conditions.NEEDS_ATTENTION,
    conditions.ASLEEP,
    conditions.SYNC_FAILING,
    conditions.NEEDS_RECONNECT,
]
FILTERS = [*TILES, conditions.STALE, conditions.NEVER_SYNCED]
STATES = {condition.key: condition for condition in FILTERS}
# Tiles that ask for the manager's eye when they count anything.
ALERT_TILES = {
    c.key
    for c in (conditions.LOW_ENERGY, conditions.NEEDS_ATTENTION, conditions.SYNC_FAILING, conditions.NEEDS_RECONNECT)
}
STATE_CHOICES = [
    ("", "All vehicles"),
    *[(condition.key, condition.label) for condition in FILTERS],
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
# Orders read from an index (vehicle_fleet_name, vehicle_fleet_make_model; either direction): a page of them costs a
# few index entries.
INDEXED_SORTS = {"name", "make"}


class TableQuery(forms.Form):
    """The table's query string. Anything unknown or malformed falls back to its default instead of erroring."""

    q = forms.CharField(required=False, max_length=80, strip=True)
    make = forms.CharField(required=False, max_length=40)
    group = forms.IntegerField(required=False, min_value=1)
    state = forms.ChoiceField(required=False, choices=STATE_CHOICES)
    sort = forms.CharField(required=False, max_length=20)

    def __init__(self, data, *, makes: list[str], groups: list[tuple[int, str]]):
        super().__init__(data)
        self.makes = makes
        self.group_ids = {pk for pk, _ in groups}

    def values(self) -> dict[str, str]:
        self.is_valid()
        cleaned = self.cleaned_data
        sort = cleaned.get("sort") or ""
        return {
            "q": cleaned.get("q") or "",
            "make": cleaned.get("make") if cleaned.get("make") in self.makes else "",
            # Another fleet's group, or one deleted since, is no filter at all: the same answer as a made-up id.
            "group": str(cleaned["group"]) if cleaned.get("group") in self.group_ids else "",
            "state": cleaned.get("state") or "",
            "sort": sort if sort.lstrip("-") in SORTS else DEFAULT_SORT,
        }


SORT_COLUMNS = {
    "name": name_sort_key,
    "energy": lambda: Coalesce("status__battery_percent", "status__fuel_percent"),
    "range": lambda: Coalesce("status__range_km", "status__fuel_range_km"),
}
_SORT_ANNOTATION = {"name": "sort_name", "energy": "energy_percent", "range": "range_value"}


def vehicles_table(*, fleet: Fleet, query: dict[str, str], limits: conditions.Limits) -> QuerySet:
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
            vehicles = vehicles.filter(STATES[query["state"]].q(limits))
    if query["make"]:
        vehicles = vehicles.filter(make=query["make"])
    if query["group"]:
        # One group per filter: the join finds each member once, so no row repeats.
        vehicles = vehicles.filter(groups=int(query["group"]))
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


# What a row of the table reads of a vehicle, its status and its account: the conditions' columns and the cells'.
# Loading these alone spares parsing the rest (timestamps, JSON, tokens) of 150 objects per page; a column missing
# here would cost a query per row (tests/dashboard/test_overview.py counts them).
ROW_READS = (
    *conditions.READS, "vin", "status__range_km", "status__fuel_range_km", "status__odometer_km", "status__latitude",
    "status__longitude",
)  # fmt: skip


def vehicles_page(
    *, table: QuerySet, number, count: int | None = None, indexed: bool = True
) -> tuple[Page, list[Vehicle]]:
    """One page of the table in constant queries: the page's ids in order, then its rows whole; the count too when
    ``count`` (the summary's total) is not given.

    A filter reads the status of every vehicle of the fleet for the count. When the table's order is an index's
    (``indexed``: by name or make), the page's ids then come from that index in a few milliseconds. In any other
    order the page too would read every status to sort the matches, so the ids of every match are read at once
    instead, and their number is the count: one pass over the statuses instead of two.
    """
    ids = table.values_list("pk", flat=True)
    if count is None and not indexed:
        ids = list(ids)
    paginator = Paginator(ids, PAGE_SIZE)
    if count is not None:
        paginator.count = count  # a cached_property: set, it is not queried
    page = paginator.get_page(number)
    ids = list(page.object_list)
    by_id = Vehicle.objects.select_related("status", "account").only(*ROW_READS).order_by().in_bulk(ids)
    return page, [by_id[pk] for pk in ids if pk in by_id]


def tile_counts(*, fleet: Fleet, limits: conditions.Limits) -> dict[str, int]:
    """Every tile's count, and each reason's count of the failing syncs, in one aggregate query."""
    counted = [*TILES, *conditions.SYNC_FAILING.parts]
    aggregates = {condition.key: Count("pk", filter=condition.q(limits)) for condition in counted}
    return Vehicle.objects.filter(fleet=fleet, disconnected_at__isnull=True).aggregate(total=Count("pk"), **aggregates)


def fleet_summary(*, fleet: Fleet, limits: conditions.Limits) -> tuple[list[str], dict[str, int]]:
    """The filter's makes and every tile's count: from the shared cache while younger than
    settings.DASHBOARD_SUMMARY_SECONDS, else computed (two queries) and cached."""
    seconds = getattr(settings, "DASHBOARD_SUMMARY_SECONDS", 10)
    if seconds <= 0:
        return fleet_makes(fleet), tile_counts(fleet=fleet, limits=limits)
    # The thresholds are part of the key: a changed setting of the fleet shows at once.
    thresholds = (
        limits.low_energy_percent, limits.stale_after.total_seconds(), limits.low_tire_kpa, limits.low_oil_percent,
        limits.charge_by, limits.charge_below_percent, limits.time_zone, limits.past_charge_by,
    )  # fmt: skip
    key = f"dashboard:summary:{fleet.pk}:{hashlib.sha256(repr(thresholds).encode()).hexdigest()[:16]}"
    summary = cache.get(key)
    if summary is None:
        summary = (fleet_makes(fleet), tile_counts(fleet=fleet, limits=limits))
        cache.set(key, summary, seconds)
    return summary


def _failing_summary(counts: dict[str, int]) -> str:
    """ "rate limited (2), needs reconnect (1)": the failing syncs by reason, most frequent first."""
    reasons = [(counts[c.key], c.phrase) for c in conditions.SYNC_FAILING.parts if counts[c.key]]
    reasons.sort(key=lambda reason: -reason[0])
    return ", ".join(f"{phrase} ({count})" for count, phrase in reasons)


# --- Per-row facts (computed in Python from the row already loaded: no query per row) ------------------------------


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
    sync_failing: str  # why Fleet cannot read the vehicle now, in words ("rate limited"), or ""
    # A plug-in hybrid's second source: its fuel beside its battery, its fuel range beside its electric range.
    energy_fuel: str = ""
    range_fuel: str = ""


def _rows(vehicles: list[Vehicle], fleet: Fleet, limits: conditions.Limits) -> list[Row]:
    system = fleet.unit_system
    base_url = reverse("vehicle_detail", args=[fleet.slug, 0])[: -len("0/")]
    rows = []
    for vehicle in vehicles:
        status = conditions.status_of(vehicle)
        s = status or VehicleStatus()
        has_battery = s.battery_percent is not None or s.range_km is not None
        has_fuel = s.fuel_percent is not None or s.fuel_range_km is not None
        hybrid = has_battery and has_fuel
        failing = conditions.sync_failing_reason(vehicle, limits)
        rows.append(
            Row(
                vehicle=vehicle,
                status=status,
                url=f"{base_url}{vehicle.pk}/",
                energy=_percent(s.battery_percent) if has_battery else _percent(s.fuel_percent, " fuel"),
                range=(
                    format_distance(s.range_km, system) + (" electric" if hybrid and s.range_km is not None else "")
                    if has_battery
                    else format_distance(s.fuel_range_km, system)
                ),
                energy_fuel=_percent(s.fuel_percent, " fuel") if hybrid and s.fuel_percent is not None else "",
                range_fuel=(
                    format_distance(s.fuel_range_km, system) + " fuel" if hybrid and s.fuel_range_km is not None else ""
                ),
                odometer=format_distance(s.odometer_km, system),
                location=formatting.position(s.latitude, s.longitude),
                age=age_in_words(s.data_age, limits.now),
                attention=[c.badge(vehicle, limits) for c in conditions.NEEDS_ATTENTION.met(vehicle, limits)],
                is_stale=conditions.STALE.holds(vehicle, limits),
                needs_reconnect=failing is conditions.NEEDS_RECONNECT,
                sync_failing=failing.badge(vehicle, limits) if failing else "",
            )
        )
    return rows


def _percent(value: float | None, suffix: str = "") -> str:
    return "—" if value is None else formatting.quantity(value, "percent") + suffix


def _url(query: dict[str, str], **changes) -> str:
    merged = {**query, **changes}
    merged = {k: v for k, v in merged.items() if v and not (k == "sort" and v == DEFAULT_SORT) and v != 1}
    return "?" + urlencode(merged) if merged else "?"


def fleet_makes(fleet: Fleet) -> list[str]:
    return list(Vehicle.objects.filter(fleet=fleet).values_list("make", flat=True).distinct().order_by("make"))


def fleet_groups(fleet: Fleet) -> list[tuple[int, str]]:
    """The group filter's choices, read live (a few rows): a group just created can be picked at once."""
    return list(VehicleGroup.objects.filter(fleet=fleet).values_list("pk", "name"))


# --- Views ------------------------------------------------------------------------------------------------------


@vary_on_headers("HX-Request")
@require_GET
@fleet_view
def fleet_overview(request: FleetRequest):
    fleet = request.fleet
    limits = conditions.Limits.for_fleet(fleet, timezone.now())
    makes, counts = fleet_summary(fleet=fleet, limits=limits)
    groups = fleet_groups(fleet)
    query = TableQuery(request.GET, makes=makes, groups=groups).values()
    filtered = any(query[k] for k in ("q", "make", "group", "state"))
    # The tiles count the whole fleet (the cached summary); a search, make or group narrows the table alone.
    narrowed = any(query[k] for k in ("q", "make", "group"))
    page, vehicles = vehicles_page(
        table=vehicles_table(fleet=fleet, query=query, limits=limits),
        number=request.GET.get("page"),
        count=None if filtered else counts["total"],
        indexed=query["sort"].lstrip("-") in INDEXED_SORTS,
    )
    sort_key = query["sort"].lstrip("-")
    descending = query["sort"].startswith("-")
    context = {
        "query": query,
        "makes": makes,
        "groups": [(str(pk), name) for pk, name in groups],
        "state_choices": STATE_CHOICES,
        "tiles": [
            {
                "key": "",
                "label": "Total in fleet" if narrowed else "Total",
                "count": counts["total"],
                "url": _url(query, state="", page=""),
                "inactive": narrowed,
            },
            *[
                {
                    "key": tile.key,
                    "label": tile.label,
                    "count": counts[tile.key],
                    "url": _url(query, state=tile.key, page=""),
                    "alert": tile.key in ALERT_TILES and counts[tile.key] > 0,
                }
                for tile in TILES
            ],
        ],
        "maintenance_tiles": _maintenance_tiles(fleet),
        "total": counts["total"],
        "reconnect_count": counts[conditions.NEEDS_RECONNECT.key],
        "reconnect_action": conditions.NEEDS_RECONNECT.action,
        "failing_count": counts[conditions.SYNC_FAILING.key],
        "failing_summary": _failing_summary(counts),
        "page": page,
        "rows": _rows(vehicles, fleet, limits),
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
        "filtered": filtered,
        "narrowed": narrowed,
        "filter_words": _filter_words(query, groups),
    }
    template = "dashboard/overview.html#live" if request.htmx else "dashboard/overview.html"
    return render(request, template, context)


def _filter_words(query: dict[str, str], groups: list[tuple[int, str]]) -> str:
    """The table's filter in words: 'group Vans, make Ford, "transit"'."""
    words = []
    if query["group"]:
        words.append(f"group {dict(groups)[int(query['group'])]}")
    if query["make"]:
        words.append(f"make {make_label(query['make'])}")
    if query["state"]:
        words.append(dict(STATE_CHOICES)[query["state"]].lower())
    if query["q"]:
        words.append(f"“{query['q']}”")
    return ", ".join(words)


def _maintenance_tiles(fleet: Fleet) -> list[dict]:
    """Services overdue and due soon, open work orders: each tile leads to the maintenance board."""
    counts = maintenance_counts(fleet=fleet)
    url = reverse("maintenance_board", args=[fleet.slug])
    return [
        {"label": "Service overdue", "count": counts["overdue"], "url": url, "alert": counts["overdue"] > 0},
        {"label": "Service due soon", "count": counts["due_soon"], "url": url, "alert": False},
        {"label": "Open work orders", "count": counts["open_work_orders"], "url": url, "alert": False},
    ]


@require_GET
@fleet_view
def fleet_overview_csv(request: FleetRequest):
    """The table as filtered and sorted on screen, every page, values in the fleet's units."""
    fleet = request.fleet
    limits = conditions.Limits.for_fleet(fleet, timezone.now())
    query = TableQuery(request.GET, makes=fleet_makes(fleet), groups=fleet_groups(fleet)).values()
    vehicles = vehicles_table(fleet=fleet, query=query, limits=limits).select_related("status", "account")
    system, zone = fleet.unit_system, fleet.zone
    distance_unit = units.label("distance", system)
    header = [
        "name", "make", "model", "year", "vin", "battery_percent", "fuel_percent", f"electric_range_{distance_unit}",
        f"fuel_range_{distance_unit}", "charging", "plugged_in", "locked", f"odometer_{distance_unit}",
        "latitude", "longitude", "data_age", "stale", "active_dtcs", "needs_attention", "sync_failing",
    ]  # fmt: skip

    def lines():
        yield header
        for vehicle in vehicles.iterator(chunk_size=500):
            s = conditions.status_of(vehicle) or VehicleStatus()
            failing = conditions.sync_failing_reason(vehicle, limits)
            yield [
                safe_cell(vehicle.display_name),
                safe_cell(make_label(vehicle.make)),
                safe_cell(vehicle.model),
                vehicle.year or "",
                safe_cell(vehicle.vin),
                formatting.amount(s.battery_percent, "percent"),
                formatting.amount(s.fuel_percent, "percent"),
                formatting.amount(s.range_km, "distance", system),
                formatting.amount(s.fuel_range_km, "distance", system),
                s.charging_summary,
                "" if s.is_plugged_in is None else ("yes" if s.is_plugged_in else "no"),
                "" if s.is_locked is None else ("yes" if s.is_locked else "no"),
                formatting.amount(s.odometer_km, "distance", system),
                formatting.amount(s.latitude, "coordinate"),
                formatting.amount(s.longitude, "coordinate"),
                moment_cell(s.data_age, zone, "seconds"),
                "yes" if conditions.STALE.holds(vehicle, limits) else "no",
                s.active_dtc_count if s.active_dtc_count is not None else "",
                "; ".join(c.badge(vehicle, limits) for c in conditions.NEEDS_ATTENTION.met(vehicle, limits)),
                failing.badge(vehicle, limits) if failing else "",
            ]

    filename = f"{fleet.slug}-vehicles-{limits.now.astimezone(zone):%Y%m%d-%H%M}.csv"
    return csv_download(lines(), filename)
