"""Reading and changing a vehicle's charging settings through the Smartcar client.

Reads happen in the request (a form opens with what the vehicle holds now). Changes are commands of the one command
machinery (vehicles/commands.py): charge limit, start/stop and amperage are the vehicle page's own commands, and the
three schedule kinds are registered there by this module — sent, audited, read back and retried alike.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from charging import capabilities, schedules
from charging.schedules import DayWindow, FordLocation, TeslaSchedule
from connect.client import SmartcarClient
from connect.errors import MalformedResponseError, SmartcarError
from connect.tokens import account_access_token
from fleet.errors import ApplicationError
from fleet.formatting import quantity
from vehicles import commands
from vehicles.commands import CommandSpec, Readback
from vehicles.models import Command, CommandStatus

logger = logging.getLogger(__name__)


class NoConnection(ApplicationError):
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

# Every failure of a read or a change is one of these, shown in words by vehicles.commands.problem_from.
EXPECTED_FAILURES = (SmartcarError, ApplicationError)
problem_from = commands.problem_from


class ChangeFailed(ApplicationError):
    """A change the vehicle refused (already recorded as failed in the audit log)."""

    def __init__(self, command: Command):
        self.command = command
        super().__init__(
            command.error_message or "The vehicle did not take the change.", resolution=command.error_resolution
        )


# --- Changes -------------------------------------------------------------------------------------------------------
# Every change is a vehicles.Command row — the one audit log of the app (who, what, old value, new value, result).
# Schedules are not single-call commands: they need a fresh read, the UTC conversion, a sequence of POSTs (Tesla)
# and structured parameters, so the pages here prepare them and the command machinery sends them.
# Their parameters are stored as {"sent": what is sent, "previous": the vehicle's schedule read before}.


def _ford_schedule_set(client: SmartcarClient, vehicle, params: dict) -> Any:
    # Reference: smartcar-api/ford__set-charge-schedule-by-location.md — latitude and longitude exactly as returned.
    sent = params["sent"]
    return client.charge_schedule_by_location_set(
        vehicle.smartcar_id,
        vehicle.make_slug,
        latitude=sent["latitude"],
        longitude=sent["longitude"],
        charging_location=sent["body"],
    )


def _nissan_schedule_set(client: SmartcarClient, vehicle, params: dict) -> Any:
    # Reference: smartcar-api/nissan__set-charge-schedule.md — times in UTC.
    return client.nissan_charge_schedule_set(
        vehicle.smartcar_id, params["sent"]["chargeSchedules"], make=vehicle.make_slug
    )


def _tesla_schedule_set(client: SmartcarClient, vehicle, params: dict) -> Any:
    # Reference: smartcar-api/tesla__set-charge-schedule.md — one POST per type, disables first.
    response = None
    for body in params["sent"]["requests"]:
        response = client.tesla_charge_schedule_set(
            vehicle.smartcar_id,
            schedule_type=body["type"],
            enable=body["enable"],
            time=body.get("time"),
            make=vehicle.make_slug,
        )
    return response


def _shown(kind: str, value: Any) -> str | None:
    try:
        return change_summary(kind, value)
    except (schedules.ScheduleFormatError, TypeError, ValueError, KeyError, AttributeError):
        return None


def _ford_shown(body: Any, params: dict) -> str | None:
    """The location that was changed, as the vehicle now holds it."""
    try:
        locations = schedules.ford_locations_from_wire(body)
    except (schedules.ScheduleFormatError, TypeError, ValueError, AttributeError):
        return None
    sent = params["sent"]
    location = next(
        (loc for loc in locations if (loc.latitude, loc.longitude) == (sent["latitude"], sent["longitude"])), None
    )
    return change_summary("ford_schedule", location.as_dict()) if location else "no schedule at this location"


def _schedule_spec(kind: str, label: str, feature: str, send, readback: Readback) -> CommandSpec:
    return CommandSpec(
        kind,
        label,
        "",  # sent from the charging page, not offered on the vehicle page
        "control_charge",
        send,
        new_value=lambda params: change_summary(kind, _new_value(kind, params["sent"])),
        readback=readback,
        require=lambda vehicle: capabilities.require(vehicle, feature),
    )


SCHEDULE_COMMANDS = (
    # Reference: smartcar-api/ford__get-charge-schedule-by-location.md (read back)
    _schedule_spec(
        "ford_schedule",
        "Set charge schedule (location)",
        "ford_schedule",
        _ford_schedule_set,
        Readback(("/{make}/charge/schedule_by_location",), _ford_shown),
    ),
    # Reference: smartcar-api/nissan__get-charge-schedule.md (read back)
    _schedule_spec(
        "nissan_schedule",
        "Set charge schedule",
        "nissan_schedule",
        _nissan_schedule_set,
        Readback(("/{make}/charge/schedule",), lambda body, params: _shown("nissan_schedule", body)),
    ),
    # Reference: smartcar-api/tesla__get-charge-schedule.md (read back)
    _schedule_spec(
        "tesla_schedule",
        "Set charge schedule",
        "tesla_schedule",
        _tesla_schedule_set,
        Readback(("/{make}/charge/schedule",), lambda body, params: _shown("tesla_schedule", body)),
    ),
)
SCHEDULE_KINDS = tuple(spec.kind for spec in SCHEDULE_COMMANDS)
# The vehicle page's commands that the charging page sends too, with the charging feature checked first for a
# precise refusal.
DASHBOARD_KINDS = {
    "charge_limit": "charge_limit",
    "charge_start": "charge_control",
    "charge_stop": "charge_control",
    "charge_amperage": "amperage",
}
AUDITED_KINDS = (*SCHEDULE_KINDS, *DASHBOARD_KINDS)


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
            f"{quantity(value['chargeLimit'] * 100, 'percent')}, weekdays {', '.join(value['weekday']) or 'none'}, "
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


def charging_change_submit(*, vehicle, user, kind: str, params: dict, old_value: Any) -> Command:
    """Records a schedule change and hands it to a worker; the page polls its state.

    A vehicle whose make lacks the feature, or whose owner did not grant its permission, raises FeatureUnavailable
    before anything is recorded or sent.
    """
    return commands.command_submit(
        vehicle=vehicle,
        user=user,
        kind=kind,
        params={"sent": params, "previous": old_value},
        old_value=change_summary(kind, old_value),
    )


def charging_command_submit(*, vehicle, user, kind: str, params: dict, old_value: str | None = None) -> Command:
    """Charge limit, start/stop or amperage through the vehicle page's command machinery (raises CommandRefused)."""
    capabilities.require(vehicle, DASHBOARD_KINDS[kind])
    return commands.command_submit(vehicle=vehicle, user=user, kind=kind, params=params, old_value=old_value)


def charging_change_run(*, vehicle, user, kind: str, params: dict, old_value: Any) -> str:
    """Records and carries out a schedule change now (a bulk run, inside a worker already); returns the vehicle's
    answer. Raises the failure after recording it, so that the run can report it per vehicle."""
    with transaction.atomic():
        command, _ = commands.command_record(
            vehicle=vehicle,
            user=user,
            kind=kind,
            params={"sent": params, "previous": old_value},
            old_value=change_summary(kind, old_value),
        )
        # This worker is the one the command is handed to: the outbox leaves it alone.
        Command.objects.filter(pk=command.pk).update(enqueued_at=timezone.now())
    command = commands.command_execute(command_id=command.pk)
    if command.status == CommandStatus.ERROR:
        raise ChangeFailed(command)
    return f"Applied: {command.new_value}" if command.new_value else "Applied."


@dataclass(frozen=True)
class Panel:
    template: str
    context: dict


def schedule_panels(*, vehicle) -> list[Panel]:
    """The schedule panels of the vehicle's charging page, from the schedule last read (a change reads it back)."""
    from vehicles.models import EndpointState

    feature = capabilities.schedule_feature(vehicle)
    path = {"ford_schedule": "/{make}/charge/schedule_by_location"}.get(feature or "", "/{make}/charge/schedule")
    body = (
        EndpointState.objects.filter(vehicle=vehicle, path=path.replace("{make}", vehicle.make_slug))
        .values_list("body", flat=True)
        .first()
    )
    try:
        if feature == "nissan_schedule" and body is not None:
            windows = schedules.nissan_schedules_from_wire(body)
            return [Panel("charging/_nissan.html#on_vehicle", {"nissan_utc": windows})]
        if feature == "ford_schedule" and body is not None:
            from charging.models import ChargingLocationLabel

            locations = schedules.ford_locations_from_wire(body)
            labels = {
                (label.latitude, label.longitude): label.label
                for label in ChargingLocationLabel.objects.filter(fleet_id=vehicle.fleet_id)
            }
            labelled = [(loc, labels.get((loc.latitude, loc.longitude), "")) for loc in locations]
            return [Panel("charging/_ford.html#locations", {"ford_locations": labelled})]
    except (schedules.ScheduleFormatError, TypeError, ValueError, AttributeError):
        logger.warning("vehicle %s: the stored schedule is not in the documented shape", vehicle.pk)
    return []


def charging_commands(*, vehicle, limit: int = 10) -> list[Command]:
    """The vehicle's latest charging changes for its charging page's audit list, each with an ``audit_label``."""
    audited = list(Command.objects.filter(vehicle=vehicle, kind__in=AUDITED_KINDS)[:limit])
    for command in audited:
        command.audit_label = command.label
    return audited


def charging_command(*, vehicle, command_id: int) -> Command | None:
    return Command.objects.filter(vehicle=vehicle, kind__in=AUDITED_KINDS, pk=command_id).first()


def command_is_final(command: Command) -> bool:
    return command.is_finished
