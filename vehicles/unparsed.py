"""Readings that could not be read: kept with their reason, logged the first time each kind is seen.

Used by the sync engine and the webhook worker for API v3 signals (vehicles/readings_v3.py) and for webhook payloads
of an unknown version. A reading that cannot be read gives no value at all — never a guessed one.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime

from django.db import IntegrityError, transaction
from django.db.models import F

from vehicles.models import UnparsedReading

logger = logging.getLogger(__name__)


def unparsed_record(*, vehicle_id: int | None, source: str, items: Iterable, now: datetime) -> int:
    """Keeps each ``(code, reason, body)``; returns how many were new kinds (those are logged)."""
    new = 0
    for item in items:
        code, reason = str(item.code)[:80], str(item.reason)[:200]
        body = item.body if isinstance(item.body, dict | list | str | int | float | bool) else None
        seen = UnparsedReading.objects.filter(source=source, code=code, reason=reason)
        seen = seen.filter(vehicle__isnull=True) if vehicle_id is None else seen.filter(vehicle_id=vehicle_id)
        if seen.update(last_seen_at=now, count=F("count") + 1, body=body):
            continue
        try:
            with transaction.atomic():
                UnparsedReading.objects.create(
                    vehicle_id=vehicle_id, source=source, code=code, reason=reason, body=body,
                    first_seen_at=now, last_seen_at=now,
                )  # fmt: skip
        except IntegrityError:  # recorded meanwhile by a concurrent round
            seen.update(last_seen_at=now, count=F("count") + 1, body=body)
            continue
        new += 1
        logger.warning("vehicle %s: %s reading %r not read: %s (kept as it came)", vehicle_id, source, code, reason)
    return new
