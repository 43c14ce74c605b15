"""Reconciling the connections Smartcar knows (management API) with the fleet's own records.

Reference: smartcar-api/management__get-vehicle-connections.md (cursor-paged; the client follows the cursor)
Reference: smartcar-api/management__delete-vehicle-connections.md (disconnect, in connect/services.py)

The management API lists the connections of the whole application, every fleet's. A fleet's owners see only what
concerns their fleet: the connections of the Smartcar users whose accounts the fleet holds, asked for user by user
(the ``user_id`` filter), never the others'.

- *Matched*: connected at Smartcar and a connected vehicle here.
- *Unknown here*: connected at Smartcar by one of the fleet's Smartcar users, but no vehicle here (Connect was left
  half-way, or the vehicle was deleted here only) → adopt: read it with that account's token and register it.
- *Gone at Smartcar*: a vehicle connected here with no connection at Smartcar (disconnected in Smartcar's
  Dashboard or by the owner at the car maker) → clean up: mark it disconnected here, keeping its history.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from django.db import transaction
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from connect import transports
from connect.errors import SmartcarError
from connect.models import AccountStatus, SmartcarAccount
from connect.tokens import ReconnectRequired
from fleet.errors import ApplicationError
from fleet.models import Fleet
from vehicles.models import Vehicle

logger = logging.getLogger(__name__)


class ReconcileError(ApplicationError):
    """Smartcar's list of connections could not be compared with the fleet's records."""


@dataclass
class SmartcarConnection:
    account: SmartcarAccount
    smartcar_vehicle_id: str
    connected_at: datetime | None
    mode: str
    vehicle: Vehicle | None = None  # ours, in this fleet
    in_other_fleet: bool = False
    account_label: str = ""  # the owner's e-mail or the account's vehicles (connect/accounts.py), for the page


@dataclass
class Reconciliation:
    matched: list[SmartcarConnection] = field(default_factory=list)
    unknown_here: list[SmartcarConnection] = field(default_factory=list)
    in_other_fleets: list[SmartcarConnection] = field(default_factory=list)
    gone_at_smartcar: list[Vehicle] = field(default_factory=list)

    @property
    def in_step(self) -> bool:
        return not (self.unknown_here or self.gone_at_smartcar)


def _accounts(fleet: Fleet):
    return SmartcarAccount.objects.filter(fleet=fleet).exclude(status=AccountStatus.DISCONNECTED).order_by("pk")


def fleet_connections_reconcile(*, fleet: Fleet) -> Reconciliation:
    """Every connection of the fleet's Smartcar users at Smartcar, set against the fleet's vehicles."""
    result = Reconciliation()
    accounts = list(_accounts(fleet))
    listed: list[SmartcarConnection] = []
    try:
        for account in accounts:
            for item in transports.current().connections(user_id=account.smartcar_user_id):
                if not item.smartcar_vehicle_id:
                    continue
                listed.append(
                    SmartcarConnection(
                        account=account,
                        smartcar_vehicle_id=item.smartcar_vehicle_id,
                        connected_at=item.connected_at,
                        mode=item.mode,
                    )
                )
    except SmartcarError as exc:
        logger.warning("reconcile fleet %s: management API failed: %s", fleet.pk, exc)
        raise ReconcileError(
            "Smartcar's list of connections could not be read just now. Please try again in a few minutes."
        ) from exc
    known = {v.smartcar_id: v for v in Vehicle.objects.filter(smartcar_id__in=[c.smartcar_vehicle_id for c in listed])}
    at_smartcar: set[str] = set()
    for connection in listed:
        at_smartcar.add(connection.smartcar_vehicle_id)
        vehicle = known.get(connection.smartcar_vehicle_id)
        if vehicle is not None and vehicle.fleet_id != fleet.pk:
            connection.in_other_fleet = True
            result.in_other_fleets.append(connection)
        elif vehicle is not None and vehicle.is_connected:
            connection.vehicle = vehicle
            result.matched.append(connection)
        else:
            connection.vehicle = vehicle  # None, or ours but marked disconnected here
            result.unknown_here.append(connection)
    result.gone_at_smartcar = list(
        Vehicle.objects.filter(fleet=fleet, account__in=accounts, disconnected_at__isnull=True)
        .exclude(smartcar_id__in=at_smartcar)
        .select_related("account")
    )
    return result


@sensitive_variables()
def connection_adopt(*, fleet: Fleet, account: SmartcarAccount, smartcar_vehicle_id: str) -> Vehicle:
    """Registers a vehicle that the fleet's Smartcar user connected but Fleet does not know (or had disconnected)."""
    from connect.services import _read_vehicle  # the one reading of a vehicle's facts, shared with Connect

    if account.fleet_id != fleet.pk:
        raise ReconcileError("That account belongs to another fleet.")
    existing = Vehicle.objects.filter(smartcar_id=smartcar_vehicle_id).first()
    if existing is not None and existing.fleet_id != fleet.pk:
        raise ReconcileError("That vehicle is connected to another fleet; it can be in one fleet only.")
    try:
        facts = _read_vehicle(transports.current().reader_for(account), smartcar_vehicle_id)
    except ReconnectRequired as exc:
        raise ReconcileError(exc.user_message) from exc
    except SmartcarError as exc:
        logger.warning("adopt vehicle for account %s failed: %s", account.pk, exc)
        raise ReconcileError(
            f"Smartcar did not let Fleet read that vehicle ({exc.user_message}) Connecting it again through Connect "
            "will add it."
        ) from exc
    with transaction.atomic():
        vehicle = existing or Vehicle(fleet=fleet, smartcar_id=smartcar_vehicle_id)
        vehicle.account = account
        vehicle.make, vehicle.model, vehicle.year = facts.make, facts.model, facts.year
        vehicle.vin = facts.vin or vehicle.vin
        vehicle.permissions = facts.permissions
        vehicle.disconnected_at = None
        vehicle.save()
    logger.info("reconcile: vehicle %s adopted into fleet %s", vehicle.pk, fleet.pk)
    return vehicle


def vehicle_gone_clean_up(*, vehicle: Vehicle) -> None:
    """A vehicle Smartcar no longer has a connection for: disconnected here too, its history kept."""
    now = timezone.now()
    with transaction.atomic():
        Vehicle.objects.filter(pk=vehicle.pk).update(disconnected_at=now, webhook_subscribed=False, updated_at=now)
        account = vehicle.account
        if account is not None and not account.vehicles.filter(disconnected_at__isnull=True).exists():
            SmartcarAccount.objects.filter(pk=account.pk).update(status=AccountStatus.DISCONNECTED, updated_at=now)
    logger.info("reconcile: vehicle %s gone at Smartcar, marked disconnected", vehicle.pk)
