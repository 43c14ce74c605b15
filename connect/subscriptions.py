"""Subscribing vehicles to the application's webhooks, and unsubscribing them.

Reference: smartcar-api/webhooks__subscribe-webhook.md (POST, the vehicle's access token)
Reference: smartcar-api/webhooks__unsubscribe-webhook.md (DELETE, the management token — CAPABILITIES.md §5.20:
the two pages document different authorisation; the client sends what each page asks for)

``Vehicle.webhook_subscribed`` is what the sync engine reads (a subscribed vehicle is polled less often); it is true
while the vehicle is subscribed to at least one webhook. A subscription row in "unsubscribed" remembers that someone
chose it, so the automatic sweep (fleets with "subscribe new vehicles" on) never undoes that choice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from connect import transports
from connect.errors import ResourceNotFoundError, SmartcarError
from connect.models import AccountStatus, SubscriptionStatus, Webhook, WebhookSubscription
from connect.tokens import ReconnectRequired
from connect.webhooks import webhook_for
from vehicles.models import Vehicle

logger = logging.getLogger(__name__)

# A failed automatic subscription is tried again after this long, not on every sweep.
RETRY_FAILED_AFTER = timedelta(minutes=15)


@dataclass
class SubscriptionResult:
    changed: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def message(self) -> str:
        if self.errors:
            return "; ".join(self.errors)
        return f"Done for {', '.join(self.changed)}." if self.changed else "Nothing to change."


def enabled_webhooks() -> list[Webhook]:
    """Every enabled webhook, the one named in settings included (registered on first use)."""
    from django.conf import settings

    if settings.SMARTCAR_WEBHOOK_ID:
        webhook_for(settings.SMARTCAR_WEBHOOK_ID)
    return list(Webhook.objects.filter(enabled=True))


def _record(webhook: Webhook, vehicle: Vehicle, status: str, error: str = "") -> None:
    WebhookSubscription.objects.update_or_create(
        webhook=webhook,
        vehicle=vehicle,
        defaults={"status": status, "changed_at": timezone.now(), "last_error": error[:300]},
    )


def _flag(vehicle: Vehicle) -> None:
    subscribed = WebhookSubscription.objects.filter(vehicle=vehicle, status=SubscriptionStatus.SUBSCRIBED).exists()
    Vehicle.objects.filter(pk=vehicle.pk).update(webhook_subscribed=subscribed, updated_at=timezone.now())
    vehicle.webhook_subscribed = subscribed


@sensitive_variables()
def vehicle_webhooks_subscribe(*, vehicle: Vehicle) -> SubscriptionResult:
    """Subscribes the vehicle to every enabled webhook at Smartcar."""
    result = SubscriptionResult()
    webhooks = enabled_webhooks()
    if not webhooks:
        result.errors.append("No webhook is configured for this installation (SMARTCAR_WEBHOOK_ID or admin).")
        return result
    if not vehicle.is_connected or vehicle.account is None:
        result.errors.append(f"{vehicle} is not connected.")
        return result
    transport = transports.current()
    try:
        transport.credential(vehicle.account)  # the account can still be used: fail early, once, if not
    except ReconnectRequired as exc:
        result.errors.append(exc.user_message)
        return result
    except SmartcarError as exc:
        result.errors.append(exc.user_message)
        return result
    for webhook in webhooks:
        try:
            transport.subscribe(account=vehicle.account, vehicle_id=vehicle.smartcar_id, webhook_id=webhook.smartcar_id)
        except SmartcarError as exc:
            logger.warning("vehicle %s: subscribing to webhook %s failed: %s", vehicle.pk, webhook.smartcar_id, exc)
            _record(webhook, vehicle, SubscriptionStatus.FAILED, exc.user_message)
            result.errors.append(f"{webhook}: {exc.user_message}")
            continue
        _record(webhook, vehicle, SubscriptionStatus.SUBSCRIBED)
        result.changed.append(str(webhook))
    _flag(vehicle)
    logger.info(
        "vehicle %s: subscribed to %d webhook(s), %d failed", vehicle.pk, len(result.changed), len(result.errors)
    )
    return result


def vehicle_webhooks_unsubscribe(*, vehicle: Vehicle) -> SubscriptionResult:
    """Unsubscribes the vehicle from every webhook it is subscribed to (or that failed); remembers the choice."""
    result = SubscriptionResult()
    transport = transports.current()
    rows = WebhookSubscription.objects.filter(vehicle=vehicle).exclude(status=SubscriptionStatus.UNSUBSCRIBED)
    for row in rows.select_related("webhook"):
        try:
            transport.unsubscribe(vehicle_id=vehicle.smartcar_id, webhook_id=row.webhook.smartcar_id)
        except ResourceNotFoundError:
            pass  # not subscribed at Smartcar (any more): unsubscribed is what we wanted
        except SmartcarError as exc:
            logger.warning("vehicle %s: unsubscribing from %s failed: %s", vehicle.pk, row.webhook.smartcar_id, exc)
            result.errors.append(f"{row.webhook}: {exc.user_message}")
            continue
        _record(row.webhook, vehicle, SubscriptionStatus.UNSUBSCRIBED)
        result.changed.append(str(row.webhook))
    # Also remember the choice for enabled webhooks it never was subscribed to: the sweep must not subscribe it.
    for webhook in enabled_webhooks():
        WebhookSubscription.objects.get_or_create(
            webhook=webhook,
            vehicle=vehicle,
            defaults={"status": SubscriptionStatus.UNSUBSCRIBED, "changed_at": timezone.now()},
        )
    _flag(vehicle)
    return result


def vehicles_to_subscribe(*, limit: int = 100) -> list[int]:
    """Connected vehicles of fleets that subscribe new vehicles, with no subscription decided yet for some enabled
    webhook (or whose last attempt failed a while ago)."""
    webhooks = enabled_webhooks()
    if not webhooks:
        return []
    retry_before = timezone.now() - RETRY_FAILED_AFTER
    ids: list[int] = []
    for webhook in webhooks:
        settled = WebhookSubscription.objects.filter(webhook=webhook).exclude(
            status=SubscriptionStatus.FAILED, changed_at__lt=retry_before
        )
        ids += (
            Vehicle.objects.filter(
                disconnected_at__isnull=True,
                account__isnull=False,
                account__status=AccountStatus.ACTIVE,
                fleet__webhooks_subscribe_new_vehicles=True,
            )
            .exclude(pk__in=settled.values("vehicle_id"))
            .values_list("pk", flat=True)[:limit]
        )
    return sorted(set(ids))[:limit]


def disconnected_subscriptions_forget() -> int:
    """Smartcar drops a disconnected vehicle's subscriptions with its connection: forget them here too, so that a
    reconnected vehicle is subscribed again. An owner's "unsubscribed" stays."""
    forgotten, _ = (
        WebhookSubscription.objects.filter(vehicle__disconnected_at__isnull=False)
        .exclude(status=SubscriptionStatus.UNSUBSCRIBED)
        .delete()
    )
    Vehicle.objects.filter(disconnected_at__isnull=False, webhook_subscribed=True).update(webhook_subscribed=False)
    return forgotten


def vehicles_subscribe_pending() -> int:
    """The periodic sweep: subscribes what ``vehicles_to_subscribe`` finds; returns how many vehicles it tried."""
    disconnected_subscriptions_forget()
    ids = vehicles_to_subscribe()
    for vehicle in Vehicle.objects.filter(pk__in=ids).select_related("account"):
        # No transaction around it: the calls to Smartcar must not hold database locks while they wait.
        vehicle_webhooks_subscribe(vehicle=vehicle)
    return len(ids)
