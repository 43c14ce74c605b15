"""What people do with alerts: acknowledge one with a note; set the fleet's rules and vehicles' exceptions."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from alerts import catalog, channels
from alerts.evaluation import _event
from alerts.models import Alert, AlertRule, AlertState, Endpoint, EventKind, Mode, Subscription
from connect import vault
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


def rules_save(*, fleet, rules: dict[str, tuple[bool, int]]) -> None:
    """The fleet's rules as the rules page set them: one row per condition, all or nothing."""
    with transaction.atomic():
        for key, (enabled, after) in rules.items():
            AlertRule.objects.update_or_create(
                fleet=fleet, condition=key, vehicle=None, defaults={"enabled": enabled, "after_minutes": after}
            )


def vehicle_rule_save(*, fleet, vehicle, condition: str, enabled: bool, threshold: float | None) -> AlertRule:
    rule, _ = AlertRule.objects.update_or_create(
        fleet=fleet, condition=condition, vehicle=vehicle, defaults={"enabled": enabled, "threshold": threshold}
    )
    return rule


def rules_effective(*, fleet) -> dict[str, tuple[bool, int]]:
    """Each condition's (enabled, delay in minutes) for the fleet: its rule, or the catalogue's default."""
    rows = {r.condition: r for r in AlertRule.objects.filter(fleet=fleet, vehicle__isnull=True)}
    return {
        kind.key: (rows[kind.key].enabled, rows[kind.key].after_minutes)
        if kind.key in rows
        else (kind.enabled, kind.after_minutes)
        for kind in catalog.KINDS
    }


def endpoint_create(*, fleet, name: str, url: str) -> tuple[Endpoint, str]:
    """A new webhook with a new secret; returns the secret in clear this once, for the page to show."""
    secret = channels.new_secret()
    endpoint = Endpoint.objects.create(fleet=fleet, name=name, url=url, secret_encrypted=vault.encrypt(secret))
    return endpoint, secret


def subscription_for(*, fleet, user) -> Subscription:
    """The member's subscription; members who never chose get none (immediate e-mail is opt-in)."""
    subscription = Subscription.objects.filter(fleet=fleet, user=user).first()
    return subscription or Subscription(fleet=fleet, user=user, mode=Mode.OFF)
