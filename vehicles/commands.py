"""Remote commands: which a vehicle is offered, and the one path every command takes (the vehicle page's and the
charging pages', schedules included).

A command is a state machine kept on its audit row; every step is a conditional UPDATE, so that a worker that dies
leaves a state saying what happened:

    pending ──claim──► sending ──answer──► done ──read back──► confirmed / shows something else / not readable
       │                  ├──error───► failed (what happened, and what the manager can do: retry, reconnect)
       │                  └──worker died──► outcome unknown ──read back──► done / failed / still unknown
       └──never sent, twice──► failed ("not sent")

1. ``command_submit`` refuses what the vehicle's make cannot do, what its owner did not grant and what the user may
   not do — before any call — writes the row (pending) and hands it to a worker through the outbox
   (fleet/outbox.py): a broker that is down delays the command ("Queued"), it never fails the click.
2. ``command_execute`` (the ``command_run`` task) prepares the call (token, capability), then claims the row pending →
   sending with a conditional UPDATE that must change exactly one row: "sending" is recorded before the call. It
   sends the command once, records the answer, and reads the command's signal back where an endpoint tells it (lock
   state, charge state, charge limit, amperage, schedules…), storing the reading as a sync round would so that every
   page shows the vehicle's own word ("Locked — confirmed 14:05").
3. ``commands_settle`` (beat) resolves commands stuck past the task time limit: one never sent is handed to a worker
   once more, then failed as not sent; one whose worker died while sending it has an unknown outcome, settled by
   reading its signal back and recording what the vehicle shows. A task message redelivered after its worker died
   while sending settles its command at once.

The machinery never sends a command twice: an OEM may have acted on a request whose answer got lost, and a second
"unlock" is not something to send behind the user's back. A manager can retry a failed command (``command_retry``):
a new audit row, sent like the first.

Which makes each command is offered to (CAPABILITIES.md, decided here):
- lock/unlock, send destination: "all compatible makes (not restricted in docs)" — offered to every make whose owner
  granted the permission; a make that cannot answers 501 COMPATIBILITY, shown as "not supported by this vehicle".
- start/stop charge and charge limit: only to vehicles the sync engine has seen a battery level or charge state
  for (an EV or plug-in hybrid); a vehicle never synced is not offered them yet. Nissan is offered START only:
  "Currently only START charge commands are supported in the US" (evs__control-charge.md) and no other region
  says otherwise.
- Tesla's frunk, trunk, charge port, cabin climate, defroster, steering heater, PIN to drive and amperage: TESLA only
  (make-specific endpoints, path with the make in lower case).
- Charge schedules (Ford/Lincoln by location, Nissan, Tesla) are registered by charging/services.py and sent from the
  charging page only.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django import forms
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from connect import client as smartcar
from connect import transports
from connect.errors import REAUTHENTICATE, RETRY_LATER, SmartcarError
from connect.tokens import ReconnectRequired, account_mark_needs_reconnect
from fleet.errors import ApplicationError
from fleet.formatting import position, quantity
from fleet.models import Membership, Role
from fleet.outbox import OutboxSource, enqueue
from vehicles import conditions
from vehicles.models import (
    Command,
    CommandReadback,
    CommandRemedy,
    CommandStatus,
    Vehicle,
    VehicleStatus,
    make_label,
)

logger = logging.getLogger(__name__)

TESLA = frozenset({"TESLA"})


def stuck_after() -> timedelta:
    """A command still unsettled this long after it was handed over or began sending: its task is gone (the task
    time limit kills any task that runs longer; a minute more covers the sweep's own delay)."""
    return timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + 60)


RECONNECT_ADVICE = "Ask the vehicle's owner to reconnect it on the Connections page."
RETRY_ADVICE = "Retry it when the vehicle can take it."


class CommandRefused(ApplicationError):
    """A command that may not be sent, with the reason in words; nothing was sent and nothing was recorded."""


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


# --- Reading a command's effect back ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Readback:
    """How a command's effect is read back: the first of ``paths`` (catalogue templates) that the vehicle's make
    offers and its owner granted, and what its answer shows in the words of the command's ``new_value``
    (``shows(body, params)``; None when the answer does not say)."""

    paths: tuple[str, ...]
    shows: Callable[[Any, dict], str | None]


def _field(body: Any, key: str) -> Any:
    return body.get(key) if isinstance(body, Mapping) else None


def _signals(body: Any) -> dict:
    """API v3's read (every signal: a list) as the status fields it gives (vehicles/readings_v3.py); {} otherwise."""
    if not isinstance(body, list):
        return {}
    from vehicles.readings_v3 import read_signals

    return read_signals(body, now=timezone.now()).values


def _lock_shown(body, params) -> str | None:
    # Reference: smartcar-api/get-lock-status.md; smartcar-api-v3/signals__closure.md (closure-islocked)
    locked = _field(body, "isLocked") if not isinstance(body, list) else _signals(body).get("is_locked")
    return None if not isinstance(locked, bool) else ("locked" if locked else "unlocked")


CHARGING_WORDS = {"CHARGING": "charging", "NOT_CHARGING": "not charging", "FULLY_CHARGED": "fully charged"}


def _charging_shown(body, params) -> str | None:
    # Reference: smartcar-api/evs__get-charge-status.md (state), tesla__get-charge.md (chargingStatus)
    # smartcar-api-v3/signals__charge.md (charge-detailedchargingstatus) on v3.
    state = _field(body, "state") or _field(body, "chargingStatus") or _signals(body).get("charging_state")
    return CHARGING_WORDS.get(state) if isinstance(state, str) else None


def _limit_shown(body, params) -> str | None:
    # Reference: smartcar-api/evs__get-charge-limit.md — a fraction; on v3 charge-chargelimits, a percent.
    if isinstance(body, list):
        percent = _signals(body).get("charge_limit_percent")
        return f"{round(percent)} %" if percent is not None else None
    limit = _field(body, "limit")
    return quantity(limit * 100, "percent") if isinstance(limit, int | float) and not isinstance(limit, bool) else None


def _amperage_shown(body, params) -> str | None:
    # Reference: smartcar-api/tesla__get-charge.md — amperageRequested is what the vehicle was asked to draw.
    amperage = _field(body, "amperageRequested")
    return f"{amperage:g} A" if isinstance(amperage, int | float) and not isinstance(amperage, bool) else None


def _open_closed(body, key: str, item_type: str | None, name: str) -> str | None:
    # Reference: smartcar-api/get-lock-status.md — empty arrays where the make does not report them.
    items = _field(body, key)
    if not isinstance(items, list):
        return None
    for item in items:
        if isinstance(item, Mapping) and (item_type is None or item.get("type") == item_type):
            return {"OPEN": f"{name} open", "CLOSED": f"{name} closed"}.get(str(item.get("status")))
    return None


def _on_off(key: str, name: str) -> Callable[[Any, dict], str | None]:
    # Reference: smartcar-api/tesla__get-cabin.md, tesla__get-defroster.md, tesla__get-steering-heater.md
    def shows(body, params) -> str | None:
        return {"ON": f"{name} on", "OFF": f"{name} off"}.get(_field(body, key))

    return shows


# "/signals" is API v3's one read (vehicles/catalogue.py): offered on v3 only, the others on v2 only.
LOCK_READBACK = Readback(("/security", "/signals"), _lock_shown)
CHARGING_READBACK = Readback(("/charge", "/{make}/charge", "/signals"), _charging_shown)


# --- What each command is -------------------------------------------------------------------------------------------


def _percent(value) -> str:
    return "" if value is None else quantity(value, "percent")


def _reported_amperage(response: smartcar.ApiResponse, params: dict) -> str | None:
    """The amperage the API says it set: above the charger's maximum the maximum is set, and the message names it.

    Reference: smartcar-api/tesla__set-charge-ammeter.md — "Successfully sent the following amperage: 48". The page
    documents only this sentence, not a field: the last number in the message is taken, and without one the
    requested value stands.
    """
    numbers = re.findall(r"\d+(?:\.\d+)?", str(_field(response.body, "message") or ""))
    return f"{float(numbers[-1]):g} A" if numbers else None


@dataclass(frozen=True)
class CommandSpec:
    kind: str
    label: str  # the button, and the audit log's "what"
    group: str  # where the vehicle page shows it ("" : not offered there)
    permission: str
    send: Callable[[smartcar.SmartcarClient, Vehicle, dict], smartcar.ApiResponse]
    makes: frozenset[str] | None = None  # None: every make
    needs_battery: bool = False
    params_form: type[forms.Form] | None = None
    new_value: Callable[[dict], str] = lambda params: ""
    old_value: Callable[[VehicleStatus], str] = lambda status: ""
    readback: Readback | None = None
    reported: Callable[[smartcar.ApiResponse, dict], str | None] | None = None  # the value the API says it set
    require: Callable[[Vehicle], None] | None = None  # raises ApplicationError when the vehicle cannot take it now
    secret_params: tuple[str, ...] = ()  # never stored: sent to the task only
    confirm: str = ""

    def is_offered_to(self, vehicle: Vehicle, status: VehicleStatus | None) -> bool:
        if not _api_offers(self.kind):
            return False
        if self.permission not in (vehicle.permissions or ()):
            return False
        if self.makes is not None and vehicle.make.upper() not in self.makes:
            return False
        if self.needs_battery and not (status and (status.battery_percent is not None or status.charging_state)):
            return False
        return not (self.kind == "charge_stop" and vehicle.make.upper() == "NISSAN")

    def readback_path(self, vehicle: Vehicle) -> str | None:
        """The path to read this command's effect from on this vehicle, or None."""
        if self.readback is None:
            return None
        offered = {endpoint.path for endpoint in transports.current().poll_endpoints(vehicle.make, vehicle.permissions)}
        template = next((path for path in self.readback.paths if path in offered), None)
        return template.replace("{make}", vehicle.make_slug) if template else None


def _api_offers(kind: str) -> bool:
    """Whether the installation's Smartcar API has the command (API v3 has no make-specific ones)."""
    offered = transports.current().commands
    return offered is None or kind in offered


def commands_missing_on_api(vehicle: Vehicle) -> str:
    """One line on the commands this vehicle would have but the installation's Smartcar API does not offer."""
    status = _status(vehicle)
    missing = [s.label.lower() for s in _SPECS if not _api_offers(s.kind) and _offered_but_for_api(s, vehicle, status)]
    if not missing:
        return ""
    return f"{transports.current().label}, which Fleet uses, does not offer {', '.join(missing)}."


def _offered_but_for_api(spec: CommandSpec, vehicle: Vehicle, status: VehicleStatus | None) -> bool:
    if spec.permission not in (vehicle.permissions or ()):
        return False
    return spec.makes is None or vehicle.make.upper() in spec.makes


def _lock_state(status: VehicleStatus) -> str:
    return "" if status.is_locked is None else ("locked" if status.is_locked else "unlocked")


def _charging_state(status: VehicleStatus) -> str:
    return CHARGING_WORDS.get(status.charging_state, status.charging_state.lower().replace("_", " "))


def _make(vehicle: Vehicle) -> str:
    return vehicle.make_slug


_SPECS = [
    # Reference: smartcar-api/control-lock-unlock.md
    CommandSpec("lock", "Lock", "security", "control_security", lambda c, v, p: c.lock(v.smartcar_id),
                new_value=lambda p: "locked", old_value=_lock_state, readback=LOCK_READBACK,
                confirm="Lock this vehicle?"),
    CommandSpec("unlock", "Unlock", "security", "control_security", lambda c, v, p: c.unlock(v.smartcar_id),
                new_value=lambda p: "unlocked", old_value=_lock_state, readback=LOCK_READBACK,
                confirm="Unlock this vehicle? Anyone next to it can then open it."),
    # Reference: smartcar-api/evs__control-charge.md
    CommandSpec("charge_start", "Start charging", "charging", "control_charge",
                lambda c, v, p: c.charge_start(v.smartcar_id), needs_battery=True,
                new_value=lambda p: "charging", old_value=_charging_state, readback=CHARGING_READBACK,
                confirm="Start charging now?"),
    CommandSpec("charge_stop", "Stop charging", "charging", "control_charge",
                lambda c, v, p: c.charge_stop(v.smartcar_id), needs_battery=True,
                new_value=lambda p: "not charging", old_value=_charging_state, readback=CHARGING_READBACK,
                confirm="Stop charging now?"),
    # Reference: smartcar-api/evs__set-charge-limit.md
    CommandSpec("charge_limit", "Set charge limit", "charging", "control_charge",
                lambda c, v, p: c.charge_limit_set(v.smartcar_id, p["limit_percent"] / 100), needs_battery=True,
                params_form=ChargeLimitParams, new_value=lambda p: quantity(p["limit_percent"], "percent"),
                old_value=lambda s: _percent(s.charge_limit_percent),
                readback=Readback(("/charge/limit", "/signals"), _limit_shown), confirm="Set the charge limit?"),
    # Reference: smartcar-api/send-destination-to-vehicle.md
    CommandSpec("send_destination", "Send destination", "navigation", "control_navigation",
                lambda c, v, p: c.navigation_destination_send(v.smartcar_id, latitude=p["latitude"],
                                                              longitude=p["longitude"]),
                params_form=DestinationParams, new_value=lambda p: position(p["latitude"], p["longitude"]),
                confirm="Send this destination to the vehicle's navigation?"),
    # Reference: smartcar-api/tesla__control-frunk.md
    CommandSpec("frunk_open", "Open frunk", "tesla", "control_trunk",
                lambda c, v, p: c.frunk(v.smartcar_id, "OPEN", make=_make(v)), makes=TESLA,
                new_value=lambda p: "frunk open", confirm="Open the front trunk?",
                readback=Readback(("/security",), lambda b, p: _open_closed(b, "storage", "front", "frunk"))),
    CommandSpec("frunk_close", "Close frunk", "tesla", "control_trunk",
                lambda c, v, p: c.frunk(v.smartcar_id, "CLOSE", make=_make(v)), makes=TESLA,
                new_value=lambda p: "frunk closed", confirm="Close the front trunk?",
                readback=Readback(("/security",), lambda b, p: _open_closed(b, "storage", "front", "frunk"))),
    # Reference: smartcar-api/tesla__control-trunk.md
    CommandSpec("trunk_open", "Open trunk", "tesla", "control_trunk",
                lambda c, v, p: c.trunk(v.smartcar_id, "OPEN", make=_make(v)), makes=TESLA,
                new_value=lambda p: "trunk open", confirm="Open the trunk?",
                readback=Readback(("/security",), lambda b, p: _open_closed(b, "storage", "rear", "trunk"))),
    CommandSpec("trunk_close", "Close trunk", "tesla", "control_trunk",
                lambda c, v, p: c.trunk(v.smartcar_id, "CLOSE", make=_make(v)), makes=TESLA,
                new_value=lambda p: "trunk closed", confirm="Close the trunk?",
                readback=Readback(("/security",), lambda b, p: _open_closed(b, "storage", "rear", "trunk"))),
    # Reference: smartcar-api/tesla__control-charge-port.md
    CommandSpec("charge_port_open", "Open charge port", "tesla", "control_charge",
                lambda c, v, p: c.charge_port_door(v.smartcar_id, "OPEN", make=_make(v)), makes=TESLA,
                new_value=lambda p: "charge port open", confirm="Open the charge port door?",
                readback=Readback(("/security",), lambda b, p: _open_closed(b, "chargingPort", None, "charge port"))),
    CommandSpec("charge_port_close", "Close charge port", "tesla", "control_charge",
                lambda c, v, p: c.charge_port_door(v.smartcar_id, "CLOSE", make=_make(v)), makes=TESLA,
                new_value=lambda p: "charge port closed", confirm="Close the charge port door?",
                readback=Readback(("/security",), lambda b, p: _open_closed(b, "chargingPort", None, "charge port"))),
    # Reference: smartcar-api/tesla__set-cabin.md (START/STOP, see connect/client.py for the page's ambiguity)
    CommandSpec("cabin_start", "Start cabin climate", "tesla", "control_climate",
                lambda c, v, p: c.cabin_climate_set(v.smartcar_id, "START", make=_make(v)), makes=TESLA,
                new_value=lambda p: "climate on", confirm="Start the cabin climate?",
                readback=Readback(("/{make}/climate/cabin",), _on_off("status", "climate"))),
    CommandSpec("cabin_stop", "Stop cabin climate", "tesla", "control_climate",
                lambda c, v, p: c.cabin_climate_set(v.smartcar_id, "STOP", make=_make(v)), makes=TESLA,
                new_value=lambda p: "climate off", confirm="Stop the cabin climate?",
                readback=Readback(("/{make}/climate/cabin",), _on_off("status", "climate"))),
    # Reference: smartcar-api/tesla__set-defroster.md
    CommandSpec("defroster_start", "Start defroster", "tesla", "control_climate",
                lambda c, v, p: c.defroster_set(v.smartcar_id, "START", make=_make(v)), makes=TESLA,
                new_value=lambda p: "defroster on", confirm="Start the defroster?",
                readback=Readback(("/{make}/climate/defroster",), _on_off("frontStatus", "defroster"))),
    CommandSpec("defroster_stop", "Stop defroster", "tesla", "control_climate",
                lambda c, v, p: c.defroster_set(v.smartcar_id, "STOP", make=_make(v)), makes=TESLA,
                new_value=lambda p: "defroster off", confirm="Stop the defroster?",
                readback=Readback(("/{make}/climate/defroster",), _on_off("frontStatus", "defroster"))),
    # Reference: smartcar-api/tesla__set-steering-heater.md
    CommandSpec("steering_heater_start", "Start steering heater", "tesla", "control_climate",
                lambda c, v, p: c.steering_heater_set(v.smartcar_id, "START", make=_make(v)), makes=TESLA,
                new_value=lambda p: "steering heater on", confirm="Start the steering wheel heater?",
                readback=Readback(("/{make}/climate/steering_wheel",), _on_off("status", "steering heater"))),
    CommandSpec("steering_heater_stop", "Stop steering heater", "tesla", "control_climate",
                lambda c, v, p: c.steering_heater_set(v.smartcar_id, "STOP", make=_make(v)), makes=TESLA,
                new_value=lambda p: "steering heater off", confirm="Stop the steering wheel heater?",
                readback=Readback(("/{make}/climate/steering_wheel",), _on_off("status", "steering heater"))),
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
                params_form=AmperageParams, new_value=lambda p: f"{p['amperage']} A", reported=_reported_amperage,
                readback=Readback(("/{make}/charge",), _amperage_shown), confirm="Set the charging current?"),
]  # fmt: skip
COMMANDS: dict[str, CommandSpec] = {spec.kind: spec for spec in _SPECS}
GROUP_LABELS = {"security": "Security", "charging": "Charging", "navigation": "Navigation", "tesla": "Tesla"}


def command_kind_register(spec: CommandSpec) -> None:
    """Another app's command (charging's schedules, from charging.apps) joins the one machinery and audit log."""
    COMMANDS[spec.kind] = spec


def kind_label(kind: str) -> str:
    spec = COMMANDS.get(kind)
    return spec.label if spec else kind


def _status(vehicle: Vehicle) -> VehicleStatus | None:
    try:
        return vehicle.status
    except VehicleStatus.DoesNotExist:
        return None


def commands_unavailable_reason(vehicle: Vehicle) -> str:
    """Why no command can be sent to the vehicle right now, or "" when commands can be sent."""
    if not vehicle.is_connected or vehicle.account_id is None:
        return "This vehicle is disconnected; connect it again to send commands."
    if conditions.NEEDS_RECONNECT.holds(vehicle, conditions.Limits(now=timezone.now())):
        return f"The vehicle's Smartcar connection needs to be renewed. {RECONNECT_ADVICE}"
    return ""


def commands_available(vehicle: Vehicle) -> list[CommandSpec]:
    """The vehicle page's commands that the vehicle's make supports and its owner granted (empty when none can be
    sent now)."""
    if commands_unavailable_reason(vehicle):
        return []
    status = _status(vehicle)
    return [spec for spec in COMMANDS.values() if spec.group and spec.is_offered_to(vehicle, status)]


def _require_commander(user, vehicle: Vehicle) -> None:
    if not Membership.objects.filter(
        user=user, fleet_id=vehicle.fleet_id, role__in=[Role.OWNER, Role.MANAGER]
    ).exists():
        raise CommandRefused("Only the fleet's managers and owners can send commands.")


# --- Submitting -----------------------------------------------------------------------------------------------------


def _cleaned(spec: CommandSpec, params: dict) -> dict:
    if spec.params_form is None:
        return dict(params)
    form = spec.params_form(params)
    if not form.is_valid():
        problems = "; ".join(
            f"{form.fields[f].label or f}: {' '.join(str(m) for m in e)}" for f, e in form.errors.items()
        )
        raise CommandRefused(f"{spec.label}: {problems}")
    return form.cleaned_data


def command_record(
    *,
    vehicle: Vehicle,
    user,
    kind: str,
    params: dict | None = None,
    old_value: str | None = None,
    retry_of: Command | None = None,
) -> tuple[Command, dict]:
    """Validates and writes one command (pending); returns it with its secret parameters. Raises CommandRefused
    (or the spec's ApplicationError) with nothing written. Whether ``user`` may send it is the caller's check
    (``command_submit`` and ``command_retry``; a bulk run checked it when it was started).

    ``params`` are the command's raw inputs (e.g. ``{"limit_percent": "80"}``); ``old_value`` overrides the value
    before as read from the vehicle's latest status (callers that know better, such as a form, pass it).
    """
    spec = COMMANDS.get(kind)
    if spec is None:
        raise CommandRefused("Fleet does not know that command.")
    reason = commands_unavailable_reason(vehicle)
    if reason:
        raise CommandRefused(reason)
    if spec.require is not None:
        spec.require(vehicle)
    status = _status(vehicle)
    if spec.group and not spec.is_offered_to(vehicle, status):
        raise CommandRefused(
            f"{spec.label} is not available for {vehicle}: its make does not support it or its owner did not grant it."
        )
    cleaned = _cleaned(spec, params or {})
    stored = {k: ("••••" if k in spec.secret_params else v) for k, v in cleaned.items()}
    secrets = {k: v for k, v in cleaned.items() if k in spec.secret_params}
    if old_value is None:
        old_value = spec.old_value(status) if status else ""
    command = Command.objects.create(
        vehicle=vehicle,
        user=user,
        user_email=getattr(user, "email", "") or "",
        kind=kind,
        params=stored,
        old_value=old_value[:80],
        new_value=spec.new_value(cleaned)[:80],
        retry_of=retry_of,
    )
    return command, secrets


def command_submit(*, vehicle: Vehicle, user, kind: str, params: dict | None = None, old_value=None) -> Command:
    """Validates, records (pending) and enqueues one command; raises CommandRefused without side effects."""
    _require_commander(user, vehicle)
    with transaction.atomic():
        command, secrets = command_record(vehicle=vehicle, user=user, kind=kind, params=params, old_value=old_value)
        command_enqueue(command=command, secrets=secrets)
    logger.info("command %s (%s) for vehicle %s queued by user %s", command.pk, kind, vehicle.pk, user.pk)
    return command


def command_enqueue(*, command: Command, secrets: dict | None = None) -> None:
    """Hands the command to a worker once its row is committed (the outbox: a broker outage only delays it)."""
    from vehicles.tasks import command_run

    # Secret parameters (the PIN) travel only in the task message, never in the database, the page or a log. A
    # command with secrets that the broker did not take cannot be sent later: the outbox sweep fails it (not sent).
    if secrets:
        enqueue(command_run, command.pk, secrets, row=command)
    else:
        enqueue(command_run, command.pk, row=command)


def command_can_retry(command: Command) -> bool:
    spec = COMMANDS.get(command.kind)
    if spec is None or spec.secret_params or not command.is_finished:
        return False
    return command.status in (CommandStatus.ERROR, CommandStatus.UNKNOWN) and command.remedy == CommandRemedy.RETRY


def command_retry(*, command: Command, user) -> Command:
    """A manager sends a failed command again: a new audit row with the same parameters, sent like the first."""
    _require_commander(user, command.vehicle)
    if not command_can_retry(command):
        raise CommandRefused("This command cannot be sent again from here.")
    spec = COMMANDS[command.kind]
    status = _status(command.vehicle)
    old_value = (spec.old_value(status) if status else "") or command.old_value
    with transaction.atomic():
        retried, _ = command_record(
            vehicle=command.vehicle,
            user=user,
            kind=command.kind,
            params=command.params,
            old_value=old_value,
            retry_of=command,
        )
        command_enqueue(command=retried)
    logger.info("command %s (%s) retried as %s by user %s", command.pk, command.kind, retried.pk, user.pk)
    return retried


# --- Problems in words -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """What went wrong, what the manager can do, and the request id for support."""

    message: str
    resolution: str = ""
    remedy: str = CommandRemedy.NONE
    request_id: str = ""


def problem_from(exc: Exception, vehicle: Vehicle | None = None) -> Problem:
    """Any failure of a call to a vehicle, in plain words — the one place that advises managers on errors."""
    if isinstance(exc, ReconnectRequired):
        return Problem(exc.user_message, RECONNECT_ADVICE, CommandRemedy.RECONNECT)
    if isinstance(exc, ApplicationError):
        return Problem(exc.user_message, exc.resolution)
    if not isinstance(exc, SmartcarError):
        return Problem(ApplicationError.user_message)
    request_id = (exc.request_id or "")[:64]
    if exc.resolution == REAUTHENTICATE:
        return Problem(exc.user_message, RECONNECT_ADVICE, CommandRemedy.RECONNECT, request_id)
    if exc.type == "PERMISSION":
        advice = "The owner did not grant this; reconnecting lets them grant it."
        return Problem(exc.user_message, advice, CommandRemedy.RECONNECT, request_id)
    if exc.type == "COMPATIBILITY":
        make = make_label(vehicle.make) if vehicle else "This make"
        advice = f"{make} does not offer this for this vehicle."
        return Problem(exc.user_message, advice, CommandRemedy.NONE, request_id)
    if exc.type == "BILLING":
        advice = "Check the Smartcar plan of this installation."
        return Problem(exc.user_message, advice, CommandRemedy.NONE, request_id)
    if exc.resolution == RETRY_LATER or exc.type in ("VEHICLE_STATE", "RATE_LIMIT", "UPSTREAM", "SERVER"):
        wait = f" in about {max(1, round(exc.retry_after / 60))} min" if exc.retry_after else ""
        advice = f"Retry it{wait} when the vehicle can take it."
        return Problem(exc.user_message, advice, CommandRemedy.RETRY, request_id)
    advice = "If it keeps failing, contact support with the request id."
    return Problem(exc.user_message, advice, CommandRemedy.SUPPORT, request_id)


def _problem_fields(problem: Problem) -> dict:
    return {
        "error_message": problem.message[:500],
        "error_resolution": problem.resolution[:300],
        "remedy": problem.remedy,
        "request_id": problem.request_id,
    }


# --- Sending --------------------------------------------------------------------------------------------------------


def _unknown(now: datetime) -> dict:
    """The step to "outcome unknown": the page keeps polling until the read-back has settled it."""
    return {"status": CommandStatus.UNKNOWN, "finished_at": now, "readback": CommandReadback.DUE}


def _move(command: Command, from_status: str, **fields) -> bool:
    """One step of the state machine: true when the row was still in ``from_status`` (exactly one row changed)."""
    return Command.objects.filter(pk=command.pk, status=from_status).update(**fields) == 1


def _prepare(command: Command, spec: CommandSpec | None, secrets: dict) -> tuple[CommandSpec, Any]:
    """The command's spec and a client for the call, before anything is claimed or sent (a failure here sends
    nothing)."""
    if spec is None:
        raise CommandRefused("Fleet no longer knows this command.")
    if any(name not in secrets for name in spec.secret_params):
        # Handed over late by the outbox: the secret travelled only in the message that the broker did not take.
        raise CommandRefused(
            "Fleet could not hand this command to a worker in time and does not keep its PIN; nothing was sent.",
            resolution="Send it again.",
        )
    vehicle = command.vehicle
    if vehicle.account is None or not vehicle.is_connected:
        raise CommandRefused("This vehicle is no longer connected to a Smartcar account.", resolution=RECONNECT_ADVICE)
    if spec.require is not None:
        spec.require(vehicle)
    return spec, transports.current().vehicle_client(vehicle.account)


def command_execute(*, command_id: int, task_id: str = "", secrets: dict | None = None) -> Command | None:
    """Sends a pending command once and records how it ended; a command already claimed is left alone."""
    command = Command.objects.select_related("vehicle__account").filter(pk=command_id).first()
    if command is None:
        return None
    if command.status == CommandStatus.SENDING and task_id and command.task_id == task_id:
        # This very message claimed the command before and is delivered again: its worker died while sending.
        logger.warning("command %s (%s): its worker died while sending it", command.pk, command.kind)
        if _move(command, CommandStatus.SENDING, **_unknown(timezone.now())):
            command_outcome_settle(command_id=command.pk)
        return _reloaded(command)
    vehicle = command.vehicle
    try:
        spec, client = _prepare(command, COMMANDS.get(command.kind), secrets or {})
    except (ApplicationError, SmartcarError) as exc:
        problem = problem_from(exc, vehicle)
        _move(command, CommandStatus.PENDING, status=CommandStatus.ERROR, finished_at=timezone.now(),
              **_problem_fields(problem))  # fmt: skip
        logger.warning("command %s (%s) not sent: %s", command.pk, command.kind, exc)
        return _reloaded(command)
    if not _move(command, CommandStatus.PENDING, status=CommandStatus.SENDING, started_at=timezone.now(),
                 task_id=task_id[:64]):  # fmt: skip
        return _reloaded(command)  # another delivery claimed it: the first one sends it, never a second one
    try:
        response = spec.send(client, vehicle, {**command.params, **(secrets or {})})
    except SmartcarError as exc:
        logger.warning("command %s (%s) failed: %s", command.pk, command.kind, exc)
        if exc.needs_reconnect and vehicle.account is not None:
            account_mark_needs_reconnect(account=vehicle.account, reason=str(exc))
        _move(command, CommandStatus.SENDING, status=CommandStatus.ERROR, finished_at=timezone.now(),
              **_problem_fields(problem_from(exc, vehicle)))  # fmt: skip
        return _reloaded(command)
    except Exception:
        # A bug of ours after the request may have gone out: the outcome is unknown, and reading back settles it.
        logger.exception("command %s (%s): failed while sending", command.pk, command.kind)
        _move(command, CommandStatus.SENDING, **_unknown(timezone.now()))
        command_outcome_settle(command_id=command.pk)
        return _reloaded(command)
    reported = spec.reported(response, command.params) if spec.reported else None
    path = spec.readback_path(vehicle)
    done = {
        "status": CommandStatus.DONE,
        "finished_at": timezone.now(),
        "request_id": (response.request_id or "")[:64],
        "readback": CommandReadback.DUE if path else CommandReadback.NONE,
    }
    if reported:
        done["new_value"] = reported[:80]
    _move(command, CommandStatus.SENDING, **done)
    logger.info("command %s (%s) done", command.pk, command.kind)
    if path:
        command.refresh_from_db()
        _read_back(command, spec, path)
    return _reloaded(command)


def _reloaded(command: Command) -> Command:
    command.refresh_from_db()
    return command


def _read_back(command: Command, spec: CommandSpec, path: str) -> str | None:
    """Reads the command's signal from the vehicle, stores the reading, records what the vehicle shows; returns it
    (None when it could not be read or does not say)."""
    from vehicles.status_store import vehicle_readings_store

    vehicle = command.vehicle
    now = timezone.now()
    transport = transports.current()
    try:
        # The API's own read of the path: GET /vehicles/{id}{path} on v2, every signal on v3 (connect/transports.py).
        response = transport.fetch_one(vehicle.smartcar_id, transport.credential(vehicle.account), path)
    except (ApplicationError, SmartcarError) as exc:
        logger.info("command %s (%s): read-back of %s failed: %s", command.pk, command.kind, path, exc)
        Command.objects.filter(pk=command.pk).update(readback=CommandReadback.UNREAD, observed_at=now)
        return None
    headers = {"sc-data-age": response.data_age.isoformat()} if response.data_age else {}
    vehicle_readings_store(
        vehicle=vehicle, items=[{"path": path, "code": 200, "body": response.body, "headers": headers}], now=now
    )
    shown = spec.readback.shows(response.body, command.params) if spec.readback else None
    if shown is None:
        readback = CommandReadback.UNREAD
    else:
        readback = CommandReadback.CONFIRMED if shown == command.new_value else CommandReadback.DIFFERS
    Command.objects.filter(pk=command.pk).update(readback=readback, observed_value=(shown or "")[:80], observed_at=now)
    return shown


# --- Settling what a crash left behind ------------------------------------------------------------------------------

LOST_WHILE_SENDING = "Fleet lost the vehicle's answer to this command (its worker stopped while sending it)"


def command_outcome_settle(*, command_id: int) -> Command | None:
    """An unknown outcome, settled by reading the command's signal back: what the vehicle shows now is recorded,
    and the command becomes done (it took effect), failed (it did not) or stays unknown (the vehicle does not say)."""
    command = Command.objects.select_related("vehicle__account").filter(pk=command_id).first()
    if command is None or command.status != CommandStatus.UNKNOWN or command.observed_at is not None:
        return command
    spec = COMMANDS.get(command.kind)
    path = spec.readback_path(command.vehicle) if spec else None
    unknown = {"remedy": CommandRemedy.RETRY, "error_resolution": "Check the vehicle before you send it again."}
    if spec is None or path is None:
        Command.objects.filter(pk=command.pk).update(
            error_message=f"{LOST_WHILE_SENDING}, and the vehicle does not report this back."[:500],
            readback=CommandReadback.NONE,
            observed_at=timezone.now(),
            **unknown,
        )
        return _reloaded(command)
    try:
        shown = _read_back(command, spec, path)
    except (ApplicationError, SmartcarError) as exc:
        shown = None
        Command.objects.filter(pk=command.pk).update(readback=CommandReadback.UNREAD, observed_at=timezone.now())
        logger.info("command %s: outcome could not be read back: %s", command.pk, exc)
    command.refresh_from_db()
    if shown is None:
        message = f"{LOST_WHILE_SENDING}, and could not read the vehicle back."
        Command.objects.filter(pk=command.pk).update(error_message=message[:500], **unknown)
    elif command.readback == CommandReadback.CONFIRMED:
        Command.objects.filter(pk=command.pk).update(status=CommandStatus.DONE)
    else:
        message = f"{LOST_WHILE_SENDING}; the vehicle shows {shown}, so it did not take effect."
        Command.objects.filter(pk=command.pk).update(
            status=CommandStatus.ERROR,
            error_message=message[:500],
            error_resolution=RETRY_ADVICE,
            remedy=CommandRemedy.RETRY,
        )
    logger.info("command %s (%s): outcome settled, the vehicle shows %s", command.pk, command.kind, shown)
    return _reloaded(command)


def commands_settle(*, now: datetime | None = None) -> int:
    """Beat: commands stuck past the task time limit are resolved; returns how many were touched.

    - pending, handed over long ago (its message was lost): handed over once more; the second time, failed as not
      sent — nothing was sent, and the page says so; never handed over at all (the broker was down all along): failed
      as not sent too, rather than sent long after the click;
    - sending for that long (its worker died during the call): outcome unknown, settled by reading back;
    - done or unknown with a read-back that never finished (its worker died meanwhile): read back now.
    """
    from vehicles.tasks import command_settle

    now = now or timezone.now()
    stuck = now - stuck_after()
    touched = 0
    pending = Command.objects.filter(status=CommandStatus.PENDING)
    not_sent = {
        "status": CommandStatus.ERROR,
        "finished_at": now,
        "error_message": "Fleet could not hand this command to a worker in time; nothing was sent to the vehicle.",
        "error_resolution": RETRY_ADVICE,
        "remedy": CommandRemedy.RETRY,
    }
    # Never handed over (the broker was down all along): too late to send it behind the manager's back.
    touched += pending.filter(enqueued_at__isnull=True, requeued=False, created_at__lt=stuck).update(**not_sent)
    lost = pending.filter(enqueued_at__lt=stuck)
    touched += lost.filter(requeued=True).update(**not_sent)
    touched += lost.filter(requeued=False).update(requeued=True, enqueued_at=None)  # the outbox hands them over
    died = list(Command.objects.filter(status=CommandStatus.SENDING, started_at__lt=stuck).values_list("pk", flat=True))
    for pk in died:
        if Command.objects.filter(pk=pk, status=CommandStatus.SENDING).update(**_unknown(now)):
            logger.warning("command %s: its worker died while sending it; reading the vehicle back", pk)
            enqueue(command_settle, pk)
            touched += 1
    unread = Command.objects.filter(readback=CommandReadback.DUE, finished_at__lt=stuck)
    for pk in unread.values_list("pk", flat=True):
        enqueue(command_settle, pk)
        touched += 1
    return touched


def command_settle(*, command_id: int) -> Command | None:
    """Reads back a command whose read-back never finished, or settles one whose outcome is unknown."""
    command = Command.objects.select_related("vehicle__account").filter(pk=command_id).first()
    if command is None:
        return None
    if command.status == CommandStatus.UNKNOWN:
        return command_outcome_settle(command_id=command_id)
    spec = COMMANDS.get(command.kind)
    if command.readback != CommandReadback.DUE or spec is None:
        return command
    path = spec.readback_path(command.vehicle)
    if path is None:
        Command.objects.filter(pk=command.pk).update(readback=CommandReadback.UNREAD, observed_at=timezone.now())
    else:
        _read_back(command, spec, path)
    return _reloaded(command)


OUTBOX = OutboxSource(
    model="vehicles.Command",
    task="vehicles.tasks.command_run",
    pending=Q(status=CommandStatus.PENDING),
    created_field="created_at",
)
