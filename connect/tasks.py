"""Celery tasks: they take ids and call a service, imported inside the task (fleet/outbox.py)."""

from celery import shared_task
from django.utils import timezone

from connect.errors import TransportError


@shared_task
def accounts_refresh_ending() -> int:
    """Fans out one refresh per account whose refresh token would otherwise reach its 60-day end unused."""
    from connect import tokens
    from connect.models import AccountStatus, SmartcarAccount

    horizon = timezone.now() + tokens.REFRESH_TOKEN_RENEW_BEFORE
    ids = list(
        SmartcarAccount.objects.filter(status=AccountStatus.ACTIVE, refresh_expires_at__lte=horizon).values_list(
            "pk", flat=True
        )
    )
    for account_id in ids:
        account_refresh_if_ending.delay(account_id)
    return len(ids)


@shared_task(autoretry_for=(TransportError,), retry_backoff=60, max_retries=5)
def account_refresh_if_ending(account_id: int) -> bool:
    from connect import tokens
    from connect.models import SmartcarAccount

    account = SmartcarAccount.objects.filter(pk=account_id).first()
    if account is None:
        return False
    try:
        return tokens.account_refresh_if_ending(account=account)
    except tokens.ReconnectRequired:
        return False  # recorded on the account; the owner is asked to reconnect


@shared_task(ignore_result=True)
def webhook_event_process(event_id: int) -> None:
    """A stored webhook event, processed once (connect/webhook_events.py claims it)."""
    from connect.webhook_events import webhook_event_process as process

    process(event_id=event_id)


@shared_task(ignore_result=True)
def webhook_events_process(event_ids: list[int]) -> None:
    """Stored webhook events handed over together by the receiver (fleet/outbox.py, Handover), each processed once."""
    from connect.webhook_events import webhook_events_process as process

    process(event_ids=event_ids)


@shared_task(ignore_result=True)
def vehicle_webhooks_subscribe(vehicle_id: int) -> None:
    """Admin's bulk action, one task per vehicle (a failure is recorded on its subscription row)."""
    from connect.subscriptions import vehicle_webhooks_subscribe as subscribe
    from vehicles.models import Vehicle

    vehicle = Vehicle.objects.filter(pk=vehicle_id).select_related("account").first()
    if vehicle is not None:
        subscribe(vehicle=vehicle)


@shared_task(ignore_result=True)
def vehicles_subscribe_pending() -> int:
    """Beat: vehicles of fleets that subscribe new vehicles automatically get subscribed (fleet/schedule.py)."""
    from connect.subscriptions import vehicles_subscribe_pending as sweep

    return sweep()
