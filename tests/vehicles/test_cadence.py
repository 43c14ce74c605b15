from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from vehicles import cadence
from vehicles.catalogue import Freshness, endpoints_for
from vehicles.models import Activity

from .conftest import ALL_READ

TESLA = endpoints_for("TESLA", ALL_READ)
FORD = endpoints_for("FORD", ALL_READ)


def planned_daily_calls(endpoints, stretch, webhook=False):
    total = 0.0
    for endpoint in endpoints:
        for activity, hours in cadence.EXPECTED_DAY_HOURS.items():
            if endpoint.only_when and activity != Activity.CHARGING:
                continue
            interval = cadence.interval_for(endpoint, activity=activity, webhook_subscribed=webhook, stretch=stretch)
            total += hours * 3600 / interval
    return total


@settings(max_examples=200, deadline=None)
@given(
    budget=st.integers(min_value=300, max_value=100_000),
    which=st.sampled_from(["TESLA", "FORD"]),
    webhook=st.booleans(),
)
def test_planned_calls_fit_the_daily_allowance(budget, which, webhook):
    endpoints = TESLA if which == "TESLA" else FORD
    stretch = cadence.budget_stretch(endpoints, monthly_budget=budget, webhook_subscribed=webhook)
    assert planned_daily_calls(endpoints, stretch, webhook) <= cadence.daily_allowance(budget) + 1e-6


def test_a_tight_budget_stretches_static_data_before_fast_signals():
    stretch = cadence.budget_stretch(FORD, monthly_budget=10000, webhook_subscribed=False)
    assert stretch.other > 1
    assert stretch.fast == 1
    tighter = cadence.budget_stretch(TESLA, monthly_budget=1000, webhook_subscribed=False)
    assert tighter.other == cadence.OTHER_STRETCH_CAP
    assert tighter.fast > 1


def test_an_unlimited_budget_keeps_the_configured_intervals():
    stretch = cadence.budget_stretch(TESLA, monthly_budget=None, webhook_subscribed=False)
    endpoint = next(e for e in TESLA if e.freshness == Freshness.FAST)
    assert cadence.interval_for(endpoint, activity=Activity.DRIVING, webhook_subscribed=False, stretch=stretch) == 240


@given(budget=st.integers(min_value=1, max_value=1_000_000), seconds=st.integers(min_value=0, max_value=31 * 86400 - 1))
def test_the_pro_rata_allowance_never_exceeds_the_budget_and_grows_through_the_month(budget, seconds):
    start = datetime(2026, 1, 1, tzinfo=UTC)
    now = start + timedelta(seconds=seconds)
    allowance = cadence.pro_rata_allowance(budget, now)
    assert 0 <= allowance <= budget
    assert allowance <= cadence.pro_rata_allowance(budget, now + timedelta(hours=1)) or now.day == 31


def test_backoff_doubles_with_jitter_and_is_capped():
    delays = [cadence.exponential(60, 3600, n).total_seconds() for n in range(1, 12)]
    assert 45 <= delays[0] <= 75
    assert 90 <= delays[1] <= 150
    assert max(delays) <= 3600 * 1.25
