"""When an endpoint and its vehicle are next read, and why: pure functions of times and settings, tested by tables.

vehicles/cadence.py says how often each endpoint is worth a call; this module turns a round's outcome into due times.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings

from vehicles import cadence
from vehicles.models import DueReason
from vehicles.sync.answers import ForVehicle

# Endpoints due within this much of the round's start join the round: one batch instead of two a minute apart.
ROUND_GATHER = timedelta(seconds=90)
# A vehicle with nothing to read (everything parked or dropped) is looked at again after this long.
IDLE_RECHECK = timedelta(hours=1)
# A vehicle skipped by its round (fleet paused, account to reconnect, no token) is looked at again after this long.
SKIPPED_RECHECK = timedelta(minutes=5)


@dataclass(frozen=True)
class Due:
    at: datetime
    why: str  # a DueReason


def endpoint_retry_at(failures: int, now: datetime) -> datetime:
    """After server trouble: base × 2^(failures-1), capped, jittered."""
    return now + cadence.exponential(settings.SYNC_RETRY_BASE_SECONDS, settings.SYNC_RETRY_MAX_SECONDS, failures)


def endpoint_parked_until(now: datetime) -> datetime:
    return now + timedelta(days=settings.SYNC_COMPATIBILITY_PARK_DAYS)


def endpoint_next_due(
    *, asked: bool, retry_at: datetime | None, current: datetime | None, interval: timedelta, activity_changed: bool,
    now: datetime,
) -> Due | None:  # fmt: skip
    """The endpoint's next due time after a round, or None to keep its current one.

    ``asked``: the round read it; ``retry_at``: its answer asks for a retry at that time; ``interval``: its cadence for
    the vehicle's activity now.
    """
    if asked:
        return Due(retry_at, DueReason.RETRY) if retry_at else Due(now + interval, DueReason.ACTIVITY)
    if current is None:
        # New to the poll set (e.g. charging started, so the wattmeter is worth asking): it joins the next round of
        # its class rather than forcing a round of its own right now.
        return Due(now + interval, DueReason.ACTIVITY)
    if activity_changed and current > now + interval:
        # Just started driving or charging: the fast signals come forward to the new, shorter interval.
        return Due(now + interval, DueReason.ACTIVITY)
    return None


def allowance_room(
    *, monthly_budget: int | None, spent_month: int, daily_calls: int | None, spent_today: int, now: datetime
) -> tuple[int | None, Due | None]:
    """Calls the vehicle may spend now (None: no limit), and when it may spend one more once they are spent.

    The fleet's monthly budget grows pro rata (``cadence.allowance_grows_at``); a make's daily calls start again the
    next day. Whichever leaves less room decides.
    """
    rooms: list[tuple[int, Due]] = []
    if monthly_budget is not None:
        grows = Due(cadence.allowance_grows_at(monthly_budget, spent_month, now), DueReason.BUDGET)
        rooms.append((cadence.pro_rata_allowance(monthly_budget, now) - spent_month, grows))
    if daily_calls is not None:
        rooms.append((daily_calls - spent_today, Due(cadence.next_day(now), DueReason.BRAND_LIMIT)))
    if not rooms:
        return None, None
    room, more = min(rooms, key=lambda item: item[0])
    return max(room, 0), more


def vehicle_back_off(*, kind: str, failures: int, retry_after: float | None, now: datetime) -> Due:
    """How long the vehicle is left alone after an answer that concerns it whole (answers.ForVehicle ``kind``).

    Rate limited: its Retry-After. The car maker's calls of the day spent: until the next day (UTC), plus a few minutes
    of jitter so that a fleet's vehicles do not all come back at midnight. Asleep, unreachable, access lost: base ×
    2^(failures-1), capped, jittered.
    """
    if kind == ForVehicle.RATE_LIMITED:
        return Due(now + timedelta(seconds=retry_after or settings.SYNC_RETRY_BASE_SECONDS), DueReason.RATE_LIMIT)
    if kind == ForVehicle.QUOTA_SPENT:
        # The reference names UPSTREAM:RATE_LIMIT ("a request fails due to a vehicle rate limit", changelog__2022.md,
        # May 5, 2022) but not when such a limit renews; a car maker that counts calls a day counts them by day.
        return Due(cadence.next_day(now) + cadence.jittered(300, spread=1.0), DueReason.BRAND_LIMIT)
    wait = cadence.exponential(settings.SYNC_BACKOFF_BASE_SECONDS, settings.SYNC_BACKOFF_MAX_SECONDS, failures)
    return Due(now + wait, DueReason.BACK_OFF)


def vehicle_next_due(
    *,
    endpoints_due: list[datetime],
    now: datetime,
    asked: bool,
    allowance: Due | None = None,
    back_off: Due | None = None,
    held_back_off: Due | None = None,
) -> Due:
    """When the vehicle's next round is, and what decided it.

    ``endpoints_due``: due times of the endpoints it polls for its activity; ``asked``: this round read something;
    ``allowance``: when its budget or its make's daily calls next have room, when they left due paths out of this
    round; ``back_off``: the back-off this round's answers asked for; ``held_back_off``: the one still running from
    before.
    """
    due = Due(min(endpoints_due, default=now + IDLE_RECHECK), DueReason.ACTIVITY)
    for later in (allowance, back_off):
        if later is not None:
            due = _later(due, later)
    if not asked:
        # Nothing was read (back-off, brand limit, budget): never come straight back for the same answer.
        due = _later(due, Due(now + ROUND_GATHER, due.why))
        if held_back_off is not None:
            due = _later(due, held_back_off)
    return due


def _later(due: Due, other: Due) -> Due:
    return other if other.at > due.at else due
