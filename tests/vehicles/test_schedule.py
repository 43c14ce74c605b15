"""When an endpoint and its vehicle are next read, and why (vehicles/sync/schedule.py), case by case."""

from datetime import UTC, datetime, timedelta

import pytest

from vehicles.sync.schedule import ROUND_GATHER, Due, Why, endpoint_next_due, vehicle_next_due

NOW = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)
INTERVAL = 30 * MIN  # the endpoint's cadence for what the vehicle is doing now


# (asked, retry at, current due time, activity changed) → next due time (None: unchanged)
ENDPOINT_TABLE = [
    pytest.param(True, None, NOW - MIN, False, NOW + INTERVAL, id="read: due again after its interval"),
    pytest.param(True, NOW + 2 * MIN, NOW - MIN, False, NOW + 2 * MIN, id="read with server trouble: its retry"),
    pytest.param(False, None, None, False, NOW + INTERVAL, id="new to the poll set: joins a round of its class"),
    pytest.param(False, None, NOW + 10 * MIN, False, None, id="not read: keeps its time"),
    pytest.param(False, None, NOW + 3 * INTERVAL, False, None, id="not read, later than its interval: kept"),
    pytest.param(False, None, NOW + 3 * INTERVAL, True, NOW + INTERVAL, id="activity changed: comes forward"),
    pytest.param(False, None, NOW + 10 * MIN, True, None, id="activity changed, sooner than its interval: kept"),
]


@pytest.mark.parametrize(("asked", "retry_at", "current", "activity_changed", "expected"), ENDPOINT_TABLE)
def test_endpoint_next_due(asked, retry_at, current, activity_changed, expected):
    assert (
        endpoint_next_due(
            asked=asked,
            retry_at=retry_at,
            current=current,
            interval=INTERVAL,
            activity_changed=activity_changed,
            now=NOW,
        )
        == expected
    )


# keyword arguments of vehicle_next_due (besides now) → Due
VEHICLE_TABLE = [
    pytest.param(
        {"endpoints_due": [NOW + 30 * MIN, NOW + 4 * MIN], "asked": True},
        Due(NOW + 4 * MIN, Why.CADENCE),
        id="the earliest endpoint",
    ),
    pytest.param({"endpoints_due": [], "asked": True}, Due(NOW + timedelta(hours=1), Why.CADENCE), id="none polled"),
    pytest.param(
        {"endpoints_due": [NOW + 4 * MIN], "asked": True, "budget_wait": 20 * MIN},
        Due(NOW + 20 * MIN, Why.BUDGET),
        id="paths left out for the budget",
    ),
    pytest.param(
        {"endpoints_due": [NOW + 40 * MIN], "asked": True, "budget_wait": 20 * MIN},
        Due(NOW + 40 * MIN, Why.CADENCE),
        id="budget wait shorter than the cadence",
    ),
    pytest.param(
        {"endpoints_due": [NOW + 4 * MIN], "asked": True, "back_off": 15 * MIN},
        Due(NOW + 15 * MIN, Why.BACK_OFF),
        id="asleep: back-off",
    ),
    pytest.param(
        {"endpoints_due": [NOW + 4 * MIN], "asked": True, "brand_min_interval": timedelta(minutes=72)},
        Due(NOW + timedelta(minutes=72), Why.BRAND_LIMIT),
        id="brand limit after a round that read",
    ),
    pytest.param(
        {
            "endpoints_due": [NOW - MIN],
            "asked": False,
            "brand_min_interval": timedelta(minutes=72),
            "last_round_at": NOW - 71 * MIN - timedelta(seconds=30),
        },
        Due(NOW + ROUND_GATHER, Why.BRAND_LIMIT),
        id="brand limit almost over: not before a round's gathering time",
    ),
    pytest.param(
        {"endpoints_due": [NOW - MIN], "asked": False, "held_back_off_until": NOW + 50 * MIN},
        Due(NOW + 50 * MIN, Why.BACK_OFF),
        id="nothing asked during a back-off: its end",
    ),
    pytest.param(
        {"endpoints_due": [NOW - MIN], "asked": False},
        Due(NOW + ROUND_GATHER, Why.CADENCE),
        id="nothing asked: never straight back",
    ),
]


@pytest.mark.parametrize(("arguments", "expected"), VEHICLE_TABLE)
def test_vehicle_next_due(arguments, expected):
    assert vehicle_next_due(now=NOW, **arguments) == expected
