"""The vehicle page (every latest value, history charts, map, diagnostics, sync state), its commands and "Sync now".

Everything here reads what the sync engine stored; only a command (vehicles/commands.py, through a Celery task) and
"Sync now" (vehicles/sync/) lead to Smartcar calls.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseStopPolling, reswap, retarget

from fleet import units
from fleet.templatetags import units as fmt
from fleet.tenancy import FleetRequest, fleet_view, get_fleet_object_or_404
from vehicles import commands, conditions, freshness, obd
from vehicles.catalogue import endpoint_by_path
from vehicles.forms import VehicleGroupsForm
from vehicles.history import fleet_energy_days, history_series
from vehicles.models import (
    Command,
    CommandStatus,
    EndpointState,
    FleetSync,
    SystemStatus,
    Vehicle,
    VehicleStatus,
    VehicleSync,
    make_label,
)

# The history card's ranges (days → words); the first is the default.
CHART_RANGES = {30: "30 days", 365: "12 months"}
CHART_POINTS = 1000
TRACK_DAYS = 7
TRACK_POINTS = 300
COMMAND_LOG_SIZE = 25

# Which group of the page each endpoint (as vehicles/catalogue.py names it) belongs to.
GROUPS = [
    ("energy", "Energy", ("/battery", "/fuel", "/{make}/battery", "/battery/nominal_capacity")),
    (
        "charging",
        "Charging",
        (
            "/charge", "/charge/limit", "/{make}/charge", "/{make}/charge/completion", "/{make}/charge/voltmeter",
            "/{make}/charge/wattmeter", "/{make}/charge/schedule", "/{make}/charge/schedule_by_location",
            "/{make}/charge/records", "/{make}/charge/records/billing",
        ),
    ),
    ("location", "Location", ("/location", "/{make}/compass", "/{make}/speedometer")),
    ("security", "Security", ("/security",)),
    ("tires", "Tires", ("/tires/pressure",)),
    ("engine", "Engine", ("/engine/oil", "/odometer")),
    (
        "climate",
        "Climate",
        (
            "/{make}/climate/cabin", "/{make}/climate/defroster", "/{make}/climate/steering_wheel",
            "/{make}/thermometer/exterior", "/{make}/thermometer/interior",
        ),
    ),
    ("diagnostics", "Diagnostics", ("/diagnostics/dtcs", "/diagnostics/system_status", "/{make}/alerts")),
    ("service", "Service", ("/service/history",)),
    (
        "info",
        "Vehicle info",
        (
            "/", "/vin", "/permissions", "/{make}/attributes", "/{make}/status", "/{make}/migration",
            "/{make}/virtual_key", "/{make}/user/access", "/{make}/user/info",
        ),
    ),
]  # fmt: skip
_GROUP_OF = {path: key for key, _, paths in GROUPS for path in paths}
# API v3's one read (vehicles/catalogue.py SIGNALS) fills every group: its age is every group's, its raw answer is
# listed once, under "Vehicle info".
EVERY_GROUP = "/signals"


def _yes_no(value: bool | None, yes: str = "Yes", no: str = "No") -> str:
    return "—" if value is None else (yes if value else no)


def _open_closed(items: list | None) -> str:
    return "open" if items else "closed"


def _listing(items: list | None) -> str:
    return ", ".join(str(i).replace("_", " ").lower() for i in items) if items else "none"


def typed_values(status: VehicleStatus, system: str) -> dict[str, list[tuple[str, str]]]:
    """The typed latest values, in words and the fleet's units, per group (only those the vehicle reported)."""
    s = status

    def some(*pairs):
        return [(label, text) for label, value, text in pairs if value is not None and value != ""]

    return {
        "energy": some(
            ("Battery", s.battery_percent, fmt.percent(s.battery_percent)),
            ("Range (battery)", s.range_km, fmt.distance(s.range_km, system)),
            ("Fuel", s.fuel_percent, fmt.percent(s.fuel_percent)),
            ("Fuel in tank", s.fuel_amount_liters, fmt.volume(s.fuel_amount_liters, system)),
            ("Range (fuel)", s.fuel_range_km, fmt.distance(s.fuel_range_km, system)),
        ),
        "charging": some(
            ("State", s.charging_state or None, s.charging_state_label),
            ("Plugged in", s.is_plugged_in, _yes_no(s.is_plugged_in)),
            ("Charge limit", s.charge_limit_percent, fmt.percent(s.charge_limit_percent)),
            ("Charging power", s.charge_power_kw, fmt.power(s.charge_power_kw)),
        ),
        "location": some(
            ("Position", s.latitude, fmt.position(s.latitude, s.longitude)),
            ("Speed", s.speed_kph, fmt.speed(s.speed_kph, system)),
            ("Heading", s.heading_degrees, f"{s.heading_degrees or 0:.0f}°"),
            ("Activity", s.activity, s.get_activity_display()),
        ),
        "security": some(
            ("Locks", s.is_locked, _yes_no(s.is_locked, "Locked", "Unlocked")),
            ("Doors open", s.doors_open if s.is_locked is not None else None, _listing(s.doors_open)),
            ("Windows open", s.windows_open if s.is_locked is not None else None, _listing(s.windows_open)),
            ("Sunroof open", s.sunroof_open if s.is_locked is not None else None, _listing(s.sunroof_open)),
            ("Trunks open", s.storage_open if s.is_locked is not None else None, _listing(s.storage_open)),
            (
                "Charge port",
                s.charging_port_open if s.is_locked is not None else None,
                _open_closed(s.charging_port_open),
            ),
        ),
        "tires": some(
            ("Front left", s.tire_pressure_front_left_kpa, fmt.pressure(s.tire_pressure_front_left_kpa, system)),
            ("Front right", s.tire_pressure_front_right_kpa, fmt.pressure(s.tire_pressure_front_right_kpa, system)),
            ("Back left", s.tire_pressure_back_left_kpa, fmt.pressure(s.tire_pressure_back_left_kpa, system)),
            ("Back right", s.tire_pressure_back_right_kpa, fmt.pressure(s.tire_pressure_back_right_kpa, system)),
        ),
        "engine": some(
            ("Odometer", s.odometer_km, fmt.distance(s.odometer_km, system)),
            ("Oil life", s.oil_life_percent, fmt.percent(s.oil_life_percent)),
        ),
        "climate": some(
            ("Outside", s.exterior_temperature_c, fmt.temperature(s.exterior_temperature_c, system)),
            ("Inside", s.interior_temperature_c, fmt.temperature(s.interior_temperature_c, system)),
        ),
        "diagnostics": some(
            ("Active DTCs", s.active_dtc_count, str(s.active_dtc_count)),
            ("System alerts", s.system_alert_count, str(s.system_alert_count)),
        ),
        "info": some(
            ("Make", s.vehicle.make or None, make_label(s.vehicle.make)),
            ("Model", s.vehicle.model or None, s.vehicle.model),
            ("Year", s.vehicle.year, str(s.vehicle.year)),
            ("VIN", s.vehicle.vin or None, s.vehicle.vin),
        ),
    }


def _flatten(body: Any, prefix: str = "", out: list | None = None, limit: int = 40) -> list[tuple[str, str]]:
    """Any reading as label/value lines, so that make-specific endpoints show every field they answered."""
    out = [] if out is None else out
    if len(out) >= limit:
        return out
    if isinstance(body, dict):
        for key, value in body.items():
            _flatten(value, f"{prefix}{key}" if not prefix else f"{prefix} › {key}", out, limit)
    elif isinstance(body, list):
        if not body:
            out.append((prefix or "items", "none"))
        for index, item in enumerate(body[:10]):
            _flatten(item, f"{prefix} {index + 1}".strip(), out, limit)
    else:
        out.append((prefix or "value", "—" if body is None else str(body)[:120]))
    return out


def _endpoint_label(doc: str) -> str:
    """What an endpoint reads, in words, from its reference page: "evs__get-charge-status.md" → "Charge status"."""
    parts = doc.rsplit("/", 1)[-1].removesuffix(".md").split("__")
    name = parts[-1].removeprefix("get-")
    if name == "list":  # "signals__list.md": the list of signals
        name = parts[0]
    name = name.replace("-", " ")
    return name.capitalize() if name else "Other readings"


def _endpoint_groups(vehicle: Vehicle, states: list[EndpointState]) -> dict[str, list[dict]]:
    grouped: dict[str, list[dict]] = {}
    for state in states:
        endpoint = endpoint_by_path(vehicle.make, state.path)
        template = endpoint.path if endpoint else state.path
        grouped.setdefault(_GROUP_OF.get(template, "info"), []).append(
            {
                "path": state.path,
                "label": _endpoint_label(endpoint.doc if endpoint else ""),
                "doc": endpoint.doc if endpoint else "",
                "fields": _flatten(state.body) if state.body is not None else [],
                "data_age": state.data_age or state.fetched_at,
                "error": state.last_error,
                "parked_until": state.parked_until,
            }
        )
    return grouped


def charts_data(vehicle: Vehicle, status: VehicleStatus | None, days: int) -> dict:
    """Battery (or fuel), range and odometer over the last ``days`` days, in the fleet's units, for uPlot."""
    system = vehicle.fleet.unit_system
    since = timezone.now() - timedelta(days=days)
    fields = ["battery_percent", "fuel_percent", "range_km", "fuel_range_km", "odometer_km"]
    history = history_series(vehicle=vehicle, fields=fields, since=since, limit=CHART_POINTS)

    # History holds a row only when a value changed: the last value still held at the last successful sync, so the
    # line runs on to then (an odometer parked all week is a flat line, not a lone dot).
    held_until = status.last_success_at if status else None

    def series(points, convert=lambda v: v):
        if points and held_until and points[-1][0] < held_until:
            points = [*points, (held_until, points[-1][1])]
        return [[int(t.timestamp()) for t, _ in points], [round(convert(v), 1) for _, v in points]]

    electric = bool(history["battery_percent"]) or (status is not None and status.battery_percent is not None)
    energy = history["battery_percent"] if electric else history["fuel_percent"]
    range_points = history["range_km"] if electric else history["fuel_range_km"]
    distance_unit = units.label("distance", system)

    def to_distance(km):
        return units.distance(km, system)

    charts = [
        ("energy", "Battery (%)" if electric else "Fuel (%)", series(energy)),
        ("range", f"Range ({distance_unit})", series(range_points, to_distance)),
        ("odometer", f"Odometer ({distance_unit})", series(history["odometer_km"], to_distance)),
    ]
    # A line needs two moments; a single reading would draw an empty chart on a made-up time axis.
    return {key: {"label": label, "data": data} for key, label, data in charts if len(set(data[0])) >= 2}


def track_data(vehicle: Vehicle) -> list[list[float]]:
    """Recent positions, oldest first: latitude and longitude history rows paired by the reading they came from."""
    since = timezone.now() - timedelta(days=TRACK_DAYS)
    history = history_series(vehicle=vehicle, fields=["latitude", "longitude"], since=since, limit=TRACK_POINTS)
    longitudes = dict(history["longitude"])
    return [
        [round(lat, 5), round(longitudes[at], 5), int(at.timestamp())]
        for at, lat in history["latitude"]
        if at in longitudes
    ]


def _chart_days(value: str | None) -> int:
    """The history range asked for in the query string; anything else (a stale or edited link) shows the default."""
    return int(value) if value in {str(days) for days in CHART_RANGES} else next(iter(CHART_RANGES))


def _vehicle_for(request: FleetRequest, pk: int) -> Vehicle:
    return get_fleet_object_or_404(request, Vehicle.objects.select_related("fleet", "account", "status", "sync"), pk=pk)


def _one_to_one(vehicle: Vehicle, name: str):
    try:
        return getattr(vehicle, name)
    except (VehicleStatus.DoesNotExist, VehicleSync.DoesNotExist):
        return None


def _body(states: list[EndpointState], path: str):
    return next((s.body for s in states if s.path == path and s.body is not None), None)


def _records(body, *keys: str) -> list:
    for key in keys:
        if isinstance(body, dict) and isinstance(body.get(key), list):
            return body[key]
    return body if isinstance(body, list) else []


def value_groups(vehicle: Vehicle, status: VehicleStatus | None, states: list[EndpointState], system: str) -> list:
    """The page's value panels: each group's typed values, its endpoints and its newest reading's age."""
    endpoints = _endpoint_groups(vehicle, states)
    values = typed_values(status, system) if status else {}
    shared = [e["data_age"] for e in endpoints.get("info", []) if e["path"] == EVERY_GROUP and e["data_age"]]
    groups = []
    for key, label, _ in GROUPS:
        group_endpoints = endpoints.get(key, [])
        ages = [e["data_age"] for e in group_endpoints if e["data_age"]] + (shared if values.get(key) else [])
        if values.get(key) or group_endpoints:
            groups.append(
                {
                    "key": key,
                    "label": label,
                    "values": values.get(key, []),
                    "endpoints": group_endpoints,
                    "data_age": max(ages) if ages else None,
                }
            )
    return groups


@require_GET
@fleet_view
def vehicle_detail(request: FleetRequest, pk: int):
    vehicle = _vehicle_for(request, pk)
    status, sync = _one_to_one(vehicle, "status"), _one_to_one(vehicle, "sync")
    limits = conditions.Limits.for_fleet(request.fleet, timezone.now())
    states = list(EndpointState.objects.filter(vehicle=vehicle).order_by("path"))
    groups = value_groups(vehicle, status, states, request.fleet.unit_system)
    chart_days = _chart_days(request.GET.get("history"))
    make = vehicle.make_slug
    available = commands.commands_available(vehicle)
    context = {
        "vehicle": vehicle,
        "status": status,
        "sync_state": freshness.sync_explanation(
            vehicle, sync, FleetSync.objects.filter(fleet=request.fleet).first(), limits
        ),
        "groups": groups,
        "charts": charts_data(vehicle, status, chart_days),
        "chart_days": chart_days,
        "chart_ranges": CHART_RANGES,
        "track": track_data(vehicle),
        "current_position": [status.latitude, status.longitude] if status and status.latitude is not None else None,
        "map_tiles": {"url": settings.MAP_TILE_URL, "attribution": settings.MAP_TILE_ATTRIBUTION},
        "dtcs": vehicle.dtcs.filter(cleared_at__isnull=True).select_related("acknowledgement"),
        "cleared_dtcs": vehicle.dtcs.filter(cleared_at__isnull=False).order_by("-cleared_at")[:10],
        "system_statuses": SystemStatus.objects.filter(vehicle=vehicle).order_by("-status", "system_id"),
        "service_records": _records(_body(states, "/service/history"), "records", "serviceRecords")[:20],
        "charge_records": _records(
            _body(states, f"/{make}/charge/records") or _body(states, f"/{make}/charge/records/billing"),
            "records",
            "data",
        )[:20],
        "charging_sessions": vehicle.charging_sessions.order_by("-started_at")[:10],
        "tesla_alerts": _records(_body(states, f"/{make}/alerts"), "alerts", "data")[:20],
        "command_groups": [
            (label, specs)
            for key, label in commands.GROUP_LABELS.items()
            if (specs := [c for c in available if c.group == key])
        ],
        "commands_unavailable": commands.commands_unavailable_reason(vehicle),
        "commands_missing_on_api": commands.commands_missing_on_api(vehicle),
        "command_log": Command.objects.filter(vehicle=vehicle).select_related("vehicle__fleet")[:COMMAND_LOG_SIZE],
        "vehicle_groups": vehicle.groups.all(),
        "groups_form": VehicleGroupsForm(vehicle=vehicle),
    }
    for dtc in context["dtcs"]:
        dtc.description = obd.describe(dtc.code)
    return render(request, "vehicles/detail.html", context)


def _submitted_row(request: FleetRequest, vehicle: Vehicle, command: Command):
    """The new row for the top of the command log (htmx), or back to the page with a message."""
    if request.htmx:
        # The "no command yet" row goes away with the first command only (later there is none to remove).
        first = not vehicle.commands.exclude(pk=command.pk).exists()
        context = {"command": command, "vehicle": vehicle, "first_command": first}
        return render(request, "vehicles/detail.html#command_row", context)
    messages.info(request, f"{command.label}: queued. Its result appears in the command log below.")
    return redirect(vehicle)


@require_POST
@fleet_view(write=True)
def vehicle_command(request: FleetRequest, pk: int):
    """Queues a command (after confirmation). Without htmx, an unconfirmed command gets a confirmation page."""
    vehicle = _vehicle_for(request, pk)
    kind = request.POST.get("kind", "")
    spec = commands.COMMANDS.get(kind)
    if spec is not None and request.POST.get("confirmed") != "yes":
        context = {"vehicle": vehicle, "spec": spec, "params": request.POST}
        if spec.params_form is not None:
            context["form"] = spec.params_form(request.POST or None)
        return render(request, "vehicles/command_confirm.html", context)
    params = {k: v for k, v in request.POST.items() if k not in ("kind", "confirmed", "csrfmiddlewaretoken")}
    try:
        command = commands.command_submit(vehicle=vehicle, user=request.user, kind=kind, params=params)
    except commands.CommandRefused as exc:
        if request.htmx:
            # 200: a refusal is the answer to the click. It is told beside the buttons, where the manager looks, not
            # in the log at the foot of the page.
            response = render(request, "vehicles/detail.html#command_problem", {"message": exc.user_message})
            return reswap(retarget(response, "#command-problem"), "outerHTML")
        messages.error(request, exc.user_message)
        return redirect(vehicle)
    response = _submitted_row(request, vehicle, command)
    if request.htmx:  # the last refusal, if any, is answered
        response.content += render_to_string("vehicles/detail.html#command_problem", {"oob": True}).encode()
    return response


@require_POST
@fleet_view(write=True)
def command_retry(request: FleetRequest, pk: int, command_id: int):
    """A manager sends a failed command again: a new row in the log, sent like the first."""
    vehicle = _vehicle_for(request, pk)  # the tenant check: another fleet's vehicle is a 404, so are its commands
    command = get_object_or_404(Command.objects.select_related("vehicle__account"), vehicle=vehicle, pk=command_id)
    try:
        retried = commands.command_retry(command=command, user=request.user)
    except commands.CommandRefused as exc:
        if request.htmx:
            return render(request, "vehicles/detail.html#command_refused", {"message": exc.user_message})
        messages.error(request, exc.user_message)
        return redirect(vehicle)
    if request.POST.get("return_to") == "charging":  # the charging page's retry button (a plain form)
        messages.info(request, f"{retried.label}: queued again.")
        return redirect("charging_vehicle", request.fleet.slug, vehicle.pk)
    return _submitted_row(request, vehicle, retried)


@require_GET
@fleet_view
def command_status(request: FleetRequest, pk: int, command_id: int):
    """One audit row, polled by htmx while the command is under way; polling stops once nothing more will happen,
    and then the value panels the command may have changed are swapped in too."""
    vehicle = _vehicle_for(request, pk)  # the tenant check: another fleet's vehicle is a 404, so are its commands
    command = get_object_or_404(Command, vehicle=vehicle, pk=command_id)
    context = {"command": command, "vehicle": vehicle}
    if not command.is_finished:
        return render(request, "vehicles/detail.html#command_row", context)
    html = render_to_string("vehicles/detail.html#command_row", context, request=request)
    if command.status in (CommandStatus.DONE, CommandStatus.ERROR, CommandStatus.UNKNOWN) and command.observed_at:
        status = VehicleStatus.objects.filter(vehicle=vehicle).first()
        states = list(EndpointState.objects.filter(vehicle=vehicle).order_by("path"))
        groups = value_groups(vehicle, status, states, request.fleet.unit_system)
        html += render_to_string("vehicles/detail.html#values", {"groups": groups, "oob": True}, request=request)
    return HttpResponseStopPolling(html)


@require_POST
@fleet_view(write=True)
def vehicle_sync(request: FleetRequest, pk: int):
    """ "Sync now": every endpoint of the vehicle is due at once (a back-off still holds: cars are never woken)."""
    from vehicles.sync import vehicle_sync_now

    vehicle = _vehicle_for(request, pk)
    vehicle_sync_now(vehicle=vehicle)
    messages.info(request, "Sync queued; fresh values appear here within a minute unless the vehicle is asleep.")
    return redirect(vehicle)


# --- The fleet's energy and distance by day -------------------------------------------------------------------------

ENERGY_PERIODS = {30: "Last 30 days", 90: "Last 90 days", 365: "Last 12 months"}


@require_GET
@fleet_view
def fleet_energy(request: FleetRequest):
    """Levels, distance and charging power per day over a period, from the daily rollups (complete days only)."""
    fleet = request.fleet
    period = _period(request.GET.get("days"))
    yesterday = timezone.localdate(timezone=fleet.zone) - timedelta(days=1)
    rows = fleet_energy_days(fleet=fleet, first=yesterday - timedelta(days=period - 1), last=yesterday)
    system = fleet.unit_system
    for row in rows:
        row["distance"] = units.distance(row.get("distance_km"), system)
    chart_rows = list(reversed(rows))

    def series(key):
        points = [(row["day"], row[key]) for row in chart_rows if row.get(key) is not None]
        times = [int(datetime(d.year, d.month, d.day, tzinfo=fleet.zone).timestamp()) for d, _ in points]
        return [times, [round(value, 1) for _, value in points]]

    charts = {
        "distance": {"label": f"Distance driven ({units.label('distance', system)})", "data": series("distance")},
        "battery": {"label": "Average battery level (%)", "data": series("battery_percent_mean")},
    }
    context = {
        "rows": rows,
        "period": period,
        "periods": ENERGY_PERIODS,
        "distance_unit": units.label("distance", system),
        "charts": {key: chart for key, chart in charts.items() if len(chart["data"][0]) >= 2},
    }
    return render(request, "vehicles/energy.html", context)


def _period(value: str | None) -> int:
    return int(value) if value in {str(days) for days in ENERGY_PERIODS} else next(iter(ENERGY_PERIODS))
