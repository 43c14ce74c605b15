"""When an endpoint and its vehicle are next read, and why: pure functions of times and settings, tested by tables.

vehicles/cadence.py says how often each endpoint is worth a call; this module turns a round's outcome into due times.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from django.conf import settings

from vehicles import cadence

# Endpoints due within this much of the round's start join the round: one batch instead of two a minute apart.
ROUND_GATHER = timedelta(seconds=90)
# A vehicle with nothing to read (everything parked or dropped) is looked at again after this long.
IDLE_RECHECK = timedelta(hours=1)
# A vehicle skipped by its round (fleet paused, account to reconnect, no token) is looked at again after this long.
SKIPPED_RECHECK = timedelta(minutes=5)


class Why(StrEnum):
    """What decided a due time, for the vehicle page to say in words."""

    CADENCE = "cadence"  # the endpoint's interval for what the vehicle is doing
    RETRY = "retry"  # a wait after server trouble, doubling with each failure
    PARKED = "parked"  # the vehicle could not serve it; asked again once the days are over
    BUDGET = "budget"  # the fleet's monthly call budget has no room before then
    BRAND_LIMIT = "brand limit"  # the car maker allows no more rounds before then
    BACK_OFF = "back-off"  # asleep, unreachable or rate limited
    SKIPPED = "skipped"  # the round could not ask (fleet paused, account to reconnect, token endpoint down)


@dataclass(frozen=True)
class Due:
    at: datetime
    why: Why


def endpoint_retry_at(failures: int, now: datetime) -> datetime:
    """After server trouble: base × 2^(failures-1), capped, jittered."""
    return now + cadence.exponential(settings.SYNC_RETRY_BASE_SECONDS, settings.SYNC_RETRY_MAX_SECONDS, failures)


def endpoint_parked_until(now: datetime) -> datetime:
    return now + timedelta(days=settings.SYNC_COMPATIBILITY_PARK_DAYS)


def endpoint_next_due(
    *, asked: bool, retry_at: datetime | None, current: datetime | None, interval: timedelta, activity_changed: bool,
    now: datetime,
) -> datetime | None:  # fmt: skip
    """The endpoint's next due time after a round, or None to keep ``current``.

    ``asked``: the round read it; ``retry_at``: its answer asks for a retry at that time; ``interval``: its cadence for
    the vehicle's activity now.
    """
    if asked:
        return retry_at or now + interval
    if current is None:
        # New to the poll set (e.g. charging started, so the wattmeter is worth asking): it joins the next round of
        # its class rather than forcing a round of its own right now.
        return now + interval
    if activity_changed and current > now + interval:
        # Just started driving or charging: the fast signals come forward to the new, shorter interval.
        return now + interval
    return None


def budget_wait(*, left_out: int, monthly_budget: int | None) -> timedelta | None:
    """How long the budget's allowance takes to grow by the calls a round left out."""
    if not left_out:
        return None
    return timedelta(seconds=30 * 86400 / (monthly_budget or 1) * left_out)


def vehicle_back_off(*, failures: int, retry_after: float | None, rate_limited: bool) -> timedelta:
    """Asleep/unreachable: base × 2^(failures-1), capped, jittered; rate limited: the Retry-After."""
    if rate_limited:
        return timedelta(seconds=retry_after or settings.SYNC_RETRY_BASE_SECONDS)
    return cadence.exponential(settings.SYNC_BACKOFF_BASE_SECONDS, settings.SYNC_BACKOFF_MAX_SECONDS, failures)


def vehicle_next_due(
    *,
    endpoints_due: list[datetime],
    now: datetime,
    asked: bool,
    budget_wait: timedelta | None = None,
    back_off: timedelta | None = None,
    held_back_off_until: datetime | None = None,
    brand_min_interval: timedelta = timedelta(0),
    last_round_at: datetime | None = None,
) -> Due:
    """When the vehicle's next round is, and what decided it.

    ``endpoints_due``: due times of the endpoints it polls for its activity; ``asked``: this round read something;
    ``back_off``: the back-off this round's answers asked for; ``held_back_off_until``: the one still running from
    before; ``last_round_at``: the last round that read something before this one.
    """
    due = Due(min(endpoints_due), Why.CADENCE) if endpoints_due else Due(now + IDLE_RECHECK, Why.CADENCE)
    if budget_wait is not None:
        # Paths were left out to stay within the budget: come back when the allowance has grown.
        due = _later(due, now + budget_wait, Why.BUDGET)
    if back_off is not None:
        due = _later(due, now + back_off, Why.BACK_OFF)
    last_round = now if asked else last_round_at
    if brand_min_interval and last_round:
        due = _later(due, last_round + brand_min_interval, Why.BRAND_LIMIT)
    if not asked:
        # Nothing was read (back-off, brand limit, budget): never come straight back for the same answer.
        due = _later(due, now + ROUND_GATHER, due.why)
        if held_back_off_until:
            due = _later(due, held_back_off_until, Why.BACK_OFF)
    return due


def _later(due: Due, at: datetime, why: Why) -> Due:
    return Due(at, why) if at > due.at else due
