"""When each endpoint of a vehicle is next worth a call: activity, intervals, brand limits and the monthly budget.

Pure functions over settings and plain values; vehicles/sync.py applies them to rows.

The budget (FleetSync.monthly_call_budget_per_vehicle) is honoured twice:
- *planned*: intervals are stretched by factors computed from the vehicle's poll set so that its expected daily
  calls fit the daily allowance; static data is stretched first (up to ``OTHER_STRETCH_CAP``), the fast signals that
  buy freshness while driving or charging last;
- *enforced*: a round never takes the vehicle's billed calls this month above its pro-rata share (budget × elapsed
  fraction of the month, plus one day's allowance so the first day of a month can sync at all, never above the
  budget). When a round does not fit, the lowest-value paths are left for later.
"""

import calendar
import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.conf import settings

from vehicles.catalogue import WHEN_CHARGING, WHEN_PLUGGED_IN, Endpoint, Freshness
from vehicles.models import Activity

# The day of an average vehicle, used to turn intervals into expected calls per day (hours per activity).
EXPECTED_DAY_HOURS = {Activity.DRIVING: 2.0, Activity.CHARGING: 3.0, Activity.PARKED: 13.0, Activity.ASLEEP: 6.0}
OTHER_STRETCH_CAP = 24.0
# Lower value first when a round must shed paths to stay within budget.
SHED_ORDER = (Freshness.DAILY, Freshness.SLOW, Freshness.MEDIUM, Freshness.FAST)


def base_interval(freshness: Freshness, activity: str) -> float:
    by_activity = settings.SYNC_INTERVALS[str(freshness)]
    return float(by_activity.get(activity, by_activity["unknown"]))


def is_wanted_now(endpoint: Endpoint, *, activity: str, is_plugged_in: bool | None) -> bool:
    """Conditional endpoints answer a vehicle-state error outside their state: skip them then."""
    if endpoint.only_when == WHEN_CHARGING:
        return activity == Activity.CHARGING
    if endpoint.only_when == WHEN_PLUGGED_IN:
        return bool(is_plugged_in) or activity == Activity.CHARGING
    return True


def daily_allowance(monthly_budget: int | None) -> float | None:
    return None if monthly_budget is None else monthly_budget * 12 / 365


def _expected_daily_calls(endpoints: list[Endpoint], fast_factor: float, other_factor: float, webhook: float) -> dict:
    per_class = {"fast": 0.0, "other": 0.0, "daily": 0.0}
    for endpoint in endpoints:
        for activity, hours in EXPECTED_DAY_HOURS.items():
            if endpoint.only_when and activity != Activity.CHARGING:
                continue  # conditional endpoints are asked only while charging (or plugged in)
            interval = base_interval(endpoint.freshness, activity)
            if endpoint.freshness != Freshness.DAILY:
                interval *= webhook
            calls = hours * 3600 / interval
            if endpoint.freshness == Freshness.DAILY:
                per_class["daily"] += calls
            elif endpoint.freshness == Freshness.FAST:
                per_class["fast"] += calls / fast_factor
            else:
                per_class["other"] += calls / other_factor
    return per_class


@dataclass(frozen=True)
class Stretch:
    fast: float = 1.0
    other: float = 1.0
    daily: float = 1.0

    def factor(self, freshness: Freshness) -> float:
        if freshness == Freshness.FAST:
            return self.fast
        if freshness == Freshness.DAILY:
            return self.daily
        return self.other


def budget_stretch(endpoints: list[Endpoint], *, monthly_budget: int | None, webhook_subscribed: bool) -> Stretch:
    """Interval multipliers that make the expected daily calls of this poll set fit the budget."""
    allowance = daily_allowance(monthly_budget)
    if allowance is None or not endpoints:
        return Stretch()
    webhook = float(settings.SYNC_WEBHOOK_INTERVAL_FACTOR) if webhook_subscribed else 1.0
    cost = _expected_daily_calls(endpoints, 1.0, 1.0, webhook)
    # A 10 % margin: activity mixes vary and conditional endpoints come and go.
    allowance *= 0.9
    if cost["fast"] + cost["other"] + cost["daily"] <= allowance:
        return Stretch()
    left_for_fast_and_other = allowance - cost["daily"]
    if cost["other"] and left_for_fast_and_other - cost["fast"] >= cost["other"] / OTHER_STRETCH_CAP:
        return Stretch(other=cost["other"] / (left_for_fast_and_other - cost["fast"]))
    left_for_fast = left_for_fast_and_other - cost["other"] / OTHER_STRETCH_CAP
    if left_for_fast <= 0:
        # A budget too small even for the static data: stretch everything alike.
        scale = (cost["fast"] + cost["other"] + cost["daily"]) / max(allowance, 0.01)
        return Stretch(fast=scale, other=scale, daily=scale)
    return Stretch(fast=max(1.0, cost["fast"] / left_for_fast), other=OTHER_STRETCH_CAP)


def interval_for(endpoint: Endpoint, *, activity: str, webhook_subscribed: bool, stretch: Stretch) -> float:
    interval = base_interval(endpoint.freshness, activity) * stretch.factor(endpoint.freshness)
    if webhook_subscribed and endpoint.freshness != Freshness.DAILY:
        # Pushed events cover what changes; daily data is not pushed and keeps its cadence.
        interval *= settings.SYNC_WEBHOOK_INTERVAL_FACTOR
    return interval


def make_min_interval(make: str) -> timedelta:
    return timedelta(seconds=settings.SYNC_MAKE_MIN_INTERVALS.get(make.upper(), 0))


def month_start(day: date) -> date:
    return day.replace(day=1)


def pro_rata_allowance(monthly_budget: int, now: datetime) -> int:
    """Billed calls a vehicle may have spent by ``now`` this month."""
    days_in_month = calendar.monthrange(now.year, now.month)[1]
    start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    elapsed = (now - start).total_seconds() / (days_in_month * 86400)
    return min(monthly_budget, int(monthly_budget * elapsed + monthly_budget / days_in_month))


def jittered(seconds: float, spread: float = 0.25) -> timedelta:
    return timedelta(seconds=seconds * random.uniform(1 - spread, 1 + spread))  # noqa: S311 (jitter, not secrets)


def exponential(base: float, cap: float, failures: int) -> timedelta:
    """base × 2^(failures-1), capped, with jitter so that many vehicles do not come back in step."""
    return jittered(min(cap, base * 2 ** max(0, failures - 1)))
