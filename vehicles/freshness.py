"""A vehicle's sync state in a manager's words: how old its data is, what stops Fleet reading it, and why its next
read is when it is (a back-off, a rate limit, the fleet's call budget, its make's limit, the usual pace).

The words live here and nowhere else; the conditions they rest on are vehicles/conditions.py. Everything is judged
from what sync stored (the status and sync rows, the fleet's sync settings), never by asking Smartcar.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from fleet import formatting
from fleet.templatetags.units import age_in_words
from vehicles import cadence, conditions
from vehicles.catalogue import endpoints_for
from vehicles.models import Activity, DueReason, FleetSync, SyncState, Vehicle, VehicleSync, make_label

_PACE: dict[str, str] = {
    Activity.DRIVING: "a driving vehicle",
    Activity.CHARGING: "a charging vehicle",
    Activity.PARKED: "a parked vehicle",
    Activity.ASLEEP: "a sleeping vehicle",
}


@dataclass
class SyncExplanation:
    tone: str  # "ok", "info", "warn", "bad" or "" (the card's colour)
    headline: str
    detail: str = ""
    action: str = ""  # what the manager, or the vehicle's owner, can do
    next_read: str = ""  # when Fleet reads the vehicle next, and why then
    reconnect: bool = False  # offer Reconnect
    technical: str = ""  # Smartcar's own error text: only ever inside a "details" disclosure


def _at(moment: datetime, now: datetime, zone) -> str:
    if moment.astimezone(zone).date() == now.astimezone(zone).date():
        return f"at {formatting.clock(moment, zone)}"
    return f"on {formatting.day(moment, zone)} at {formatting.clock(moment, zone)}"


def _minutes(seconds: float) -> str:
    minutes = round(seconds / 60)
    if minutes < 120:
        return f"{minutes} minutes"
    return f"{minutes / 60:.0f} hours" if minutes % 60 == 0 else f"{minutes / 60:.1f} hours"


def next_read(
    vehicle: Vehicle, sync: VehicleSync | None, fleet_sync: FleetSync | None, limits: conditions.Limits
) -> str:
    """ "Next read at 14:05: …" — when, and which of the engine's rules put it there."""
    status = conditions.status_of(vehicle)
    now, zone = limits.now, vehicle.fleet.zone
    if fleet_sync and fleet_sync.paused_until and fleet_sync.paused_until > now:
        return "No reads while polling is paused for the fleet."
    if sync is not None and sync.backoff_until and sync.backoff_until > now:
        when = _at(sync.backoff_until, now, zone)
        if sync.next_sync_reason == DueReason.BRAND_LIMIT:
            return f"Next read {when}: {_daily_limit(vehicle)}, and today's are spent."
        if status and status.sync_state == SyncState.RATE_LIMITED:
            return f"Next read {when}: Smartcar asked Fleet to wait that long (rate limit)."
        if status and status.sync_state == SyncState.NEEDS_RECONNECT:
            return f"Next try {when}, in case access returns; Fleet waits longer after each refusal."
        return f"Next try {when}: the vehicle did not answer, and Fleet waits longer each time rather than wake it."
    if sync is None or sync.next_sync_at is None or sync.next_sync_at <= now:
        return "Next read shortly."
    when = _at(sync.next_sync_at, now, zone)
    budget = fleet_sync.monthly_call_budget_per_vehicle if fleet_sync else None
    this_month = sync.month == cadence.month_start(now.date())
    if budget is not None and this_month and sync.billed_calls_month >= cadence.pro_rata_allowance(budget, now):
        return (
            f"Next read {when}: the vehicle has used this month's call budget ({budget} calls) up to today's "
            "share, so Fleet waits for the allowance to grow."
        )
    if sync.next_sync_reason == DueReason.BRAND_LIMIT:
        return f"Next read {when}: {_daily_limit(vehicle)}, and today's are spent."
    daily = cadence.make_daily_calls(vehicle.make)
    if budget is not None or daily is not None:
        stretch = cadence.budget_stretch(
            endpoints_for(vehicle.make, vehicle.permissions),
            monthly_budget=cadence.vehicle_budget(vehicle.make, budget, now),
            webhook_subscribed=vehicle.webhook_subscribed,
        )
        if max(stretch.fast, stretch.other) > 1:
            if daily is not None and (budget is None or daily * 31 < budget):
                return f"Next read {when}: {_daily_limit(vehicle)}, so its reads are spaced out over the day."
            return f"Next read {when}: reads are spaced out to fit the fleet's budget of {budget} calls a month."
    pace = _PACE.get(status.activity if status else "", "this vehicle")
    if vehicle.webhook_subscribed:
        return f"Next read {when}, the usual pace for {pace}; charging events arrive by webhook in between."
    return f"Next read {when}, the usual pace for {pace}."


def _daily_limit(vehicle: Vehicle) -> str:
    calls = cadence.make_daily_calls(vehicle.make)
    return f"{make_label(vehicle.make)} answers only {calls} requests a day for each vehicle"


def sync_explanation(
    vehicle: Vehicle, sync: VehicleSync | None, fleet_sync: FleetSync | None, limits: conditions.Limits
) -> SyncExplanation:
    """The vehicle's sync state for its page: never "Up to date" with data older than the fleet's stale threshold."""
    status = conditions.status_of(vehicle)
    technical = status.last_error if status else ""
    if not vehicle.is_connected:
        return SyncExplanation(
            "", "Disconnected", "Fleet no longer reads this vehicle.", action="Reconnect it to read it again.",
            reconnect=True,
        )  # fmt: skip
    if conditions.NEEDS_RECONNECT.holds(vehicle, limits):
        account = vehicle.account
        if account is not None and account.needs_reconnect:
            detail = (
                "Smartcar no longer accepts the sign-in of this vehicle's owner, so none of their vehicles is read."
            )
        else:
            detail = (
                "Smartcar refuses every read of this vehicle: its connection was removed, or its owner withdrew "
                "Fleet's access."
            )
        return SyncExplanation(
            "bad",
            "Fleet can no longer read this vehicle",
            detail,
            action=conditions.NEEDS_RECONNECT.action,
            next_read=next_read(vehicle, sync, fleet_sync, limits),
            reconnect=True,
            technical=technical,
        )
    if status is None or status.sync_state == SyncState.NEVER:
        return SyncExplanation(
            "info",
            "Not synced yet",
            "Fleet reads each vehicle in the background; the first reading usually arrives in a few minutes.",
            next_read=next_read(vehicle, sync, fleet_sync, limits),
        )
    failing = conditions.sync_failing_reason(vehicle, limits)
    headline, tone = _HEADLINES.get(status.sync_state, ("", "ok"))
    freshest = conditions.freshest_reading(status)
    age = f"Newest reading {age_in_words(freshest, limits.now)}." if freshest else "No reading yet."
    if failing is not None or status.sync_state == SyncState.BACKING_OFF:
        return SyncExplanation(
            tone,
            headline,
            age,
            action=failing.action if failing else "Nothing to do: Fleet never wakes a vehicle to read it.",
            next_read=next_read(vehicle, sync, fleet_sync, limits),
            technical=technical,
        )
    if conditions.STALE.holds(vehicle, limits):
        threshold = _minutes(limits.stale_after.total_seconds())
        return SyncExplanation(
            "warn",
            f"Data is old: newest reading {age_in_words(freshest, limits.now)}",
            f"Older than the fleet's limit of {threshold}, so what this page shows may no longer be true.",
            next_read=next_read(vehicle, sync, fleet_sync, limits),
            technical=technical,
        )
    detail = age + (" Some readings are not available for this vehicle." if technical else "")
    return SyncExplanation(
        "ok", "Up to date", detail, next_read=next_read(vehicle, sync, fleet_sync, limits), technical=technical
    )


_HEADLINES: dict[str, tuple[str, str]] = {
    SyncState.BACKING_OFF: ("The vehicle is asleep or out of reach", "warn"),
    SyncState.RATE_LIMITED: ("Smartcar asked Fleet to wait before reading this vehicle again (rate limit)", "warn"),
    SyncState.UNREACHABLE: ("Smartcar did not answer the last read", "warn"),
    SyncState.RETRYING: ("The last read got errors from Smartcar", "warn"),
    SyncState.PAUSED: ("Polling is paused for the whole fleet (Smartcar billing)", "bad"),
}
