"""Remote commands: which a vehicle is offered, and the audited path every command takes.

``command_submit`` is the one way in (the vehicle page, and the charging pages for charge limit and start/stop):
it refuses what the vehicle's make cannot do, what its owner did not grant and what the user may not do — before
any call to Smartcar — then writes the audit row (pending) and enqueues ``command_run`` once the row is committed.
The task sends the command and records the outcome: done, or the error in plain words with its resolution. A
successful command asks the sync engine to re-read the values it changed, so the page shows the vehicle's own word.

Commands are never retried automatically: an OEM may have acted on a request whose answer got lost, and a second
"unlock" or "open trunk" is not something to send behind the user's back.

Which makes each command is offered to (CAPABILITIES.md, decided here):
- lock/unlock, send destination: "all compatible makes (not restricted in docs)" — offered to every make whose owner
  granted the permission; a make that cannot answers 501 COMPATIBILITY, shown as "not supported by this vehicle".
- start/stop charge and charge limit: only to vehicles the sync engine has seen a battery level or charge state
  for (an EV or plug-in hybrid); a vehicle never synced is not offered them yet. Nissan is offered START only:
  "Currently only START charge commands are supported in the US" (evs__control-charge.md) and no other region
  says otherwise.
- Tesla's frunk, trunk, charge port, cabin climate, defroster, steering heater, PIN to drive and amperage: TESLA only
  (make-specific endpoints, path with the make in lower case).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from celery import shared_task
from django import forms
from django.db import transaction
from django.utils import timezone

from connect import client as smartcar
from connect.errors import REAUTHENTICATE, RETRY_LATER, SmartcarError
from connect.tokens import ReconnectRequired, account_access_token, account_mark_needs_reconnect
from fleet.models import Membership, Role
from vehicles.models import Command, CommandStatus, Vehicle, VehicleStatus, make_label

logger = logging.getLogger(__name__)

TESLA = frozenset({"TESLA"})


class CommandRefused(Exception):
    """A command that may not be sent, with the reason in words; nothing was sent and nothing was recorded."""

    def __init__(self, user_message: str):
        self.user_message = user_message
        super().__init__(user_message)


# --- Parameters ---------------------------------------------------------------------------------------------------


class ChargeLimitParams(forms.Form):
    # Reference: smartcar-api/evs__set-charge-limit.md — a fraction between 0.5 and 1; people think in percent.
    limit_percent = forms.IntegerField(label="Charge limit (%)", min_value=50, max_value=100)


class DestinationParams(forms.Form):
    # Reference: smartcar-api/send-destination-to-vehicle.md
    latitude = forms.FloatField(min_value=-90, max_value=90)
    longitude = forms.FloatField(min_value=-180, max_value=180)


class PinParams(forms.Form):
    # Reference: smartcar-api/tesla__set-pin-to-drive.md — "A four digit numeric PIN".
    pin = forms.RegexField(label="PIN (4 digits)", regex=r"^\d{4}$", widget=forms.PasswordInput)


class AmperageParams(forms.Form):
    # Reference: smartcar-api/tesla__set-charge-ammeter.md — above the charger's maximum it is set to the maximum.
    amperage = forms.IntegerField(label="Charging current (A)", min_value=1, max_value=80)


# --- What each command is -------------------------------------------------------------------------------------------


def _percent(value) -> str:
    return "" if value is None else f"{value:.0f} %"


@dataclass(frozen=True)
class CommandSpec:
    kind: str
    label: str  # the button, and the audit log's "what"
    group: str  # where the vehicle page shows it
    permission: str
    send: Callable[[smartcar.SmartcarClient, Vehicle, dict], smartcar.ApiResponse]
    makes: frozenset[str] | None = None  # None: every make
    needs_battery: bool = False
    params_form: type[forms.Form] | None = None
    new_value: Callable[[dict], str] = lambda params: ""
    old_value: Callable[[VehicleStatus], str] = lambda status: ""
    refresh_paths: tuple[str, ...] = ()  # re-read after success ("{make}" as in vehicles/catalogue.py)
    secret_params: tuple[str, ...] = ()  # never stored: sent to the task only
    confirm: str = ""

    def is_offered_to(self, vehicle: Vehicle, status: VehicleStatus | None) -> bool:
        if self.permission not in (vehicle.permissions or ()):
            return False
        if self.makes is not None and vehicle.make.upper() not in self.makes:
            return False
        if self.needs_battery and not (status and (status.battery_percent is not None or status.charging_state)):
            return False
        return not (self.kind == "charge_stop" and vehicle.make.upper() == "NISSAN")


def _lock_state(status: VehicleStatus) -> str:
    return "" if status.is_locked is None else ("locked" if status.is_locked else "unlocked")


def _make(vehicle: Vehicle) -> str:
    return vehicle.make_slug


_SPECS = [
    # Reference: smartcar-api/control-lock-unlock.md
    CommandSpec("lock", "Lock", "security", "control_security", lambda c, v, p: c.lock(v.smartcar_id),
                new_value=lambda p: "locked", old_value=_lock_state, refresh_paths=("/security",),
                confirm="Lock this vehicle?"),
    CommandSpec("unlock", "Unlock", "security", "control_security", lambda c, v, p: c.unlock(v.smartcar_id),
                new_value=lambda p: "unlocked", old_value=_lock_state, refresh_paths=("/security",),
                confirm="Unlock this vehicle? Anyone next to it can then open it."),
    # Reference: smartcar-api/evs__control-charge.md
    CommandSpec("charge_start", "Start charging", "charging", "control_charge",
                lambda c, v, p: c.charge_start(v.smartcar_id), needs_battery=True,
                new_value=lambda p: "charging", old_value=lambda s: s.charging_state.lower().replace("_", " "),
                refresh_paths=("/charge", "/battery"), confirm="Start charging now?"),
    CommandSpec("charge_stop", "Stop charging", "charging", "control_charge",
                lambda c, v, p: c.charge_stop(v.smartcar_id), needs_battery=True,
                new_value=lambda p: "not charging", old_value=lambda s: s.charging_state.lower().replace("_", " "),
                refresh_paths=("/charge", "/battery"), confirm="Stop charging now?"),
    # Reference: smartcar-api/evs__set-charge-limit.md
    CommandSpec("charge_limit", "Set charge limit", "charging", "control_charge",
                lambda c, v, p: c.charge_limit_set(v.smartcar_id, p["limit_percent"] / 100), needs_battery=True,
                params_form=ChargeLimitParams, new_value=lambda p: f"{p['limit_percent']} %",
                old_value=lambda s: _percent(s.charge_limit_percent), refresh_paths=("/charge/limit",),
                confirm="Set the charge limit?"),
    # Reference: smartcar-api/send-destination-to-vehicle.md
    CommandSpec("send_destination", "Send destination", "navigation", "control_navigation",
                lambda c, v, p: c.navigation_destination_send(v.smartcar_id, latitude=p["latitude"],
                                                              longitude=p["longitude"]),
                params_form=DestinationParams, new_value=lambda p: f"{p['latitude']:.5f}, {p['longitude']:.5f}",
                confirm="Send this destination to the vehicle's navigation?"),
    # Reference: smartcar-api/tesla__control-frunk.md
    CommandSpec("frunk_open", "Open frunk", "tesla", "control_trunk",
                lambda c, v, p: c.frunk(v.smartcar_id, "OPEN", make=_make(v)), makes=TESLA,
                new_value=lambda p: "frunk open", refresh_paths=("/security",), confirm="Open the front trunk?"),
    CommandSpec("frunk_close", "Close frunk", "tesla", "control_trunk",
                lambda c, v, p: c.frunk(v.smartcar_id, "CLOSE", make=_make(v)), makes=TESLA,
                new_value=lambda p: "frunk closed", refresh_paths=("/security",), confirm="Close the front trunk?"),
    # Reference: smartcar-api/tesla__control-trunk.md
    CommandSpec("trunk_open", "Open trunk", "tesla", "control_trunk",
                lambda c, v, p: c.trunk(v.smartcar_id, "OPEN", make=_make(v)), makes=TESLA,
                new_value=lambda p: "trunk open", refresh_paths=("/security",), confirm="Open the trunk?"),
    CommandSpec("trunk_close", "Close trunk", "tesla", "control_trunk",
                lambda c, v, p: c.trunk(v.smartcar_id, "CLOSE", make=_make(v)), makes=TESLA,
                new_value=lambda p: "trunk closed", refresh_paths=("/security",), confirm="Close the trunk?"),
    # Reference: smartcar-api/tesla__control-charge-port.md
    CommandSpec("charge_port_open", "Open charge port", "tesla", "control_charge",
                lambda c, v, p: c.charge_port_door(v.smartcar_id, "OPEN", make=_make(v)), makes=TESLA,
                new_value=lambda p: "charge port open", refresh_paths=("/security",),
                confirm="Open the charge port door?"),
    CommandSpec("charge_port_close", "Close charge port", "tesla", "control_charge",
                lambda c, v, p: c.charge_port_door(v.smartcar_id, "CLOSE", make=_make(v)), makes=TESLA,
                new_value=lambda p: "charge port closed", refresh_paths=("/security",),
                confirm="Close the charge port door?"),
    # Reference: smartcar-api/tesla__set-cabin.md (START/STOP, see connect/client.py for the page's ambiguity)
    CommandSpec("cabin_start", "Start cabin climate", "tesla", "control_climate",
                lambda c, v, p: c.cabin_climate_set(v.smartcar_id, "START", make=_make(v)), makes=TESLA,
                new_value=lambda p: "climate on", refresh_paths=("/{make}/climate/cabin",),
                confirm="Start the cabin climate?"),
    CommandSpec("cabin_stop", "Stop cabin climate", "tesla", "control_climate",
                lambda c, v, p: c.cabin_climate_set(v.smartcar_id, "STOP", make=_make(v)), makes=TESLA,
                new_value=lambda p: "climate off", refresh_paths=("/{make}/climate/cabin",),
                confirm="Stop the cabin climate?"),
    # Reference: smartcar-api/tesla__set-defroster.md
    CommandSpec("defroster_start", "Start defroster", "tesla", "control_climate",
                lambda c, v, p: c.defroster_set(v.smartcar_id, "START", make=_make(v)), makes=TESLA,
                new_value=lambda p: "defroster on", refresh_paths=("/{make}/climate/defroster",),
                confirm="Start the defroster?"),
    CommandSpec("defroster_stop", "Stop defroster", "tesla", "control_climate",
                lambda c, v, p: c.defroster_set(v.smartcar_id, "STOP", make=_make(v)), makes=TESLA,
                new_value=lambda p: "defroster off", refresh_paths=("/{make}/climate/defroster",),
                confirm="Stop the defroster?"),
    # Reference: smartcar-api/tesla__set-steering-heater.md
    CommandSpec("steering_heater_start", "Start steering heater", "tesla", "control_climate",
                lambda c, v, p: c.steering_heater_set(v.smartcar_id, "START", make=_make(v)), makes=TESLA,
                new_value=lambda p: "steering heater on", refresh_paths=("/{make}/climate/steering_wheel",),
                confirm="Start the steering wheel heater?"),
    CommandSpec("steering_heater_stop", "Stop steering heater", "tesla", "control_climate",
                lambda c, v, p: c.steering_heater_set(v.smartcar_id, "STOP", make=_make(v)), makes=TESLA,
                new_value=lambda p: "steering heater off", refresh_paths=("/{make}/climate/steering_wheel",),
                confirm="Stop the steering wheel heater?"),
    # Reference: smartcar-api/tesla__set-pin-to-drive.md, smartcar-api/tesla__clear-pin-to-drive.md
    CommandSpec("pin_set", "Set PIN to drive", "tesla", "control_pin",
                lambda c, v, p: c.pin_to_drive_set(v.smartcar_id, p["pin"], make=_make(v)), makes=TESLA,
                params_form=PinParams, secret_params=("pin",), new_value=lambda p: "PIN to drive on (PIN not kept)",
                confirm="Set a PIN to drive? It replaces any PIN the vehicle has."),
    CommandSpec("pin_clear", "Clear PIN to drive", "tesla", "control_pin",
                lambda c, v, p: c.pin_to_drive_clear(v.smartcar_id, make=_make(v)), makes=TESLA,
                new_value=lambda p: "PIN to drive off", confirm="Turn PIN to drive off?"),
    # Reference: smartcar-api/tesla__set-charge-ammeter.md
    CommandSpec("charge_amperage", "Set charging current", "tesla", "control_charge",
                lambda c, v, p: c.charge_ammeter_set(v.smartcar_id, p["amperage"], make=_make(v)), makes=TESLA,
                params_form=AmperageParams, new_value=lambda p: f"{p['amperage']} A",
                refresh_paths=("/{make}/charge",), confirm="Set the charging current?"),
]  # fmt: skip
COMMANDS: dict[str, CommandSpec] = {spec.kind: spec for spec in _SPECS}

# Other apps record changes of their own in the same audit log (charging's schedules, registered by
# charging.apps); every audit list names a kind through ``kind_label``.
KIND_LABELS: dict[str, str] = {spec.kind: spec.label for spec in _SPECS}


def kind_label(kind: str) -> str:
    return KIND_LABELS.get(kind, kind)


GROUP_LABELS = {"security": "Security", "charging": "Charging", "navigation": "Navigation", "tesla": "Tesla"}


def _status(vehicle: Vehicle) -> VehicleStatus | None:
    try:
        return vehicle.status
    except VehicleStatus.DoesNotExist:
        return None


def commands_unavailable_reason(vehicle: Vehicle) -> str:
    """Why no command can be sent to the vehicle right now, or "" when commands can be sent."""
    if not vehicle.is_connected or vehicle.account_id is None:
        return "This vehicle is disconnected; connect it again to send commands."
    if vehicle.account.needs_reconnect:
        return "The vehicle's Smartcar connection needs to be renewed: ask the owner to reconnect, then try again."
    return ""


def commands_available(vehicle: Vehicle) -> list[CommandSpec]:
    """The commands the vehicle's make supports and its owner granted (empty when none can be sent now)."""
    if commands_unavailable_reason(vehicle):
        return []
    status = _status(vehicle)
    return [spec for spec in _SPECS if spec.is_offered_to(vehicle, status)]


def _may_command(user, vehicle: Vehicle) -> bool:
    return Membership.objects.filter(user=user, fleet_id=vehicle.fleet_id, role__in=[Role.OWNER, Role.MANAGER]).exists()


def command_submit(*, vehicle: Vehicle, user, kind: str, params: dict | None = None, old_value=None) -> Command:
    """Validates, records (pending) and enqueues one command; raises CommandRefused without side effects.

    ``params`` are the command's raw inputs (e.g. ``{"limit_percent": "80"}``); ``old_value`` overrides the value
    before as read from the vehicle's latest status (callers that know better, such as a form, pass it).
    """
    spec = COMMANDS.get(kind)
    if spec is None:
        raise CommandRefused("Fleet does not know that command.")
    if not _may_command(user, vehicle):
        raise CommandRefused("Only the fleet's managers and owners can send commands.")
    reason = commands_unavailable_reason(vehicle)
    if reason:
        raise CommandRefused(reason)
    status = _status(vehicle)
    if not spec.is_offered_to(vehicle, status):
        raise CommandRefused(
            f"{spec.label} is not available for {vehicle}: its make does not support it or its owner did not grant it."
        )
    cleaned: dict = {}
    if spec.params_form is not None:
        form = spec.params_form(params or {})
        if not form.is_valid():
            problems = "; ".join(f"{form.fields[f].label or f}: {' '.join(e)}" for f, e in form.errors.items())
            raise CommandRefused(f"{spec.label}: {problems}")
        cleaned = form.cleaned_data
    stored = {k: ("••••" if k in spec.secret_params else v) for k, v in cleaned.items()}
    secrets = {k: v for k, v in cleaned.items() if k in spec.secret_params}
    command = Command.objects.create(
        vehicle=vehicle,
        user=user,
        user_email=user.email,
        kind=kind,
        params=stored,
        old_value=(old_value if old_value is not None else (spec.old_value(status) if status else ""))[:80],
        new_value=spec.new_value(cleaned)[:80],
    )
    logger.info("command %s (%s) for vehicle %s queued by user %s", command.pk, kind, vehicle.pk, user.pk)
    # Secret parameters (the PIN) travel only in the task message, never in the database, the page or a log.
    transaction.on_commit(lambda: command_run.delay(command.pk, secrets))
    return command


def _finish(command: Command, status: str, **fields) -> None:
    fields.update(status=status, finished_at=timezone.now())
    Command.objects.filter(pk=command.pk).update(**fields)


def _resolution(exc: SmartcarError, vehicle: Vehicle) -> str:
    if exc.resolution == REAUTHENTICATE:
        return "Ask the vehicle's owner to reconnect it on the Connections page."
    if exc.resolution == RETRY_LATER or exc.type in ("VEHICLE_STATE", "RATE_LIMIT", "UPSTREAM", "SERVER"):
        wait = f" in about {max(1, round(exc.retry_after / 60))} min" if exc.retry_after else " in a few minutes"
        return f"Try again{wait}; the vehicle may be asleep, out of reach or busy."
    if exc.type == "COMPATIBILITY":
        return f"{make_label(vehicle.make)} does not offer this command for this vehicle."
    if exc.type == "PERMISSION":
        return "The owner did not grant this; reconnecting lets them grant it."
    if exc.type == "BILLING":
        return "Check the Smartcar plan of this installation."
    return "If it keeps failing, contact support with the request id."


def command_execute(*, command: Command, secrets: dict | None = None) -> Command:
    """Sends a pending command once and records how it ended. A command that already started is left alone."""
    claimed = Command.objects.filter(pk=command.pk, status=CommandStatus.PENDING).update(
        status=CommandStatus.RUNNING, started_at=timezone.now()
    )
    if not claimed:  # a re-delivered task message: the first delivery sends it, never a second one
        return command
    vehicle = Vehicle.objects.select_related("account").get(pk=command.vehicle_id)
    spec = COMMANDS[command.kind]
    if vehicle.account is None:
        message = "This vehicle is no longer connected to a Smartcar account."
        _finish(command, CommandStatus.ERROR, error_message=message, error_resolution="Connect the vehicle again.")
        command.refresh_from_db()
        return command
    try:
        token = account_access_token(account=vehicle.account)
        response = spec.send(smartcar.SmartcarClient(token), vehicle, {**command.params, **(secrets or {})})
    except ReconnectRequired as exc:
        _finish(command, CommandStatus.ERROR, error_message=exc.user_message[:500],
                error_resolution="Ask the vehicle's owner to reconnect it on the Connections page.")  # fmt: skip
    except SmartcarError as exc:
        logger.warning("command %s (%s) failed: %s", command.pk, command.kind, exc)
        if exc.resolution == REAUTHENTICATE and vehicle.account is not None:
            account_mark_needs_reconnect(account=vehicle.account, reason=str(exc))
        _finish(command, CommandStatus.ERROR, error_message=exc.user_message[:500],
                error_resolution=_resolution(exc, vehicle)[:300], request_id=(exc.request_id or "")[:64])  # fmt: skip
    else:
        _finish(command, CommandStatus.DONE, request_id=(response.request_id or "")[:64])
        logger.info("command %s (%s) done", command.pk, command.kind)
        _refresh_after(vehicle, spec)
    command.refresh_from_db()
    return command


def _refresh_after(vehicle: Vehicle, spec: CommandSpec) -> None:
    if not spec.refresh_paths:
        return
    from vehicles.sync import vehicle_sync_now

    try:
        vehicle_sync_now(vehicle=vehicle, paths=[p.replace("{make}", vehicle.make_slug) for p in spec.refresh_paths])
    except Exception:  # the command itself succeeded; the regular cadence re-reads the values anyway
        logger.exception("command on vehicle %s: follow-up sync could not be queued", vehicle.pk)


@shared_task(name="vehicles.command_run")
def command_run(command_id: int, secrets: dict | None = None):
    """Sends one recorded command (never retried: see the module docstring)."""
    command = Command.objects.filter(pk=command_id).first()
    if command is None:
        return None
    return command_execute(command=command, secrets=secrets).status
