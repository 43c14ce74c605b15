"""The background sync engine: lease due vehicles, fetch their due paths, store what came back.

Flow of one round (``vehicles_sync``, run by the ``vehicles.tasks.sync_vehicles`` task):

1. *Plan* (database, calling thread): for each leased vehicle, its poll set (vehicles/catalogue.py) minus parked and
   denied endpoints, the paths due now, trimmed to the monthly budget (vehicles/cadence.py).
2. *Fetch* (HTTP only, a pool of threads): one batch per vehicle — or one call per path when the fleet turned batch
   off — with many vehicles in flight at once (settings.SYNC_WORKER_CONCURRENCY). The threads do no parsing beyond
   the client's and touch no database, so they stay free for the network (the calibration in issue 5: httpx's sync
   client in a thread pool was the cheapest client side).
3. *Store* (database, calling thread, as each vehicle's answer arrives): one transaction per vehicle writes the
   endpoint states, the typed status, history rows for changed values, DTCs and system statuses, and the vehicle's
   next due time — and releases its lease. A failing vehicle only affects its own transaction.

Leases: ``vehicles_lease_due`` claims rows with a conditional UPDATE … WHERE lease is free, which is atomic on
PostgreSQL and SQLite alike, so several dispatchers or workers never hold the same vehicle. A lease expires
(settings.SYNC_LEASE_SECONDS), so a crashed worker's vehicles become due again; a re-delivered task (late ack)
carries the same lease token and simply runs the round again — the unique keys make its writes harmless.
"""

import json
import logging
import queue
import secrets
import threading
import time
from collections import defaultdict
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from connect.client import ApiResponse, SmartcarClient
from connect.errors import (
    AuthenticationError,
    BillingError,
    CompatibilityError,
    PermissionDeniedError,
    RateLimitError,
    ResourceNotFoundError,
    SmartcarError,
    VehicleStateError,
)
from connect.models import AccountStatus, SmartcarAccount
from fleet.models import Membership, Role
from fleet.outbox import enqueue
from vehicles import cadence
from vehicles.catalogue import Endpoint, Freshness, endpoint_by_path, endpoints_for
from vehicles.models import (
    Activity,
    DiagnosticTroubleCode,
    EndpointState,
    FleetSync,
    StatusHistory,
    SyncCounter,
    SyncState,
    SystemStatus,
    Vehicle,
    VehicleStatus,
    VehicleSync,
)
from vehicles.readings import HISTORY_FIELDS, UnreadableBody, read

logger = logging.getLogger(__name__)

# VEHICLE_STATE codes that mean "the vehicle cannot be reached now": back off the whole vehicle.
UNAVAILABLE_CODES = {"ASLEEP", "UNREACHABLE", "VEHICLE_OFFLINE_FOR_SERVICE"}
# Endpoints due within this much of the round's start join the round: one batch instead of two a minute apart.
ROUND_GATHER = timedelta(seconds=90)
# Vehicles whose answers are stored in one transaction, and how long (seconds) an answer may wait for a group.
STORE_GROUP = 50
STORE_WAIT = 0.5
# Vehicles whose rows are read, and plans made, before their requests are submitted.
PLAN_CHUNK = 50
# Moved farther than this between two location readings: driving.
DRIVING_DISTANCE_DEGREES = 0.001  # ≈ 100 m


# --- Leases ---------------------------------------------------------------------------------------------------------


def vehicles_ensure_sync_rows() -> int:
    """A scheduling row for every connected vehicle that has none yet (new connections become due at once)."""
    missing = Vehicle.objects.filter(sync__isnull=True, disconnected_at__isnull=True).values_list("pk", flat=True)
    rows = [VehicleSync(vehicle_id=pk) for pk in missing]
    VehicleSync.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)


def _lease_free(now: datetime) -> Q:
    return Q(lease_until__isnull=True) | Q(lease_until__lt=now)


def _syncable(now: datetime) -> Q:
    """Connected vehicles of active accounts in fleets whose polling is not paused."""
    return (
        Q(vehicle__disconnected_at__isnull=True)
        & Q(vehicle__account__status=AccountStatus.ACTIVE)
        & ~Q(vehicle__fleet__sync__paused_until__gt=now)
    )


def vehicles_lease(*, vehicle_ids: Iterable[int], now: datetime | None = None) -> tuple[str, list[int]]:
    """Claim these vehicles if nobody holds them: (lease token, the ids actually claimed)."""
    now = now or timezone.now()
    token = secrets.token_hex(8)
    ids = list(vehicle_ids)
    if not ids:
        return token, []
    # The conditional UPDATE is the claim: on PostgreSQL a concurrent UPDATE of the same row waits and then
    # re-checks the WHERE clause, so exactly one claimant's row count includes the row.
    VehicleSync.objects.filter(_lease_free(now), vehicle_id__in=ids).update(
        lease_until=now + timedelta(seconds=settings.SYNC_LEASE_SECONDS), lease_token=token
    )
    claimed = list(VehicleSync.objects.filter(lease_token=token).values_list("vehicle_id", flat=True))
    return token, claimed


def vehicles_lease_due(*, now: datetime | None = None, limit: int | None = None) -> tuple[str, list[int]]:
    """Claim up to ``limit`` vehicles that have something due, oldest due first."""
    now = now or timezone.now()
    limit = limit or settings.SYNC_DISPATCH_LIMIT
    vehicles_ensure_sync_rows()
    due = (
        VehicleSync.objects.filter(_syncable(now), _lease_free(now))
        .filter(Q(next_sync_at__isnull=True) | Q(next_sync_at__lte=now))
        .order_by(F("next_sync_at").asc(nulls_first=True))
        .values_list("vehicle_id", flat=True)[:limit]
    )
    return vehicles_lease(vehicle_ids=list(due), now=now)


def _hold(vehicle_ids: list[int], token: str, now: datetime) -> list[int]:
    """Renew our lease on these vehicles; the ones another claimant took since are dropped from the round."""
    VehicleSync.objects.filter(vehicle_id__in=vehicle_ids, lease_token=token).update(
        lease_until=now + timedelta(seconds=settings.SYNC_LEASE_SECONDS)
    )
    return list(
        VehicleSync.objects.filter(vehicle_id__in=vehicle_ids, lease_token=token).values_list("vehicle_id", flat=True)
    )


# --- Sync now ---------------------------------------------------------------------------------------------------------


def vehicle_sync_now(*, vehicle: Vehicle, paths: Iterable[str] | None = None) -> None:
    """Fetch these paths (default: the whole poll set) of the vehicle at once, whatever their cadence.

    Used by the "Sync now" button and admin action, and by webhook events for a targeted sync. The fetch runs in a
    task after the transaction commits; a back-off (asleep, rate limited) is still honoured, never a wake-up.
    """
    from vehicles.tasks import sync_vehicle_now

    now = timezone.now()
    VehicleSync.objects.get_or_create(vehicle=vehicle)
    states = _ensure_endpoint_states(vehicle, endpoints_for(vehicle.make, vehicle.permissions))
    wanted = set(paths) if paths is not None else None
    due = [s.pk for s in states.values() if wanted is None or s.path in wanted]
    EndpointState.objects.filter(pk__in=due).update(next_sync_at=now)
    VehicleSync.objects.filter(vehicle=vehicle).update(next_sync_at=now, requested_at=now)
    # With the broker down the request still stands: the vehicle is due now, and the dispatcher takes it.
    enqueue(sync_vehicle_now, vehicle.pk)


def fleet_sync_resume(*, fleet_sync: FleetSync) -> None:
    """An owner resumes polling after a billing pause (e.g. after upgrading the plan)."""
    FleetSync.objects.filter(pk=fleet_sync.pk).update(paused_until=None, alert="")
    VehicleStatus.objects.filter(vehicle__fleet_id=fleet_sync.pk, sync_state=SyncState.PAUSED).update(
        sync_state=SyncState.OK
    )


# --- One round ----------------------------------------------------------------------------------------------------


@dataclass
class Plan:
    vehicle: Vehicle
    sync: VehicleSync
    status: VehicleStatus
    states: dict[str, EndpointState]  # by concrete path
    endpoints: dict[str, Endpoint]  # the poll set, by concrete path
    paths: list[str]  # due now, to fetch
    use_batch: bool
    fleet_sync: FleetSync
    budget_wait: timedelta | None = None  # set when the budget left due paths out of this round
    access_token: str = field(repr=False, default="")


@dataclass
class Outcome:
    results: dict[str, ApiResponse | SmartcarError] = field(default_factory=dict)
    requests: int = 0
    error: SmartcarError | None = None  # the whole request failed (auth, rate limit, transport…)


@dataclass
class RoundReport:
    leased: int = 0
    synced: int = 0
    skipped: int = 0
    paths: int = 0
    errors: int = 0
    seconds: float = 0.0
    store_seconds: float = 0.0


_pool_lock = threading.Lock()
_pool: tuple[int, ThreadPoolExecutor] | None = None


def _interleaves_writes() -> bool:
    """Whether the database lets this thread write while the fetch threads' requests are being answered.

    PostgreSQL does. SQLite has one writer at a time: when the simulator answers in-process, its request threads
    write too (billing counters, vehicle state). A file database with WAL waits for the lock (busy timeout), but
    the shared in-memory database of the SQLite test run answers "table is locked" at once. On SQLite the round
    therefore plans everything, then fetches, then stores — never writing while a request is in flight.
    """
    return connection.vendor != "sqlite"


def _fetch_pool() -> ThreadPoolExecutor:
    """One pool per process, sized by the per-worker concurrency setting (a fork gets its own pool)."""
    import os

    global _pool
    with _pool_lock:
        size = settings.SYNC_WORKER_CONCURRENCY
        if connection.vendor == "sqlite" and "memory" in str(connection.settings_dict["NAME"]):
            size = 1  # see _interleaves_writes: the simulator's own writes cannot overlap there either
        if _pool is None or _pool[0] != os.getpid() or _pool[1]._max_workers != size:
            _pool = (os.getpid(), ThreadPoolExecutor(max_workers=size, thread_name_prefix="sync-fetch"))
        return _pool[1]


def _fetch_batch(smartcar_id: str, access_token: str, paths: list[str]) -> Outcome:
    # Reference: smartcar-api/batch.md — "Each endpoint in the batch counts against your request limit".
    try:
        return Outcome(results=SmartcarClient(access_token).batch(smartcar_id, paths), requests=1)
    except SmartcarError as exc:
        return Outcome(requests=1, error=exc)


def _fetch_one(smartcar_id: str, access_token: str, path: str) -> tuple[str, ApiResponse | SmartcarError]:
    suffix = "" if path == "/" else path
    try:
        return path, SmartcarClient(access_token).request("GET", f"/vehicles/{smartcar_id}{suffix}")
    except SmartcarError as exc:
        return path, exc


def _ensure_endpoint_states(vehicle: Vehicle, endpoints: list[Endpoint]) -> dict[str, EndpointState]:
    paths = [e.path_for(vehicle.make) for e in endpoints]
    existing = {s.path: s for s in EndpointState.objects.filter(vehicle=vehicle)}
    missing = [EndpointState(vehicle=vehicle, path=p) for p in paths if p not in existing]
    if missing:
        EndpointState.objects.bulk_create(missing, ignore_conflicts=True)
        existing = {s.path: s for s in EndpointState.objects.filter(vehicle=vehicle)}
    return existing


def _poll_set(vehicle: Vehicle, states: dict[str, EndpointState], now: datetime) -> dict[str, Endpoint]:
    """Granted ∩ make's endpoints, minus those parked after a 501 or denied (403) under the current permissions."""
    poll: dict[str, Endpoint] = {}
    for endpoint in endpoints_for(vehicle.make, vehicle.permissions):
        path = endpoint.path_for(vehicle.make)
        state = states.get(path)
        if state is not None:
            if state.parked_until and state.parked_until > now:
                continue
            if state.denied_with_permissions is not None and sorted(state.denied_with_permissions) == sorted(
                vehicle.permissions or []
            ):
                continue
        poll[path] = endpoint
    return poll


def _prefetch(vehicles: list[Vehicle]) -> tuple[dict[int, VehicleStatus], dict[int, dict[str, EndpointState]]]:
    """Status rows and endpoint states of all the round's vehicles in a few queries (created where missing)."""
    ids = [v.pk for v in vehicles]
    statuses = {s.vehicle_id: s for s in VehicleStatus.objects.filter(vehicle_id__in=ids)}
    missing_status = [VehicleStatus(vehicle=v) for v in vehicles if v.pk not in statuses]
    if missing_status:
        VehicleStatus.objects.bulk_create(missing_status, ignore_conflicts=True)
        statuses = {s.vehicle_id: s for s in VehicleStatus.objects.filter(vehicle_id__in=ids)}
    states: dict[int, dict[str, EndpointState]] = defaultdict(dict)
    for state in EndpointState.objects.filter(vehicle_id__in=ids):
        states[state.vehicle_id][state.path] = state
    missing = [
        EndpointState(vehicle=v, path=e.path_for(v.make))
        for v in vehicles
        for e in endpoints_for(v.make, v.permissions)
        if e.path_for(v.make) not in states[v.pk]
    ]
    if missing:
        _insert_new(EndpointState, missing)
        for state in EndpointState.objects.filter(vehicle_id__in={m.vehicle_id for m in missing}):
            states[state.vehicle_id].setdefault(state.path, state)
    return statuses, states


def _plan(
    vehicle: Vehicle, fleet_sync: FleetSync, status: VehicleStatus, states: dict[str, EndpointState], now: datetime
) -> Plan:
    sync = vehicle.sync
    poll = _poll_set(vehicle, states, now)
    wanted = {
        path: e
        for path, e in poll.items()
        if cadence.is_wanted_now(e, activity=status.activity, is_plugged_in=status.is_plugged_in)
    }
    requested = sync.requested_at is not None
    due = [
        p for p, _ in wanted.items() if states[p].next_sync_at is None or states[p].next_sync_at <= now + ROUND_GATHER
    ]
    if sync.backoff_until and sync.backoff_until > now:
        # Asleep, unreachable or rate limited: not even "Sync now" asks before the back-off ends (never wake a car).
        due = []
    # Brand limits: no more than one round per minimum interval, unless someone asked for this sync.
    min_interval = cadence.make_min_interval(vehicle.make)
    if not requested and min_interval and status.last_sync_at and status.last_sync_at + min_interval > now:
        due = []
    within = _within_budget(sync, fleet_sync, due, wanted, now)
    plan = Plan(vehicle, sync, status, states, poll, within, fleet_sync.use_batch, fleet_sync)
    if len(within) < len(due):
        budget = fleet_sync.monthly_call_budget_per_vehicle or 1
        plan.budget_wait = timedelta(seconds=30 * 86400 / budget * (len(due) - len(within)))
    return plan


def _within_budget(sync: VehicleSync, fleet_sync: FleetSync, due: list[str], endpoints: dict, now: datetime) -> list:
    budget = fleet_sync.monthly_call_budget_per_vehicle
    if budget is None or not due:
        return due
    spent = sync.billed_calls_month if sync.month == cadence.month_start(now.date()) else 0
    room = cadence.pro_rata_allowance(budget, now) - spent
    if room >= len(due):
        return due
    if room <= 0:
        return []
    # Keep the paths that buy freshness; static data waits for the allowance to accrue.
    rank = {freshness: i for i, freshness in enumerate(reversed(cadence.SHED_ORDER))}
    return sorted(due, key=lambda p: rank[endpoints[p].freshness])[:room]


def vehicles_sync(*, vehicle_ids: Iterable[int], lease_token: str) -> RoundReport:
    """Run one round for the leased vehicles: plan, fetch concurrently, store each as it arrives."""
    now = timezone.now()
    started = time.monotonic()
    report = RoundReport()
    held = _hold(list(vehicle_ids), lease_token, now)
    report.leased = len(held)
    tokens: dict[int, str | None] = {}
    fleet_syncs: dict[int, FleetSync] = {}
    pool = _fetch_pool()
    futures: dict[Future, Plan] = {}
    partial: dict[int, Outcome] = {}
    waiting: dict[int, int] = {}
    interleave = _interleaves_writes()
    deferred: list[tuple] = []

    # Finished fetches, in the order they finish (a future's callback puts it here): O(1) per answer, where
    # concurrent.futures.wait walks every pending future on each call.
    finished: queue.SimpleQueue[Future] = queue.SimpleQueue()

    def launch(plan: Plan, function, arguments) -> None:
        future = pool.submit(function, *arguments)
        futures[future] = plan
        future.add_done_callback(finished.put)

    def submit(plan: Plan, function, *arguments):
        if interleave:
            launch(plan, function, arguments)
        else:
            deferred.append((plan, function, arguments))

    # Planned a chunk at a time, and each vehicle submitted as soon as it is planned: the first requests are on
    # the wire after one chunk's queries, and the rest of the planning overlaps with their round trips.
    held.sort()
    for start in range(0, len(held), PLAN_CHUNK):
        chunk = list(
            Vehicle.objects.filter(pk__in=held[start : start + PLAN_CHUNK])
            .select_related("sync", "account", "fleet")
            .order_by("pk")
        )
        statuses, states = _prefetch(chunk)
        for vehicle in chunk:
            plan = _plan_vehicle(vehicle, statuses, states, now, lease_token, tokens, fleet_syncs, report)
            if plan is None:
                continue
            if plan.use_batch:
                submit(plan, _fetch_batch, plan.vehicle.smartcar_id, plan.access_token, plan.paths)
            else:
                # Batch is a paid-plan feature: without it each due path is its own call, all in flight at once.
                partial[plan.vehicle.pk] = Outcome()
                waiting[plan.vehicle.pk] = len(plan.paths)
                for path in plan.paths:
                    submit(plan, _fetch_one, plan.vehicle.smartcar_id, plan.access_token, path)
    for plan, function, arguments in deferred:
        launch(plan, function, arguments)
    counts: dict[int, list[int]] = defaultdict(lambda: [0, 0])  # fleet id → [requests, billed calls]
    ready: list[tuple[Plan, Outcome]] = []

    def collect(future: Future) -> None:
        plan = futures[future]
        if plan.use_batch:
            outcome = future.result()
        else:
            path, result = future.result()
            outcome = partial[plan.vehicle.pk]
            outcome.results[path] = result
            outcome.requests += 1
            waiting[plan.vehicle.pk] -= 1
            if waiting[plan.vehicle.pk]:
                return
        counts[plan.vehicle.fleet_id][0] += outcome.requests
        counts[plan.vehicle.fleet_id][1] += len(plan.paths)
        ready.append((plan, outcome))

    remaining = len(futures)
    renew_every = settings.SYNC_LEASE_SECONDS / 3
    renew_at = time.monotonic() + renew_every
    waiting_since: float | None = None  # when the oldest answer not yet stored arrived
    while remaining or ready:
        if interleave:
            # Answers are stored in groups, one transaction each: a commit (and a handful of statements) per
            # vehicle would make the database the pace of the round. An answer waits at most STORE_WAIT for
            # others to share its group.
            done = _finished_within(finished, 0.1)
            remaining -= len(done)
            if remaining and time.monotonic() >= renew_at:
                # A round can outlast its lease (many calls per vehicle without batch, slow OEMs): renew it for
                # the vehicles still in flight, so that no other round takes them meanwhile.
                in_flight = {plan.vehicle.pk for future, plan in futures.items() if not future.done()}
                _hold(sorted(in_flight), lease_token, timezone.now())
                renew_at = time.monotonic() + renew_every
        else:
            # SQLite: every answer is in before the first write.
            done = [finished.get() for _ in range(remaining)]
            remaining = 0
        for future in done:
            collect(future)
        if ready and waiting_since is None:
            waiting_since = time.monotonic()
        while len(ready) >= STORE_GROUP or (
            ready and (not remaining or time.monotonic() - waiting_since >= STORE_WAIT)
        ):
            group, ready[:] = ready[:STORE_GROUP], ready[STORE_GROUP:]
            store_started = time.monotonic()
            _store_group(group, lease_token, report)
            report.store_seconds += time.monotonic() - store_started
            waiting_since = time.monotonic() if ready else None
    _count(counts, now)
    report.seconds = time.monotonic() - started
    logger.info(
        "sync round: %d vehicles, %d paths, %d with errors, %.1f s (%.1f s storing)",
        report.synced,
        report.paths,
        report.errors,
        report.seconds,
        report.store_seconds,
    )
    return report


def _plan_vehicle(
    vehicle: Vehicle,
    statuses: dict[int, VehicleStatus],
    states: dict[int, dict[str, EndpointState]],
    now: datetime,
    lease_token: str,
    tokens: dict[int, str | None],
    fleet_syncs: dict[int, FleetSync],
    report: RoundReport,
) -> Plan | None:
    """The vehicle's plan for this round, or None when it has nothing to fetch (it is then finished here)."""
    if vehicle.fleet_id not in fleet_syncs:
        fleet_syncs[vehicle.fleet_id] = _fleet_sync(vehicle.fleet_id)
    fleet_sync = fleet_syncs[vehicle.fleet_id]
    if fleet_sync.paused_until and fleet_sync.paused_until > now:
        _finish_skipped(vehicle, lease_token, SyncState.PAUSED, fleet_sync.alert)
        report.skipped += 1
        return None
    account = vehicle.account
    if account is None or account.status != AccountStatus.ACTIVE or vehicle.disconnected_at:
        _finish_skipped(vehicle, lease_token, SyncState.NEEDS_RECONNECT, "The Smartcar account needs reconnect.")
        report.skipped += 1
        return None
    if account.pk not in tokens:
        tokens[account.pk] = _access_token(account)
    if tokens[account.pk] is None:
        if account.status == AccountStatus.ACTIVE:
            _finish_skipped(vehicle, lease_token, SyncState.RETRYING, "Smartcar's token endpoint did not answer.")
        else:
            _finish_skipped(vehicle, lease_token, SyncState.NEEDS_RECONNECT, "The Smartcar account needs reconnect.")
        report.skipped += 1
        return None
    plan = _plan(vehicle, fleet_sync, statuses[vehicle.pk], states[vehicle.pk], now)
    plan.access_token = tokens[account.pk]
    if not plan.paths:
        _store(plan, Outcome(), lease_token, now)
        report.skipped += 1
        return None
    return plan


def _finished_within(finished: "queue.SimpleQueue[Future]", timeout: float) -> list[Future]:
    """The fetches finished so far, waiting up to ``timeout`` for the first one."""
    try:
        done = [finished.get(timeout=timeout)]
    except queue.Empty:
        return []
    while True:
        try:
            done.append(finished.get_nowait())
        except queue.Empty:
            return done


def _store_group(group: list[tuple["Plan", "Outcome"]], lease_token: str, report: "RoundReport") -> None:
    now = timezone.now()
    try:
        with transaction.atomic():
            group = _still_leased(group, lease_token)
            writes = GroupWrites()
            for plan, outcome in group:
                _store(plan, outcome, lease_token, now, writes)
            writes.flush(lease_token)
    except Exception:
        # One vehicle's unexpected failure must not cost the others their round: store them one by one; the
        # failing one keeps its lease until it expires and is tried again.
        logger.exception("storing a group of %d vehicles failed; storing them one by one", len(group))
        for plan, outcome in group:
            try:
                with transaction.atomic():
                    if not _still_leased([(plan, outcome)], lease_token):
                        continue
                    _store(plan, outcome, lease_token, now)
            except Exception:
                logger.exception("sync of vehicle %s failed while storing", plan.vehicle.pk)
                report.errors += 1
                continue
            _count_stored(report, plan, outcome)
        return
    for plan, outcome in group:
        _count_stored(report, plan, outcome)


def _still_leased(group: list[tuple["Plan", "Outcome"]], lease_token: str) -> list[tuple["Plan", "Outcome"]]:
    """The group's vehicles this round still holds, locked until the transaction ends.

    A vehicle whose lease ran out and that another round took over is that round's to store: this round's answers
    for it are dropped rather than written over (or beside) the other round's.
    """
    ids = [plan.vehicle.pk for plan, _ in group]
    held = set(
        VehicleSync.objects.select_for_update()
        .filter(vehicle_id__in=ids, lease_token=lease_token)
        .values_list("vehicle_id", flat=True)
    )
    for vehicle_id in sorted(set(ids) - held):
        logger.warning("vehicle %s: its lease passed to another round; this round's answers are dropped", vehicle_id)
    return [(plan, outcome) for plan, outcome in group if plan.vehicle.pk in held]


def _count_stored(report: "RoundReport", plan: "Plan", outcome: "Outcome") -> None:
    report.synced += 1
    report.paths += len(plan.paths)
    report.errors += outcome.error is not None or any(isinstance(r, SmartcarError) for r in outcome.results.values())


def _fleet_sync(fleet_id: int) -> FleetSync:
    fleet_sync, _ = FleetSync.objects.get_or_create(fleet_id=fleet_id)
    return fleet_sync


def _access_token(account: SmartcarAccount) -> str | None:
    from connect.tokens import ReconnectRequired, account_access_token

    try:
        return account_access_token(account=account)
    except ReconnectRequired:
        return None
    except SmartcarError as exc:
        # The token endpoint is down or answered nonsense: the vault keeps the old state; try again next round.
        logger.warning("account %s: no access token (%s); its vehicles wait", account.pk, exc.code or exc.type)
        return None


def _account_needs_reconnect(account_id: int, exc: SmartcarError) -> None:
    from connect.tokens import account_mark_needs_reconnect

    account = SmartcarAccount.objects.filter(pk=account_id).first()
    if account is not None:
        account_mark_needs_reconnect(account=account, reason=exc.user_message)


def _count(counts: dict[int, list[int]], now: datetime) -> None:
    day = now.date()
    for fleet_id, (requests, billed) in counts.items():
        SyncCounter.objects.get_or_create(fleet_id=fleet_id, day=day)
        SyncCounter.objects.filter(fleet_id=fleet_id, day=day).update(
            requests=F("requests") + requests, billed_calls=F("billed_calls") + billed
        )


def _finish_skipped(vehicle: Vehicle, lease_token: str, state: str, message: str) -> None:
    with transaction.atomic():
        VehicleStatus.objects.update_or_create(vehicle=vehicle, defaults={"sync_state": state, "last_error": message})
        # Re-checked at the next dispatch: the account may be reconnected or the fleet resumed.
        VehicleSync.objects.filter(vehicle=vehicle, lease_token=lease_token).update(
            lease_until=None, lease_token="", next_sync_at=timezone.now() + timedelta(minutes=5)
        )


# --- Storing a vehicle's answers ------------------------------------------------------------------------------------


def _activity(plan: Plan, values: dict, bodies: dict[str, object], previous: dict) -> str:
    """What the vehicle is doing, judged from this round's readings; unchanged when they say nothing about it."""
    make = plan.vehicle.make
    status_body = bodies.get(f"/{make.lower()}/status")
    if isinstance(status_body, dict) and status_body.get("status") == "ASLEEP":
        return Activity.ASLEEP
    charging = values.get("charging_state", previous.get("charging_state"))
    if charging == "CHARGING":
        return Activity.CHARGING
    if isinstance(status_body, dict) and status_body.get("gear") in ("DRIVE", "REVERSE"):
        return Activity.DRIVING
    if values.get("speed_kph"):
        return Activity.DRIVING
    moved = False
    if "latitude" in values and previous.get("latitude") is not None:
        moved = (
            abs(values["latitude"] - previous["latitude"]) > DRIVING_DISTANCE_DEGREES
            or abs(values.get("longitude", 0) - (previous.get("longitude") or 0)) > DRIVING_DISTANCE_DEGREES
        )
    if "odometer_km" in values and previous.get("odometer_km") is not None:
        moved = moved or values["odometer_km"] - previous["odometer_km"] > 0.1
    if moved:
        return Activity.DRIVING
    if {"latitude", "charging_state", "odometer_km", "speed_kph"} & values.keys():
        return Activity.PARKED
    return plan.status.activity


def _history_value(value) -> tuple[float | None, str]:
    if isinstance(value, bool):
        return None, "true" if value else "false"
    if isinstance(value, int | float):
        return float(value), ""
    return None, str(value)[:40]


@dataclass
class GroupWrites:
    """Rows of several vehicles written together at the end of a group (one statement each)."""

    states: list[EndpointState] = field(default_factory=list)
    history: list[StatusHistory] = field(default_factory=list)
    statuses: list[VehicleStatus] = field(default_factory=list)
    syncs: list[VehicleSync] = field(default_factory=list)
    dtcs: list[tuple[int, object]] = field(default_factory=list)
    systems: list[tuple[int, object]] = field(default_factory=list)

    def flush(self, lease_token: str = "") -> None:
        _values_update(EndpointState, self.states, STATE_FIELDS)
        if self.history:
            _insert_new(StatusHistory, self.history)
        for status in self.statuses:
            status.updated_at = timezone.now()
        _values_update(VehicleStatus, self.statuses, STATUS_FIELDS)
        # Released only where our lease still holds: a vehicle another worker took over is its to write.
        _values_update(VehicleSync, self.syncs, SYNC_FIELDS, lease_token=lease_token)
        if self.dtcs:
            _store_dtcs(self.dtcs, timezone.now())
        if self.systems:
            _store_system_status(self.systems, timezone.now())
        self.states, self.history, self.statuses, self.syncs, self.dtcs, self.systems = [], [], [], [], [], []


def _store(plan: Plan, outcome: Outcome, lease_token: str, now: datetime, writes: GroupWrites | None = None) -> None:
    vehicle, status = plan.vehicle, plan.status
    values: dict = {}
    bodies: dict[str, object] = {}
    recorded: dict[str, tuple[datetime, datetime]] = {}  # field → (recorded_at, fetched_at)
    changed_states: list[EndpointState] = []
    errors: list[str] = []
    backoff: timedelta | None = None
    reconnect: SmartcarError | None = None
    billing: SmartcarError | None = None
    results = dict(outcome.results)
    if outcome.error is not None:
        results = dict.fromkeys(plan.paths, outcome.error)
    dtc_body = system_body = None
    retried: set[str] = set()  # paths whose next attempt _retry_endpoint already scheduled

    for path in plan.paths:
        state = plan.states[path]
        endpoint = plan.endpoints[path]
        result = results.get(path)
        state.last_attempt_at = now
        if isinstance(result, ApiResponse):
            try:
                path_values = read(endpoint.path, result.body)
            except UnreadableBody as exc:
                logger.warning(
                    "vehicle %s %s: unreadable body (%s) [request %s]", vehicle.pk, path, exc, result.request_id
                )
                _retry_endpoint(state, f"Unreadable answer: {exc}", now)
                retried.add(path)
                errors.append(f"{path}: unreadable answer")
                changed_states.append(state)
                continue
            data_age = result.data_age or now
            state.body = result.body
            state.data_age = result.data_age
            state.fetched_at = result.fetched_at or now
            state.request_id = (result.request_id or "")[:64]
            state.last_success_at = now
            state.failures = 0
            state.last_error = ""
            state.parked_until = None
            state.denied_with_permissions = None
            values.update(path_values)
            bodies[path] = result.body
            for name in path_values:
                recorded[name] = (data_age, now)
            if endpoint.path == "/diagnostics/dtcs":
                dtc_body = result.body
            elif endpoint.path == "/diagnostics/system_status":
                system_body = result.body
            changed_states.append(state)
            continue
        error = result if isinstance(result, SmartcarError) else None
        if error is None:
            _retry_endpoint(state, "No answer for this path", now)
            retried.add(path)
            changed_states.append(state)
            continue
        summary = f"{path}: {error.type or error.__class__.__name__}:{error.code or ''}"
        state.last_error = str(error)[:300]
        if isinstance(error, RateLimitError):
            retry_after = timedelta(seconds=error.retry_after or settings.SYNC_RETRY_BASE_SECONDS)
            backoff = max(backoff or timedelta(0), retry_after)
        elif isinstance(error, VehicleStateError) and error.code in UNAVAILABLE_CODES:
            failures = plan.sync.backoff_failures + 1
            backoff = max(
                backoff or timedelta(0),
                cadence.exponential(settings.SYNC_BACKOFF_BASE_SECONDS, settings.SYNC_BACKOFF_MAX_SECONDS, failures),
            )
        elif isinstance(error, AuthenticationError) or (
            error.needs_reconnect and outcome.error is not None and not isinstance(error, PermissionDeniedError)
        ):
            # 401, or the whole request refused with REAUTHENTICATE: the grant is gone, only Connect helps.
            reconnect = error
        elif isinstance(error, PermissionDeniedError):
            # Not granted for this vehicle: drop the endpoint until the vehicle's permissions change (reconnect).
            state.denied_with_permissions = list(vehicle.permissions or [])
        elif isinstance(error, BillingError):
            billing = error
        elif isinstance(error, CompatibilityError | ResourceNotFoundError):
            # 501: this vehicle cannot serve it (yet); 404: the platform does not know the path for it. Either way
            # asking again soon only spends budget: park it for days, then probe once.
            state.parked_until = now + timedelta(days=settings.SYNC_COMPATIBILITY_PARK_DAYS)
        elif isinstance(error, VehicleStateError):
            # e.g. CHARGING_PLUG_NOT_CONNECTED: a normal answer in this state; ask again at the usual cadence.
            state.failures = 0
        elif error.needs_reconnect:
            # One path refused with REAUTHENTICATE (e.g. /tesla/virtual_key answering CONNECTED_SERVICES_ACCOUNT:
            # VEHICLE_MISSING to a driver's account) concerns that feature of that vehicle, not the account's grant:
            # the other paths answered. Park it like an unsupported endpoint and show the owner's message.
            state.parked_until = now + timedelta(days=settings.SYNC_COMPATIBILITY_PARK_DAYS)
            state.last_error = error.user_message[:300]
        else:
            _retry_endpoint(state, str(error), now)
            retried.add(path)
        errors.append(summary)
        changed_states.append(state)

    previous = {name: getattr(status, name) for name in (*HISTORY_FIELDS, "activity")}
    activity = _activity(plan, values, bodies, previous) if values else plan.status.activity
    webhook = vehicle.webhook_subscribed
    fleet_sync = plan.fleet_sync
    stretch = cadence.budget_stretch(
        list(plan.endpoints.values()),
        monthly_budget=fleet_sync.monthly_call_budget_per_vehicle,
        webhook_subscribed=webhook,
    )
    succeeded = {p for p in plan.paths if isinstance(results.get(p), ApiResponse)}
    plugged_in = values.get("is_plugged_in", status.is_plugged_in)
    wanted_next = [
        path
        for path, endpoint in plan.endpoints.items()
        if cadence.is_wanted_now(endpoint, activity=activity, is_plugged_in=plugged_in)
    ]
    for path in wanted_next:
        endpoint, state = plan.endpoints[path], plan.states[path]
        seconds = cadence.interval_for(endpoint, activity=activity, webhook_subscribed=webhook, stretch=stretch)
        interval = timedelta(seconds=seconds)
        if path in plan.paths:
            if path not in retried:
                state.next_sync_at = now + interval
        elif state.next_sync_at is None:
            # New to the poll set (e.g. charging started, so the wattmeter is worth asking): it joins the next round
            # of its class rather than forcing a round of its own right now.
            state.next_sync_at = now + interval
        elif activity != plan.status.activity and state.next_sync_at > now + interval:
            # Just started driving or charging: bring the fast signals forward to the new, shorter interval.
            state.next_sync_at = now + interval
        else:
            continue
        if state not in changed_states:
            changed_states.append(state)

    history = []
    for name in HISTORY_FIELDS:
        if name in values and values[name] != previous.get(name):
            number, text = _history_value(values[name])
            recorded_at, fetched_at = recorded[name]
            history.append(
                StatusHistory(
                    vehicle=vehicle,
                    field=name,
                    number=number,
                    text=text,
                    recorded_at=recorded_at,
                    fetched_at=fetched_at,
                )
            )

    due_times = [plan.states[p].next_sync_at for p in wanted_next if plan.states[p].next_sync_at is not None]
    next_sync_at = min(due_times) if due_times else now + timedelta(hours=1)
    if plan.budget_wait is not None:
        # Paths were left out to stay within the budget: come back when the allowance has grown.
        next_sync_at = max(next_sync_at, now + plan.budget_wait)
    sync_state = SyncState.RETRYING if retried else SyncState.OK
    backoff_failures = 0
    if backoff is not None:
        backoff_until = now + backoff
        next_sync_at = max(next_sync_at, backoff_until)
        sync_state = SyncState.BACKING_OFF
        backoff_failures = plan.sync.backoff_failures + 1
    min_interval = cadence.make_min_interval(vehicle.make)
    last_round = now if plan.paths else status.last_sync_at
    if min_interval and last_round:
        next_sync_at = max(next_sync_at, last_round + min_interval)
    if not plan.paths:
        # Nothing was fetched (back-off, brand limit, budget): never come straight back for the same answer.
        next_sync_at = max(next_sync_at, now + ROUND_GATHER, plan.sync.backoff_until or now)
    if reconnect is not None:
        sync_state = SyncState.NEEDS_RECONNECT
    if billing is not None:
        sync_state = SyncState.PAUSED

    # No savepoint: inside a group's transaction a failure rolls the group back and it is stored one by one.
    with transaction.atomic(savepoint=False):
        if writes is not None:
            writes.states += changed_states
            writes.history += history
        else:
            GroupWrites(changed_states, history).flush()  # status and sync row follow below
        group = writes if writes is not None else GroupWrites()
        if dtc_body is not None:
            group.dtcs.append((vehicle.pk, dtc_body))
        if system_body is not None:
            group.systems.append((vehicle.pk, system_body))
        if writes is None:
            group.flush()
        for name, value in values.items():
            setattr(status, name, value)
        status.activity = activity
        data_ages = [plan.states[p].data_age for p in succeeded if plan.states[p].data_age]
        if data_ages:
            status.data_age = max([*data_ages, *([status.data_age] if status.data_age else [])])
        status.last_sync_at = now if plan.paths else status.last_sync_at
        if succeeded:
            status.last_success_at = now
        if plan.paths:
            status.sync_state = sync_state
            status.last_error = "; ".join(errors)[:500]
        month = cadence.month_start(now.date())
        spent = len(plan.paths)
        sync_row = plan.sync
        sync_row.next_sync_at = next_sync_at
        sync_row.lease_until, sync_row.lease_token, sync_row.requested_at = None, "", None
        if plan.paths:  # a round without requests learnt nothing about the back-off: keep it
            sync_row.backoff_until = now + backoff if backoff else None
            sync_row.backoff_failures = backoff_failures
        # Only the lease holder changes these rows, so the count read at the round's start is current.
        sync_row.billed_calls_month = (sync_row.billed_calls_month if sync_row.month == month else 0) + spent
        sync_row.month = month
        if writes is not None:
            writes.statuses.append(status)
            writes.syncs.append(sync_row)
        else:
            status.save()
            VehicleSync.objects.filter(vehicle=vehicle, lease_token=lease_token).update(
                **{name: getattr(sync_row, name) for name in SYNC_FIELDS}
            )
    if reconnect is not None and vehicle.account_id:
        _account_needs_reconnect(vehicle.account_id, reconnect)
    if billing is not None:
        fleet_billing_pause(fleet_id=vehicle.fleet_id, error=billing, now=now)


STATE_FIELDS = (
    "next_sync_at",
    "last_attempt_at",
    "last_success_at",
    "body",
    "data_age",
    "fetched_at",
    "request_id",
    "parked_until",
    "denied_with_permissions",
    "failures",
    "last_error",
)


STATUS_FIELDS = tuple(f.name for f in VehicleStatus._meta.concrete_fields if not f.primary_key)
SYNC_FIELDS = (
    "next_sync_at",
    "lease_until",
    "lease_token",
    "requested_at",
    "backoff_until",
    "backoff_failures",
    "billed_calls_month",
    "month",
)


def _column_arrays(model, rows: list, fields: list) -> tuple[list[str], list[list]]:
    """One typed array parameter per column (``%s::<type>[]``) and its values, for ``unnest``.

    A statement with one placeholder per column, whatever the number of rows, costs far less to build and to send
    than one placeholder per value: Django's bulk_update builds a CASE per field per row, and a VALUES list of
    thousands of placeholders spent more of a round's CPU in preparing and splitting the query than the HTTP
    round trips it follows (profiled). Every column type here is adapted by psycopg as it is, except JSON, sent as
    text and cast.
    """
    casts, arrays = [], []
    for f in fields:
        values = [getattr(row, f.attname) for row in rows]
        db_type = f.rel_db_type(connection) if f.is_relation else f.db_type(connection)
        if f.get_internal_type() == "JSONField":
            values = [None if value is None else json.dumps(value, cls=f.encoder) for value in values]
            db_type = "jsonb"
        casts.append(f"%s::{db_type}[]")
        arrays.append(values)
    return casts, arrays


def _values_update(model, rows: list, field_names: Iterable[str], *, lease_token: str | None = None) -> None:
    """Save these fields of many rows in one statement (PostgreSQL), or row by row elsewhere.

    ``lease_token``: only rows still leased with it are written (VehicleSync).
    """
    if not rows:
        return
    field_names = tuple(field_names)
    if connection.vendor != "postgresql":
        for row in rows:
            query = model.objects.filter(pk=row.pk)
            if lease_token is not None:
                query = query.filter(lease_token=lease_token)
            query.update(**{name: getattr(row, name) for name in field_names})
        return
    quote = connection.ops.quote_name
    pk = model._meta.pk
    fields = [model._meta.get_field(name) for name in field_names]
    casts, parameters = _column_arrays(model, rows, [pk, *fields])
    columns = [quote(f.column) for f in fields]
    key = quote(pk.column)
    assignments = ", ".join(f"{column} = v.{column}" for column in columns)
    condition = f"t.{key} = v.{key}"
    if lease_token is not None:
        condition += " AND t.lease_token = %s"
        parameters.append(lease_token)
    sql = (
        f"UPDATE {quote(model._meta.db_table)} AS t SET {assignments} "  # noqa: S608 (identifiers from models)
        f"FROM unnest({', '.join(casts)}) AS v({key}, {', '.join(columns)}) WHERE {condition}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, parameters)


def _insert_new(model, rows: list) -> None:
    """Insert many new rows, skipping those a unique key already holds (``bulk_create(ignore_conflicts=True)``).

    On PostgreSQL one ``INSERT … SELECT FROM unnest`` with a parameter per column (see _column_arrays). The values
    are the instances' own (defaults come from the model's constructor): for models without ``auto_now`` fields.
    """
    if not rows:
        return
    if connection.vendor != "postgresql":
        model.objects.bulk_create(rows, ignore_conflicts=True)
        return
    quote = connection.ops.quote_name
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    casts, parameters = _column_arrays(model, rows, fields)
    columns = ", ".join(quote(f.column) for f in fields)
    sql = (
        f"INSERT INTO {quote(model._meta.db_table)} ({columns}) "  # noqa: S608 (identifiers from models)
        f"SELECT * FROM unnest({', '.join(casts)}) ON CONFLICT DO NOTHING"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, parameters)


def _retry_endpoint(state: EndpointState, message: str, now: datetime) -> None:
    state.failures = min(state.failures + 1, 30)
    state.last_error = message[:300]
    state.next_sync_at = now + cadence.exponential(
        settings.SYNC_RETRY_BASE_SECONDS, settings.SYNC_RETRY_MAX_SECONDS, state.failures
    )


def _store_dtcs(reports: list[tuple[int, object]], now: datetime) -> None:
    """DTCs of several vehicles (vehicle id, /diagnostics/dtcs body): first/last seen, cleared when gone.

    A few statements for the whole group, whatever the number of vehicles and codes.
    """
    # Reference: smartcar-api/get-dtcs.md
    from django.utils.dateparse import parse_datetime

    reported: dict[int, dict[str, datetime | None]] = {}
    for vehicle_id, body in reports:
        codes = reported.setdefault(vehicle_id, {})
        for item in body.get("activeCodes") or []:
            if isinstance(item, dict) and item.get("code"):
                try:
                    at = parse_datetime(item["timestamp"]) if item.get("timestamp") else None
                except (TypeError, ValueError):
                    at = None
                codes[str(item["code"])[:16]] = at
    if not reported:
        return
    cleared, seen = [], []
    open_codes: dict[int, set[str]] = defaultdict(set)
    for dtc in DiagnosticTroubleCode.objects.filter(vehicle_id__in=list(reported), cleared_at__isnull=True):
        open_codes[dtc.vehicle_id].add(dtc.code)
        (seen if dtc.code in reported[dtc.vehicle_id] else cleared).append(dtc.pk)
    if cleared:
        DiagnosticTroubleCode.objects.filter(pk__in=cleared).update(cleared_at=now)
    if seen:
        DiagnosticTroubleCode.objects.filter(pk__in=seen).update(last_seen_at=now)
    new = [
        DiagnosticTroubleCode(vehicle_id=vehicle_id, code=code, reported_at=at, first_seen_at=now, last_seen_at=now)
        for vehicle_id, codes in reported.items()
        for code, at in codes.items()
        if code not in open_codes[vehicle_id]
    ]
    if new:
        DiagnosticTroubleCode.objects.bulk_create(new, ignore_conflicts=True)


def _store_system_status(reports: list[tuple[int, object]], now: datetime) -> None:
    """System statuses of several vehicles (vehicle id, /diagnostics/system_status body), in a few statements."""
    # Reference: smartcar-api/get-system-status.md
    ids = [vehicle_id for vehicle_id, _ in reports]
    current = {(s.vehicle_id, s.system_id): s for s in SystemStatus.objects.filter(vehicle_id__in=ids)}
    new, changed, seen = [], [], []
    for vehicle_id, body in reports:
        for item in body.get("systems") or []:
            if not isinstance(item, dict) or not item.get("systemId"):
                continue
            system_id = str(item["systemId"])[:60]
            status = str(item.get("status") or "")[:20]
            description = str(item.get("description") or "")[:300]
            row = current.get((vehicle_id, system_id))
            if row is None:
                new.append(
                    SystemStatus(
                        vehicle_id=vehicle_id,
                        system_id=system_id,
                        status=status,
                        description=description,
                        changed_at=now,
                        last_seen_at=now,
                    )
                )
            elif (row.status, row.description) != (status, description):
                row.status, row.description, row.changed_at, row.last_seen_at = status, description, now, now
                changed.append(row)
            else:
                seen.append(row.pk)
    if new:
        SystemStatus.objects.bulk_create(new, ignore_conflicts=True)
    if changed:
        SystemStatus.objects.bulk_update(changed, ["status", "description", "changed_at", "last_seen_at"])
    if seen:
        SystemStatus.objects.filter(pk__in=seen).update(last_seen_at=now)


# --- Fleet-wide states ---------------------------------------------------------------------------------------------


def fleet_billing_pause(*, fleet_id: int, error: SmartcarError, now: datetime | None = None) -> None:
    """430 BILLING: pause the whole fleet's polling and tell its owners (once per pause)."""
    now = now or timezone.now()
    alert = (
        f"Polling paused: Smartcar answered a billing error ({error.code or error.type}). {error.user_message} "
        "Resume polling in admin once the plan allows it."
    )[:500]
    FleetSync.objects.get_or_create(fleet_id=fleet_id)
    newly = FleetSync.objects.filter(Q(paused_until__isnull=True) | Q(paused_until__lt=now), fleet_id=fleet_id).update(
        paused_until=now + timedelta(hours=settings.SYNC_BILLING_PAUSE_HOURS), alert=alert
    )
    if not newly:
        return
    logger.warning("fleet %s: polling paused after a billing error [request %s]", fleet_id, error.request_id)
    owners = list(Membership.objects.filter(fleet_id=fleet_id, role=Role.OWNER).values_list("user__email", flat=True))
    if owners:
        send_mail("Fleet: vehicle polling paused", alert, None, owners, fail_silently=True)


def history_prune(*, now: datetime | None = None) -> int:
    """Delete history older than the retention setting; returns the number of rows deleted."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.SYNC_HISTORY_RETENTION_DAYS)
    deleted, _ = StatusHistory.objects.filter(fetched_at__lt=cutoff).delete()
    return deleted


def vehicles_due_count(*, now: datetime | None = None) -> int:
    now = now or timezone.now()
    return (
        VehicleSync.objects.filter(_syncable(now))
        .filter(Q(next_sync_at__isnull=True) | Q(next_sync_at__lte=now))
        .count()
    )


__all__ = [
    "Freshness",
    "endpoint_by_path",
    "fleet_billing_pause",
    "fleet_sync_resume",
    "history_prune",
    "vehicle_sync_now",
    "vehicles_lease",
    "vehicles_lease_due",
    "vehicles_sync",
]
