"""A month of trips as a mileage logbook: the rows a page, a print layout and a CSV share."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.db.models import QuerySet

from fleet.exports import moment_cell, safe_cell
from fleet.formatting import amount
from trips.models import Trip, TripKind

RESOLUTION_NOTE = (
    "Times are those of the readings: a trip left after the earlier time and was moving by the later one, and "
    "arrived between its last two readings. Distance is the odometer's difference."
)


@dataclass(frozen=True)
class Month:
    first: date

    @classmethod
    def parse(cls, text: str | None, today: date) -> Month:
        try:
            year, month = (int(part) for part in (text or "").split("-"))
            return cls(date(year, month, 1))
        except ValueError:
            return cls(today.replace(day=1))

    @property
    def next(self) -> Month:
        return Month((self.first + timedelta(days=32)).replace(day=1))

    @property
    def previous(self) -> Month:
        return Month((self.first - timedelta(days=1)).replace(day=1))

    def bounds(self, zone) -> tuple[datetime, datetime]:
        start = datetime(self.first.year, self.first.month, 1, tzinfo=zone)
        after = self.next.first
        return start, datetime(after.year, after.month, 1, tzinfo=zone)

    def __str__(self) -> str:
        return f"{self.first:%Y-%m}"

    @property
    def label(self) -> str:
        return f"{self.first:%B %Y}"


def month_trips(trips: QuerySet[Trip], month: Month, zone) -> QuerySet[Trip]:
    start, end = month.bounds(zone)
    return (
        trips.filter(started_at__gte=start, started_at__lt=end)
        .select_related("vehicle", "driver", "start_place", "end_place")
        .order_by("started_at")
    )


@dataclass(frozen=True)
class Totals:
    business_km: float
    private_km: float
    untagged_km: float
    unknown_km: float
    unknown_without_distance: int


def totals(trips) -> Totals:
    sums = {"business": 0.0, "private": 0.0, "": 0.0}
    unknown, without = 0.0, 0
    for trip in trips:
        if trip.distance_km is None:
            without += 1
            continue
        if trip.kind == TripKind.UNKNOWN:
            unknown += trip.distance_km
        else:
            sums[trip.purpose] += trip.distance_km
    return Totals(sums["business"], sums["private"], sums[""], unknown, without)


def _where(place, latitude, longitude) -> str:
    if place is not None:
        return place.name
    if latitude is None or longitude is None:
        return ""
    return f"{amount(latitude, 'coordinate')} {amount(longitude, 'coordinate')}"


CSV_COLUMNS = [
    "vehicle", "driver", "kind", "left_after", "moving_by", "arrived_after", "stood_by", "from", "to",
    "odometer_start_km", "odometer_end_km", "distance_km", "purpose", "purpose_note",
]  # fmt: skip


def logbook_csv(trips, zone) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)

    for trip in trips:
        writer.writerow(
            [
                safe_cell(trip.vehicle.display_name),
                safe_cell(trip.driver.name if trip.driver else ""),
                trip.get_kind_display(),
                moment_cell(trip.start_after, zone, "minutes"),
                moment_cell(trip.started_at, zone, "minutes"),
                moment_cell(trip.end_after, zone, "minutes"),
                moment_cell(trip.ended_at, zone, "minutes"),
                safe_cell(_where(trip.start_place, trip.start_latitude, trip.start_longitude)),
                safe_cell(_where(trip.end_place, trip.end_latitude, trip.end_longitude)),
                amount(trip.start_odometer_km, "distance"),
                amount(trip.end_odometer_km, "distance"),
                "" if trip.distance_km is None else f"{trip.distance_km:.1f}",
                trip.get_purpose_display() if trip.purpose else "",
                safe_cell(trip.purpose_note),
            ]
        )
    return out.getvalue()
