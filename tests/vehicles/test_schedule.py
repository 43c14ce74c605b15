"""When an endpoint and its vehicle are next read, and why (vehicles/sync/schedule.py), case by case."""

from datetime import UTC, datetime, timedelta

import pytest

from vehicles.models import DueReason
from vehicles.sync.answers import ForVehicle
from vehicles.sync.schedule import (
    ROUND_GATHER,
    Due,
    allowance_room,
    endpoint_next_due,
    vehicle_back_off,
    vehicle_next_due,
)

NOW = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)  # May: 31 days
MIN = timedelta(minutes=1)
INTERVAL = 30 * MIN  # the endpoint's cadence for what the vehicle is doing now
ACTIVITY, BUDGET, BRAND_LIMIT = DueReason.ACTIVITY, DueReason.BUDGET, DueReason.BRAND_LIMIT
BACK_OFF, RATE_LIMIT, RETRY = DueReason.BACK_OFF, DueReason.RATE_LIMIT, DueReason.RETRY
MIDNIGHT = datetime(2026, 5, 5, tzinfo=UTC)


# (asked, retry at, current due time, activity changed) → next due (None: unchanged)
ENDPOINT_TABLE = [
    pytest.param(True, None, NOW - MIN, False, Due(NOW + INTERVAL, ACTIVITY), id="read: again after its interval"),
    pytest.param(True, NOW + 2 * MIN, NOW - MIN, False, Due(NOW + 2 * MIN, RETRY), id="server trouble: its retry"),
    pytest.param(False, None, None, False, Due(NOW + INTERVAL, ACTIVITY), id="new to the poll set: joins its class"),
    pytest.param(False, None, NOW + 10 * MIN, False, None, id="not read: keeps its time"),
    pytest.param(False, None, NOW + 3 * INTERVAL, False, None, id="not read, later than its interval: kept"),
    pytest.param(False, None, NOW + 3 * INTERVAL, True, Due(NOW + INTERVAL, ACTIVITY), id="set off: comes forward"),
    pytest.param(False, None, NOW + 10 * MIN, True, None, id="set off, sooner than its interval: kept"),
]


@pytest.mark.parametrize(("asked", "retry_at", "current", "activity_changed", "expected"), ENDPOINT_TABLE)
def test_endpoint_next_due(asked, retry_at, current, activity_changed, expected):
    due = endpoint_next_due(
        asked=asked, retry_at=retry_at, current=current, interval=INTERVAL, activity_changed=activity_changed, now=NOW
    )
    assert due == expected


# (monthly budget, spent this month, make's calls a day, spent today) → (room, when one more call fits)
PER_CALL = timedelta(seconds=31 * 86400 / 3100)  # 3,100 calls in May: one every 14.4 minutes
ALLOWANCE_TABLE = [
    pytest.param(None, 0, None, 0, (None, None), id="no budget, no brand limit"),
    pytest.param(3100, 0, None, 0, (450, Due(NOW + PER_CALL, BUDGET)), id="budget: 3.5 days pro rata, one ahead"),
    pytest.param(3100, 448, None, 0, (2, Due(NOW + PER_CALL, BUDGET)), id="budget almost spent"),
    pytest.param(3100, 500, None, 0, (0, Due(NOW + 51 * PER_CALL, BUDGET)), id="budget over: when the 501st fits"),
    pytest.param(620, 0, 20, 18, (2, Due(MIDNIGHT, BRAND_LIMIT)), id="brand limit: what is left today"),
    pytest.param(620, 0, 20, 25, (0, Due(MIDNIGHT, BRAND_LIMIT)), id="brand limit spent: tomorrow"),
    pytest.param(3100, 449, 20, 5, (1, Due(NOW + PER_CALL, BUDGET)), id="both: the budget leaves less"),
]


@pytest.mark.parametrize(("budget", "spent_month", "daily", "spent_today", "expected"), ALLOWANCE_TABLE)
def test_allowance_room(budget, spent_month, daily, spent_today, expected):
    room, more = allowance_room(
        monthly_budget=budget, spent_month=spent_month, daily_calls=daily, spent_today=spent_today, now=NOW
    )
    assert (room, more) == expected


def test_on_the_last_day_of_a_month_a_spent_budget_has_room_again_when_the_next_month_starts():
    """The allowance reaches the whole budget a day before the month ends and grows no more: a vehicle that spent it
    waits for the new month, not for a call's share of time that brings nothing."""
    last_day = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
    room, more = allowance_room(monthly_budget=3000, spent_month=2998, daily_calls=None, spent_today=0, now=last_day)
    assert room == 2
    assert more == Due(datetime(2026, 12, 1, tzinfo=UTC), BUDGET)


# answer's kind, failures so far, Retry-After → (earliest, latest, reason)
BACK_OFF_TABLE = [
    pytest.param(ForVehicle.RATE_LIMITED, 1, 30, (NOW + 30 * MIN / 60, NOW + 30 * MIN / 60, RATE_LIMIT), id="429"),
    pytest.param(ForVehicle.QUOTA_SPENT, 1, None, (MIDNIGHT, MIDNIGHT + 10 * MIN, BRAND_LIMIT), id="day's calls spent"),
    pytest.param(ForVehicle.BACK_OFF, 1, None, (NOW + 11 * MIN, NOW + 19 * MIN, BACK_OFF), id="asleep: 15 min ± 25 %"),
    pytest.param(ForVehicle.BACK_OFF, 3, None, (NOW + 45 * MIN, NOW + 75 * MIN, BACK_OFF), id="asleep, third time"),
    pytest.param(ForVehicle.ACCESS_LOST, 1, None, (NOW + 11 * MIN, NOW + 19 * MIN, BACK_OFF), id="access lost"),
]


@pytest.mark.parametrize(("kind", "failures", "retry_after", "expected"), BACK_OFF_TABLE)
def test_vehicle_back_off(kind, failures, retry_after, expected):
    earliest, latest, why = expected
    due = vehicle_back_off(kind=kind, failures=failures, retry_after=retry_after, now=NOW)
    assert earliest <= due.at <= latest and due.why == why


# keyword arguments of vehicle_next_due (besides now) → Due
VEHICLE_TABLE = [
    pytest.param(
        {"endpoints_due": [NOW + 30 * MIN, NOW + 4 * MIN], "asked": True},
        Due(NOW + 4 * MIN, ACTIVITY),
        id="the earliest endpoint",
    ),
    pytest.param({"endpoints_due": [], "asked": True}, Due(NOW + timedelta(hours=1), ACTIVITY), id="none polled"),
    pytest.param(
        {"endpoints_due": [NOW - MIN], "asked": True, "allowance": Due(NOW + 15 * MIN, BUDGET)},
        Due(NOW + 15 * MIN, BUDGET),
        id="paths left out for the budget: when one more call fits",
    ),
    pytest.param(
        {"endpoints_due": [NOW + 40 * MIN], "asked": True, "allowance": Due(NOW + 15 * MIN, BUDGET)},
        Due(NOW + 40 * MIN, ACTIVITY),
        id="budget has room before the cadence",
    ),
    pytest.param(
        {"endpoints_due": [NOW - MIN], "asked": True, "allowance": Due(MIDNIGHT, BRAND_LIMIT)},
        Due(MIDNIGHT, BRAND_LIMIT),
        id="the make's calls of the day spent",
    ),
    pytest.param(
        {"endpoints_due": [NOW + 4 * MIN], "asked": True, "back_off": Due(NOW + 15 * MIN, BACK_OFF)},
        Due(NOW + 15 * MIN, BACK_OFF),
        id="asleep: back-off",
    ),
    pytest.param(
        {"endpoints_due": [NOW - MIN], "asked": False, "held_back_off": Due(NOW + 50 * MIN, RATE_LIMIT)},
        Due(NOW + 50 * MIN, RATE_LIMIT),
        id="nothing asked during a back-off: its end, its reason",
    ),
    pytest.param(
        {"endpoints_due": [NOW - MIN], "asked": False},
        Due(NOW + ROUND_GATHER, ACTIVITY),
        id="nothing asked: never straight back",
    ),
]


@pytest.mark.parametrize(("arguments", "expected"), VEHICLE_TABLE)
def test_vehicle_next_due(arguments, expected):
    assert vehicle_next_due(now=NOW, **arguments) == expected
