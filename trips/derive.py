"""Trips from the synced history, incrementally: each run reads only the readings that arrived since the last.

The history holds a row per changed value (vehicles/history.py), so a parked vehicle writes no position rows and a
moving one writes one per poll. ``vehicles_trips_derive`` runs after every sync round (trips/receivers.py) and takes
these steps for each vehicle:

1. Read the odometer, position, battery and fuel rows recorded after the vehicle's ``TripProgress.derived_until``,
   merged into snapshots (each value carried forward to the next reading of another field).
2. Walk the snapshots: a snapshot that moved (odometer up by more than MOVED_KM, or without odometers the position by
   more than MOVED_M) within CHAIN_GAP of the previous moving one extends the open trip; one after a longer gap opens
   a new trip, which starts from the last snapshot at rest (its odometer, position and levels).
3. Close the open trip once the vehicle is known to be still: its position or odometer was read after the last
   moving reading without changing, or any reading came more than CHAIN_GAP after it. A trip seen in one reading that
   came more than CHAIN_GAP after the vehicle was last seen still is an *unknown movement*: the odometer moved
   (its difference is measured, not guessed), but how many drives there were, and when, the readings cannot tell.
4. Name the places at either end and the driver who had the vehicle, and store how far the history was read.

Precision is the polls': a trip left after ``start_after`` (the last time the vehicle was seen still) and was moving
by ``started_at``; it arrived after ``end_after`` and stood at its last position by ``ended_at``. Distance is the
odometer's difference or unknown, never a length of the track between readings. Rows that arrive with a time before
``derived_until`` (a reading hours old when fetched) are not read again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, fields
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from trips.drivers import driver_at
from trips.models import Assignment, Driver, Place, Trip, TripKind, TripProgress
from trips.places import distance_m, place_at
from vehicles.history import HistoryRow, collector_paused, history_by_vehicle
from vehicles.models import EndpointState, StatusHistory, Vehicle
from vehicles.readings import HISTORY_FIELDS
from vehicles.sync.rows import rows_copy, rows_update

logger = logging.getLogger(__name__)

MOVED_KM = 0.05  # odometers report tenths; below this is rounding
MOVED_M = 150.0  # a parked vehicle's GPS wanders less than this
CHAIN_GAP = timedelta(minutes=30)  # moving readings closer than this belong to one drive
FIELDS = ("odometer_km", "latitude", "longitude", "battery_percent", "fuel_percent")
_KEYS = {
    HISTORY_FIELDS[name]: key
    for name, key in (("odometer_km", "odo"), ("latitude", "lat"), ("longitude", "lon"), ("battery_percent", "bat"),
                      ("fuel_percent", "fuel"))
}  # fmt: skip
# Reads of these paths without a new row mean the position (or odometer) did not change.
POSITION_PATHS = ("/location", "/odometer", "/signals")
CHUNK = 200  # vehicles read in one query


@dataclass(slots=True)
class Snapshot:
    t: datetime
    odo: float | None = None
    lat: float | None = None
    lon: float | None = None
    bat: float | None = None
    fuel: float | None = None

    def to_json(self) -> dict:
        return {"t": self.t.isoformat(), "odo": self.odo, "lat": self.lat, "lon": self.lon, "bat": self.bat,
                "fuel": self.fuel}  # fmt: skip

    @classmethod
    def from_json(cls, data: dict | None) -> Snapshot | None:
        if not data:
            return None
        moment = parse_datetime(data["t"])
        assert moment is not None
        return cls(moment, data.get("odo"), data.get("lat"), data.get("lon"), data.get("bat"), data.get("fuel"))


def moved(before: Snapshot, after: Snapshot) -> bool:
    if before.odo is not None and after.odo is not None:
        return after.odo - before.odo > MOVED_KM
    if None in (before.lat, before.lon, after.lat, after.lon):
        return False
    return distance_m(before.lat, before.lon, after.lat, after.lon) > MOVED_M  # type: ignore[arg-type]


@dataclass(slots=True, eq=False)
class _TripRecord:
    """A trip as the walk builds it: the Trip columns it sets, by their attribute names, for rows_copy and rows_update.

    Not a Trip instance: constructing a model costs more than the rest of a trip's walk, and a derivation from
    scratch builds tens of thousands. ``id`` is None until the trip is stored.
    """

    vehicle_id: int
    start_after: datetime
    started_at: datetime
    start_latitude: float | None
    start_longitude: float | None
    start_odometer_km: float | None
    start_battery_percent: float | None
    start_fuel_percent: float | None
    start_place_id: int | None
    driver_id: int | None
    kind: str = TripKind.TRIP
    ongoing: bool = True
    readings: int = 0
    end_after: datetime | None = None
    ended_at: datetime | None = None
    end_latitude: float | None = None
    end_longitude: float | None = None
    end_odometer_km: float | None = None
    end_battery_percent: float | None = None
    end_fuel_percent: float | None = None
    end_place_id: int | None = None
    distance_km: float | None = None
    energy_kwh: float | None = None
    id: int | None = None


def _open_trips(ids: list[int]) -> dict[int, _TripRecord]:
    """The stored trips still open, as records the walk carries on."""
    names = [f.name for f in fields(_TripRecord)]
    return {values["id"]: _TripRecord(**values) for values in Trip.objects.filter(pk__in=ids).values(*names)}


@dataclass
class _Context:
    places: list[Place]
    assignments: list[Assignment]
    capacity_kwh: float | None
    position_read_at: datetime | None


class _Walker:
    """Steps 2 and 3 for one vehicle, from its stored state."""

    def __init__(self, vehicle_id: int, state: dict, open_trip: _TripRecord | None, context: _Context):
        self.vehicle_id = vehicle_id
        self.context = context
        self.last = Snapshot.from_json(state.get("last"))
        self.rest = Snapshot.from_json(state.get("rest"))  # where the vehicle last stood, as it stood there
        seen = state.get("seen")
        self.seen: datetime | None = parse_datetime(seen) if seen else None  # latest moment known still
        self.trip = open_trip
        self.changed: list[_TripRecord] = []
        self._changed_ids: set[int] = set()

    def state(self) -> dict:
        return {
            "last": self.last.to_json() if self.last else None,
            "rest": self.rest.to_json() if self.rest else None,
            "seen": self.seen.isoformat() if self.seen else None,
            "open": self.trip.id if self.trip and self.trip.id else None,
        }

    def walk(self, snapshots: list[Snapshot]) -> None:
        for snapshot in snapshots:
            self.step(snapshot)
        self.settle()

    def step(self, snapshot: Snapshot) -> None:
        last = self.last
        self.last = snapshot
        if last is None:
            self.rest, self.seen = snapshot, snapshot.t
            return
        if not moved(last, snapshot):
            if self.trip is None:
                self.rest = Snapshot(snapshot.t, snapshot.odo, snapshot.lat, snapshot.lon, snapshot.bat, snapshot.fuel)
            return
        if self.trip is not None and snapshot.t - self.trip.ended_at <= CHAIN_GAP:
            self.extend(snapshot, after=last.t)
            return
        if self.trip is not None:
            self.close(still_at=None)
        self.open(start=last, first=snapshot)

    def open(self, *, start: Snapshot, first: Snapshot) -> None:
        rest = self.rest if self.rest is not None else start
        start_after = max(t for t in (start.t, self.seen) if t is not None)
        start_latitude = start.lat if start.lat is not None else rest.lat
        start_longitude = start.lon if start.lon is not None else rest.lon
        trip = _TripRecord(
            vehicle_id=self.vehicle_id,
            start_after=start_after,
            started_at=first.t,
            start_latitude=start_latitude,
            start_longitude=start_longitude,
            start_odometer_km=start.odo,
            start_battery_percent=start.bat,
            start_fuel_percent=start.fuel,
            start_place_id=_pk(place_at(self.context.places, start_latitude, start_longitude)),
            driver_id=_pk(driver_at(self.context.assignments, first.t)),
        )
        self.trip = trip
        self.extend(first, after=start.t)

    def extend(self, snapshot: Snapshot, *, after: datetime) -> None:
        trip = self.trip
        assert trip is not None
        trip.end_after, trip.ended_at = after, snapshot.t
        trip.end_latitude, trip.end_longitude = snapshot.lat, snapshot.lon
        trip.end_odometer_km, trip.end_battery_percent = snapshot.odo, snapshot.bat
        trip.end_fuel_percent = snapshot.fuel
        trip.readings += 1
        trip.distance_km = (
            round(trip.end_odometer_km - trip.start_odometer_km, 3)
            if trip.end_odometer_km is not None and trip.start_odometer_km is not None
            else None
        )
        used = (
            trip.start_battery_percent - trip.end_battery_percent
            if trip.start_battery_percent is not None and trip.end_battery_percent is not None
            else None
        )
        capacity = self.context.capacity_kwh
        trip.energy_kwh = round(used / 100 * capacity, 2) if used is not None and used >= 0 and capacity else None
        self._mark(trip)

    def _mark(self, trip: _TripRecord) -> None:
        if id(trip) not in self._changed_ids:
            self._changed_ids.add(id(trip))
            self.changed.append(trip)

    def close(self, *, still_at: datetime | None) -> None:
        trip = self.trip
        assert trip is not None
        trip.ongoing = False
        trip.end_place_id = _pk(place_at(self.context.places, trip.end_latitude, trip.end_longitude))
        if trip.readings == 1 and trip.started_at - trip.start_after > CHAIN_GAP:
            trip.kind = TripKind.UNKNOWN
        self._mark(trip)
        assert self.last is not None
        self.rest = self.last
        self.seen = still_at or trip.ended_at
        self.trip = None

    def settle(self) -> None:
        """Step 3 at the end of the readings: the open trip closes once the vehicle is known to be still."""
        read_at = self.context.position_read_at
        if self.trip is None:
            if read_at and (self.seen is None or read_at > self.seen):
                self.seen = read_at
            return
        assert self.last is not None and self.trip.ended_at is not None
        if read_at and read_at > self.trip.ended_at:
            self.close(still_at=read_at)
        elif self.last.t - self.trip.ended_at > CHAIN_GAP:
            self.close(still_at=None)


def _pk(found: Place | Driver | None) -> int | None:
    """Foreign keys are set by id: an instance costs a descriptor's checks on each of tens of thousands of trips."""
    return found.pk if found is not None else None


def _snapshots(rows: list[HistoryRow], last: Snapshot | None) -> list[Snapshot]:
    """Rows of one vehicle in time order merged into snapshots, values carried forward from ``last``."""
    snapshots: list[Snapshot] = []
    current = last
    for field, moment, number, _ in rows:
        if number is None:
            continue
        if current is None or moment != current.t:
            current = Snapshot(moment) if current is None else Snapshot(moment, current.odo, current.lat, current.lon,
                                                                         current.bat, current.fuel)  # fmt: skip
            snapshots.append(current)
        setattr(current, _KEYS[field], number)
    return snapshots


def _capacities(vehicle_ids: list[int]) -> dict[int, float]:
    # Reference: smartcar-api/get-nominal-capacity.md — {"capacity": {"nominal": 80.9, …}}.
    found = {}
    for vehicle_id, body in (
        EndpointState.objects.filter(vehicle_id__in=vehicle_ids, path="/battery/nominal_capacity")
        .order_by()
        .values_list("vehicle_id", "body")
    ):
        capacity = body.get("capacity") if isinstance(body, dict) else None
        nominal = capacity.get("nominal") if isinstance(capacity, dict) else None
        if isinstance(nominal, int | float) and nominal > 0:
            found[vehicle_id] = float(nominal)
    return found


def _position_reads(vehicle_ids: list[int]) -> dict[int, datetime]:
    """When each vehicle's position or odometer was last read: without a new row then, it had not changed."""
    found: dict[int, datetime] = {}
    for vehicle_id, data_age, fetched_at in (
        EndpointState.objects.filter(vehicle_id__in=vehicle_ids, path__in=POSITION_PATHS, last_success_at__isnull=False)
        .order_by()
        .values_list("vehicle_id", "data_age", "fetched_at")
    ):
        moment = data_age or fetched_at
        if moment and (vehicle_id not in found or moment > found[vehicle_id]):
            found[vehicle_id] = moment
    return found


def vehicles_trips_derive(*, vehicle_ids: list[int]) -> int:
    """Steps 1–4 of the module docstring for these vehicles; returns how many trips were written."""
    written = 0
    for start in range(0, len(vehicle_ids), CHUNK):
        with collector_paused():
            written += _derive_chunk(sorted(vehicle_ids[start : start + CHUNK]))
    return written


def _derive_chunk(vehicle_ids: list[int]) -> int:
    vehicles = dict(Vehicle.objects.filter(pk__in=vehicle_ids).values_list("pk", "fleet_id"))
    vehicle_ids = sorted(vehicles)
    if not vehicle_ids:
        return 0
    with transaction.atomic():
        progress = _progress_lock(vehicle_ids)
        rows_by_vehicle = _rows(vehicle_ids, progress)
        open_ids = [p.state.get("open") for p in progress.values() if p.state.get("open")]
        open_trips = _open_trips(open_ids)
        places_by_fleet: dict[int, list[Place]] = {}
        for place in Place.objects.filter(fleet_id__in=set(vehicles.values())):
            places_by_fleet.setdefault(place.fleet_id, []).append(place)
        assignments: dict[int, list[Assignment]] = {}
        for assignment in Assignment.objects.filter(vehicle_id__in=vehicle_ids).select_related("driver"):
            assignments.setdefault(assignment.vehicle_id, []).append(assignment)
        capacities = _capacities(vehicle_ids)
        reads = _position_reads(vehicle_ids)
        new: list[_TripRecord] = []
        changed: list[_TripRecord] = []
        walkers: dict[int, _Walker] = {}
        for vehicle_id in vehicle_ids:
            state = progress[vehicle_id].state
            context = _Context(
                places_by_fleet.get(vehicles[vehicle_id], []),
                assignments.get(vehicle_id, []),
                capacities.get(vehicle_id),
                reads.get(vehicle_id),
            )
            walker = _Walker(vehicle_id, state, open_trips.get(state.get("open") or 0), context)
            walker.walk(_snapshots(rows_by_vehicle.get(vehicle_id, []), walker.last))
            walkers[vehicle_id] = walker
            for trip in walker.changed:
                (changed if trip.id else new).append(trip)
        rows_copy(new, model=Trip)
        rows_update(Trip, changed, _TRIP_FIELDS)
        _progress_store(walkers, progress)
    return len(new) + len(changed)


def _progress_lock(vehicle_ids: list[int]) -> dict[int, TripProgress]:
    """Each vehicle's progress, locked until the derivation commits, so that two derivations of one vehicle run one
    after the other: a round announces its vehicles after releasing their leases, and a second round of one of them
    ("Sync now", a webhook's targeted sync) may derive while the first is still deriving. A vehicle derived for the
    first time gets its row first (an insert that waits for another worker's uncommitted one), so there is a row to
    lock."""
    locked = {
        p.vehicle_id: p
        for p in TripProgress.objects.select_for_update().filter(vehicle_id__in=vehicle_ids).order_by("vehicle_id")
    }
    missing = sorted(vehicle_id for vehicle_id in vehicle_ids if vehicle_id not in locked)  # one order: no deadlock
    if missing:
        TripProgress.objects.bulk_create([TripProgress(vehicle_id=v) for v in missing], ignore_conflicts=True)
        locked.update(
            (p.vehicle_id, p)
            for p in TripProgress.objects.select_for_update().filter(vehicle_id__in=missing).order_by("vehicle_id")
        )
    return locked


_TRIP_FIELDS = [
    "kind", "ongoing", "end_after", "ended_at", "end_latitude", "end_longitude", "end_place", "end_odometer_km",
    "distance_km", "end_battery_percent", "energy_kwh", "end_fuel_percent", "readings",
]  # fmt: skip


def _rows(vehicle_ids: list[int], progress: dict[int, TripProgress]) -> dict[int, list[HistoryRow]]:
    """The chunk's rows in one query from the earliest point any of its vehicles was read to; each vehicle then
    skips what it has read already (vehicles synced together were read to about the same point)."""
    since = [progress[v].derived_until for v in vehicle_ids]
    query = StatusHistory.objects.filter(vehicle_id__in=vehicle_ids, field__in=FIELDS, number__isnull=False)
    if None not in since:
        query = query.filter(recorded_at__gt=min(since))  # type: ignore[type-var]
    rows = history_by_vehicle(query)
    for vehicle_id, saved in progress.items():
        if saved.derived_until and vehicle_id in rows:
            rows[vehicle_id] = [row for row in rows[vehicle_id] if row[1] > saved.derived_until]
    return rows


def _progress_store(walkers: dict[int, _Walker], progress: dict[int, TripProgress]) -> None:
    now = timezone.now()
    update = []
    for vehicle_id, walker in walkers.items():
        saved = progress[vehicle_id]
        saved.derived_until = walker.last.t if walker.last else None
        saved.state, saved.updated_at = walker.state(), now
        update.append(saved)
    rows_update(TripProgress, update, ["derived_until", "state", "updated_at"])
