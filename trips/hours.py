"""A place's opening hours, and the vehicles that left a place while it was closed.

Opening hours are lines of days and whole hours in the fleet's time zone (``Mon-Fri 7-19``), read by the same code as
a tariff's bands (trips/tariffs.py); a day no line names is closed all day, and an hour in two lines is refused.

``vehicles_departures_judge`` runs after each sync round's trips were derived (trips/receivers.py), for those
vehicles only:

1. load the places with opening hours of their fleets; none, nothing more to do;
2. the trips derived in this round that start at such a place (started after the vehicle's history was read to
   before the round): a departure whose whole window — from the last reading still there to the first one moving —
   lies in closed hours is recorded, once per trip. A window that reaches into open hours is not: the vehicle may
   have left while the place was open, and the readings cannot tell;
3. a departure still away returns when a trip of the vehicle (the same one or a later one) ended at the place;
4. the vehicles whose departures changed are announced (vehicles.signals), so that alerts judge them again.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from trips.models import OffHoursDeparture, Place, Trip
from trips.tariffs import Band, band_lines, bands_overlap_check, bands_text
from vehicles.signals import vehicles_changed_send

EXAMPLE = "Mon-Fri 7-19"


def hours_parse(text: str) -> list[Band]:
    """Opening hours from lines like ``Mon-Fri 7-19``; an empty text is no hours at all."""
    bands = band_lines(text, example=EXAMPLE, priced=False)
    bands_overlap_check(bands, "is in more than one line: opening hours overlap")
    return bands


def hours_to_json(bands: list[Band]) -> list[dict]:
    return [{"weekdays": list(b.weekdays), "start": b.start_hour, "end": b.end_hour} for b in bands]


def hours_of(place: Place) -> list[Band]:
    return [Band(tuple(b["weekdays"]), b["start"], b["end"]) for b in place.opening_hours]


def hours_text(place: Place) -> str:
    """The place's opening hours as the lines a manager writes them."""
    return bands_text(hours_of(place))


def hours_line(place: Place) -> str:
    """The place's opening hours on one line ("Mon-Fri 7-19; Sat 8-12"); empty without hours."""
    return "; ".join(hours_text(place).splitlines())


def place_hours_set(*, place: Place, opening_hours: list[dict]) -> Place:
    """Sets the place's opening hours (read by ``hours_parse``); departures already judged stay as they were."""
    place.opening_hours = opening_hours
    place.save(update_fields=["opening_hours"])
    return place


def closed_throughout(bands: list[Band], start: datetime, end: datetime, zone: ZoneInfo) -> bool:
    """Whether no hour from ``start`` to ``end`` (in ``zone``) is an open hour of ``bands``."""
    if end - start >= timedelta(days=7):
        return not bands
    moment = start.astimezone(zone)
    while True:
        if any(band.covers(moment.weekday(), moment.hour) for band in bands):
            return False
        moment = (moment.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)).astimezone(zone)
        if moment > end:
            return True


# --- Departures ------------------------------------------------------------------------------------------------------


def vehicles_departures_judge(*, vehicle_ids: list[int], read_until: dict[int, datetime | None]) -> list[int]:
    """Steps 1–4 of the module docstring; ``read_until``: how far each vehicle's history had been turned into trips
    before this round. Returns the vehicles whose departures changed."""
    places = {
        p.pk: p
        for p in Place.objects.filter(fleet__vehicles__in=vehicle_ids).select_related("fleet").distinct()
        if p.opening_hours
    }
    if not places:
        return []
    changed = _departures_record(vehicle_ids, read_until, places)
    changed |= _returns_record(vehicle_ids)
    vehicles_changed_send(vehicle_ids=changed, source="trips")
    return sorted(changed)


def _departures_record(vehicle_ids: list[int], read_until: dict[int, datetime | None], places: dict) -> set[int]:
    trips = Trip.objects.filter(vehicle_id__in=vehicle_ids, start_place_id__in=list(places))
    marks = [read_until.get(v) for v in vehicle_ids]
    if None not in marks:
        trips = trips.filter(started_at__gt=min(marks))  # type: ignore[type-var]
    found = []
    for trip in trips:
        mark = read_until.get(trip.vehicle_id)
        if mark is not None and trip.started_at <= mark:
            continue  # derived in an earlier round: judged then
        place = places[trip.start_place_id]
        if closed_throughout(hours_of(place), trip.start_after, trip.started_at, place.fleet.zone):
            found.append(
                OffHoursDeparture(vehicle_id=trip.vehicle_id, place=place, trip=trip, left_after=trip.start_after,
                                  left_at=trip.started_at)
            )  # fmt: skip
    OffHoursDeparture.objects.bulk_create(found, ignore_conflicts=True)  # a trip judged by two workers is one
    return {d.vehicle_id for d in found}


def _returns_record(vehicle_ids: list[int]) -> set[int]:
    away = list(OffHoursDeparture.objects.filter(vehicle_id__in=vehicle_ids, returned_at__isnull=True))
    if not away:
        return set()
    arrivals = defaultdict(list)
    for vehicle_id, place_id, started_at, ended_at in Trip.objects.filter(
        vehicle_id__in={d.vehicle_id for d in away},
        end_place_id__in={d.place_id for d in away},
        ongoing=False,
        started_at__gte=min(d.left_at for d in away),
    ).values_list("vehicle_id", "end_place_id", "started_at", "ended_at"):
        arrivals[(vehicle_id, place_id)].append((started_at, ended_at))
    back = []
    for departure in away:
        ends = [e for s, e in arrivals[(departure.vehicle_id, departure.place_id)] if s >= departure.left_at]
        if ends:
            departure.returned_at = min(ends)
            back.append(departure)
    OffHoursDeparture.objects.bulk_update(back, ["returned_at"])
    return {d.vehicle_id for d in back}
