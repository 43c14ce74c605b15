"""What people do with alerts: acknowledge one with a note."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from alerts.evaluation import _event
from alerts.models import Alert, AlertState, EventKind
from fleet.errors import ApplicationError


class AlertError(ApplicationError):
    pass


def alert_acknowledge(*, alert: Alert, user, note: str = "") -> Alert:
    """An open alert becomes acknowledged: someone has seen it. It still resolves by itself when its condition ends."""
    now = timezone.now()
    note = note.strip()[:500]
    with transaction.atomic():
        done = Alert.objects.filter(pk=alert.pk, state=AlertState.OPEN).update(
            state=AlertState.ACKNOWLEDGED, acknowledged_at=now, acknowledged_by=user, note=note, changed_at=now
        )
        if not done:
            raise AlertError("This alert is no longer open: someone acknowledged it or it resolved.")
        _event(alert, EventKind.ACKNOWLEDGED, now, alert.summary, by=user, note=note)
    alert.refresh_from_db()
    return alert
