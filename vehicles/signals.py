"""What the layers above learn when a vehicle's data arrives, without this app importing them.

- ``readings_stored`` is sent by the sync round after a group of vehicles' readings is committed (``vehicle_ids``:
  the vehicles stored). Receivers run in the round's process: they must be quick and must not raise (sent with
  send_robust).
- ``vehicles_changed`` is sent after something else new about vehicles was committed: a webhook event was applied,
  their connection's state changed (access lost, reconnected, disconnected), they joined or left a group, trips
  found a vehicle leaving or coming back to a closed place, their fleet's polling resumed after a billing pause.
  ``vehicle_ids`` and ``source`` ("webhook", "connection", "group", "trips", "sync").
- ``fleet_sync_changed`` is sent after a fleet's polling paused (Smartcar's billing error) or resumed was committed
  (``fleet_ids``): news about the whole fleet, not about each of its vehicles.

Receivers (trips, alerts) react to exactly those vehicles rather than scanning the fleet; their failures are logged,
never raised into the sync round or the webhook worker that sent the signal.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from django.db import transaction
from django.dispatch import Signal

logger = logging.getLogger(__name__)

readings_stored = Signal()
vehicles_changed = Signal()
fleet_sync_changed = Signal()


def vehicles_changed_send(*, vehicle_ids: Iterable[int], source: str) -> None:
    """Tells the receivers once the current transaction commits (at once outside one)."""
    ids = sorted(set(vehicle_ids))
    if not ids:
        return
    transaction.on_commit(lambda: _send(ids, source))


def _send(vehicle_ids: list[int], source: str) -> None:
    for receiver, result in vehicles_changed.send_robust(sender=source, vehicle_ids=vehicle_ids, source=source):
        if isinstance(result, Exception):
            logger.error(
                "%s failed on %d changed vehicles (%s)",
                getattr(receiver, "__qualname__", receiver),
                len(vehicle_ids),
                source,
                exc_info=result,
            )


def fleet_sync_changed_send(*, fleet_id: int) -> None:
    """Tells the receivers once the current transaction commits (at once outside one)."""
    transaction.on_commit(lambda: _send_fleet(fleet_id))


def _send_fleet(fleet_id: int) -> None:
    for receiver, result in fleet_sync_changed.send_robust(sender="sync", fleet_ids=[fleet_id]):
        if isinstance(result, Exception):
            logger.error(
                "%s failed on fleet %s's polling change",
                getattr(receiver, "__qualname__", receiver),
                fleet_id,
                exc_info=result,
            )
