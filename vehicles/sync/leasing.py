"""Leases: which round holds a vehicle right now.

A lease is claimed with a conditional UPDATE … WHERE the lease is free, which is atomic on PostgreSQL and SQLite
alike, so several dispatchers or workers never hold the same vehicle. Vehicles handed to workers are leased for as
long as their task may wait in the broker's queue (settings.SYNC_QUEUE_LEASE_SECONDS), so that a backlog is never
dispatched twice; once its round starts, the lease is short (settings.SYNC_LEASE_SECONDS) and renewed while the round
runs (``leases_renew``), so that a dead worker's vehicles are free again within it. A re-delivered task (late ack)
carries the same token and runs the round again for the vehicles still leased with it.
"""

import contextlib
import logging
import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import F, Q
from django.utils import timezone

from connect.models import AccountStatus
from fleet.outbox import send_now
from vehicles.models import Vehicle, VehicleSync
from vehicles.sync.outage import DATABASE_DOWN, cause

logger = logging.getLogger(__name__)


def vehicles_ensure_sync_rows() -> int:
    """A scheduling row for every connected vehicle that has none yet (new connections become due at once)."""
    missing = Vehicle.objects.filter(sync__isnull=True, disconnected_at__isnull=True).values_list("pk", flat=True)
    rows = [VehicleSync(vehicle_id=pk) for pk in missing]
    VehicleSync.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)


def lease_free(now: datetime) -> Q:
    return Q(lease_until__isnull=True) | Q(lease_until__lt=now)


def syncable(now: datetime) -> Q:
    """Connected vehicles of active accounts in fleets whose polling is not paused."""
    return (
        Q(vehicle__disconnected_at__isnull=True)
        & Q(vehicle__account__status=AccountStatus.ACTIVE)
        & ~Q(vehicle__fleet__sync__paused_until__gt=now)
    )


def due(now: datetime) -> Q:
    return Q(next_sync_at__isnull=True) | Q(next_sync_at__lte=now)


def lease_end(now: datetime, *, queued: bool = False) -> datetime:
    return now + timedelta(seconds=settings.SYNC_QUEUE_LEASE_SECONDS if queued else settings.SYNC_LEASE_SECONDS)


def vehicles_lease(
    *, vehicle_ids: Iterable[int], now: datetime | None = None, queued: bool = False
) -> tuple[str, list[int]]:
    """Claim these vehicles if nobody holds them: (lease token, the ids actually claimed).

    ``queued``: for a task that will wait in the broker's queue; otherwise the round starts at once.
    """
    now = now or timezone.now()
    token = secrets.token_hex(8)
    ids = list(vehicle_ids)
    if not ids:
        return token, []
    # The conditional UPDATE is the claim: on PostgreSQL a concurrent UPDATE of the same row waits and then
    # re-checks the WHERE clause, so exactly one claimant's row count includes the row.
    VehicleSync.objects.filter(lease_free(now), vehicle_id__in=ids).update(
        lease_until=lease_end(now, queued=queued), lease_token=token
    )
    claimed = list(VehicleSync.objects.filter(lease_token=token).values_list("vehicle_id", flat=True))
    return token, claimed


def vehicles_lease_due(
    *, now: datetime | None = None, limit: int | None = None, queued: bool = False
) -> tuple[str, list[int]]:
    """Claim up to ``limit`` vehicles that have something due, oldest due first (so that none starves)."""
    now = now or timezone.now()
    limit = limit or settings.SYNC_DISPATCH_LIMIT
    vehicles_ensure_sync_rows()
    ids = (
        VehicleSync.objects.filter(syncable(now), lease_free(now), due(now))
        .order_by(F("next_sync_at").asc(nulls_first=True))
        .values_list("vehicle_id", flat=True)[:limit]
    )
    return vehicles_lease(vehicle_ids=list(ids), now=now, queued=queued)


def leases_renew(*, vehicle_ids: Iterable[int], token: str, now: datetime | None = None) -> list[int]:
    """Renew the short lease of a running round on these vehicles; returns those still held (another round took the
    others since).

    A lease that ran out (a database outage longer than the lease) is taken back while its token is still on the row:
    nobody claimed the vehicle meanwhile.
    """
    ids = list(vehicle_ids)
    if not ids:
        return []
    held = VehicleSync.objects.filter(vehicle_id__in=ids, lease_token=token)
    held.update(lease_until=lease_end(now or timezone.now()))
    return list(held.values_list("vehicle_id", flat=True))


def leases_release(*, vehicle_ids: Iterable[int], token: str) -> int:
    """Give these vehicles back without syncing them (their round could not be started)."""
    return VehicleSync.objects.filter(vehicle_id__in=list(vehicle_ids), lease_token=token).update(
        lease_until=None, lease_token=""
    )


def vehicles_dispatch() -> int:
    """Lease the vehicles that have something due and hand them to workers in tasks of SYNC_TASK_VEHICLES; returns
    how many were handed over.

    With the database or the broker down this dispatch does nothing more and says so in one ERROR line: vehicles the
    broker did not take are released for the next dispatch, and nothing was asked of them.
    """
    from vehicles.tasks import sync_vehicles

    try:
        token, vehicle_ids = vehicles_lease_due(queued=True)
    except DATABASE_DOWN as exc:
        logger.error("sync dispatch: the database is unavailable (%s); the next dispatch tries again", cause(exc))
        return 0
    size = max(1, settings.SYNC_TASK_VEHICLES)
    for start in range(0, len(vehicle_ids), size):
        error = send_now(sync_vehicles, vehicle_ids[start : start + size], token)
        if error is not None:
            left = vehicle_ids[start:]
            with contextlib.suppress(*DATABASE_DOWN):  # their leases run out instead
                leases_release(vehicle_ids=left, token=token)
            logger.error(
                "sync dispatch: the broker is unreachable (%s); %d of %d vehicles wait for the next dispatch",
                cause(error),
                len(left),
                len(vehicle_ids),
            )
            return start
    return len(vehicle_ids)
