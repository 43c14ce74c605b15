"""Limits, latency, injected faults and billing of the simulated vehicle API (single calls and batch members alike).

Configured globally in ``FaultSettings`` (admin) and per vehicle (``Vehicle.latency_ms``,
``requests_per_minute``, ``fault_rate``). A vehicle can also be made to answer one documented error
on every request with ``Vehicle.state["force_error"] = "TYPE:CODE"`` (admin: edit the state), or on
some paths only with ``{"odometer": "TYPE:CODE", "tesla/charge": …}`` (a key ``"batch:tesla/charge"``
applies inside a batch only), which is how each error of the table can be produced on demand.

Real-world limits count real time (a per-minute rate limit, Hyundai/Kia's daily quota, billing
days), not the simulated clock: they are what the app's request budget meets.
"""

import math
import random
import time
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Sum
from django.utils import timezone

from simulator.errors import ApiError
from simulator.models import BillingCounter, FaultSettings, RequestCounter, Vehicle

# Reference: the brand quirks — Hyundai and Kia answer about 20 requests a day per vehicle.
DAILY_QUOTA_MAKES = {"HYUNDAI", "KIA"}
DAILY_QUOTA = 20
# The longest a simulated timeout hangs before answering UPSTREAM:NO_RESPONSE; longer than the
# documented 300 s ceiling of an OEM round trip, so a client gives up first.
DEFAULT_TIMEOUT_SECONDS = 330.0

_random = random.Random()  # noqa: S311 (fault injection, not security)


def fault_settings() -> FaultSettings:
    """The global fault settings. (Vehicle requests read them in their one query: simulator/access.py.)"""
    return FaultSettings.current()


# --- rate limit ---------------------------------------------------------------------------------


def check_rate_limit(vehicle: Vehicle, faults: FaultSettings) -> None:
    """429 RATE_LIMIT:VEHICLE with Retry-After once a vehicle exceeds its requests per real minute.

    Counted in the database, not in a process's memory: several server processes share one limit, as Smartcar's.
    """
    limit = vehicle.requests_per_minute or faults.requests_per_minute
    if not limit:
        return
    now = time.time()
    minute = int(now // 60)
    count = _count_request(vehicle, minute)
    if count > limit:
        retry_after = max(1, math.ceil((minute + 1) * 60 - now))
        raise ApiError("RATE_LIMIT", "VEHICLE", retry_after=retry_after)


def _count_request(vehicle: Vehicle, minute: int) -> int:
    """This request counted in the vehicle's minute; returns the minute's count with it.

    One statement counts and answers (an upsert returning the count, PostgreSQL and SQLite alike): a count read after
    the write would include a request another process counted meanwhile, and refuse both.
    """
    table = connection.ops.quote_name(RequestCounter._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (vehicle_id, minute, requests) VALUES (%s, %s, 1) "  # noqa: S608 (table name)
            f"ON CONFLICT (vehicle_id, minute) DO UPDATE SET requests = {table}.requests + 1 RETURNING requests",
            [vehicle.pk, minute],
        )
        count = cursor.fetchone()[0]
    if count == 1:  # the minute's first request
        RequestCounter.objects.filter(vehicle=vehicle, minute__lt=minute - 1).delete()
    return count


# --- latency ------------------------------------------------------------------------------------


def latency_seconds(vehicle: Vehicle, faults: FaultSettings) -> float:
    if vehicle.latency_ms is not None:
        return vehicle.latency_ms / 1000
    if faults.realistic_latency:
        # Real OEM round trips: most between 3 and 45 s (median about 9 s), rarely up to 300 s.
        return min(max(_random.lognormvariate(math.log(9), 0.65), 1.5), 300.0)
    return faults.latency_ms / 1000


def wait(seconds: float) -> None:
    """Sleep ``seconds`` (an OEM round trip)."""
    if seconds <= 0:
        return
    if seconds >= 0.5 and not connection.in_atomic_block:
        # A thread that sleeps for an OEM round trip should not hold a database connection, so
        # hundreds of requests can wait at once without exhausting the database's connections.
        connection.close()
    time.sleep(seconds)


# --- injected faults ----------------------------------------------------------------------------


@dataclass
class Injected:
    kind: str  # "error", "timeout" or "malformed"
    error: ApiError | None = None


def may_inject(vehicle: Vehicle, faults: FaultSettings) -> bool:
    if vehicle.fault_rate is not None:
        return vehicle.fault_rate > 0
    return bool(faults.upstream_rate or faults.asleep_rate or faults.timeout_rate or faults.malformed_rate)


def draw_fault(vehicle: Vehicle, faults: FaultSettings) -> Injected | None:
    """An injected fault for this request, or None.

    The global rates are chances per request of each kind; a vehicle's ``fault_rate`` replaces their
    sum, keeping their proportions (all kinds alike when every global rate is zero).
    """
    rates = {
        "upstream": faults.upstream_rate,
        "asleep": faults.asleep_rate,
        "timeout": faults.timeout_rate,
        "malformed": faults.malformed_rate,
    }
    total = sum(rates.values())
    if vehicle.fault_rate is not None:
        if total <= 0:
            rates = dict.fromkeys(rates, 1.0)
            total = 4.0
        rates = {kind: rate / total * vehicle.fault_rate for kind, rate in rates.items()}
    draw = _random.random()
    for kind, rate in rates.items():
        if draw < rate:
            return _fault(kind)
        draw -= rate
    return None


def pick(items: list):
    return _random.choice(items)


def _fault(kind: str) -> Injected:
    if kind == "upstream":
        code = _random.choice(["UNKNOWN_ISSUE", "NO_RESPONSE", "KNOWN_ISSUE", "INVALID_DATA"])
        return Injected("error", ApiError("UPSTREAM", code))
    if kind == "asleep":
        return Injected("error", ApiError("VEHICLE_STATE", _random.choice(["ASLEEP", "UNREACHABLE"])))
    return Injected(kind)


def timeout_seconds() -> float:
    return float(getattr(settings, "SIMULATOR_TIMEOUT_SECONDS", DEFAULT_TIMEOUT_SECONDS))


# --- billing and daily quotas -------------------------------------------------------------------


def billing_day():
    return timezone.now().date()


def calls_today(vehicle: Vehicle) -> int:
    row = BillingCounter.objects.filter(vehicle=vehicle, day=billing_day()).values_list("calls", flat=True).first()
    return row or 0


def quota_left(vehicle: Vehicle) -> int | None:
    """Requests this vehicle's OEM still answers today (None: no daily quota for this make)."""
    if vehicle.make not in DAILY_QUOTA_MAKES:
        return None
    return max(DAILY_QUOTA - calls_today(vehicle), 0)


def bill(vehicle: Vehicle, calls: int) -> None:
    """Count ``calls`` billed calls for ``vehicle`` today (each path of a batch is one call)."""
    if calls <= 0:
        return
    day = billing_day()
    if BillingCounter.objects.filter(vehicle=vehicle, day=day).update(calls=F("calls") + calls):
        return
    try:
        with transaction.atomic():
            BillingCounter.objects.create(vehicle=vehicle, day=day, calls=calls)
    except IntegrityError:  # created meanwhile by a concurrent request
        BillingCounter.objects.filter(vehicle=vehicle, day=day).update(calls=F("calls") + calls)


def billed_calls(*, vehicle: Vehicle | None = None, day=None) -> int:
    """Billed calls, for one vehicle or all, on one day or ever — what benchmarks read."""
    rows = BillingCounter.objects.all()
    if vehicle is not None:
        rows = rows.filter(vehicle=vehicle)
    if day is not None:
        rows = rows.filter(day=day)
    return rows.aggregate(total=Sum("calls"))["total"] or 0
