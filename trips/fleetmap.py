"""The fleet map's data: every vehicle's last position and state, and the fleet's places, in a constant number of
queries whatever the fleet's size (the page and its htmx refresh are measured at 5,000 vehicles in
tests/bench/bench_trips.py).

On PostgreSQL the database writes the vehicles' and places' JSON itself (json_agg), with their counts and the makes,
in one query: at thousands of vehicles, turning every row into Python values and back into JSON was most of the page's
time, and on a busy server every further round trip to the database waits its turn. Elsewhere (SQLite) the same JSON
is built in Python.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from django.db import connection
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe

from trips.models import Place
from vehicles.models import Activity, Vehicle, VehicleStatus, make_label

STATES = {
    Activity.DRIVING: "Driving",
    Activity.CHARGING: "Charging",
    Activity.PARKED: "Parked",
    Activity.ASLEEP: "Asleep or unreachable",
    Activity.UNKNOWN: "Not known yet",
}
# Each vehicle: [id, nickname, year, make, model, latitude, longitude, state, minutes since its data was recorded];
# each place: [name, kind, latitude, longitude, radius]. With them, how many there are and the vehicles' makes: the
# page's one query of the fleet's data.
_SQL = """
SELECT coalesce(json_agg(json_build_array(
    s.vehicle_id, v.nickname, v.year, v.make, v.model, s.latitude, s.longitude, s.activity,
    (extract(epoch FROM (%(now)s - s.data_age)) / 60)::integer
) ORDER BY s.vehicle_id), '[]')::text, count(*), coalesce(array_agg(DISTINCT v.make), '{{}}'),
(SELECT coalesce(json_agg(json_build_array(p.name, p.kind, p.latitude, p.longitude, p.radius_m) ORDER BY p.name),
                 '[]')::text FROM {place} p WHERE p.fleet_id = %(fleet)s),
(SELECT count(*) FROM {place} p WHERE p.fleet_id = %(fleet)s)
FROM {status} s JOIN {vehicle} v ON v.id = s.vehicle_id
WHERE v.fleet_id = %(fleet)s AND s.latitude IS NOT NULL AND s.longitude IS NOT NULL
"""
# json_script's escapes, so that the JSON can sit in a <script type="application/json"> element.
_ESCAPES = {ord(">"): "\\u003E", ord("<"): "\\u003C", ord("&"): "\\u0026"}


@dataclass(frozen=True)
class FleetMap:
    """The map's data as escaped JSON for a ``<script type="application/json">``: ``vehicles`` and ``places`` (see
    _SQL), ``makes`` (labels), ``states`` and ``link`` (the vehicle page's address with 0 for the id); and how many
    vehicles and places it holds."""

    json: SafeString
    vehicle_count: int
    place_count: int


@dataclass(frozen=True)
class _Rows:
    vehicles: str  # JSON
    vehicle_count: int
    makes: list[str]
    places: str  # JSON
    place_count: int


def _rows_from_postgresql(fleet, now) -> _Rows:
    tables = {"status": VehicleStatus, "vehicle": Vehicle, "place": Place}
    sql = _SQL.format(**{name: model._meta.db_table for name, model in tables.items()})
    with connection.cursor() as cursor:
        cursor.execute(sql, {"now": now, "fleet": fleet.pk})
        # JSON as text: psycopg would otherwise parse it only for it to be written again.
        return _Rows(*cursor.fetchone())


def _rows_from_orm(fleet, now) -> _Rows:
    rows = (
        VehicleStatus.objects.filter(vehicle__fleet=fleet, latitude__isnull=False, longitude__isnull=False)
        .order_by("vehicle_id")
        .values_list("vehicle_id", "vehicle__nickname", "vehicle__year", "vehicle__make", "vehicle__model",
                     "latitude", "longitude", "activity", "data_age")
    )  # fmt: skip
    vehicles = []
    for *head, latitude, longitude, activity, data_age in rows:
        age = round((now - data_age).total_seconds() / 60) if data_age else None
        vehicles.append([*head, latitude, longitude, activity, age])
    places = [
        list(place)
        for place in Place.objects.filter(fleet=fleet).values_list("name", "kind", "latitude", "longitude", "radius_m")
    ]
    makes = sorted({vehicle[3] for vehicle in vehicles})
    return _Rows(json.dumps(vehicles), len(vehicles), makes, json.dumps(places), len(places))


def fleet_map(*, fleet) -> FleetMap:
    """Every positioned vehicle and every place of the fleet: one query on PostgreSQL, two elsewhere."""
    read = _rows_from_postgresql if connection.vendor == "postgresql" else _rows_from_orm
    rows = read(fleet, timezone.now())
    rest = {
        "makes": {make: make_label(make) for make in rows.makes},
        "states": {str(key): value for key, value in STATES.items()},
        "link": reverse("vehicle_detail", args=[fleet.slug, 0]),
    }
    text = f'{{"vehicles": {rows.vehicles}, "places": {rows.places}, {json.dumps(rest)[1:]}'
    # JSON escaped for a script element, as json_script does.
    return FleetMap(mark_safe(text.translate(_ESCAPES)), rows.vehicle_count, rows.place_count)  # noqa: S308
