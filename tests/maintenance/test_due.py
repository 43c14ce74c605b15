"""When a service falls due: the pure computation, by tables."""

from datetime import date

import pytest

from maintenance.due import DUE, OVERDUE, UNKNOWN, UPCOMING, Program, Readings, add_months, service_due

TODAY = date(2026, 6, 15)
JOINED = date(2026, 1, 10)


@pytest.mark.parametrize(
    ("program", "readings", "done_on", "done_km", "state", "due_km", "due_on"),
    [
        # Distance since the last service.
        (Program(every_km=15000), Readings(odometer_km=20000), date(2026, 1, 1), 10000, UPCOMING, 25000, None),
        (Program(every_km=15000), Readings(odometer_km=23600), date(2026, 1, 1), 10000, DUE, 25000, None),
        (Program(every_km=15000), Readings(odometer_km=25000), date(2026, 1, 1), 10000, OVERDUE, 25000, None),
        (Program(every_km=15000), Readings(odometer_km=31000), date(2026, 1, 1), 10000, OVERDUE, 25000, None),
        # Never serviced: the next round multiple of the interval.
        (Program(every_km=15000), Readings(odometer_km=42000), None, None, UPCOMING, 45000, None),
        (Program(every_km=15000), Readings(odometer_km=44000), None, None, DUE, 45000, None),
        (Program(every_km=15000), Readings(odometer_km=None), None, None, UNKNOWN, None, None),
        # Months since the last service, or since the vehicle joined.
        (Program(every_months=12), Readings(), date(2025, 9, 1), None, UPCOMING, None, date(2026, 9, 1)),
        (Program(every_months=12), Readings(), date(2025, 7, 10), None, DUE, None, date(2026, 7, 10)),
        (Program(every_months=12), Readings(), date(2025, 6, 15), None, OVERDUE, None, date(2026, 6, 15)),
        (Program(every_months=6), Readings(), None, None, UPCOMING, None, date(2026, 7, 10)),
        (Program(every_months=5), Readings(), None, None, OVERDUE, None, date(2026, 6, 10)),
        # Whichever comes first.
        (Program(15000, 12), Readings(26000), date(2026, 3, 1), 10000, OVERDUE, 25000, date(2027, 3, 1)),
        (Program(15000, 12), Readings(12000), date(2025, 6, 1), 10000, OVERDUE, 25000, date(2026, 6, 1)),
        # Signals below their thresholds.
        (Program(oil_life_below_percent=15), Readings(oil_life_percent=12.0), None, None, DUE, None, None),
        (Program(oil_life_below_percent=15), Readings(oil_life_percent=15.0), None, None, UPCOMING, None, None),
        (Program(oil_life_below_percent=15), Readings(), None, None, UNKNOWN, None, None),
        (Program(tire_pressure_below_kpa=200), Readings(lowest_tire_kpa=185.0), None, None, DUE, None, None),
        (Program(tire_pressure_below_kpa=200), Readings(lowest_tire_kpa=230.0), None, None, UPCOMING, None, None),
        # A signal makes a distant service due; a passed distance stays overdue whatever the signal.
        (Program(every_km=15000, oil_life_below_percent=15), Readings(11000, 9.0), TODAY, 10000, DUE, 25000, None),
        (Program(every_km=15000, oil_life_below_percent=15), Readings(26000, 80.0), TODAY, 10000, OVERDUE, 25000, None),
    ],
)  # fmt: skip
def test_service_due(program, readings, done_on, done_km, state, due_km, due_on):
    due = service_due(program, readings, today=TODAY, done_on=done_on, done_km=done_km, baseline_on=JOINED)
    assert (due.state, due.due_km, due.due_on) == (state, due_km, due_on)


def test_a_six_monthly_service_of_a_vehicle_never_serviced_counts_from_the_day_it_joined():
    due = service_due(Program(every_months=6), Readings(), today=TODAY, done_on=None, done_km=None, baseline_on=JOINED)
    assert due.due_on == date(2026, 7, 10) and due.days_left == 25


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (date(2026, 1, 31), 1, date(2026, 2, 28)),
        (date(2024, 1, 31), 1, date(2024, 2, 29)),
        (date(2026, 11, 15), 3, date(2027, 2, 15)),
        (date(2026, 12, 1), 12, date(2027, 12, 1)),
        (date(2026, 5, 31), 60, date(2031, 5, 31)),
    ],
)
def test_add_months(day, months, expected):
    assert add_months(day, months) == expected


def test_km_left_and_days_left_say_how_far_past_or_ahead():
    due = service_due(
        Program(every_km=10000, every_months=12), Readings(odometer_km=21200), today=TODAY,
        done_on=date(2025, 6, 5), done_km=10000, baseline_on=JOINED,
    )  # fmt: skip
    assert due.km_left == -1200 and due.days_left == -10
