"""The schedule values and their conversions, including the Nissan UTC wire format (property-based)."""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from charging import schedules
from charging.schedules import DayWindow, HourWindow, TeslaSchedule

minutes_of_day = st.integers(min_value=0, max_value=24 * 60 - 1)
# Real UTC offsets run from -12:00 to +14:00, some on quarter hours (Nepal +05:45, Chatham +12:45).
offsets = st.integers(min_value=-12 * 4, max_value=14 * 4).map(lambda quarters: quarters * 15)
day_sets = st.frozensets(st.sampled_from(schedules.WEEKDAYS), min_size=1)
windows = st.builds(DayWindow, start=minutes_of_day, end=minutes_of_day, days=day_sets)


@given(window=windows, offset=offsets)
def test_nissan_local_to_utc_and_back_is_the_same_window(window, offset):
    assert schedules.nissan_utc_to_local(schedules.nissan_local_to_utc(window, offset), offset) == window


@given(window=windows, offset=offsets)
def test_nissan_conversion_keeps_every_start_instant_of_the_week(window, offset):
    week = 7 * 24 * 60
    utc = schedules.nissan_local_to_utc(window, offset)
    assert utc.week_starts() == {(start - offset) % week for start in window.week_starts()}
    assert (utc.end - utc.start) % (24 * 60) == (window.end - window.start) % (24 * 60)


@given(window=windows, offset=offsets)
def test_nissan_wire_round_trip(window, offset):
    utc = schedules.nissan_local_to_utc(window, offset)
    (parsed,) = schedules.nissan_schedules_from_wire(schedules.nissan_wire([utc]))
    assert parsed == utc


def test_a_late_evening_window_in_new_york_starts_the_next_day_in_utc():
    new_york = ZoneInfo("America/New_York")
    offset = schedules.utc_offset_minutes(new_york, datetime(2026, 1, 15, tzinfo=UTC))
    assert offset == -300
    local = DayWindow(start=22 * 60, end=6 * 60, days=frozenset({"FRIDAY", "SUNDAY"}))
    utc = schedules.nissan_local_to_utc(local, offset)
    assert utc.to_wire() == {"start": "03:00", "end": "11:00", "days": ["MONDAY", "SATURDAY"]}


def test_an_early_morning_window_in_berlin_starts_the_day_before_in_utc():
    local = DayWindow(start=0, end=5 * 60, days=frozenset({"MONDAY"}))
    utc = schedules.nissan_local_to_utc(local, 60)
    assert utc.to_wire() == {"start": "23:00", "end": "04:00", "days": ["SUNDAY"]}


def test_nissan_times_are_read_as_hh_mm_or_as_the_documented_datetimes():
    body = {
        "chargeSchedules": [
            {"start": "2020-01-01T01:00:00.000Z", "end": "2020-01-01T02:00:00.000Z", "days": ["MONDAY"]},
            {"start": "08:00", "end": "12:30", "days": ["FRIDAY"]},
        ]
    }
    first, second = schedules.nissan_schedules_from_wire(body)
    assert (first.start, first.end) == (60, 120)
    assert (second.start, second.end) == (480, 750)


def test_nissan_unknown_days_are_a_format_error():
    with pytest.raises(schedules.ScheduleFormatError):
        schedules.nissan_schedules_from_wire(
            {"chargeSchedules": [{"start": "08:00", "end": "09:00", "days": ["FUNDAY"]}]}
        )


def test_ford_windows_across_midnight_overlap_only_when_they_share_an_hour():
    night = HourWindow(22, 6)
    assert night.hours() == {22, 23, 0, 1, 2, 3, 4, 5}
    assert night.overlaps(HourWindow(5, 7))
    assert not night.overlaps(HourWindow(6, 22))
    assert schedules.overlapping_pairs([HourWindow(9, 17), night, HourWindow(16, 18)]) == [(0, 2)]


def test_ford_reads_both_documented_shapes_and_writes_charging_windows():
    body = {
        "chargingLocations": [
            {
                "chargeLimit": 0.8,
                "chargingSchedules": {"weekday": [{"end": "17:00", "start": "09:00"}], "weekend": []},
                "location": {"latitude": 48.8566, "longitude": 2.3522},
            },
            {"chargeLimit": 0.9, "chargingSchedules": {"weekday": [], "weekend": []}},  # no coordinates: not editable
        ]
    }
    (location,) = schedules.ford_locations_from_wire(body)
    assert location.weekday == (HourWindow(9, 17),)
    assert location.to_wire() == {
        "chargingLocation": {
            "chargeLimit": 0.8,
            "chargingWindows": {"weekday": [{"start": "09:00", "end": "17:00"}], "weekend": []},
        }
    }


def test_ford_refuses_times_off_the_hour():
    with pytest.raises(schedules.ScheduleFormatError):
        schedules.parse_whole_hour("17:30")


def test_tesla_switching_schedules_disables_before_enabling():
    current = TeslaSchedule(start_enabled=True, start_time=18 * 60 + 30, departure_enabled=False, departure_time=None)
    wanted = TeslaSchedule(start_enabled=False, start_time=18 * 60 + 30, departure_enabled=True, departure_time=7 * 60)
    assert schedules.tesla_requests(current, wanted) == [
        {"type": "START_TIME", "enable": False},  # a disable carries no time (tesla__set-charge-schedule.md)
        {"type": "DEPARTURE_TIME", "enable": True, "time": "07:00"},
    ]
    assert schedules.tesla_requests(current, current) == []
    # The time of a schedule that stays off is not sent; a new time of one that stays on is.
    off = TeslaSchedule(start_enabled=False, start_time=18 * 60 + 30)
    assert schedules.tesla_requests(off, TeslaSchedule(start_enabled=False, start_time=None)) == []
    later = TeslaSchedule(start_enabled=True, start_time=19 * 60)
    assert schedules.tesla_requests(current, later) == [{"type": "START_TIME", "enable": True, "time": "19:00"}]


def test_tesla_reads_the_documented_example():
    schedule = schedules.tesla_schedule_from_wire(
        {"departureTime": {"enabled": False, "time": None}, "startTime": {"enabled": True, "time": "18:30"}}
    )
    assert schedule.mode == "START_TIME"
    assert schedule.start_time == 18 * 60 + 30


def test_fingerprint_ignores_key_order_but_not_values():
    assert schedules.fingerprint({"a": 1, "b": [1, 2]}) == schedules.fingerprint({"b": [1, 2], "a": 1})
    assert schedules.fingerprint({"a": 1}) != schedules.fingerprint({"a": 2})


@pytest.mark.parametrize(
    ("taken", "offered"),
    [
        ([], HourWindow(22, 6)),  # overnight when it is free
        ([HourWindow(9, 17)], HourWindow(22, 6)),
        ([HourWindow(22, 6)], HourWindow(6, 14)),  # else the longest free run, at most 8 hours
        ([HourWindow(23, 7), HourWindow(9, 20)], HourWindow(20, 23)),
        ([HourWindow(0, 12), HourWindow(13, 0)], HourWindow(12, 13)),
        ([HourWindow(0, 12), HourWindow(12, 0)], None),  # every hour taken
    ],
)
def test_a_new_ford_window_is_offered_where_none_overlaps(taken, offered):
    assert schedules.free_window(taken) == offered
    if offered is not None:
        assert not any(offered.overlaps(window) for window in taken)


def day_window(start, end, *days):
    return DayWindow(schedules.parse_hh_mm(start), schedules.parse_hh_mm(end), frozenset(days))


@pytest.mark.parametrize(
    ("first", "second", "overlap"),
    [
        (day_window("08:00", "12:00", "MONDAY"), day_window("11:00", "13:00", "MONDAY"), True),
        (day_window("08:00", "12:00", "MONDAY"), day_window("11:00", "13:00", "TUESDAY"), False),
        (day_window("08:00", "12:00", "MONDAY"), day_window("12:00", "13:00", "MONDAY"), False),  # touching only
        # The days belong to the start: Friday night runs into Saturday morning, Sunday night into Monday.
        (day_window("22:00", "06:00", "FRIDAY"), day_window("01:00", "05:00", "SATURDAY"), True),
        (day_window("22:00", "06:00", "FRIDAY"), day_window("01:00", "05:00", "FRIDAY"), False),
        (day_window("23:00", "02:00", "SUNDAY"), day_window("01:00", "03:00", "MONDAY"), True),
    ],
)
def test_nissan_windows_overlap_when_they_share_a_minute_of_the_week(first, second, overlap):
    assert first.overlaps(second) is overlap
    assert second.overlaps(first) is overlap
