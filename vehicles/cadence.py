"""When each endpoint of a vehicle is next worth a call: activity, intervals, brand limits and the monthly budget.

Pure functions over settings and plain values; vehicles/sync/ applies them to rows.

The budget (FleetSync.monthly_call_budget_per_vehicle) is honoured twice:
- *planned*: interval factors are computed from the vehicle's poll set so that its expected daily calls fit the daily
  allowance. A budget too small for the configured intervals stretches static data first (up to
  ``OTHER_STRETCH_CAP``), the fast signals that buy freshness while driving or charging last. A budget with room is
  spent on the fast signals alone: their intervals shrink by one factor (driving, charging, parked and unknown alike,
  so that a parked vehicle is seen to set off sooner) down to ``settings.SYNC_INTERVAL_FLOOR_SECONDS``; intervals
  already below the floor and those of a sleeping vehicle keep their configured value. An unlimited budget keeps the
  configured intervals;
- *enforced*: a round never takes the vehicle's billed calls this month above its pro-rata share (budget × elapsed
  fraction of the month, plus one day's allowance so the first day of a month can sync at all, never above the
  budget). When a round does not fit, the lowest-value paths are left for later. The plan is an estimate over an
  average day; this guard is what keeps a busier vehicle within its budget.

A make that answers only so many calls a day (settings.SYNC_MAKE_DAILY_CALLS) caps its vehicles' budget at that many a
day, planned and enforced alike, and a round never takes a vehicle's calls of the day (UTC) past them.
"""

import calendar
import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.conf import settings

from vehicles.catalogue import WHEN_CHARGING, WHEN_PLUGGED_IN, Endpoint, Freshness
from vehicles.models import Activity

# The day of an average vehicle as the sync engine sees it, used to turn intervals into expected calls per day (hours
# per activity). Most vehicles never say they are asleep (only Tesla's status does), so a night counts as parked. The
# simulated fleet of docs/benchmarks.md averages 1.1 h driving and 0.7 h charging a day; these allow for busier fleets.
EXPECTED_DAY_HOURS = {Activity.DRIVING: 1.5, Activity.CHARGING: 1.5, Activity.PARKED: 20.0, Activity.ASLEEP: 1.0}
OTHER_STRETCH_CAP = 24.0
# Lower value first when a round must shed paths to stay within budget.
SHED_ORDER = (Freshness.DAILY, Freshness.SLOW, Freshness.MEDIUM, Freshness.FAST)
# Share of the daily allowance a plan may spend: activity mixes vary and conditional endpoints come and go.
PLAN_MARGIN = 0.9


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


@dataclass(frozen=True)
class Stretch:
    """Interval factors per class: above 1 a tight budget stretches intervals, below 1 room in it shrinks them."""

    fast: float = 1.0
    other: float = 1.0
    daily: float = 1.0

    def factor(self, freshness: Freshness) -> float:
        if freshness == Freshness.FAST:
            return self.fast
        if freshness == Freshness.DAILY:
            return self.daily
        return self.other


def _scaled(base: float, factor: float, activity: str) -> float:
    if factor >= 1:
        return base * factor
    if activity == Activity.ASLEEP:
        return base  # a sleeping vehicle's signals do not move, and asking may wake it
    return max(base * factor, min(base, float(settings.SYNC_INTERVAL_FLOOR_SECONDS)))


def interval_for(endpoint: Endpoint, *, activity: str, webhook_subscribed: bool, stretch: Stretch) -> float:
    interval = _scaled(base_interval(endpoint.freshness, activity), stretch.factor(endpoint.freshness), activity)
    if webhook_subscribed and endpoint.freshness != Freshness.DAILY:
        # Pushed events cover what changes; daily data is not pushed and keeps its cadence.
        interval *= settings.SYNC_WEBHOOK_INTERVAL_FACTOR
    return interval


def expected_daily_calls(endpoints: list[Endpoint], stretch: Stretch, *, webhook_subscribed: bool) -> dict:
    """Calls a day of ``EXPECTED_DAY_HOURS`` would cost this poll set, per class (fast, other, daily)."""
    per_class = {"fast": 0.0, "other": 0.0, "daily": 0.0}
    for endpoint in endpoints:
        key = {Freshness.FAST: "fast", Freshness.DAILY: "daily"}.get(endpoint.freshness, "other")
        for activity, hours in EXPECTED_DAY_HOURS.items():
            if endpoint.only_when and activity != Activity.CHARGING:
                continue  # conditional endpoints are asked only while charging (or plugged in)
            interval = interval_for(endpoint, activity=activity, webhook_subscribed=webhook_subscribed, stretch=stretch)
            per_class[key] += hours * 3600 / interval
    return per_class


def budget_stretch(endpoints: list[Endpoint], *, monthly_budget: int | None, webhook_subscribed: bool) -> Stretch:
    """Interval factors that make the expected daily calls of this poll set fit the budget, or spend its room."""
    allowance = daily_allowance(monthly_budget)
    if allowance is None or not endpoints:
        return Stretch()
    cost = expected_daily_calls(endpoints, Stretch(), webhook_subscribed=webhook_subscribed)
    allowance *= PLAN_MARGIN
    if cost["fast"] + cost["other"] + cost["daily"] <= allowance:
        return _spend_room_on_fast(endpoints, allowance - cost["other"] - cost["daily"], webhook_subscribed)
    left_for_fast_and_other = allowance - cost["daily"]
    if cost["other"] and left_for_fast_and_other - cost["fast"] >= cost["other"] / OTHER_STRETCH_CAP:
        return Stretch(other=cost["other"] / (left_for_fast_and_other - cost["fast"]))
    left_for_fast = left_for_fast_and_other - cost["other"] / OTHER_STRETCH_CAP
    if left_for_fast <= 0:
        # A budget too small even for the static data: stretch everything alike.
        scale = (cost["fast"] + cost["other"] + cost["daily"]) / max(allowance, 0.01)
        return Stretch(fast=scale, other=scale, daily=scale)
    return Stretch(fast=max(1.0, cost["fast"] / left_for_fast), other=OTHER_STRETCH_CAP)


def _spend_room_on_fast(endpoints: list[Endpoint], left_for_fast: float, webhook_subscribed: bool) -> Stretch:
    """The smallest fast factor (≤ 1) whose expected calls still fit ``left_for_fast``; the floor bounds it."""

    webhook = float(settings.SYNC_WEBHOOK_INTERVAL_FACTOR) if webhook_subscribed else 1.0
    # Seconds of the expected day (per webhook factor), configured interval and activity of each fast signal's polls:
    # the same sum as expected_daily_calls, without looking the settings up again on every step of the search.
    polls = [
        (hours * 3600 / webhook, base_interval(Freshness.FAST, activity), activity)
        for endpoint in endpoints
        if endpoint.freshness == Freshness.FAST
        for activity, hours in EXPECTED_DAY_HOURS.items()
        if not endpoint.only_when or activity == Activity.CHARGING
    ]

    def fast_cost(factor: float) -> float:
        return sum(seconds / _scaled(base, factor, activity) for seconds, base, activity in polls)

    floor = float(settings.SYNC_INTERVAL_FLOOR_SECONDS)
    fast_intervals = settings.SYNC_INTERVALS[str(Freshness.FAST)]
    longest = max(seconds for activity, seconds in fast_intervals.items() if activity != Activity.ASLEEP)
    low, high = min(1.0, floor / longest), 1.0  # at ``low`` every shrinkable interval sits at the floor
    if fast_cost(low) <= left_for_fast:
        return Stretch(fast=low)
    for _ in range(40):
        middle = (low + high) / 2
        if fast_cost(middle) <= left_for_fast:
            high = middle
        else:
            low = middle
    return Stretch(fast=high)


def make_daily_calls(make: str) -> int | None:
    """Calls a vehicle of this make answers a day (settings.SYNC_MAKE_DAILY_CALLS); None: no known limit."""
    return settings.SYNC_MAKE_DAILY_CALLS.get(make.upper())


def vehicle_budget(make: str, fleet_budget: int | None, now: datetime) -> int | None:
    """The vehicle's monthly call budget: its fleet's, and never more than its make's daily calls allow. A make with
    daily calls is planned like a fleet with that budget, so its calls go to the fast signals first."""
    daily = make_daily_calls(make)
    if daily is None:
        return fleet_budget
    by_make = daily * calendar.monthrange(now.year, now.month)[1]
    return by_make if fleet_budget is None else min(fleet_budget, by_make)


def month_start(day: date) -> date:
    return day.replace(day=1)


def next_day(now: datetime) -> datetime:
    """The start of the next day (UTC), when a daily count of calls starts again."""
    return now.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)


def pro_rata_allowance(monthly_budget: int, now: datetime) -> int:
    """Billed calls a vehicle may have spent by ``now`` this month: a day's share at the start of the month, then one
    more call every (days in the month × 86,400 / budget) seconds, never more than the budget. Whole numbers, so that
    ``allowance_grows_at`` and this function agree to the second."""
    month_seconds = calendar.monthrange(now.year, now.month)[1] * 86400
    elapsed = int((now - _month_start_at(now)).total_seconds())
    return min(monthly_budget, (monthly_budget * elapsed + monthly_budget * 86400) // month_seconds)


def allowance_grows_at(monthly_budget: int, spent: int, now: datetime) -> datetime:
    """The first moment after ``now`` at which the pro-rata allowance exceeds ``spent`` calls. On the last day of a
    month the allowance is already the whole budget and grows no more: then it is the start of the next month."""
    month_seconds = calendar.monthrange(now.year, now.month)[1] * 86400
    target = max(spent, pro_rata_allowance(monthly_budget, now)) + 1
    if target <= monthly_budget:
        # The smallest whole ``elapsed`` with budget × elapsed + budget × 86,400 ≥ target × month_seconds.
        elapsed = -(-(target * month_seconds - monthly_budget * 86400) // monthly_budget)
        return max(_month_start_at(now) + timedelta(seconds=elapsed), now + timedelta(seconds=1))
    return _month_start_at(now) + timedelta(seconds=month_seconds)


def _month_start_at(now: datetime) -> datetime:
    return now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def jittered(seconds: float, spread: float = 0.25) -> timedelta:
    return timedelta(seconds=seconds * random.uniform(1 - spread, 1 + spread))  # noqa: S311 (jitter, not secrets)


def exponential(base: float, cap: float, failures: int) -> timedelta:
    """base × 2^(failures-1), capped, with jitter so that many vehicles do not come back in step."""
    return jittered(min(cap, base * 2 ** max(0, failures - 1)))
