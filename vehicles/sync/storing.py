"""Storing: a vehicle's answers become its rows; a group of vehicles is written in one transaction.

Two halves, so that a database outage loses nothing: ``vehicle_write`` applies the answers to the vehicle's rows in
memory (no query), once; ``group_store`` writes a group's rows, and may be called again with the same writes after
the database comes back; ``follow_ups_run`` then does what they set off beyond their rows. Every vehicle of a round
goes through them — answered, skipped or with nothing to ask.
"""

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from connect.client import ApiResponse
from connect.errors import SmartcarError, TransportError
from vehicles import cadence
from vehicles.history import Change, history_append
from vehicles.models import (
    DueReason,
    EndpointState,
    SyncCounter,
    SyncState,
    VehicleStatus,
    VehicleSync,
)
from vehicles.readings import HISTORY_FIELDS, UnreadableBody, read_path
from vehicles.status_store import history_value
from vehicles.sync import schedule
from vehicles.sync.activity import activity_from
from vehicles.sync.answers import Effect, ForEndpoint, ForVehicle, effect_of, every_read_refused
from vehicles.sync.diagnostics import dtcs_store, system_statuses_store
from vehicles.sync.fetching import Outcome
from vehicles.sync.planning import Plan
from vehicles.sync.rows import rows_update
from vehicles.unparsed import unparsed_record

logger = logging.getLogger(__name__)

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
    "read_directly",
    "due_reason",
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
    "billed_calls_day",
    "day",
    "next_sync_reason",
)


@dataclass
class VehicleWrite:
    """A vehicle's rows after its round, in memory: the plan's status and sync rows, and these."""

    plan: Plan
    requests: int = 0
    states: list[EndpointState] = field(default_factory=list)  # the endpoint states that changed
    history: list[Change] = field(default_factory=list)
    dtcs: dict | None = None  # the /diagnostics/dtcs body, when read
    systems: dict | None = None  # the /diagnostics/system_status body, when read
    reconnect: SmartcarError | None = None  # the grant is gone: the account waits for reconnect
    billing: SmartcarError | None = None  # the fleet's polling pauses
    failed_paths: int = 0
    # The status values this round changed, and the "Sync now" request as it read it: what else changed meanwhile was
    # written by someone else, and is kept (_meanwhile_keep).
    status_changed: frozenset[str] = frozenset()
    requested_read: datetime | None = None

    @property
    def vehicle_id(self) -> int:
        return self.plan.vehicle.pk


@dataclass
class Readings:
    """Step 1's result: what the round's answers said, path by path."""

    values: dict = field(default_factory=dict)
    bodies: dict[str, object] = field(default_factory=dict)
    recorded: dict[str, datetime] = field(default_factory=dict)  # field → when the vehicle recorded it
    answered: set[str] = field(default_factory=set)
    retry_at: dict[str, datetime] = field(default_factory=dict)  # path → its retry, when its answer asks for one
    errors: list[str] = field(default_factory=list)
    effects: dict[ForVehicle, SmartcarError] = field(default_factory=dict)
    back_off: schedule.Due | None = None  # the vehicle is left alone until then
    unanswered: set[str] = field(default_factory=set)  # paths to retry because Smartcar did not answer at all


def vehicle_write(plan: Plan, outcome: Outcome | None, now: datetime) -> VehicleWrite:
    """A vehicle's answers applied to its rows in memory, in six steps:

    1. Read each asked path's answer into its endpoint state: its values, or what its error does (answers.py).
    2. Judge what the vehicle is doing from the new values.
    3. Schedule each endpoint it polls for that activity (schedule.endpoint_next_due).
    4. Make history rows for the values that changed.
    5. Decide the vehicle's next round, back-off and sync state (schedule.vehicle_next_due).
    6. Update the status and sync rows: values, freshness, billed calls of the month, lease released.

    ``outcome`` is None for a vehicle the round did not ask (skipped, or nothing due).
    """
    read = {name: getattr(plan.status, name) for name in STATUS_FIELDS}
    requested_read = plan.sync.requested_at
    write = _skipped_write(plan, now) if plan.skip is not None else _answers_write(plan, outcome, now)
    write.status_changed = frozenset(name for name, value in read.items() if getattr(plan.status, name) != value)
    write.requested_read = requested_read
    return write


def _answers_write(plan: Plan, outcome: Outcome | None, now: datetime) -> VehicleWrite:
    write = VehicleWrite(plan, requests=outcome.requests if outcome else 0)
    readings = _read_answers(plan, outcome or Outcome(), now, write)  # 1
    activity = activity_from(  # 2
        make=plan.vehicle.make,
        values=readings.values,
        bodies=readings.bodies,
        previous=_previous(plan.status),
        current=plan.status.activity,
    )
    wanted = _schedule_endpoints(plan, readings, activity, now, write)  # 3
    write.history = _history(plan, readings)  # 4
    due, sync_state = _next_round(plan, readings, wanted, now)  # 5
    _update_rows(plan, readings, activity, due, sync_state, now)  # 6
    write.reconnect = readings.effects.get(ForVehicle.RECONNECT)
    write.billing = readings.effects.get(ForVehicle.PAUSE_FLEET)
    write.failed_paths = len(readings.errors)
    return write


def _read_answers(plan: Plan, outcome: Outcome, now: datetime, write: VehicleWrite) -> Readings:
    readings = Readings()
    all_refused = every_read_refused([outcome.answer(p) for p in plan.paths])
    for path in plan.paths:
        state = plan.states[path]
        state.last_attempt_at = now
        write.states.append(state)
        answer = outcome.answer(path)
        if isinstance(answer, ApiResponse):
            _read_answer(plan, path, answer, now, readings, write)
        elif answer is None:
            _retry(state, "No answer for this path", now, readings)
        else:
            readings.errors.append(f"{path}: {answer.type or answer.__class__.__name__}:{answer.code or ''}")
            whole_request = all_refused or path in outcome.whole_failed
            _apply_error(plan, path, answer, whole_request, now, readings)
        if path in outcome.read_directly:
            state.read_directly = True
    return readings


def _read_answer(
    plan: Plan, path: str, answer: ApiResponse, now: datetime, readings: Readings, write: VehicleWrite
) -> None:
    state, endpoint = plan.states[path], plan.endpoints[path]
    try:
        reading = read_path(endpoint.path, answer.body, data_age=answer.data_age, now=now)
    except UnreadableBody as exc:
        logger.warning(
            "vehicle %s %s: unreadable body (%s) [request %s]", plan.vehicle.pk, path, exc, answer.request_id
        )
        _retry(state, f"Unreadable answer: {exc}", now, readings)
        readings.errors.append(f"{path}: unreadable answer")
        return
    if reading.unparsed:
        # An unknown signal, a body of an unexpected shape, a missing unit (API v3): kept, logged once, no value.
        unparsed_record(vehicle_id=plan.vehicle.pk, source="signals", items=reading.unparsed, now=now)
    values = reading.values
    state.body = answer.body
    state.data_age = reading.data_age
    state.fetched_at = answer.fetched_at or now
    state.request_id = (answer.request_id or "")[:64]
    state.last_success_at = now
    state.failures = 0
    state.last_error = ""
    state.parked_until = None
    state.denied_with_permissions = None
    readings.answered.add(path)
    readings.values.update(values)
    readings.bodies[path] = answer.body
    for name in values:
        readings.recorded[name] = reading.recorded.get(name, reading.data_age or now)
    if reading.dtc_body is not None:
        write.dtcs = reading.dtc_body
    if reading.system_body is not None:
        write.systems = reading.system_body


def _retry(state: EndpointState, message: str, now: datetime, readings: Readings) -> None:
    state.failures = min(state.failures + 1, 30)
    state.last_error = message[:300]
    state.next_sync_at = readings.retry_at[state.path] = schedule.endpoint_retry_at(state.failures, now)
    state.due_reason = DueReason.RETRY


def _apply_error(
    plan: Plan, path: str, error: SmartcarError, whole_request: bool, now: datetime, readings: Readings
) -> None:
    state = plan.states[path]
    effect: Effect = effect_of(error, whole_request=whole_request)
    state.last_error = (error.user_message if effect.owner_words else str(error))[:300]
    if effect.endpoint == ForEndpoint.RETRY:
        _retry(state, str(error), now, readings)
        if isinstance(error, TransportError):
            readings.unanswered.add(path)
    elif effect.endpoint == ForEndpoint.AS_USUAL and effect.vehicle == ForVehicle.NOTHING:
        state.failures = 0  # a normal answer in the vehicle's state, not a failure
    elif effect.endpoint == ForEndpoint.PARK:
        state.parked_until = schedule.endpoint_parked_until(now)
        state.due_reason = DueReason.PARKED
    elif effect.endpoint == ForEndpoint.DROP:
        # Not granted for this vehicle: dropped until the vehicle's permissions change (reconnect).
        state.denied_with_permissions = list(plan.vehicle.permissions or [])
    if effect.vehicle in BACK_OFFS:
        back_off = schedule.vehicle_back_off(
            kind=effect.vehicle, failures=plan.sync.backoff_failures + 1, retry_after=error.retry_after, now=now
        )
        if readings.back_off is None or back_off.at > readings.back_off.at:
            readings.back_off = back_off
    if effect.vehicle != ForVehicle.NOTHING:
        readings.effects.setdefault(effect.vehicle, error)


# Answers after which the whole vehicle is left alone for a while.
BACK_OFFS = (ForVehicle.BACK_OFF, ForVehicle.RATE_LIMITED, ForVehicle.QUOTA_SPENT, ForVehicle.ACCESS_LOST)


def _previous(status: VehicleStatus) -> dict:
    return {name: getattr(status, name) for name in HISTORY_FIELDS}


def _schedule_endpoints(plan: Plan, readings: Readings, activity: str, now: datetime, write: VehicleWrite) -> list[str]:
    """Step 3: the paths polled for the new activity, each with its next due time; returns those paths."""
    webhook = plan.vehicle.webhook_subscribed
    stretch = cadence.budget_stretch(
        list(plan.endpoints.values()),
        monthly_budget=cadence.vehicle_budget(plan.vehicle.make, plan.fleet_sync.monthly_call_budget_per_vehicle, now),
        webhook_subscribed=webhook,
    )
    plugged_in = readings.values.get("is_plugged_in", plan.status.is_plugged_in)
    wanted = [
        path
        for path, endpoint in plan.endpoints.items()
        if cadence.is_wanted_now(endpoint, activity=activity, is_plugged_in=plugged_in)
    ]
    asked = set(plan.paths)
    for path in wanted:
        state = plan.states[path]
        seconds = cadence.interval_for(
            plan.endpoints[path], activity=activity, webhook_subscribed=webhook, stretch=stretch
        )
        next_due = schedule.endpoint_next_due(
            asked=path in asked,
            retry_at=readings.retry_at.get(path),
            current=state.next_sync_at,
            interval=timedelta(seconds=seconds),
            activity_changed=activity != plan.status.activity,
            now=now,
        )
        if next_due is not None:
            state.next_sync_at, state.due_reason = next_due.at, next_due.why
            if path not in asked:
                write.states.append(state)
    return wanted


def _history(plan: Plan, readings: Readings) -> list[Change]:
    history = []
    for name in HISTORY_FIELDS:
        value = readings.values.get(name)
        if name in readings.values and value != getattr(plan.status, name):
            number, text = history_value(value)
            history.append(Change(plan.vehicle.pk, name, readings.recorded[name], number, text))
    return history


def _next_round(plan: Plan, readings: Readings, wanted: list[str], now: datetime) -> tuple[schedule.Due, str]:
    """Step 5: when the vehicle's next round is, and the sync state to show."""
    due = schedule.vehicle_next_due(
        endpoints_due=[at for p in wanted if (at := plan.states[p].next_sync_at) is not None],
        now=now,
        asked=bool(plan.paths),
        allowance=plan.allowance,
        back_off=readings.back_off,
        held_back_off=_held_back_off(plan.sync),
    )
    state = SyncState.OK
    if readings.retry_at:
        # Only "no answer at all" (connection failed, timed out) is Smartcar unreachable; any other is an error.
        state = SyncState.UNREACHABLE if set(readings.retry_at) == readings.unanswered else SyncState.RETRYING
    if readings.back_off is not None:
        rate_limited = {ForVehicle.RATE_LIMITED, ForVehicle.QUOTA_SPENT} & readings.effects.keys()
        state = SyncState.RATE_LIMITED if rate_limited else SyncState.BACKING_OFF
    if ForVehicle.RECONNECT in readings.effects or ForVehicle.ACCESS_LOST in readings.effects:
        state = SyncState.NEEDS_RECONNECT
    if ForVehicle.PAUSE_FLEET in readings.effects:
        state = SyncState.PAUSED
    return due, state


def _held_back_off(sync: VehicleSync) -> schedule.Due | None:
    """The back-off running from an earlier round, with the reason that round gave it."""
    if sync.backoff_until is None:
        return None
    held = {DueReason.BACK_OFF, DueReason.RATE_LIMIT, DueReason.BRAND_LIMIT}
    return schedule.Due(
        sync.backoff_until, sync.next_sync_reason if sync.next_sync_reason in held else DueReason.BACK_OFF
    )


def _update_rows(plan: Plan, readings: Readings, activity: str, due: schedule.Due, state: str, now: datetime) -> None:
    status, sync = plan.status, plan.sync
    for name, value in readings.values.items():
        setattr(status, name, value)
    status.activity = activity
    data_ages = [age for p in readings.answered if (age := plan.states[p].data_age) is not None]
    if data_ages:
        status.data_age = max([*data_ages, *([status.data_age] if status.data_age else [])])
    if readings.answered:
        status.last_success_at = now
    if plan.paths:
        status.last_sync_at = now
        status.sync_state = state
        status.last_error = "; ".join(readings.errors)[:500]
        # A round without requests learnt nothing about the back-off: it keeps it.
        sync.backoff_until = readings.back_off.at if readings.back_off else None
        sync.backoff_failures = sync.backoff_failures + 1 if readings.back_off else 0
    month, today = cadence.month_start(now.date()), now.date()
    # Only the lease holder changes these rows, so the counts read at the round's start are current.
    sync.billed_calls_month = (sync.billed_calls_month if sync.month == month else 0) + len(plan.paths)
    sync.billed_calls_day = (sync.billed_calls_day if sync.day == today else 0) + len(plan.paths)
    sync.month, sync.day = month, today
    if ForVehicle.QUOTA_SPENT in readings.effects:
        # The car maker says the day's calls are spent, whatever this count says.
        sync.billed_calls_day = max(sync.billed_calls_day, cadence.make_daily_calls(plan.vehicle.make) or 0)
    sync.next_sync_at, sync.next_sync_reason = due.at, due.why
    sync.lease_until, sync.lease_token, sync.requested_at = None, "", None


def _skipped_write(plan: Plan, now: datetime) -> VehicleWrite:
    """A vehicle the round could not ask: its state says why; it is looked at again shortly (the account may be
    reconnected, the fleet resumed)."""
    assert plan.skip is not None
    plan.status.sync_state, plan.status.last_error = plan.skip.state, plan.skip.message
    plan.sync.next_sync_at, plan.sync.next_sync_reason = now + schedule.SKIPPED_RECHECK, DueReason.SKIPPED
    plan.sync.lease_until, plan.sync.lease_token = None, ""
    return VehicleWrite(plan)


# --- Writing a group ---------------------------------------------------------------------------------------------


def group_store(writes: list[VehicleWrite], lease_token: str) -> list[VehicleWrite]:
    """Write these vehicles' rows in one transaction, those this round still holds; returns those.

    A database error leaves the writes as they were, to be stored again; any other error is a bug in one of them
    and rolls the group back (the caller then stores them one by one).
    """
    now = timezone.now()
    with transaction.atomic():
        held = _still_leased([w.vehicle_id for w in writes], lease_token)
        stored = [w for w in writes if w.vehicle_id in held]
        _meanwhile_keep(stored, held)
        _flush(stored, lease_token, now)
    return stored


def follow_ups_run(writes: list[VehicleWrite]) -> None:
    """What stored answers set off beyond their vehicles' rows: an account to reconnect, a fleet's billing pause."""
    from vehicles.sync.services import account_needs_reconnect, fleet_billing_pause

    now = timezone.now()
    for write in writes:
        vehicle = write.plan.vehicle
        if write.reconnect is not None and vehicle.account_id:
            account_needs_reconnect(account_id=vehicle.account_id, error=write.reconnect)
        if write.billing is not None:
            fleet_billing_pause(fleet_id=vehicle.fleet_id, error=write.billing, now=now)


def _still_leased(vehicle_ids: list[int], lease_token: str) -> dict[int, datetime | None]:
    """The vehicles this round still holds, locked until the transaction ends, each with its "Sync now" request.

    A vehicle whose lease ran out and that another round took over is that round's to store: this round's answers
    for it are dropped rather than written over (or beside) the other round's.
    """
    held = dict(
        VehicleSync.objects.select_for_update()
        .filter(vehicle_id__in=vehicle_ids, lease_token=lease_token)
        .values_list("vehicle_id", "requested_at")
    )
    for vehicle_id in sorted(set(vehicle_ids) - held.keys()):
        logger.warning("vehicle %s: its lease passed to another round; this round's answers are dropped", vehicle_id)
    return held


def _meanwhile_keep(writes: list[VehicleWrite], requested: dict[int, datetime | None]) -> None:
    """What was written to these vehicles while the round waited for Smartcar is kept: a webhook event's values or a
    command's read-back (the round writes over the status only the values it changed from what it read, and never an
    older data age), and a "Sync now" or an event's targeted sync, which found the vehicle held by this round (it
    stays due, with the paths it asked for). Those writers take the vehicle's sync row first
    (vehicles/status_store.py), which this transaction holds: none slips in between this read and the writes."""
    current = {s.pk: s for s in VehicleStatus.objects.filter(pk__in=[w.vehicle_id for w in writes])}
    for write in writes:
        status, stored = write.plan.status, current.get(write.vehicle_id)
        if stored is not None:
            for name in STATUS_FIELDS:
                if name not in write.status_changed:
                    setattr(status, name, getattr(stored, name))
            if stored.data_age and (status.data_age is None or stored.data_age > status.data_age):
                status.data_age = stored.data_age
        at = requested.get(write.vehicle_id)
        if at is not None and at != write.requested_read:
            _request_keep(write, at)


def _request_keep(write: VehicleWrite, requested_at: datetime) -> None:
    """A request made while the round waited: its paths (due at the moment it was made, vehicle_sync_now) and the
    vehicle stay due then, whatever this round's answers, which may be older than what made the request."""
    sync = write.plan.sync
    sync.requested_at = requested_at
    sync.next_sync_at = min(sync.next_sync_at, requested_at) if sync.next_sync_at else requested_at
    asked = set(
        EndpointState.objects.filter(vehicle_id=write.vehicle_id, next_sync_at=requested_at).values_list(
            "path", flat=True
        )
    )
    for state in write.states:
        if state.path in asked:
            state.next_sync_at = requested_at


def _flush(writes: list[VehicleWrite], lease_token: str, now: datetime) -> None:
    """One statement per table for the whole group."""
    rows_update(EndpointState, [s for w in writes for s in w.states], STATE_FIELDS)
    history_append([change for w in writes for change in w.history])
    statuses = [w.plan.status for w in writes]
    for status in statuses:
        status.updated_at = now
    rows_update(VehicleStatus, statuses, STATUS_FIELDS)
    # Released only where our lease still holds: a vehicle another worker took over is its to write.
    rows_update(VehicleSync, [w.plan.sync for w in writes], SYNC_FIELDS, lease_token=lease_token)
    dtcs = [(w.vehicle_id, w.dtcs) for w in writes if w.dtcs is not None]
    if dtcs:
        dtcs_store(dtcs, now)
    systems = [(w.vehicle_id, w.systems) for w in writes if w.systems is not None]
    if systems:
        system_statuses_store(systems, now)
    _count_calls(writes, now)


def _count_calls(writes: list[VehicleWrite], now: datetime) -> None:
    """Requests sent and calls billed, per fleet per day."""
    counts: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for write in writes:
        if write.requests:
            counts[write.plan.vehicle.fleet_id][0] += write.requests
            counts[write.plan.vehicle.fleet_id][1] += len(write.plan.paths)
    day = now.date()
    # In the order of the fleets' ids: another worker's group may count the same fleets, and each holds the counters
    # it updated until it commits; taken in one order, neither waits for the other's in the opposite order.
    for fleet_id, (requests, billed) in sorted(counts.items()):
        SyncCounter.objects.get_or_create(fleet_id=fleet_id, day=day)
        SyncCounter.objects.filter(fleet_id=fleet_id, day=day).update(
            requests=F("requests") + requests, billed_calls=F("billed_calls") + billed
        )
