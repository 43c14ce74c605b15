"""Connecting and disconnecting Smartcar accounts and their vehicles.

``connect_complete`` is the one code path of a finished Connect attempt — used by the browser callback and by
``manage.py demo`` alike. It does every Smartcar call first and then writes the account and its vehicles in one
transaction, so a failure anywhere leaves nothing half-connected.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, connection, transaction
from django.http import Http404
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from connect import client, oauth_state, tokens, transports
from connect.errors import (
    OAuthError,
    ResourceNotFoundError,
    SmartcarError,
)
from connect.models import AccountStatus, SmartcarAccount
from fleet.errors import ApplicationError
from fleet.models import Fleet, Membership
from vehicles.models import SyncState, Vehicle, VehicleStatus, make_label
from vehicles.signals import vehicles_changed_send
from vehicles.sync import vehicle_sync_resume

logger = logging.getLogger(__name__)

# Concurrent reads of vehicle attributes and permissions during Connect (a dozen vehicles, three reads each).
CONNECT_READ_WORKERS = 6


class ConnectError(ApplicationError):
    """A Connect attempt that cannot complete, with words for the fleet manager (``reason`` for the log)."""

    def __init__(self, reason: str, user_message: str):
        self.reason = reason
        super().__init__(user_message)

    def __str__(self) -> str:
        return self.reason


# Connect's own errors, sent back to the redirect URI as ?error=… (changelog 2023-03-14 and Smartcar's Connect
# error guide): what the fleet manager reads for each.
_CONNECT_ERROR_MESSAGES = {
    "access_denied": "The connection was cancelled: access to the vehicles was not granted.",
    "no_vehicles": "No vehicles were found in that car maker account, so nothing was connected.",
    "invalid_subscription": (
        "The vehicle's connected-services subscription with its car maker is not active. Activate it in the "
        "car maker's app, then connect again."
    ),
    "configuration_error": (
        "Smartcar reported a configuration problem with this installation (for example its redirect URI or "
        "client id). Ask the administrator to check the Smartcar settings."
    ),
    "server_error": "Smartcar had a problem completing the connection. Please try again in a few minutes.",
}


def connect_error_message(params) -> str:
    """Plain words for the ``error`` query parameters Connect redirected back with."""
    error = params.get("error", "")
    if error == "vehicle_incompatible":
        make = make_label(params["make"]) if params.get("make") else ""
        vehicle = " ".join(part for part in (params.get("year"), make, params.get("model")) if part)
        vin = params.get("vin")
        described = f"{vehicle or 'The vehicle'}{f' (VIN {vin})' if vin else ''}"
        return f"{described} is not compatible with Smartcar, so it was not connected."
    return _CONNECT_ERROR_MESSAGES.get(
        error, "The connection could not be completed. Please try again, or contact the administrator."
    )


VehicleFacts = transports.Facts


@dataclass
class ConnectOutcome:
    account: SmartcarAccount
    created: list[Vehicle] = field(default_factory=list)
    # Vehicles Fleet could not read before (disconnected, or their access or their account's grant lost).
    reconnected: list[Vehicle] = field(default_factory=list)
    updated: list[Vehicle] = field(default_factory=list)
    refused: list[VehicleFacts] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def summary(self) -> str:
        parts = []
        if self.created:
            parts.append(f"{_vehicles(len(self.created))} connected")
        if self.reconnected:
            parts.append(f"{_vehicles(len(self.reconnected))} reconnected")
        if self.updated:
            parts.append(f"{_vehicles(len(self.updated))} already connected and brought up to date")
        text = (", ".join(parts) or "No vehicles connected") + "."
        for facts in self.refused:
            text += (
                f" {_describe(facts)} is already connected to another fleet and was not added; it can be in one "
                "fleet only."
            )
        return " ".join([text, *self.notes])


def _vehicles(count: int) -> str:
    return f"{count} vehicle{'s' if count != 1 else ''}"


def _describe(facts: VehicleFacts) -> str:
    name = " ".join(str(p) for p in (facts.year, make_label(facts.make), facts.model) if p)
    return f"{name or 'A vehicle'}{f' (VIN {facts.vin})' if facts.vin else ''}"


def _smartcar_failure(exc: SmartcarError, step: str) -> ConnectError:
    logger.warning("connect: %s failed: %s", step, exc)
    if isinstance(exc, OAuthError):
        if exc.error == "invalid_grant":
            return ConnectError(
                f"{step}: {exc.error}",
                "That Connect answer was already used or has expired. Please connect again.",
            )
        return ConnectError(
            f"{step}: {exc.error}",
            "Smartcar did not accept this installation's credentials. Ask the administrator to check the "
            "Smartcar client id and secret.",
        )
    if exc.type == "BILLING":
        return ConnectError(f"{step}: {exc.type}", exc.user_message)
    if exc.type == "CONNECTED_SERVICES_ACCOUNT" and exc.code == "SUBSCRIPTION":
        return ConnectError(f"{step}: {exc.code}", _CONNECT_ERROR_MESSAGES["invalid_subscription"])
    return ConnectError(
        f"{step}: {exc.__class__.__name__}",
        "Smartcar could not be reached or did not answer properly, so nothing was connected. "
        "Please try again in a few minutes.",
    )


def _read_vehicle(reader, vehicle_id: str) -> VehicleFacts:
    """A connected vehicle's make, model, year, VIN and permissions, read the installation's way."""
    return transports.current().read_vehicle(reader, vehicle_id)


@sensitive_variables()
def connect_complete(*, fleet: Fleet, user, params) -> ConnectOutcome:
    """Registers the Smartcar user's account and vehicles in ``fleet`` from Connect's redirect parameters.

    On API v2.0 the code is exchanged for a token pair; on API v3 the redirect names the Smartcar user
    (connect/transports.py). Connecting the same Smartcar user again updates the account and its vehicles (a
    reconnect); a vehicle already in another fleet is refused, the others are connected.
    """
    transport = transports.current()
    try:
        grant = transport.grant(params)
    except transports.ConnectRefused as exc:
        # v2 needs the authorization code, v3 the user id; without it nothing can be connected.
        missing = "user id" if "user_id" in str(exc) else "authorization code"
        raise ConnectError(str(exc), f"The answer from Smartcar had no {missing}. Please try again.") from exc
    except SmartcarError as exc:
        raise _smartcar_failure(
            exc, "code exchange" if isinstance(exc, OAuthError) else "reading the vehicles"
        ) from exc
    if not grant.smartcar_user_id:
        raise ConnectError("user without id", "Smartcar did not say whose vehicles these are. Please try again.")
    if not grant.vehicle_ids:
        raise ConnectError("no vehicles", _CONNECT_ERROR_MESSAGES["no_vehicles"])
    try:
        # One at a time on SQLite: it has a single writer, and the in-process simulator writes on every call.
        workers = 1 if connection.vendor == "sqlite" else CONNECT_READ_WORKERS
        with ThreadPoolExecutor(max_workers=workers) as pool:
            facts = list(pool.map(lambda vid: transport.read_vehicle(grant.reader, vid), grant.vehicle_ids))
    except SmartcarError as exc:
        raise _smartcar_failure(exc, "reading the vehicles") from exc
    try:
        return _connect_save(
            fleet=fleet, user=user, smartcar_user_id=grant.smartcar_user_id, pair=grant.pair, facts=facts
        )
    except IntegrityError as exc:
        # Two callbacks saving the same account or vehicle at the same moment: the loser saves nothing.
        raise ConnectError(
            "concurrent save", "These vehicles were being connected at the same moment elsewhere. Please try again."
        ) from exc


@transaction.atomic
@sensitive_variables()
def _connect_save(*, fleet, user, smartcar_user_id: str, pair: client.TokenPair | None, facts: list[VehicleFacts]):
    account = SmartcarAccount.objects.select_for_update().filter(fleet=fleet, smartcar_user_id=smartcar_user_id).first()
    if account is None:
        account = SmartcarAccount(fleet=fleet, smartcar_user_id=smartcar_user_id)
    account_was_lost = account.pk is not None and not account.is_active
    if pair is not None:
        tokens.account_store_tokens(account=account, pair=pair)
    else:
        tokens.account_without_tokens(account=account)
    account.status = AccountStatus.ACTIVE
    account.last_error = ""
    account.refresh_claimed_until = None
    account.connected_by = user
    account.save()
    outcome = ConnectOutcome(account=account)
    existing = {
        v.smartcar_id: v
        for v in Vehicle.objects.select_for_update().filter(smartcar_id__in=[f.smartcar_id for f in facts])
    }
    access_lost = set(
        VehicleStatus.objects.filter(vehicle__in=existing.values(), sync_state=SyncState.NEEDS_RECONNECT).values_list(
            "vehicle_id", flat=True
        )
    )
    for fact in facts:
        vehicle = existing.get(fact.smartcar_id)
        if vehicle is not None and vehicle.fleet_id != fleet.pk:
            outcome.refused.append(fact)
            logger.info("connect: vehicle %s refused, it belongs to another fleet", fact.smartcar_id)
            continue
        if vehicle is None:
            vehicle = Vehicle(fleet=fleet, smartcar_id=fact.smartcar_id)
            outcome.created.append(vehicle)
        elif account_was_lost or vehicle.disconnected_at is not None or vehicle.pk in access_lost:
            outcome.reconnected.append(vehicle)
        else:
            outcome.updated.append(vehicle)
        vehicle.account = account
        vehicle.make, vehicle.model, vehicle.year = fact.make, fact.model, fact.year
        vehicle.vin = fact.vin or vehicle.vin
        vehicle.permissions = fact.permissions
        vehicle.disconnected_at = None
        vehicle.save()
    if not outcome.created and not outcome.reconnected and not outcome.updated:
        # Every vehicle belongs to another fleet: raising rolls the account back, no tokens are kept for nothing.
        raise ConnectError("all vehicles in other fleets", "Nothing was connected." + outcome.summary.split(".", 1)[1])
    for vehicle in outcome.reconnected:
        vehicle_sync_resume(vehicle=vehicle)
    vehicles_changed_send(vehicle_ids=[v.pk for v in outcome.reconnected], source="connection")
    logger.info(
        "connect: account %s in fleet %s: %d new, %d reconnected, %d updated, %d refused",
        account.pk,
        fleet.pk,
        len(outcome.created),
        len(outcome.reconnected),
        len(outcome.updated),
        len(outcome.refused),
    )
    return outcome


@dataclass
class CallbackResult:
    fleet: Fleet
    next_url: str | None
    outcome: ConnectOutcome | None = None
    error_message: str | None = None


def connect_callback(*, session, user, params) -> CallbackResult:
    """Everything Connect's redirect back means, for the browser callback and the demo alike.

    Verifies and spends the state (raises ``oauth_state.StateError``), checks that the user may still connect
    vehicles to the fleet the state was issued for (Http404 / PermissionDenied), turns Connect's ``error``
    into words, or completes the connection with the code.
    """
    pending = oauth_state.state_consume(session, params.get("state"), user_id=user.pk)
    membership = Membership.objects.select_related("fleet").filter(user=user, fleet_id=pending.fleet_id).first()
    if membership is None:
        raise Http404("No such fleet")
    if not membership.can_write:
        raise PermissionDenied("Viewers can look but not change anything.")
    result = CallbackResult(fleet=membership.fleet, next_url=pending.next_url)
    error = params.get("error")
    if error:
        logger.info("connect: Smartcar Connect answered %s for fleet %s", str(error)[:64], result.fleet.pk)
        result.error_message = connect_error_message(params)
        return result
    try:
        result.outcome = connect_complete(fleet=result.fleet, user=user, params=params)
    except ConnectError as exc:
        logger.warning("connect: failed for fleet %s: %s", result.fleet.pk, exc.reason)
        result.error_message = exc.user_message
        return result
    if pending.account_id and result.outcome.account.pk != pending.account_id:
        # A reconnect signed in to a different car-maker account: say so, the old account still needs one.
        result.outcome.notes.append(
            "You signed in with a different car maker account than the one that needed reconnecting; "
            "that one still needs to be reconnected with its own sign-in."
        )
    return result


# --- Disconnect -------------------------------------------------------------------------------------------------


class DisconnectError(ApplicationError):
    """Smartcar could not end a connection; nothing was changed."""


def _delete_connection(*, vehicle_id: str | None = None, user_id: str | None = None) -> None:
    """Disconnects one vehicle (of ``user_id``, if given) or every vehicle of a Smartcar user, at Smartcar."""
    transport = transports.current()
    try:
        if vehicle_id:
            transport.disconnect_vehicle(vehicle_id=vehicle_id, user_id=user_id or "")
        elif user_id:
            transport.disconnect_user(user_id=user_id)
        else:
            raise ValueError("Give a vehicle id or a user id")
    except ResourceNotFoundError:
        pass  # already gone at Smartcar: disconnecting here is still right
    except SmartcarError as exc:
        logger.warning("disconnect: management API failed: %s", exc)
        raise DisconnectError(
            "Smartcar could not be reached to end the connection, so nothing was changed. Please try again."
        ) from exc


def vehicle_disconnect(*, vehicle: Vehicle, delete_history: bool) -> None:
    """Ends Smartcar's access to one vehicle; keeps it (disconnected, with its history) or deletes it."""
    _delete_connection(
        vehicle_id=vehicle.smartcar_id, user_id=vehicle.account.smartcar_user_id if vehicle.account else None
    )
    vehicle_pk = vehicle.pk
    with transaction.atomic():
        if delete_history:
            vehicle.delete()
        else:
            Vehicle.objects.filter(pk=vehicle.pk).update(disconnected_at=timezone.now(), updated_at=timezone.now())
        account = vehicle.account
        if account is not None and not account.vehicles.filter(disconnected_at__isnull=True).exists():
            SmartcarAccount.objects.filter(pk=account.pk).update(status=AccountStatus.DISCONNECTED)
        if not delete_history:
            vehicles_changed_send(vehicle_ids=[vehicle_pk], source="connection")
    logger.info("disconnect: vehicle %s (history %s)", vehicle_pk, "deleted" if delete_history else "kept")


def account_disconnect(*, account: SmartcarAccount, delete_history: bool) -> None:
    """Ends Smartcar's access to every vehicle of the account in its fleet."""
    vehicles = list(account.vehicles.filter(fleet=account.fleet_id))
    shared_user = (
        SmartcarAccount.objects.filter(smartcar_user_id=account.smartcar_user_id).exclude(pk=account.pk).exists()
    )
    if shared_user:
        # The same Smartcar user also connected another fleet: deleting by user id would cut that fleet off too.
        for vehicle in vehicles:
            if vehicle.is_connected:
                _delete_connection(vehicle_id=vehicle.smartcar_id, user_id=account.smartcar_user_id)
    else:
        _delete_connection(user_id=account.smartcar_user_id)
    with transaction.atomic():
        if delete_history:
            Vehicle.objects.filter(pk__in=[v.pk for v in vehicles]).delete()
            account.delete()
        else:
            now = timezone.now()
            Vehicle.objects.filter(pk__in=[v.pk for v in vehicles], disconnected_at__isnull=True).update(
                disconnected_at=now, updated_at=now
            )
            SmartcarAccount.objects.filter(pk=account.pk).update(status=AccountStatus.DISCONNECTED, updated_at=now)
            vehicles_changed_send(vehicle_ids=[v.pk for v in vehicles], source="connection")
    logger.info("disconnect: account %s (history %s)", account.pk, "deleted" if delete_history else "kept")
