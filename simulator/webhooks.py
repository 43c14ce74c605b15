"""Webhooks out: event-based deliveries and the one-time ``verify`` challenge.

Reference: smartcar-api/changelog__2022.md (April 13, 2022: the event-based body, version 2.0)
Reference: smartcar-api/webhooks__payload-verification.md (SC-Signature)
Reference: smartcar-api/webhooks__callback-verification.md (the verify challenge)

Delivery is at least once and unordered, as Smartcar's is: a delivery that gets no 2xx within
15 s is retried after 25, 50 and 100 s, then dropped. The retry times live in the database
(``Delivery.next_attempt_at``) and a periodic task picks up what is due, so no long broker
countdowns exist (with Redis, an ETA beyond the visibility timeout would be delivered twice).
"""

import hashlib
import hmac
import json
import logging
import secrets
from datetime import UTC, timedelta
from urllib.parse import urlsplit

import httpx
from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler, get_script_name
from django.db import transaction
from django.urls import set_script_prefix
from django.utils import timezone

from simulator.models import Connection, Delivery, Webhook

logger = logging.getLogger(__name__)

EVENT_NAMES = ("CHARGING_STARTED", "CHARGING_STOPPED", "CHARGING_COMPLETED")
ATTEMPT_TIMEOUT_SECONDS = 15
RETRY_DELAYS_SECONDS = (25, 50, 100)
# While one attempt is in flight its row is leased this long, so the periodic task does not start
# a second attempt of the same delivery; longer than the attempt's own timeout.
ATTEMPT_LEASE_SECONDS = ATTEMPT_TIMEOUT_SECONDS + 15
_LOCAL_HOSTS = {"localhost", "127.0.0.1", "testserver"}


def signature(body: bytes | str, management_token: str) -> str:
    """Hex HMAC-SHA256 of ``body`` keyed with the application's management token."""
    if isinstance(body, str):
        body = body.encode()
    return hmac.new(management_token.encode(), body, hashlib.sha256).hexdigest()


def _iso(moment) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def queue_event(vehicle, event_name: str, data: dict | None = None) -> None:
    """Queue ``event_name`` for every webhook that ``vehicle`` is subscribed to.

    ``data`` adds or overrides fields of the payload, e.g. ``{"eventTime": <simulated time>}``.
    Deliveries start after the surrounding transaction commits, so a rolled-back change of state
    never announces itself.
    """
    if event_name not in EVENT_NAMES:
        raise ValueError(f"Unknown webhook event {event_name!r}; expected one of {', '.join(EVENT_NAMES)}")
    webhooks = Webhook.objects.filter(subscriptions__vehicle=vehicle, payload_version="2.0").select_related(
        "application"
    )
    for webhook in webhooks:
        connection = Connection.objects.filter(application=webhook.application, vehicle=vehicle).first()
        delivery = Delivery(webhook=webhook, event_name=event_name, next_attempt_at=timezone.now())
        payload = {
            "eventId": delivery.event_id,
            "vehicleId": vehicle.vehicle_id,
            "eventType": event_name,
            "eventTime": _iso(timezone.now()),
            **(data or {}),
        }
        delivery.body = json.dumps(
            {
                "version": "2.0",
                "webhookId": webhook.webhook_id,
                "eventName": "eventBased",
                # The documented body knows "test|live"; simulated mode (which replaced test in 2024) reads as test.
                "mode": "live" if connection is None or connection.mode == "live" else "test",
                "payload": payload,
            }
        )
        delivery.save()
        transaction.on_commit(lambda delivery_id=delivery.pk: _enqueue_attempt(delivery_id))


def _enqueue_attempt(delivery_id: int) -> None:
    from simulator.tasks_webhooks import webhook_delivery_attempt

    webhook_delivery_attempt.delay(delivery_id)


def delivery_attempt(*, delivery_id: int) -> None:
    """Make one attempt at a delivery if it is due and not already being attempted elsewhere."""
    now = timezone.now()
    # Claim the attempt with a conditional UPDATE (works on SQLite and PostgreSQL alike): only the
    # caller that moves next_attempt_at forward gets to send; a concurrent caller sees 0 rows.
    claimed = Delivery.objects.filter(
        pk=delivery_id, delivered_at=None, dropped_at=None, next_attempt_at__lte=now
    ).update(next_attempt_at=now + timedelta(seconds=ATTEMPT_LEASE_SECONDS))
    if not claimed:
        return
    delivery = Delivery.objects.select_related("webhook__application").get(pk=delivery_id)
    body = delivery.body.encode()
    headers = {
        "Content-Type": "application/json",
        "SC-Signature": signature(body, delivery.webhook.application.management_token),
    }
    status = _post(delivery.webhook.callback_url, body, headers)
    delivery.attempts += 1
    delivery.last_status = status
    finished = timezone.now()
    if status.isdigit() and 200 <= int(status) < 300:
        delivery.delivered_at = finished
        delivery.next_attempt_at = None
    elif delivery.attempts <= len(RETRY_DELAYS_SECONDS):
        delivery.next_attempt_at = finished + timedelta(seconds=RETRY_DELAYS_SECONDS[delivery.attempts - 1])
    else:
        delivery.dropped_at = finished
        delivery.next_attempt_at = None
        logger.info("Webhook delivery %s dropped after %s attempts", delivery.event_id, delivery.attempts)
    delivery.save(update_fields=["attempts", "last_status", "delivered_at", "next_attempt_at", "dropped_at"])


def due_delivery_ids(*, limit: int = 500) -> list[int]:
    # Uses the index on (next_attempt_at) declared on Delivery.
    return list(
        Delivery.objects.filter(delivered_at=None, dropped_at=None, next_attempt_at__lte=timezone.now())
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )


def webhook_verify(webhook: Webhook) -> bool:
    """Send the one-time verify challenge; record ``verified_at`` when the answer is right."""
    challenge = secrets.token_hex(16)
    if webhook.payload_version == "4.0":
        from simulator.v3.webhooks import verify_body

        body = verify_body(webhook, challenge)
    else:
        payload = {"challenge": challenge}
        body = json.dumps(
            {"version": "2.0", "webhookId": webhook.webhook_id, "eventName": "verify", "payload": payload}
        ).encode()
    response = _send(webhook.callback_url, body, {"Content-Type": "application/json"})
    if response is None or response.status_code != 200:
        return False
    try:
        answer = response.json().get("challenge")
    except (ValueError, AttributeError):
        return False
    expected = signature(challenge, webhook.application.management_token)
    if not isinstance(answer, str) or not hmac.compare_digest(answer, expected):
        return False
    webhook.verified_at = timezone.now()
    webhook.save(update_fields=["verified_at"])
    return True


def _post(url: str, body: bytes, headers: dict) -> str:
    """POST and describe the outcome for ``Delivery.last_status``: the status code or the failure."""
    response = _send(url, body, headers)
    if response is None:
        return "no answer"
    return str(response.status_code)


def _send(url: str, body: bytes, headers: dict) -> httpx.Response | None:
    absolute_url, transport = _route(url)
    try:
        with httpx.Client(transport=transport, timeout=ATTEMPT_TIMEOUT_SECONDS) as client:
            response = client.post(absolute_url, content=body, headers=headers)
            response.read()
            return response
    except httpx.HTTPError as error:
        logger.info("Webhook POST to %s failed: %s", absolute_url, type(error).__name__)
        return None


def _route(url: str) -> tuple[str, httpx.BaseTransport | None]:
    """Callback URLs on this same site go in-process when the simulator runs embedded.

    Without SMARTCAR_SIMULATOR_ORIGIN the app and the simulator share one Django site, and a POST
    from a worker or a request thread to our own server could wait for a free worker that never
    comes. httpx's WSGI transport still makes it a full HTTP request through Django's middleware.
    """
    parts = urlsplit(url)
    embedded = settings.SIMULATED and not settings.SMARTCAR_SIMULATOR_ORIGIN
    if not parts.netloc:
        return f"http://{_own_host()}{url if url.startswith('/') else '/' + url}", httpx.WSGITransport(
            app=_InProcessHandler()
        )
    if embedded and parts.hostname in _LOCAL_HOSTS:
        return url, httpx.WSGITransport(app=_InProcessHandler())
    return url, None


def _own_host() -> str:
    for host in settings.ALLOWED_HOSTS:
        if host and "*" not in host and not host.startswith("."):
            return host
    return "localhost"


class _InProcessHandler(WSGIHandler):
    """Django's WSGI handler without the request_started signal.

    That signal closes "old" database connections; in-process, the connection is the caller's own
    (possibly inside a transaction), so the caller's lifecycle must decide when it closes.
    """

    def __call__(self, environ, start_response):
        set_script_prefix(get_script_name(environ))
        request = self.request_class(environ)
        response = self.get_response(request)
        status = f"{response.status_code} {response.reason_phrase}"
        response_headers = [
            *response.items(),
            *(("Set-Cookie", cookie.output(header="")) for cookie in response.cookies.values()),
        ]
        start_response(status, response_headers)
        return [response.content] if not response.streaming else response
