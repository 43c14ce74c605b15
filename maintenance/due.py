"""When a service task is next due on a vehicle: a pure function of the task, its last service and the readings.

A task is due by whichever comes first: its distance since the last service, its months since the last service, or a
signal the vehicle reports crossing the task's threshold (oil life below X %, any tire below Y kPa). Without a recorded
service, distance counts from the odometer's round multiples of the interval (a 15,000 km service falls at 15,000,
30,000, 45,000 km…) and time from the day the vehicle joined the fleet; maintenance/services.py stores that starting
point the first time it counts, so that a due point the odometer passes stays passed.

States, most urgent first: overdue (the distance or the date has passed), due (a signal crossed its threshold, or the
distance or date is near: within a tenth of the interval), upcoming, and unknown (nothing to count from: no odometer
reading for a distance-only task, no signal reading for a signal-only one).
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

OVERDUE, DUE, UPCOMING, UNKNOWN = "overdue", "due", "upcoming", "unknown"
URGENCY = {OVERDUE: 0, DUE: 1, UPCOMING: 2, UNKNOWN: 3}
SOON_FRACTION = 0.1  # "due soon" within a tenth of the interval: 1,500 km of 15,000, 36 days of 12 months


# Plain slotted classes, not frozen ones: the board builds tens of thousands of these per request.
@dataclass(slots=True)
class Program:
    every_km: int | None = None
    every_months: int | None = None
    oil_life_below_percent: int | None = None
    tire_pressure_below_kpa: int | None = None

    @classmethod
    def of(cls, task) -> Program:
        return cls(task.every_km, task.every_months, task.oil_life_below_percent, task.tire_pressure_below_kpa)


@dataclass(slots=True)
class Readings:
    odometer_km: float | None = None
    oil_life_percent: float | None = None
    lowest_tire_kpa: float | None = None


@dataclass(slots=True)
class Due:
    state: str
    due_km: float | None = None
    due_on: date | None = None
    km_left: float | None = None  # negative: past the distance
    days_left: int | None = None  # negative: past the date
    signal: str = ""  # "oil" or "tire": the signal that crossed its threshold
    signal_value: float | None = None

    @property
    def urgency(self) -> int:
        return URGENCY[self.state]


@lru_cache(maxsize=8192)  # a fleet has few distinct service dates; the board asks for each thousands of times
def add_months(day: date, months: int) -> date:
    """The same day ``months`` later, or the month's last day when it has fewer (31 Jan + 1 month → 28/29 Feb)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def service_due(
    program: Program,
    readings: Readings,
    *,
    today: date,
    done_on: date | None,
    done_km: float | None,
    baseline_on: date,
) -> Due:
    """The task's next due point on one vehicle and how urgent it is (see the module's docstring)."""
    odometer = readings.odometer_km
    due_km = km_left = None
    if program.every_km:
        if done_km is not None:
            due_km = done_km + program.every_km
        elif odometer is not None:
            due_km = (odometer // program.every_km + 1) * program.every_km
        if due_km is not None and odometer is not None:
            km_left = due_km - odometer
    due_on = days_left = None
    if program.every_months:
        due_on = add_months(done_on or baseline_on, program.every_months)
        days_left = (due_on - today).days

    signal, signal_value = _crossed(program, readings)
    if (km_left is not None and km_left <= 0) or (days_left is not None and days_left <= 0):
        state = OVERDUE
    elif signal or _soon(program, km_left, days_left):
        state = DUE
    elif km_left is not None or days_left is not None or _signal_known(program, readings):
        state = UPCOMING
    else:
        state = UNKNOWN
    return Due(state, due_km, due_on, km_left, days_left, signal, signal_value)


def _crossed(program: Program, readings: Readings) -> tuple[str, float | None]:
    oil, tire = readings.oil_life_percent, readings.lowest_tire_kpa
    if program.oil_life_below_percent is not None and oil is not None and oil < program.oil_life_below_percent:
        return "oil", oil
    if program.tire_pressure_below_kpa is not None and tire is not None and tire < program.tire_pressure_below_kpa:
        return "tire", tire
    return "", None


def _soon(program: Program, km_left: float | None, days_left: int | None) -> bool:
    if km_left is not None and km_left <= program.every_km * SOON_FRACTION:
        return True
    return days_left is not None and days_left <= program.every_months * 30 * SOON_FRACTION


def _signal_known(program: Program, readings: Readings) -> bool:
    return (program.oil_life_below_percent is not None and readings.oil_life_percent is not None) or (
        program.tire_pressure_below_kpa is not None and readings.lowest_tire_kpa is not None
    )
