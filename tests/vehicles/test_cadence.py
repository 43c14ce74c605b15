from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from fleet.models import User
from vehicles import cadence
from vehicles.catalogue import Freshness, endpoints_for
from vehicles.models import Activity, FleetSync

from .conftest import ALL_READ

TESLA = endpoints_for("TESLA", ALL_READ)
FORD = endpoints_for("FORD", ALL_READ)
# A petrol Ford once its EV endpoints answered 501 and were parked: one fast signal (location) left to poll.
PETROL_FORD = [e for e in FORD if "charge" not in e.path and "battery" not in e.path]
ACTIVITIES = (Activity.DRIVING, Activity.CHARGING, Activity.PARKED, Activity.ASLEEP, Activity.UNKNOWN)


def planned_daily_calls(endpoints, stretch, webhook=False):
    total = 0.0
    for endpoint in endpoints:
        for activity, hours in cadence.EXPECTED_DAY_HOURS.items():
            if endpoint.only_when and activity != Activity.CHARGING:
                continue
            interval = cadence.interval_for(endpoint, activity=activity, webhook_subscribed=webhook, stretch=stretch)
            total += hours * 3600 / interval
    return total


def intervals(endpoints, budget, webhook=False):
    stretch = cadence.budget_stretch(endpoints, monthly_budget=budget, webhook_subscribed=webhook)
    return {
        (endpoint.path, activity): cadence.interval_for(
            endpoint, activity=activity, webhook_subscribed=webhook, stretch=stretch
        )
        for endpoint in endpoints
        for activity in ACTIVITIES
    }


def configured(endpoint, activity, webhook=False):
    return cadence.interval_for(endpoint, activity=activity, webhook_subscribed=webhook, stretch=cadence.Stretch())


@hypothesis_settings(max_examples=200, deadline=None)
@given(
    budget=st.integers(min_value=300, max_value=1_000_000),
    which=st.sampled_from(["TESLA", "FORD", "PETROL_FORD"]),
    webhook=st.booleans(),
)
def test_planned_calls_fit_the_daily_allowance(budget, which, webhook):
    endpoints = {"TESLA": TESLA, "FORD": FORD, "PETROL_FORD": PETROL_FORD}[which]
    stretch = cadence.budget_stretch(endpoints, monthly_budget=budget, webhook_subscribed=webhook)
    assert planned_daily_calls(endpoints, stretch, webhook) <= cadence.daily_allowance(budget) + 1e-6


def test_a_tight_budget_stretches_static_data_before_fast_signals():
    stretch = cadence.budget_stretch(FORD, monthly_budget=10000, webhook_subscribed=False)
    assert stretch.other > 1
    assert stretch.fast == 1
    tighter = cadence.budget_stretch(TESLA, monthly_budget=1000, webhook_subscribed=False)
    assert tighter.other == cadence.OTHER_STRETCH_CAP
    assert tighter.fast > 1


def test_a_budget_with_room_is_spent_on_the_fast_signals_while_driving_charging_and_parked():
    planned = intervals(PETROL_FORD, 10000)
    location = next(e for e in PETROL_FORD if e.path == "/location")
    for activity in (Activity.DRIVING, Activity.CHARGING, Activity.PARKED, Activity.UNKNOWN):
        assert planned[("/location", activity)] < configured(location, activity)
    # The room goes to the fast signals alone: static data keeps its configured cadence.
    for endpoint in PETROL_FORD:
        if endpoint.freshness != Freshness.FAST:
            for activity in ACTIVITIES:
                assert planned[(endpoint.path, activity)] == configured(endpoint, activity)
    # The plan spends the room rather than leaving it: close to the share of the allowance a plan may use.
    stretch = cadence.budget_stretch(PETROL_FORD, monthly_budget=10000, webhook_subscribed=False)
    spent = planned_daily_calls(PETROL_FORD, stretch)
    assert spent == pytest.approx(cadence.daily_allowance(10000) * cadence.PLAN_MARGIN, rel=0.01)


def test_more_room_means_shorter_fast_intervals_until_the_floor(settings):
    location = next(e for e in PETROL_FORD if e.path == "/location")
    parked = [intervals(PETROL_FORD, budget)[("/location", Activity.PARKED)] for budget in (5000, 10000, 20000)]
    assert parked[0] > parked[1] > parked[2]
    # A budget far beyond what the fast signals can use: every shrinkable interval sits at the floor, no lower.
    rich = intervals(PETROL_FORD, 1_000_000)
    for activity in (Activity.DRIVING, Activity.CHARGING, Activity.PARKED, Activity.UNKNOWN):
        assert rich[("/location", activity)] == settings.SYNC_INTERVAL_FLOOR_SECONDS
    # A sleeping vehicle is not asked more often: its signals do not move and asking may wake it.
    assert rich[("/location", Activity.ASLEEP)] == configured(location, Activity.ASLEEP)


@hypothesis_settings(max_examples=100, deadline=None)
@given(
    budget=st.one_of(st.none(), st.integers(min_value=300, max_value=10_000_000)),
    which=st.sampled_from(["TESLA", "FORD", "PETROL_FORD"]),
    webhook=st.booleans(),
)
def test_no_budget_shortens_an_interval_below_the_floor(budget, which, webhook):
    from django.conf import settings

    endpoints = {"TESLA": TESLA, "FORD": FORD, "PETROL_FORD": PETROL_FORD}[which]
    floor = settings.SYNC_INTERVAL_FLOOR_SECONDS
    webhook_factor = settings.SYNC_WEBHOOK_INTERVAL_FACTOR if webhook else 1
    by_path = {endpoint.path: endpoint for endpoint in endpoints}
    for (path, activity), seconds in intervals(endpoints, budget, webhook).items():
        assert seconds >= min(configured(by_path[path], activity, webhook), floor * webhook_factor) - 1e-9


def test_the_floor_is_a_setting_and_never_lengthens_a_shorter_configured_interval(settings):
    settings.SYNC_INTERVALS = {**settings.SYNC_INTERVALS, "fast": {**settings.SYNC_INTERVALS["fast"], "driving": 60}}
    settings.SYNC_INTERVAL_FLOOR_SECONDS = 300
    rich = intervals(PETROL_FORD, 1_000_000)
    assert rich[("/location", Activity.DRIVING)] == 60  # configured below the floor: kept, not raised to it
    assert rich[("/location", Activity.PARKED)] == 300


def test_webhook_subscribed_vehicles_still_lean_on_their_webhooks(settings):
    plain = intervals(PETROL_FORD, 1_000_000)
    pushed = intervals(PETROL_FORD, 1_000_000, webhook=True)
    factor = settings.SYNC_WEBHOOK_INTERVAL_FACTOR
    assert pushed[("/location", Activity.PARKED)] == plain[("/location", Activity.PARKED)] * factor


def test_an_unlimited_budget_keeps_the_configured_intervals(settings):
    planned = intervals(TESLA, None)
    for endpoint in TESLA:
        for activity in ACTIVITIES:
            seconds = settings.SYNC_INTERVALS[str(endpoint.freshness)][activity]
            assert planned[(endpoint.path, activity)] == seconds


def test_the_fleet_sync_admin_shows_the_floor_beside_the_intervals(client, fleet, settings):
    settings.SYNC_INTERVAL_FLOOR_SECONDS = 135
    fleet_sync = FleetSync.objects.create(fleet=fleet, monthly_call_budget_per_vehicle=10000)
    client.force_login(User.objects.create_superuser(email="root@example.com", password="x" * 12))
    page = client.get(reverse("admin:vehicles_fleetsync_change", args=[fleet_sync.pk])).content.decode()
    assert "a budget with room shortens fast intervals down to</strong>: 135" in page


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
