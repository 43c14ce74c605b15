"""The fleet map's data: every vehicle's last position and state, and the fleet's places, in two queries whatever the
fleet's size (the page and its htmx refresh are measured at 5,000 vehicles in tests/bench/bench_trips.py)."""

from __future__ import annotations

from django.urls import reverse
from django.utils import timezone

from trips.models import Place
from vehicles.models import Activity, VehicleStatus

# The colour family of each state, named for the legend and the stylesheet; the script maps them to colours.
STATES = {
    Activity.DRIVING: "Driving",
    Activity.CHARGING: "Charging",
    Activity.PARKED: "Parked",
    Activity.ASLEEP: "Asleep or unreachable",
    Activity.UNKNOWN: "Not known yet",
}


def fleet_map_data(*, fleet) -> dict:
    """``vehicles``: [id, name, latitude, longitude, state, minutes since the position was read]; ``places``:
    [name, kind, latitude, longitude, radius]; ``link``: the vehicle page's address with 0 for the id."""
    now = timezone.now()
    rows = (
        VehicleStatus.objects.filter(vehicle__fleet=fleet, latitude__isnull=False, longitude__isnull=False)
        .order_by("vehicle_id")
        .values_list(
            "vehicle_id", "vehicle__nickname", "vehicle__make", "vehicle__model", "latitude", "longitude", "activity",
            "data_age",
        )
    )  # fmt: skip
    vehicles = []
    for vehicle_id, nickname, make, model, latitude, longitude, activity, data_age in rows:
        name = nickname or f"{make.title()} {model}".strip()
        age = round((now - data_age).total_seconds() / 60) if data_age else None
        vehicles.append([vehicle_id, name, round(latitude, 5), round(longitude, 5), activity, age])
    places = [
        [p.name, p.kind, p.latitude, p.longitude, p.radius_m]
        for p in Place.objects.filter(fleet=fleet).only("name", "kind", "latitude", "longitude", "radius_m")
    ]
    link = reverse("vehicle_detail", args=[fleet.slug, 0])
    return {"vehicles": vehicles, "places": places, "link": link, "states": STATES}
