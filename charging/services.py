"""Reading and changing a vehicle's charging settings through the Smartcar client.

Reads happen in the request (a form opens with what the vehicle holds now); changes are carried out by
``charging_change_execute``, which the audited command machinery calls from its Celery task.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from charging import capabilities, schedules
from charging.capabilities import FeatureUnavailable
from charging.schedules import DayWindow, FordLocation, TeslaSchedule
from connect.client import SmartcarClient
from connect.errors import CONTACT_SUPPORT, REAUTHENTICATE, RETRY_LATER, MalformedResponseError, SmartcarError
from connect.tokens import ReconnectRequired, account_access_token, account_mark_needs_reconnect
from vehicles.commands import CommandRefused, command_submit
from vehicles.models import Command, CommandStatus

logger = logging.getLogger(__name__)


class NoConnection(Exception):
    user_message = "The vehicle has no Smartcar connection; connect it again."


def vehicle_client(vehicle) -> SmartcarClient:
    """A client with a valid token of the vehicle's account (refreshed when due; ReconnectRequired if gone)."""
    if vehicle.account is None:
        raise NoConnection()
    return SmartcarClient(account_access_token(account=vehicle.account))


def _malformed(what: str, exc: Exception) -> MalformedResponseError:
    return MalformedResponseError(f"{what} is not in the documented shape: {exc}", type="MALFORMED")


# --- Reads ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FordRead:
    locations: list[FordLocation]

    def location(self, key: str) -> FordLocation | None:
        return next((location for location in self.locations if location.key == key), None)


def ford_schedule_read(*, vehicle) -> FordRead:
    # Reference: smartcar-api/ford__get-charge-schedule-by-location.md
    capabilities.require(vehicle, "ford_schedule")
    response = vehicle_client(vehicle).charge_schedule_by_location(vehicle.smartcar_id, vehicle.make_slug)
    try:
        return FordRead(schedules.ford_locations_from_wire(response.body))
    except (schedules.ScheduleFormatError, TypeError, ValueError, AttributeError) as exc:
        raise _malformed("The charging locations", exc) from exc


def nissan_schedule_read(*, vehicle) -> list[DayWindow]:
    """The vehicle's Nissan windows, in UTC as stored."""
    # Reference: smartcar-api/nissan__get-charge-schedule.md
    capabilities.require(vehicle, "nissan_schedule")
    response = vehicle_client(vehicle).charge_schedule(vehicle.smartcar_id, vehicle.make_slug)
    try:
        return schedules.nissan_schedules_from_wire(response.body)
    except (schedules.ScheduleFormatError, TypeError, ValueError, AttributeError) as exc:
        raise _malformed("The charge schedule", exc) from exc


def tesla_schedule_read(*, vehicle) -> TeslaSchedule:
    # Reference: smartcar-api/tesla__get-charge-schedule.md
    capabilities.require(vehicle, "tesla_schedule")
    response = vehicle_client(vehicle).charge_schedule(vehicle.smartcar_id, vehicle.make_slug)
    try:
        return schedules.tesla_schedule_from_wire(response.body)
    except (schedules.ScheduleFormatError, TypeError, ValueError, AttributeError) as exc:
        raise _malformed("The charge schedule", exc) from exc


def fleet_offset_minutes(fleet, at: datetime | None = None) -> int:
    return schedules.utc_offset_minutes(fleet.zone, at or timezone.now())


def nissan_fingerprint(windows: list[DayWindow]) -> str:
    return schedules.fingerprint(schedules.nissan_wire(windows))


def ford_fingerprint(location: FordLocation | None) -> str:
    return schedules.fingerprint(location.as_dict() if location else None)


def tesla_fingerprint(schedule: TeslaSchedule) -> str:
    return schedules.fingerprint(schedule.as_dict())


# --- Problems as the pages show them -----------------------------------------------------------------------------

RESOLUTION_ADVICE = {
    RETRY_LATER: "Try again in a few minutes.",
    REAUTHENTICATE: "Reconnect the vehicle's Smartcar account on the Connections page, then try again.",
    CONTACT_SUPPORT: "Contact support and quote the request id.",
}


class ChangeFailed(Exception):
    """A change the vehicle refused (already recorded as failed in the audit log)."""

    def __init__(self, command: Command):
        self.command = command
        self.user_message = " ".join(part for part in (command.error_message, command.error_resolution) if part)
        super().__init__(self.user_message)


EXPECTED_FAILURES = (
    SmartcarError,
    ReconnectRequired,
    FeatureUnavailable,
    NoConnection,
    ChangeFailed,
    CommandRefused,
)


def problem_from(exc: Exception) -> dict:
    """An error in plain words: what happened, what to do about it, and the request id for support."""
    if isinstance(exc, SmartcarError):
        return {
            "message": exc.user_message,
            "resolution": RESOLUTION_ADVICE.get(exc.resolution or "", ""),
            "request_id": exc.request_id or "",
        }
    if isinstance(exc, ReconnectRequired):
        return {"message": exc.user_message, "resolution": RESOLUTION_ADVICE[REAUTHENTICATE], "request_id": ""}
    if isinstance(exc, EXPECTED_FAILURES):
        return {"message": exc.user_message, "resolution": "", "request_id": ""}
    return {"message": "Something went wrong on our side; the change was not made.", "resolution": "", "request_id": ""}


# --- Changes -------------------------------------------------------------------------------------------------------
# Every change is a vehicles.Command row — the one audit log of the app (who, what, old value, new value, result).
# Charge limit, start/stop and amperage are the vehicle page's own commands and are submitted through
# vehicles.commands.command_submit. Schedules are not single-call commands: they need a fresh read, the UTC
# conversion, a sequence of POSTs (Tesla) and structured parameters, so they are recorded in the same audit table by
# this module and carried out by charging.tasks.charging_change (or, in a bulk run, by that run's task).


def _ford_schedule_set(client: SmartcarClient, vehicle, params: dict) -> Any:
    # Reference: smartcar-api/ford__set-charge-schedule-by-location.md — latitude and longitude exactly as returned.
    return client.charge_schedule_by_location_set(
        vehicle.smartcar_id,
        vehicle.make_slug,
        latitude=params["latitude"],
        longitude=params["longitude"],
        charging_location=params["body"],
    )


def _nissan_schedule_set(client: SmartcarClient, vehicle, params: dict) -> Any:
    # Reference: smartcar-api/nissan__set-charge-schedule.md — times in UTC.
    return client.nissan_charge_schedule_set(vehicle.smartcar_id, params["chargeSchedules"], make=vehicle.make_slug)


def _tesla_schedule_set(client: SmartcarClient, vehicle, params: dict) -> Any:
    # Reference: smartcar-api/tesla__set-charge-schedule.md — one POST per type, disables first.
    response = None
    for body in params["requests"]:
        response = client.tesla_charge_schedule_set(
            vehicle.smartcar_id,
            schedule_type=body["type"],
            enable=body["enable"],
            time=body.get("time"),
            make=vehicle.make_slug,
        )
    return response


@dataclass(frozen=True)
class ChangeKind:
    feature: str
    label: str
    execute: Any


CHANGE_KINDS = {
    "ford_schedule": ChangeKind("ford_schedule", "Set charge schedule (location)", _ford_schedule_set),
    "nissan_schedule": ChangeKind("nissan_schedule", "Set charge schedule", _nissan_schedule_set),
    "tesla_schedule": ChangeKind("tesla_schedule", "Set charge schedule", _tesla_schedule_set),
}

# Single-call commands the vehicle page offers too go through its machinery (vehicles/commands.py), keyed by its
# command kinds; the value is the charging feature checked first, for a precise refusal.
DASHBOARD_KINDS = {
    "charge_limit": "charge_limit",
    "charge_start": "charge_control",
    "charge_stop": "charge_control",
    "charge_amperage": "amperage",
}
AUDITED_KINDS = (*CHANGE_KINDS, *DASHBOARD_KINDS)


def change_summary(kind: str, value: Any) -> str:
    """A value (old or new) in plain words, short enough for the audit log's columns."""
    if value is None:
        return ""
    if kind == "nissan_schedule":
        windows = schedules.nissan_schedules_from_wire(value)
        return "; ".join(f"{window.label} UTC" for window in windows) or "no schedules"
    if kind == "tesla_schedule":
        schedule = schedules.tesla_schedule_from_wire(value)
        if schedule.mode == "OFF":
            return "no schedule"
        name = "start" if schedule.mode == schedules.START_TIME else "departure"
        time = schedule.start_time if schedule.mode == schedules.START_TIME else schedule.departure_time
        return f"{name} at {schedules.format_hh_mm(time)}"
    if kind == "ford_schedule":
        return (
            f"{round(value['chargeLimit'] * 100)} %, weekdays {', '.join(value['weekday']) or 'none'}, "
            f"weekends {', '.join(value['weekend']) or 'none'}"
        )
    return str(value)


def _new_value(kind: str, params: dict) -> Any:
    if kind == "ford_schedule":
        location = FordLocation(
            latitude=params["latitude"],
            longitude=params["longitude"],
            charge_limit=params["body"]["chargingLocation"]["chargeLimit"],
            weekday=schedules.windows_from_wire(params["body"]["chargingLocation"]["chargingWindows"]["weekday"]),
            weekend=schedules.windows_from_wire(params["body"]["chargingLocation"]["chargingWindows"]["weekend"]),
        )
        return location.as_dict()
    if kind == "tesla_schedule":
        return params["wanted"]
    return params


def _record(*, vehicle, user, kind: str, params: dict, old_value: Any) -> Command:
    capabilities.require(vehicle, CHANGE_KINDS[kind].feature)
    return Command.objects.create(
        vehicle=vehicle,
        user=user,
        user_email=getattr(user, "email", "") or "",
        kind=kind,
        params={"sent": params, "previous": old_value},
        old_value=change_summary(kind, old_value)[:80],
        new_value=change_summary(kind, _new_value(kind, params))[:80],
    )


def charging_change_submit(*, vehicle, user, kind: str, params: dict, old_value: Any) -> Command:
    """Records the change in the audit log and hands it to a worker; the page polls its state.

    A vehicle whose make lacks the feature, or whose owner did not grant its permission, raises FeatureUnavailable
    before anything is recorded or sent.
    """
    from charging.tasks import charging_change

    with transaction.atomic():
        command = _record(vehicle=vehicle, user=user, kind=kind, params=params, old_value=old_value)
        transaction.on_commit(lambda: charging_change.delay(command.pk))
    return command


def charging_command_submit(*, vehicle, user, kind: str, params: dict, old_value: str | None = None) -> Command:
    """Charge limit, start/stop or amperage through the vehicle page's command machinery (raises CommandRefused)."""
    capabilities.require(vehicle, DASHBOARD_KINDS[kind])
    return command_submit(vehicle=vehicle, user=user, kind=kind, params=params, old_value=old_value)


def charging_change_run(*, vehicle, user, kind: str, params: dict, old_value: Any) -> str:
    """Records and carries out the change now (inside a worker already); returns the vehicle's answer.

    Raises the failure after recording it, so that a caller (a bulk run) can report it per vehicle.
    """
    command = _record(vehicle=vehicle, user=user, kind=kind, params=params, old_value=old_value)
    command_execute(command=command)
    command.refresh_from_db()
    if command.status == CommandStatus.ERROR:
        raise ChangeFailed(command)
    return f"Applied: {command.new_value}" if command.new_value else "Applied."


def command_execute(*, command: Command) -> None:
    """Sends one recorded change to the vehicle and records the outcome; a redelivered task does nothing.

    Only a PENDING row is claimed (a conditional UPDATE that must change exactly one row), so a change is never sent
    twice. On failure the row keeps the error, its resolution and request id — the vehicle's settings are not
    recorded as changed anywhere else.
    """
    claimed = Command.objects.filter(pk=command.pk, status=CommandStatus.PENDING).update(
        status=CommandStatus.RUNNING, started_at=timezone.now()
    )
    if claimed != 1:
        return
    command.refresh_from_db()
    vehicle = command.vehicle
    outcome: dict[str, Any] = {}
    try:
        capabilities.require(vehicle, CHANGE_KINDS[command.kind].feature)
        response = CHANGE_KINDS[command.kind].execute(vehicle_client(vehicle), vehicle, command.params["sent"])
        outcome.update(status=CommandStatus.DONE, request_id=(getattr(response, "request_id", None) or "")[:64])
    except Exception as exc:  # every failure is recorded on the row, none left "running"
        if not isinstance(exc, EXPECTED_FAILURES):
            logger.exception("charging change %s failed unexpectedly", command.pk)
        if isinstance(exc, SmartcarError) and exc.needs_reconnect and vehicle.account is not None:
            account_mark_needs_reconnect(account=vehicle.account, reason=str(exc))
        problem = problem_from(exc)
        outcome.update(
            status=CommandStatus.ERROR,
            error_message=problem["message"][:500],
            error_resolution=problem["resolution"][:300],
            request_id=problem["request_id"][:64],
        )
    outcome["finished_at"] = timezone.now()
    Command.objects.filter(pk=command.pk).update(**outcome)


def charging_commands(*, vehicle, limit: int = 10) -> list[Command]:
    """The vehicle's latest charging changes for its charging page's audit list, each with an ``audit_label``."""
    commands = list(Command.objects.filter(vehicle=vehicle, kind__in=AUDITED_KINDS)[:limit])
    for command in commands:
        command.audit_label = command.label
    return commands


def charging_command(*, vehicle, command_id: int) -> Command | None:
    return Command.objects.filter(vehicle=vehicle, kind__in=AUDITED_KINDS, pk=command_id).first()


def command_is_final(command: Command) -> bool:
    return command.is_finished
