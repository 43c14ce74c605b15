"""The condition trips add to those of vehicles/conditions.py, in the same two forms: a vehicle that left a place
while the place was closed (trips/hours.py) and has not come back to it."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from django.db.models import Prefetch, Q

from fleet import formatting
from trips.models import OffHoursDeparture
from vehicles.conditions import Condition, Limits
from vehicles.models import Vehicle

_AWAY = "off_hours_away"  # the vehicle's departures still away, newest first, as prefetched


def _away_query():
    return OffHoursDeparture.objects.filter(returned_at__isnull=True).select_related("place").order_by("-left_at")


def _away(vehicle: Vehicle) -> list[OffHoursDeparture]:
    if not hasattr(vehicle, _AWAY):
        setattr(vehicle, _AWAY, list(_away_query().filter(vehicle=vehicle)))
    return getattr(vehicle, _AWAY)


class LeftOutsideHours(Condition):
    key, label = "left_outside_hours", "Left a place outside its hours"

    def prefetch(self) -> list[Prefetch]:
        return [Prefetch("off_hours_departures", queryset=_away_query(), to_attr=_AWAY)]

    def _q(self, limits: Limits) -> Q:
        return Q(pk__in=OffHoursDeparture.objects.filter(returned_at__isnull=True).values("vehicle_id"))

    def _holds(self, vehicle, status, limits) -> bool:
        return bool(_away(vehicle))

    def badge(self, vehicle: Vehicle, limits: Limits) -> str:
        away = _away(vehicle)
        if not away:
            return self.phrase
        latest = away[0]
        left = formatting.moment(latest.left_at, ZoneInfo(limits.time_zone))
        return f"left {latest.place.name} by {left}, outside its hours"


LEFT_OUTSIDE_HOURS = LeftOutsideHours()
