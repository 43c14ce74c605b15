"""The three charge-schedule models of the API as plain values, with their wire formats and conversions.

Pure functions only (no database, no HTTP), so that forms, services and property tests share one truth.

- Ford/Lincoln: per saved charging location, a charge limit and weekday/weekend windows on the hour.
  Reference: smartcar-api/ford__get-charge-schedule-by-location.md, ford__set-charge-schedule-by-location.md
- Nissan: up to three windows, each with a set of days, in UTC on the wire.
  Reference: smartcar-api/nissan__get-charge-schedule.md, nissan__set-charge-schedule.md
- Tesla: a start-time and a departure-time schedule, at most one enabled.
  Reference: smartcar-api/tesla__get-charge-schedule.md, tesla__set-charge-schedule.md
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

MINUTES_PER_DAY = 24 * 60
MINUTES_PER_WEEK = 7 * MINUTES_PER_DAY
WEEKDAYS = ("MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY")
NISSAN_MAX_SCHEDULES = 3  # "A maximum of 3 schedules can be set." (nissan__set-charge-schedule.md)
CHARGE_LIMIT_MIN, CHARGE_LIMIT_MAX = 0.5, 1.0  # evs__set-charge-limit.md, ford__set-charge-schedule-by-location.md

_HH_MM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


class ScheduleFormatError(ValueError):
    """A value read from the API that is not in the documented shape."""


def fingerprint(body: Any) -> str:
    """A short, stable digest of a schedule as read, to notice that it changed on the vehicle since."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:20]


# --- Times of day ------------------------------------------------------------------------------------------------


def parse_hh_mm(value: str) -> int:
    """``"17:30"`` → minutes after midnight; anything else raises ScheduleFormatError."""
    match = _HH_MM.match(value or "")
    if not match:
        raise ScheduleFormatError(f"{value!r} is not a time in HH:mm")
    return int(match.group(1)) * 60 + int(match.group(2))


def format_hh_mm(minutes: int) -> str:
    minutes %= MINUTES_PER_DAY
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def parse_wire_time_utc(value: str) -> int:
    """A Nissan time as the API sends it, in minutes after midnight UTC.

    The docs disagree with themselves (CAPABILITIES.md §5 item 14): the fields are described as "HH:mm in UTC",
    but the GET example returns full datetimes ("2020-01-01T02:00:00.000Z"). We accept both and keep only the
    UTC time of day, since the date in the example carries no meaning for a weekly schedule.
    """
    if isinstance(value, str) and _HH_MM.match(value):
        return parse_hh_mm(value)
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise ScheduleFormatError(f"{value!r} is neither HH:mm nor an ISO 8601 datetime") from None
    if moment.tzinfo is not None:
        moment = moment.astimezone(ZoneInfo("UTC"))
    return moment.hour * 60 + moment.minute


# --- Ford and Lincoln ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HourWindow:
    """A Ford window: whole hours; ``end`` before ``start`` means it runs across midnight."""

    start_hour: int
    end_hour: int

    def hours(self) -> set[int]:
        """The hours of the day the window covers, [start, end) around the clock."""
        length = (self.end_hour - self.start_hour) % 24
        return {(self.start_hour + step) % 24 for step in range(length)}

    def overlaps(self, other: HourWindow) -> bool:
        return bool(self.hours() & other.hours())

    def to_wire(self) -> dict[str, str]:
        return {"start": f"{self.start_hour:02d}:00", "end": f"{self.end_hour:02d}:00"}

    @property
    def label(self) -> str:
        return f"{self.start_hour:02d}:00–{self.end_hour:02d}:00"


def parse_whole_hour(value: str) -> int:
    """``"17:00"`` → 17. Ford takes "the exact hour … in HH:00 e.g. 17:00"; ``"17:30"`` is refused."""
    minutes = parse_hh_mm(value)
    if minutes % 60:
        raise ScheduleFormatError(f"{value!r} is not on the hour")
    return minutes // 60


def overlapping_pairs(windows: list) -> list[tuple[int, int]]:
    """Index pairs of windows (Ford hour windows of one list, or Nissan windows) that share some time."""
    return [(i, j) for i in range(len(windows)) for j in range(i + 1, len(windows)) if windows[i].overlaps(windows[j])]


NEW_WINDOW = HourWindow(22, 6)  # overnight: the window most fleets want first
NEW_WINDOW_HOURS = 8


def free_window(windows: list[HourWindow]) -> HourWindow | None:
    """A window to offer as a new row that overlaps none of ``windows``; None when every hour is taken.

    Overnight (22:00–06:00) when it is free, else the start of the longest run of free hours, at most eight long.
    """
    if not any(NEW_WINDOW.overlaps(window) for window in windows):
        return NEW_WINDOW
    taken = set().union(*(window.hours() for window in windows))
    if len(taken) == 24:
        return None
    best_start, best_length = 0, 0
    for start in range(24):
        if start in taken or (start - 1) % 24 not in taken:
            continue  # a run starts at a free hour that follows a taken one
        length = 0
        while length < 24 and (start + length) % 24 not in taken:
            length += 1
        if length > best_length:
            best_start, best_length = start, length
    return HourWindow(best_start, (best_start + min(best_length, NEW_WINDOW_HOURS)) % 24)


@dataclass(frozen=True)
class FordLocation:
    latitude: float
    longitude: float
    charge_limit: float
    weekday: tuple[HourWindow, ...] = ()
    weekend: tuple[HourWindow, ...] = ()

    @property
    def key(self) -> str:
        """How a form names the location: its coordinates exactly as the vehicle returned them."""
        return f"{self.latitude!r},{self.longitude!r}"

    @property
    def limit_percent(self) -> float:
        return self.charge_limit * 100

    @property
    def has_schedule(self) -> bool:
        return bool(self.weekday or self.weekend)

    def to_wire(self) -> dict[str, Any]:
        # The GET answers "chargingSchedules" but every PUT example sends "chargingWindows" (CAPABILITIES.md §5
        # item 13); we send what the PUT page shows, with the key quoted (its cURL example leaves it bare).
        return {
            "chargingLocation": {
                "chargeLimit": self.charge_limit,
                "chargingWindows": {
                    "weekday": [window.to_wire() for window in self.weekday],
                    "weekend": [window.to_wire() for window in self.weekend],
                },
            }
        }

    def as_dict(self) -> dict[str, Any]:
        """A plain summary for the audit log (old and new value)."""
        return {
            "location": {"latitude": self.latitude, "longitude": self.longitude},
            "chargeLimit": self.charge_limit,
            "weekday": [window.label for window in self.weekday],
            "weekend": [window.label for window in self.weekend],
        }


def windows_from_wire(items: Any) -> tuple[HourWindow, ...]:
    if not isinstance(items, list):
        raise ScheduleFormatError("a window list is not a list")
    windows = []
    for item in items:
        if not isinstance(item, dict):
            raise ScheduleFormatError("a window is not an object")
        windows.append(HourWindow(parse_whole_hour(item.get("start")), parse_whole_hour(item.get("end"))))
    return tuple(windows)


def ford_locations_from_wire(body: Any) -> list[FordLocation]:
    """The saved charging locations of a GET schedule_by_location answer.

    A location without coordinates (one documented example has a bare ``chargingLocation``) cannot be addressed by
    the PUT, which needs latitude and longitude, so it is left out rather than offered for editing.
    """
    if not isinstance(body, dict) or not isinstance(body.get("chargingLocations", []), list):
        raise ScheduleFormatError("no chargingLocations list")
    locations = []
    for item in body.get("chargingLocations", []):
        where = item.get("location") if isinstance(item, dict) else None
        if not isinstance(where, dict) or where.get("latitude") is None or where.get("longitude") is None:
            continue
        schedules = item.get("chargingSchedules") or item.get("chargingWindows") or {}
        locations.append(
            FordLocation(
                latitude=float(where["latitude"]),
                longitude=float(where["longitude"]),
                charge_limit=float(item.get("chargeLimit", 1)),
                weekday=windows_from_wire(schedules.get("weekday", [])),
                weekend=windows_from_wire(schedules.get("weekend", [])),
            )
        )
    return locations


# --- Nissan --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DayWindow:
    """A Nissan window: minutes after midnight and the days on which it starts, in one time zone.

    The days belong to the start: a window 22:00–06:00 on FRIDAY starts Friday night and ends Saturday morning.
    """

    start: int
    end: int
    days: frozenset[str] = field(default_factory=frozenset)

    def shifted(self, minutes: int) -> DayWindow:
        """The same instants seen from a clock ``minutes`` ahead; days move when the start crosses midnight."""
        moved = self.start + minutes
        day_shift = moved // MINUTES_PER_DAY  # floor division: -1, 0 or +1 for real offsets
        return DayWindow(
            start=moved % MINUTES_PER_DAY,
            end=(self.end + minutes) % MINUTES_PER_DAY,
            days=frozenset(WEEKDAYS[(WEEKDAYS.index(day) + day_shift) % 7] for day in self.days),
        )

    def week_starts(self) -> set[int]:
        """Minutes after Monday 00:00 at which the window starts, one per day."""
        return {WEEKDAYS.index(day) * MINUTES_PER_DAY + self.start for day in self.days}

    def week_minutes(self) -> set[int]:
        """Every minute of the week the window covers, after Monday 00:00 (Sunday night runs into Monday)."""
        length = (self.end - self.start) % MINUTES_PER_DAY
        return {(start + step) % MINUTES_PER_WEEK for start in self.week_starts() for step in range(length)}

    def overlaps(self, other: DayWindow) -> bool:
        return bool(self.week_minutes() & other.week_minutes())

    def ordered_days(self) -> list[str]:
        return [day for day in WEEKDAYS if day in self.days]

    def to_wire(self) -> dict[str, Any]:
        return {"start": format_hh_mm(self.start), "end": format_hh_mm(self.end), "days": self.ordered_days()}

    @property
    def label(self) -> str:
        days = ", ".join(day[:3].title() for day in self.ordered_days())
        return f"{format_hh_mm(self.start)}–{format_hh_mm(self.end)} {days}"


def utc_offset_minutes(zone: ZoneInfo, at: datetime) -> int:
    """The zone's offset from UTC at ``at`` (aware), in minutes (e.g. +60 for Berlin in winter)."""
    offset = at.astimezone(zone).utcoffset() or timedelta(0)
    return int(offset.total_seconds() // 60)


def nissan_local_to_utc(window: DayWindow, offset_minutes: int) -> DayWindow:
    """A window the manager entered in the fleet's zone, as the vehicle stores it (UTC).

    The wire format has times of day but no dates, so one offset applies to the whole week: the offset in force
    when the schedule is saved. After a daylight-saving change the vehicle keeps charging at the same UTC times,
    i.e. an hour off local time, exactly as the car would; the page shows the schedule converted with the offset
    of the day it is viewed, so the shift is visible there.
    """
    return window.shifted(-offset_minutes)


def nissan_utc_to_local(window: DayWindow, offset_minutes: int) -> DayWindow:
    return window.shifted(offset_minutes)


def nissan_schedules_from_wire(body: Any) -> list[DayWindow]:
    """The schedules of a GET charge/schedule answer (UTC)."""
    if not isinstance(body, dict) or not isinstance(body.get("chargeSchedules", []), list):
        raise ScheduleFormatError("no chargeSchedules list")
    windows = []
    for item in body.get("chargeSchedules", []):
        if not isinstance(item, dict) or not isinstance(item.get("days"), list):
            raise ScheduleFormatError("a schedule without days")
        unknown = set(item["days"]) - set(WEEKDAYS)
        if unknown:
            raise ScheduleFormatError(f"unknown days {sorted(unknown)}")
        windows.append(
            DayWindow(
                start=parse_wire_time_utc(item.get("start")),
                end=parse_wire_time_utc(item.get("end")),
                days=frozenset(item["days"]),
            )
        )
    return windows


def nissan_wire(windows: list[DayWindow]) -> dict[str, Any]:
    return {"chargeSchedules": [window.to_wire() for window in windows]}


# --- Tesla ---------------------------------------------------------------------------------------------------------

START_TIME = "START_TIME"
# The docs show only START_TIME as a ``type`` value (CAPABILITIES.md §5 item 15); the departure-time type is
# named by the same pattern from the response's ``departureTime`` object.
DEPARTURE_TIME = "DEPARTURE_TIME"
TESLA_TYPES = (START_TIME, DEPARTURE_TIME)


@dataclass(frozen=True)
class TeslaSchedule:
    start_enabled: bool = False
    start_time: int | None = None
    departure_enabled: bool = False
    departure_time: int | None = None

    @property
    def mode(self) -> str:
        """Which schedule is in force: START_TIME, DEPARTURE_TIME or OFF."""
        if self.start_enabled:
            return START_TIME
        if self.departure_enabled:
            return DEPARTURE_TIME
        return "OFF"

    def state(self, schedule_type: str) -> tuple[bool, int | None]:
        if schedule_type == START_TIME:
            return self.start_enabled, self.start_time
        return self.departure_enabled, self.departure_time

    def as_dict(self) -> dict[str, Any]:
        def time(value):
            return None if value is None else format_hh_mm(value)

        return {
            "startTime": {"enabled": self.start_enabled, "time": time(self.start_time)},
            "departureTime": {"enabled": self.departure_enabled, "time": time(self.departure_time)},
        }


def tesla_schedule_from_wire(body: Any) -> TeslaSchedule:
    if not isinstance(body, dict):
        raise ScheduleFormatError("the schedule is not an object")

    def part(name: str) -> tuple[bool, int | None]:
        value = body.get(name) or {}
        if not isinstance(value, dict):
            raise ScheduleFormatError(f"{name} is not an object")
        time = value.get("time")
        return bool(value.get("enabled")), (parse_hh_mm(time) if time else None)

    start_enabled, start_time = part("startTime")
    departure_enabled, departure_time = part("departureTime")
    return TeslaSchedule(start_enabled, start_time, departure_enabled, departure_time)


def tesla_requests(current: TeslaSchedule, wanted: TeslaSchedule) -> list[dict[str, Any]]:
    """The POST bodies that turn ``current`` into ``wanted``, disabling before enabling.

    Each POST sets one type. Sending the disable first means the vehicle never holds both enabled, whatever it
    does with the other type when one is enabled (the docs say only that one may be enabled at a time). A disable
    carries no time: the time of a schedule that is off changes nothing, and the vehicle keeps the one it has.
    """
    bodies: list[dict[str, Any]] = []
    order = sorted(TESLA_TYPES, key=lambda schedule_type: wanted.state(schedule_type)[0])  # disables first
    for schedule_type in order:
        enabled, time = wanted.state(schedule_type)
        if enabled and current.state(schedule_type) != (True, time):
            body: dict[str, Any] = {"type": schedule_type, "enable": True}
            if time is not None:
                body["time"] = format_hh_mm(time)
            bodies.append(body)
        elif not enabled and current.state(schedule_type)[0]:
            bodies.append({"type": schedule_type, "enable": False})
    return bodies
