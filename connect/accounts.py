"""The fleet's Smartcar accounts as the Connections page shows them: whose they are, and which vehicles Fleet reads.

An account is named by its owner's e-mail where Smartcar gives it: ``/user`` answers only an id (user.md), so the
e-mail comes from Tesla's ``/{make}/user/info`` (tesla__get-user-info.md), which sync reads where the owner granted
``read_user_profile``. Other accounts are named by their vehicles.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Prefetch

from connect.models import SmartcarAccount
from fleet import formatting
from fleet.models import Fleet
from vehicles import conditions
from vehicles.models import EndpointState, Vehicle


@dataclass
class VehicleLine:
    vehicle: Vehicle
    state: str  # in words: "Connected", "Needs reconnect", "Rate limited", "Disconnected 3 May 2027"
    tone: str  # badge colour: "ok", "bad", "warn" or ""


@dataclass
class AccountSummary:
    account: SmartcarAccount
    label: str
    vehicles: list[VehicleLine] = field(default_factory=list)
    needing_reconnect: int = 0  # connected vehicles Fleet can no longer read

    @property
    def offers_reconnect(self) -> bool:
        return not self.account.is_active or self.needing_reconnect > 0


def owner_emails(accounts: list[SmartcarAccount]) -> dict[int, str]:
    """Account id → the owner's e-mail, from the latest user-info reading of any of its vehicles."""
    readings = EndpointState.objects.filter(
        vehicle__account__in=accounts, path__endswith="/user/info", body__isnull=False
    ).order_by("fetched_at")
    emails = {}
    for account_id, body in readings.values_list("vehicle__account_id", "body"):
        if isinstance(body, dict) and isinstance(body.get("email"), str) and body["email"].strip():
            emails[account_id] = body["email"].strip()
    return emails


def account_label(account: SmartcarAccount, vehicles: list[Vehicle], emails: dict[int, str] | None = None) -> str:
    """The owner's e-mail where known, else the account's vehicles: never Smartcar's user id."""
    emails = owner_emails([account]) if emails is None else emails
    if account.pk in emails:
        return emails[account.pk]
    names = [vehicle.display_name for vehicle in vehicles]
    if not names:
        return "Account without vehicles"
    if len(names) <= 2:
        return "Account with " + " and ".join(names)
    return f"Account with {names[0]} and {len(names) - 1} more vehicles"


def _line(vehicle: Vehicle, limits: conditions.Limits) -> VehicleLine:
    if not vehicle.is_connected:
        return VehicleLine(vehicle, f"Disconnected {formatting.day(vehicle.disconnected_at)}", "")
    failing = conditions.sync_failing_reason(vehicle, limits)
    if failing is conditions.NEEDS_RECONNECT:
        return VehicleLine(vehicle, conditions.NEEDS_RECONNECT.label, "bad")
    if failing is not None:
        return VehicleLine(vehicle, f"Connected · {failing.phrase}", "warn")
    return VehicleLine(vehicle, "Connected", "ok")


def fleet_accounts(*, fleet: Fleet, limits: conditions.Limits) -> list[AccountSummary]:
    """Every Smartcar account of the fleet with its vehicles, in three queries."""
    vehicles = Vehicle.objects.filter(fleet=fleet).select_related("status", "account").order_by("pk")
    accounts = list(
        SmartcarAccount.objects.filter(fleet=fleet)
        .prefetch_related(Prefetch("vehicles", queryset=vehicles))
        .order_by("pk")
    )
    emails = owner_emails(accounts)
    summaries = []
    for account in accounts:
        own = list(account.vehicles.all())
        lines = [_line(vehicle, limits) for vehicle in own]
        summaries.append(
            AccountSummary(
                account=account,
                label=account_label(account, own, emails),
                vehicles=lines,
                needing_reconnect=sum(1 for line in lines if line.tone == "bad"),
            )
        )
    return summaries
