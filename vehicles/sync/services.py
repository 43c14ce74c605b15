"""The sync engine's services beside the round: "Sync now", billing pauses and resumes, history retention."""

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db.models import Q
from django.utils import timezone

from connect.errors import SmartcarError
from connect.models import SmartcarAccount
from fleet.models import Membership, Role
from fleet.outbox import enqueue
from vehicles.models import EndpointState, FleetSync, SyncState, Vehicle, VehicleStatus, VehicleSync
from vehicles.signals import fleet_sync_changed_send, vehicles_changed_send
from vehicles.sync.planning import endpoint_states_ensure

logger = logging.getLogger(__name__)


def vehicle_sync_now(*, vehicle: Vehicle, paths: Iterable[str] | None = None) -> None:
    """Fetch these paths (default: the whole poll set) of the vehicle at once, whatever their cadence.

    Used by the "Sync now" button and admin action, and by webhook events for a targeted sync. The fetch runs in a
    task after the transaction commits; a back-off (asleep, rate limited) is still honoured, never a wake-up.
    """
    from vehicles.tasks import sync_vehicle_now

    now = timezone.now()
    VehicleSync.objects.get_or_create(vehicle=vehicle)
    states = endpoint_states_ensure(vehicle)
    wanted = set(paths) if paths is not None else None
    if wanted is not None and not wanted & states.keys():
        # Paths this API does not have (API v3 reads every signal in one call): refresh what it does have.
        wanted = None
    due = [s.pk for s in states.values() if wanted is None or s.path in wanted]
    EndpointState.objects.filter(pk__in=due).update(next_sync_at=now)
    VehicleSync.objects.filter(vehicle=vehicle).update(next_sync_at=now, requested_at=now)
    # With the broker down the request still stands: the vehicle is due now, and the dispatcher takes it.
    enqueue(sync_vehicle_now, vehicle.pk)


def vehicle_sync_resume(*, vehicle: Vehicle) -> None:
    """After its owner reconnected it: no back-off left from the lost access, and every endpoint read at once."""
    VehicleSync.objects.filter(vehicle=vehicle).update(backoff_until=None, backoff_failures=0)
    VehicleStatus.objects.filter(vehicle=vehicle, sync_state=SyncState.NEEDS_RECONNECT).update(
        sync_state=SyncState.OK, last_error=""
    )
    vehicle_sync_now(vehicle=vehicle)


def fleet_sync_resume(*, fleet_sync: FleetSync) -> None:
    """An owner resumes polling after a billing pause (e.g. after upgrading the plan). The vehicles that showed the
    pause show it no longer; whatever follows their state (alerts) is told now, not at their next round."""
    FleetSync.objects.filter(pk=fleet_sync.pk).update(paused_until=None, alert="")
    paused = VehicleStatus.objects.filter(vehicle__fleet_id=fleet_sync.pk, sync_state=SyncState.PAUSED)
    vehicle_ids = list(paused.values_list("vehicle_id", flat=True))
    paused.update(sync_state=SyncState.OK)
    vehicles_changed_send(vehicle_ids=vehicle_ids, source="sync")
    fleet_sync_changed_send(fleet_id=fleet_sync.pk)


def fleet_billing_pause(*, fleet_id: int, error: SmartcarError, now: datetime | None = None) -> None:
    """430 BILLING: pause the whole fleet's polling and tell its owners (once per pause)."""
    now = now or timezone.now()
    alert = (
        f"Polling paused: Smartcar answered a billing error ({error.code or error.type}). {error.user_message} "
        "Resume polling in admin once the plan allows it."
    )[:500]
    FleetSync.objects.get_or_create(fleet_id=fleet_id)
    newly = FleetSync.objects.filter(Q(paused_until__isnull=True) | Q(paused_until__lt=now), fleet_id=fleet_id).update(
        paused_until=now + timedelta(hours=settings.SYNC_BILLING_PAUSE_HOURS), alert=alert
    )
    if not newly:
        return
    fleet_sync_changed_send(fleet_id=fleet_id)
    logger.warning("fleet %s: polling paused after a billing error [request %s]", fleet_id, error.request_id)
    owners = list(Membership.objects.filter(fleet_id=fleet_id, role=Role.OWNER).values_list("user__email", flat=True))
    if owners:
        send_mail("Fleet: vehicle polling paused", alert, None, owners, fail_silently=True)


def account_needs_reconnect(*, account_id: int, error: SmartcarError) -> None:
    """The grant is gone (401, or a whole request refused with REAUTHENTICATE): the account waits for Connect."""
    from connect.tokens import account_mark_needs_reconnect

    account = SmartcarAccount.objects.filter(pk=account_id).first()
    if account is not None:
        account_mark_needs_reconnect(account=account, reason=error.user_message)
