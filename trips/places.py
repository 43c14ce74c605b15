"""Places as circles: which place a position lies in, and the places the data already suggests (Ford's saved
charging locations)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from charging.schedules import ScheduleFormatError, ford_locations_from_wire
from trips.models import Place
from vehicles.models import EndpointState

EARTH_RADIUS_M = 6_371_000


def distance_m(lat0: float, lon0: float, lat1: float, lon1: float) -> float:
    """Great-circle distance (haversine)."""
    phi0, phi1 = math.radians(lat0), math.radians(lat1)
    a = (
        math.sin((phi1 - phi0) / 2) ** 2
        + math.cos(phi0) * math.cos(phi1) * math.sin(math.radians(lon1 - lon0) / 2) ** 2
    )
    return EARTH_RADIUS_M * 2 * math.asin(min(math.sqrt(a), 1.0))


def place_at(places: list[Place], latitude: float | None, longitude: float | None) -> Place | None:
    """The place whose circle holds the position; of several, the smallest (a home inside a town-sized circle)."""
    if latitude is None or longitude is None:
        return None
    inside = [p for p in places if distance_m(p.latitude, p.longitude, latitude, longitude) <= p.radius_m]
    return min(inside, key=lambda p: p.radius_m) if inside else None


@dataclass(frozen=True)
class Suggestion:
    latitude: float
    longitude: float
    vehicle_name: str


def ford_place_suggestions(fleet) -> list[Suggestion]:
    """Saved charging locations of the fleet's Ford and Lincoln vehicles that no place covers yet."""
    places = list(fleet.places.all())
    found: list[Suggestion] = []
    states = EndpointState.objects.filter(
        vehicle__fleet=fleet, path__endswith="/charge/schedule_by_location", body__isnull=False
    ).select_related("vehicle")
    for state in states:
        try:
            locations = ford_locations_from_wire(state.body)
        except ScheduleFormatError:
            continue
        for location in locations:
            if place_at(places, location.latitude, location.longitude):
                continue
            if any(distance_m(s.latitude, s.longitude, location.latitude, location.longitude) < 150 for s in found):
                continue
            found.append(Suggestion(location.latitude, location.longitude, state.vehicle.display_name))
    return found
