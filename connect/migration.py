"""Moving an installation from Smartcar API v2.0 to v3 without losing vehicles, history or commands.

Reference: smartcar-api-v3/migration__v2-to-v3.md (the four steps: credentials, the user id from Connect, backfill
existing connections from ``GET /v3/connections``, switch to application tokens) — Fleet's way of them:

1. *Capture user ids*: every connected account's vehicles are looked up in ``GET /v3/connections``. v2 stored the
   Smartcar user id from ``GET /user``, which is the id v3 sends as ``sc-user-id``; where v3 lists an account's
   vehicles under another user id, that id is taken (backfilled).
2. *Verify*: every connected vehicle must answer on v3 (``GET /v3/vehicles/{id}`` for its user).
3. *Switch*: only if every vehicle answered — the webhook subscriptions are made again through the Management API
   and the switch is recorded (``ApiSwitch``), which every process picks up within seconds
   (connect/transports.py). Nothing is deleted: vehicles, their history and the command log stay as they are, and
   the v2 token vault is kept (an installation can go back by deleting the switch).

A dry run does steps 1 and 2 and reports what would change, changing nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from django.db import transaction

from connect import client_v3, transports
from connect.errors import SmartcarError
from connect.models import AccountStatus, ApiSwitch, SmartcarAccount, SubscriptionStatus, WebhookSubscription
from vehicles.models import Vehicle

logger = logging.getLogger(__name__)


@dataclass
class MigrationReport:
    dry_run: bool
    already: bool = False
    accounts: int = 0
    vehicles: int = 0
    backfilled: list[str] = field(default_factory=list)  # one line per account whose user id changes
    failing: list[str] = field(default_factory=list)  # one line per vehicle that does not answer on v3
    resubscribed: int = 0
    switched: bool = False
    problem: str = ""

    @property
    def lines(self) -> list[str]:
        if self.already:
            return ["The installation already uses Smartcar API v3; nothing to do."]
        if self.problem:
            return [self.problem]
        lines = [
            f"{self.accounts} connected account(s), {self.vehicles} connected vehicle(s) checked on Smartcar API v3.",
            *self.backfilled,
            *self.failing,
        ]
        if self.failing:
            lines.append("Not switched: every vehicle must answer on API v3 first (reconnect or disconnect these).")
        elif self.dry_run:
            lines.append(f"Dry run: every vehicle answers on API v3; {self.vehicles} vehicle(s) would move.")
        else:
            lines.append(
                f"Switched to Smartcar API v3: {self.vehicles} vehicle(s) moved, {self.resubscribed} webhook "
                "subscription(s) made again; vehicles, history and commands are kept."
            )
        return lines


def _label(vehicle: Vehicle) -> str:
    return f"{vehicle} (id {vehicle.pk})"


def installation_migrate_to_v3(*, dry_run: bool, by: str = "") -> MigrationReport:
    """Checks (and unless ``dry_run`` performs) the move of every connected account and vehicle to API v3."""
    report = MigrationReport(dry_run=dry_run)
    if transports.installed_version() == "3":
        report.already = True
        return report
    accounts = list(SmartcarAccount.objects.exclude(status=AccountStatus.DISCONNECTED).order_by("pk"))
    user_ids: dict[int, str] = {}
    try:
        for account in accounts:
            vehicles = list(account.vehicles.filter(disconnected_at__isnull=True).order_by("pk"))
            report.accounts += 1
            report.vehicles += len(vehicles)
            user_ids[account.pk] = _capture_user_id(account, vehicles, report)
            for vehicle in vehicles:
                _verify(vehicle, user_ids[account.pk], report)
    except SmartcarError as exc:
        # Credentials, the token endpoint or the Connections API itself failing: nothing can be judged.
        logger.warning("migration to API v3: %s", exc)
        report.problem = f"Smartcar API v3 could not be asked ({exc.user_message}); nothing was changed."
        return report
    if dry_run or report.failing:
        logger.info("migration to API v3 %s: %s", "dry run" if dry_run else "refused", "; ".join(report.lines))
        return report
    with transaction.atomic():
        for account in accounts:
            if user_ids[account.pk] != account.smartcar_user_id:
                SmartcarAccount.objects.filter(pk=account.pk).update(smartcar_user_id=user_ids[account.pk])
        switch = ApiSwitch.objects.create(version="3", switched_by=by[:254], report=[])
    transports.switch_forget()
    report.resubscribed = _resubscribe()
    report.switched = True
    ApiSwitch.objects.filter(pk=switch.pk).update(report=report.lines)
    logger.info("migration to API v3 done: %s", "; ".join(report.lines))
    return report


def _capture_user_id(account: SmartcarAccount, vehicles: list[Vehicle], report: MigrationReport) -> str:
    """The account's Smartcar user id as v3 lists its vehicles' connections (backfilled where it differs)."""
    listed = {client_v3.connection_vehicle_id(c) for c in client_v3.connections_list(user_id=account.smartcar_user_id)}
    if not vehicles or any(v.smartcar_id in listed for v in vehicles):
        return account.smartcar_user_id
    found = {
        client_v3.connection_user_id(c)
        for vehicle in vehicles
        for c in client_v3.connections_list(vehicle_id=vehicle.smartcar_id)
    } - {""}
    if len(found) == 1:
        (user_id,) = found
        report.backfilled.append(f"Account {account.pk}: its Smartcar user id is taken from API v3's connections.")
        return user_id
    return account.smartcar_user_id


def _verify(vehicle: Vehicle, user_id: str, report: MigrationReport) -> None:
    try:
        # Reference: smartcar-api-v3/vehicles__get.md
        client_v3.VehicleApi(user_id).vehicle(vehicle.smartcar_id)
    except SmartcarError as exc:
        if exc.type in ("AUTHENTICATION", "OAUTH", "TRANSPORT"):
            raise
        report.failing.append(f"{_label(vehicle)} does not answer on API v3: {exc.user_message}")


def _resubscribe() -> int:
    """Subscribes again, through API v3's Management API, every vehicle that was subscribed to a webhook."""
    transport = transports.for_version("3")
    count = 0
    rows = WebhookSubscription.objects.filter(status=SubscriptionStatus.SUBSCRIBED).select_related(
        "webhook", "vehicle__account"
    )
    for row in rows:
        account = row.vehicle.account
        if account is None or not row.vehicle.is_connected:
            continue
        try:
            transport.subscribe(account=account, vehicle_id=row.vehicle.smartcar_id, webhook_id=row.webhook.smartcar_id)
        except SmartcarError as exc:
            logger.warning("migration: vehicle %s not subscribed again: %s", row.vehicle_id, exc)
            continue
        count += 1
    return count
