"""Delivering alert transitions: e-mail per member subscription and outgoing webhooks per fleet.

1. ``deliveries_plan`` runs inside the transaction that records a transition (evaluation.EVENT_HOOKS): one Delivery
   row per webhook endpoint and per member e-mailed at once — unique per event and recipient, so a transition is
   never planned twice — and, after commit, one task per row.
2. ``delivery_send`` (the task) claims its row with a conditional UPDATE (pending and due → sending, with a lease),
   sends, and records the outcome. A failure is tried again later with a growing wait kept in the row (``due_at``),
   never in the broker; after ``MAX_ATTEMPTS`` the delivery fails. Each row is sent on its own, so one failing channel
   or bouncing address never holds back another.
3. An endpoint that failed ``PAUSE_AFTER`` times in a row is paused (shown failing on the channels page) and its
   waiting deliveries are not sent; resuming it is a click.
4. ``deliveries_sweep`` (beat) sends what is due: retries, e-mails held by quiet hours, rows whose task was lost
   (broker down) and rows a dead worker left claimed.

A receiver may see a delivery twice only if the worker died between the receiver's answer and recording it; every
delivery carries its id (``X-Fleet-Delivery``) for receivers to drop repeats.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta

import httpx
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import F, Q
from django.template.loader import render_to_string
from django.utils import timezone

from alerts import catalog, channels
from alerts.evaluation import CALL_CACHE
from alerts.models import (
    AlertEvent,
    Channel,
    Delivery,
    DeliveryStatus,
    Endpoint,
    EventKind,
    Mode,
    Subscription,
)
from connect import vault
from fleet.outbox import enqueue

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 6
BACKOFF = [timedelta(seconds=30), timedelta(minutes=2), timedelta(minutes=8), timedelta(minutes=30), timedelta(hours=2)]
PAUSE_AFTER = 10  # failed attempts in a row that pause an endpoint
CLAIM_FOR = timedelta(minutes=2)  # longer than one send (webhook timeout 10 s)
TIMEOUT = httpx.Timeout(10.0, connect=5.0)
# E-mails go out when a condition starts; webhooks get every transition (a ticket can be closed on "resolved").
EMAILED = {EventKind.OPENED}


# --- 1. Planning ----------------------------------------------------------------------------------------------------


def deliveries_plan(event: AlertEvent) -> list[Delivery]:
    alert = event.alert
    fleet_id = alert.fleet_id
    now = event.at
    endpoints, subscriptions = _channels(fleet_id)
    rows = [
        Delivery(fleet_id=fleet_id, event=event, channel=Channel.WEBHOOK, endpoint=endpoint, due_at=now, created_at=now)
        for endpoint in endpoints
    ]
    if event.kind in EMAILED:
        for subscription in _subscribers(subscriptions, alert.condition, alert.vehicle_id):
            due = quiet_end(subscription, now)
            rows.append(
                Delivery(
                    fleet_id=fleet_id, event=event, channel=Channel.EMAIL, user_id=subscription.user_id, due_at=due,
                    created_at=now,
                )
            )  # fmt: skip
    created = Delivery.objects.bulk_create(rows)
    for delivery in created:
        if delivery.due_at <= now:
            _enqueue(delivery)
    return created


def _channels(fleet_id: int) -> tuple[list[Endpoint], list[Subscription]]:
    """The fleet's active webhooks and its members' immediate subscriptions, loaded once per evaluation."""
    cache = CALL_CACHE.get()
    key = ("channels", fleet_id)
    if cache is not None and key in cache:
        return cache[key]
    endpoints = list(Endpoint.objects.filter(fleet_id=fleet_id, enabled=True, paused_at__isnull=True))
    subscriptions = list(
        Subscription.objects.filter(fleet_id=fleet_id, mode=Mode.IMMEDIATE, user__memberships__fleet_id=fleet_id)
        .select_related("fleet")
        .prefetch_related("vehicles")
    )
    if cache is not None:
        cache[key] = (endpoints, subscriptions)
    return endpoints, subscriptions


def _subscribers(subscriptions: list[Subscription], condition: str, vehicle_id: int | None) -> list[Subscription]:
    """Those subscribed to this kind of alert for this vehicle (for the whole fleet: whichever vehicles they chose)."""
    found = []
    for subscription in subscriptions:
        if subscription.conditions and condition not in subscription.conditions:
            continue
        chosen = {v.pk for v in subscription.vehicles.all()}
        if chosen and vehicle_id is not None and vehicle_id not in chosen:
            continue
        found.append(subscription)
    return found


def quiet_end(subscription: Subscription, now: datetime) -> datetime:
    """``now``, or when the member's quiet hours (in the fleet's time zone) end if ``now`` falls in them."""
    start, end = subscription.quiet_from, subscription.quiet_until
    if start is None or end is None or start == end:
        return now
    zone = subscription.fleet.zone
    local = now.astimezone(zone)
    clock = local.time()
    inside = (start <= clock < end) if start < end else (clock >= start or clock < end)
    if not inside:
        return now
    until = datetime.combine(local.date(), end, tzinfo=zone)
    if until <= local:
        until = datetime.combine(local.date() + timedelta(days=1), end, tzinfo=zone)
    return until.astimezone(UTC)


def _enqueue(delivery: Delivery) -> None:
    from alerts.tasks import delivery_send as task

    enqueue(task, delivery.pk, row=delivery)


# --- 2. Sending -----------------------------------------------------------------------------------------------------


def delivery_send(*, delivery_id: int, now: datetime | None = None) -> str | None:
    """Sends the delivery if it is pending and due (claiming it); returns its new status, None if not claimed."""
    now = now or timezone.now()
    claimed = Delivery.objects.filter(pk=delivery_id, status=DeliveryStatus.PENDING, due_at__lte=now).update(
        status=DeliveryStatus.SENDING, claimed_until=now + CLAIM_FOR, attempts=F("attempts") + 1
    )
    if not claimed:
        return None
    delivery = Delivery.objects.select_related("event__alert__vehicle", "endpoint", "user", "fleet").get(pk=delivery_id)
    if delivery.channel == Channel.WEBHOOK and not delivery.endpoint.is_active:
        return _finish(delivery, DeliveryStatus.SKIPPED, error="The webhook is paused or turned off.")
    try:
        if delivery.channel == Channel.WEBHOOK:
            status_code = _post(delivery, now)
        else:
            _email(delivery)
            status_code = None
    except Exception as exc:  # any failure of this channel is this delivery's, never another's
        return _failed(delivery, exc, now)
    return _finish(delivery, DeliveryStatus.SENT, response_status=status_code, now=now)


class ReceiverRefused(Exception):
    def __init__(self, status_code: int):
        super().__init__(f"the receiver answered {status_code}")
        self.status_code = status_code


def _post(delivery: Delivery, now: datetime) -> int:
    endpoint = delivery.endpoint
    channels.url_check(endpoint.url)
    body = json.dumps(payload(delivery), separators=(",", ":"), sort_keys=True).encode()
    timestamp = str(int(now.timestamp()))
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "Fleet-Alerts/1",
        channels.TIMESTAMP_HEADER: timestamp,
        channels.DELIVERY_HEADER: str(delivery.pk),
        channels.SIGNATURE_HEADER: channels.sign(vault.decrypt(endpoint.secret_encrypted), timestamp, body),
    }
    response = _client().post(endpoint.url, content=body, headers=headers)
    if not 200 <= response.status_code < 300:
        raise ReceiverRefused(response.status_code)
    return response.status_code


_CLIENT: httpx.Client | None = None


def _client() -> httpx.Client:
    """One pooled client per process (thread-safe): connections to a receiver are kept open between deliveries."""
    global _CLIENT
    if _CLIENT is None:
        _CLIENT = httpx.Client(timeout=TIMEOUT, follow_redirects=False)
    return _CLIENT


def payload(delivery: Delivery) -> dict:
    fleet = delivery.fleet
    event = delivery.event
    if event is None:
        return {
            "id": str(delivery.pk),
            "type": "test",
            "fleet": {"name": fleet.name, "slug": fleet.slug},
            "text": f"Test from Fleet: this webhook of {fleet.name} receives alerts.",
        }
    alert, vehicle = event.alert, event.alert.vehicle
    label = catalog.label(alert.condition)
    return {
        "id": str(delivery.pk),
        "type": f"alert.{event.kind}",
        "occurred_at": event.at.isoformat(),
        "fleet": {"name": fleet.name, "slug": fleet.slug},
        "alert": {
            "id": alert.pk,
            "condition": alert.condition,
            "title": label,
            "summary": event.summary,
            "detail": alert.detail,
            "state": alert.state,
            "since": alert.since.isoformat(),
        },
        # None: the alert is about the whole fleet (its polling paused), not one vehicle.
        "vehicle": None
        if vehicle is None
        else {
            "id": vehicle.pk,
            "name": vehicle.display_name,
            "make": vehicle.make,
            "model": vehicle.model,
            "year": vehicle.year,
            "vin": vehicle.vin,
        },
        "by": event.by_email or None,
        "note": event.note or None,
        # A one-line message for chat tools that show "text" (Slack, Teams through a workflow).
        "text": f"{_kind_words(event.kind)}: {label} — {alert.about} ({event.summary})",
    }


def _kind_words(kind: str) -> str:
    return dict(EventKind.choices).get(kind, kind)


def _email(delivery: Delivery) -> None:
    event = delivery.event
    alert = event.alert
    context = {"alert": alert, "event": event, "label": catalog.label(alert.condition), "fleet": delivery.fleet}
    subject = f"{catalog.label(alert.condition)}: {alert.about} ({delivery.fleet.name})"
    send_mail(subject, render_to_string("alerts/email/alert.txt", context), None, [delivery.user.email])


def _failed(delivery: Delivery, exc: Exception, now: datetime) -> str:
    status_code = exc.status_code if isinstance(exc, ReceiverRefused) else None
    error = f"{exc.__class__.__name__}: {exc}"[:300]
    logger.warning(
        "alert delivery %s (%s) failed, attempt %d: %s", delivery.pk, delivery.channel, delivery.attempts, error
    )
    paused = delivery.endpoint_id is not None and _endpoint_failed(delivery.endpoint, now)
    if paused or delivery.attempts >= MAX_ATTEMPTS or isinstance(exc, channels.RefusedURL):
        return _finish(delivery, DeliveryStatus.FAILED, error=error, response_status=status_code, now=now)
    wait = BACKOFF[min(delivery.attempts - 1, len(BACKOFF) - 1)]
    Delivery.objects.filter(pk=delivery.pk, status=DeliveryStatus.SENDING).update(
        status=DeliveryStatus.PENDING, due_at=now + wait, claimed_until=None, last_error=error,
        response_status=status_code, enqueued_at=None,
    )  # fmt: skip
    return DeliveryStatus.PENDING


def _finish(delivery, status: str, *, error: str = "", response_status=None, now=None) -> str:
    now = now or timezone.now()
    Delivery.objects.filter(pk=delivery.pk, status=DeliveryStatus.SENDING).update(
        status=status, claimed_until=None, last_error=error, response_status=response_status,
        sent_at=now if status == DeliveryStatus.SENT else None,
    )  # fmt: skip
    if status == DeliveryStatus.SENT and delivery.endpoint_id:
        Endpoint.objects.filter(pk=delivery.endpoint_id).update(consecutive_failures=0, last_success_at=now)
    return status


# --- 3. Pausing a failing endpoint ----------------------------------------------------------------------------------


def _endpoint_failed(endpoint: Endpoint, now: datetime) -> bool:
    """Counts the failure; pauses the endpoint (True) at PAUSE_AFTER in a row, skipping what waits for it."""
    Endpoint.objects.filter(pk=endpoint.pk).update(
        consecutive_failures=F("consecutive_failures") + 1, last_failure_at=now
    )
    paused = Endpoint.objects.filter(
        pk=endpoint.pk, paused_at__isnull=True, consecutive_failures__gte=PAUSE_AFTER
    ).update(paused_at=now)
    if paused:
        logger.warning("alert webhook %s paused after %d failures in a row", endpoint.pk, PAUSE_AFTER)
        Delivery.objects.filter(endpoint=endpoint, status=DeliveryStatus.PENDING).update(
            status=DeliveryStatus.SKIPPED, last_error="The webhook was paused after failing again and again."
        )
    return bool(paused)


def endpoint_resume(*, endpoint: Endpoint) -> None:
    Endpoint.objects.filter(pk=endpoint.pk).update(paused_at=None, consecutive_failures=0)


def endpoint_test(*, endpoint: Endpoint) -> Delivery:
    """The channels page's Test button: a test message through the same path as alerts."""
    now = timezone.now()
    with transaction.atomic():
        delivery = Delivery.objects.create(
            fleet_id=endpoint.fleet_id, channel=Channel.WEBHOOK, endpoint=endpoint, due_at=now, created_at=now
        )
        _enqueue(delivery)
    return delivery


# --- 4. The sweep ---------------------------------------------------------------------------------------------------


def deliveries_sweep(*, now: datetime | None = None, limit: int = 500) -> int:
    """Hands due deliveries to workers: retries, e-mails after quiet hours, rows whose task was lost or whose worker
    died while sending. Returns how many."""
    from alerts.tasks import delivery_send as task
    from fleet.outbox import send_now

    now = now or timezone.now()
    Delivery.objects.filter(status=DeliveryStatus.SENDING, claimed_until__lt=now).update(
        status=DeliveryStatus.PENDING, claimed_until=None
    )
    handed_over_a_while_ago = now - timedelta(minutes=1)
    due = Delivery.objects.filter(status=DeliveryStatus.PENDING, due_at__lte=now).filter(
        Q(enqueued_at__isnull=True) | Q(enqueued_at__lt=handed_over_a_while_ago)
    )
    ids = list(due.order_by("due_at").values_list("pk", flat=True)[:limit])
    for pk in ids:
        if send_now(task, pk) is not None:
            return 0  # the broker is down: the next sweep tries again
        Delivery.objects.filter(pk=pk).update(enqueued_at=now)
    return len(ids)


# --- Daily digest ---------------------------------------------------------------------------------------------------

DIGEST_HOUR = 7  # in the fleet's time zone


def digests_send(*, now: datetime | None = None) -> int:
    """Hourly: each member on the daily digest gets, once a day after DIGEST_HOUR in the fleet's time zone, the
    alerts opened since the last one (nothing to tell: no e-mail). One failing address does not stop the others."""
    now = now or timezone.now()
    sent = 0
    for subscription in Subscription.objects.filter(mode=Mode.DIGEST).select_related("fleet", "user"):
        zone = subscription.fleet.zone
        local = now.astimezone(zone)
        today = datetime.combine(local.date(), datetime.min.time(), tzinfo=zone) + timedelta(hours=DIGEST_HOUR)
        if local < today or (subscription.last_digest_at and subscription.last_digest_at >= today):
            continue
        try:
            sent += _digest(subscription, since=subscription.last_digest_at or now - timedelta(days=1), now=now)
        except Exception:
            logger.exception("alert digest for subscription %s failed", subscription.pk)
            continue
        Subscription.objects.filter(pk=subscription.pk).update(last_digest_at=now)
    return sent


def _digest(subscription: Subscription, *, since: datetime, now: datetime) -> int:
    events = (
        AlertEvent.objects.filter(
            alert__fleet_id=subscription.fleet_id, kind=EventKind.OPENED, at__gt=since, at__lte=now
        )
        .select_related("alert__vehicle")
        .order_by("at")
    )
    if subscription.conditions:
        events = events.filter(alert__condition__in=subscription.conditions)
    chosen = list(subscription.vehicles.values_list("pk", flat=True))
    if chosen:  # and what is about the whole fleet, their vehicles included
        events = events.filter(Q(alert__vehicle_id__in=chosen) | Q(alert__vehicle__isnull=True))
    lines = [(event, catalog.label(event.alert.condition)) for event in events[:200]]
    if not lines:
        return 0
    fleet = subscription.fleet
    context = {"fleet": fleet, "lines": lines, "count": len(lines)}
    subject = f"{fleet.name}: {len(lines)} alert{'s' if len(lines) != 1 else ''} since yesterday"
    send_mail(subject, render_to_string("alerts/email/digest.txt", context), None, [subscription.user.email])
    return 1
