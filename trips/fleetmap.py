"""The fleet map's data: every vehicle's last position and state, and the fleet's places, in a constant number of
queries whatever the fleet's size (the page and its htmx refresh are measured at 5,000 vehicles in
tests/bench/bench_trips.py).

On PostgreSQL the database writes the vehicles' JSON itself (json_agg): at thousands of vehicles, turning every row
into Python values and back into JSON was most of the page's time. Elsewhere (SQLite) the same JSON is built in Python.
"""

from __future__ import annotations

import json

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
# Each vehicle: [id, nickname, year, make, model, latitude, longitude, state, minutes since its data was recorded].
_SQL = """
SELECT coalesce(json_agg(json_build_array(
    s.vehicle_id, v.nickname, v.year, v.make, v.model, s.latitude, s.longitude, s.activity,
    (extract(epoch FROM (%s - s.data_age)) / 60)::integer
) ORDER BY s.vehicle_id), '[]')::text
FROM {status} s JOIN {vehicle} v ON v.id = s.vehicle_id
WHERE v.fleet_id = %s AND s.latitude IS NOT NULL AND s.longitude IS NOT NULL
"""
# json_script's escapes, so that the JSON can sit in a <script type="application/json"> element.
_ESCAPES = {ord(">"): "\\u003E", ord("<"): "\\u003C", ord("&"): "\\u0026"}


def _vehicles_json(fleet, now) -> str:
    if connection.vendor == "postgresql":
        sql = _SQL.format(status=VehicleStatus._meta.db_table, vehicle=Vehicle._meta.db_table)
        with connection.cursor() as cursor:
            cursor.execute(sql, [now, fleet.pk])
            value = cursor.fetchone()[0]
        return value  # text: psycopg would otherwise parse it only for it to be written again
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
    return json.dumps(vehicles)


def fleet_map_json(*, fleet) -> SafeString:
    """The map's data as escaped JSON for a ``<script type="application/json">``: ``vehicles`` (see _SQL),
    ``places`` [name, kind, latitude, longitude, radius], ``makes`` (labels), ``states`` and ``link`` (the vehicle
    page's address with 0 for the id)."""
    places = [
        [p.name, p.kind, p.latitude, p.longitude, p.radius_m]
        for p in Place.objects.filter(fleet=fleet).only("name", "kind", "latitude", "longitude", "radius_m")
    ]
    makes = Vehicle.objects.filter(fleet=fleet).order_by().values_list("make", flat=True).distinct()
    rest = {
        "places": places,
        "makes": {make: make_label(make) for make in makes},
        "states": {str(key): value for key, value in STATES.items()},
        "link": reverse("vehicle_detail", args=[fleet.slug, 0]),
    }
    text = '{"vehicles": ' + _vehicles_json(fleet, timezone.now()) + ", " + json.dumps(rest)[1:]
    return mark_safe(text.translate(_ESCAPES))  # noqa: S308 (JSON escaped for a script element, as json_script does)


def fleet_map_counts(*, fleet) -> tuple[int, int]:
    vehicles = VehicleStatus.objects.filter(vehicle__fleet=fleet, latitude__isnull=False, longitude__isnull=False)
    return vehicles.count(), Place.objects.filter(fleet=fleet).count()
