"""Webhooks in: check a delivery, answer the verify challenge, store each event once, hand the work to a worker.

Reference: smartcar-api/webhooks__callback-verification.md (the one-time ``verify`` challenge)
Reference: smartcar-api/webhooks__payload-verification.md (``SC-Signature``: HMAC-SHA256 of the body, keyed by the
application management token)
Reference: smartcar-api/changelog__2022.md (April 13, 2022: the ``eventBased`` body)

Smartcar drops a delivery that gets no 2xx within 15 s and retries only three times, so the receiver does nothing
slow: it checks, inserts the event row (one statement; a redelivery's insert does nothing) and answers. Handing the
event to a worker happens after the answer, in groups (fleet/outbox.py, Handover: one message for many events; a
broker that is down delays the processing, never the answer). Everything a vehicle's state needs happens in
``connect.webhook_events`` on a worker.

Refusals, checked in this order so that nothing unauthenticated is ever parsed into work:

- unknown webhook id in the URL → 404;
- a Content-Type other than JSON → 415;
- a body over settings.WEBHOOK_MAX_BODY_BYTES → 413 (before any HMAC is computed over it);
- a signature that does not match the raw body → 401 (constant-time comparison);
- a body that is not a JSON object, or lacks what its kind of event needs → 400.

Each refusal is logged with the reason and the webhook id, never a secret or the body. An accepted delivery writes no
log line: its event row is the record (the admin lists events with their status), and at hundreds of deliveries a
second one line each cost the receiver a sixth of its CPU (docs/benchmarks.md); the worker logs each event it
processes.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
from dataclasses import dataclass

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from connect.json_fields import mapping_at, str_at
from connect.models import Webhook, WebhookEvent

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "SC-Signature"
VERIFY = "verify"
VERIFY_V4 = "VERIFY"
EVENT_BASED = "eventBased"
# Smartcar's challenge is a random token. Answering only token-like challenges matters: the answer is the same HMAC
# that signs deliveries, so echoing the HMAC of any string would let anyone obtain a valid signature for a body of
# their choosing by sending it as a "challenge". A JSON body always contains characters this pattern refuses.
CHALLENGE_PATTERN = re.compile(r"[A-Za-z0-9_.~+/=-]{1,200}")  # hex, UUIDs, base64 and base64url tokens


class DeliveryRefused(Exception):
    """A delivery answered with ``status`` and nothing stored."""

    def __init__(self, status: int, reason: str):
        self.status = status
        self.reason = reason
        super().__init__(reason)


@dataclass
class Receipt:
    """What the receiver answers: the stored event (or the one stored before), or the challenge answer."""

    body: dict
    event: WebhookEvent | None = None
    duplicate: bool = False


def hmac_hex(message: bytes | str) -> str:
    """Hex HMAC-SHA256 of ``message`` keyed with the application management token (signature and challenge alike)."""
    if isinstance(message, str):
        message = message.encode()
    return hmac.new(settings.SMARTCAR_MANAGEMENT_TOKEN.encode(), message, hashlib.sha256).hexdigest()


def signature_is_valid(body: bytes, signature: str) -> bool:
    if not signature or not settings.SMARTCAR_MANAGEMENT_TOKEN:
        return False
    return hmac.compare_digest(hmac_hex(body).encode(), signature.strip().lower().encode())


def webhook_for(smartcar_id: str) -> Webhook | None:
    """The configured webhook with this id; the one named in settings is registered on first use."""
    # Every delivery starts here: one plain statement, not the ORM's query compiler (0.2 against 0.9 ms of CPU,
    # measured). The receiver needs the id alone; any other field is loaded if read (a deferred field).
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {quote(Webhook._meta.pk.column)} FROM {quote(Webhook._meta.db_table)} "  # noqa: S608 (model)
            f"WHERE {quote(Webhook._meta.get_field('smartcar_id').column)} = %s",
            [smartcar_id],
        )
        row = cursor.fetchone()
    webhook = Webhook.from_db(connection.alias, ["id", "smartcar_id"], (row[0], smartcar_id)) if row else None
    if webhook is None and smartcar_id and smartcar_id == settings.SMARTCAR_WEBHOOK_ID:
        webhook, _ = Webhook.objects.get_or_create(smartcar_id=smartcar_id, defaults={"name": "Charging events"})
    return webhook


def _is_json(content_type: str) -> bool:
    return content_type.split(";", 1)[0].strip().lower() == "application/json"


def delivery_receive(*, webhook_id: str, content_type: str, content_length: int | None, read_body, signature: str):
    """Checks one delivery and stores its event; raises ``DeliveryRefused`` with the status to answer.

    ``read_body(limit)`` reads at most ``limit`` bytes of the request body (the size is checked on what was read
    as well as on Content-Length: a chunked body announces none).
    """
    webhook = webhook_for(webhook_id)
    if webhook is None:
        raise DeliveryRefused(404, "unknown webhook id")
    if not _is_json(content_type):
        raise DeliveryRefused(415, "content type is not application/json")
    limit = settings.WEBHOOK_MAX_BODY_BYTES
    if content_length is not None and content_length > limit:
        raise DeliveryRefused(413, f"body of {content_length} bytes is over the limit")
    raw = read_body(limit + 1)
    if len(raw) > limit:
        raise DeliveryRefused(413, "body is over the limit")
    signed = bool(signature)
    if signed and not signature_is_valid(raw, signature):
        raise DeliveryRefused(401, "signature does not match the body")
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise DeliveryRefused(400, "body is not JSON") from None
    if not isinstance(body, dict):
        raise DeliveryRefused(400, "body is not a JSON object")
    if body.get("webhookId") not in (None, webhook.smartcar_id):
        raise DeliveryRefused(400, "webhookId in the body is not the webhook of this URL")
    if body.get("eventName") == VERIFY or body.get("eventType") == VERIFY_V4:
        # The challenge is the one delivery Smartcar does not sign (callback-verification.md).
        return Receipt(body={"challenge": _answer_challenge(webhook, body)})
    if not signed:
        raise DeliveryRefused(401, "no SC-Signature header")
    return _store(webhook, body, raw)


def _answer_challenge(webhook: Webhook, body: dict) -> str:
    # Payload 2.0 carries the challenge in payload, 4.0 in data (smartcar-api-v3/webhooks__event-verify.md).
    payload = body.get("payload") if "payload" in body else body.get("data")
    challenge = payload.get("challenge") if isinstance(payload, dict) else None
    if not isinstance(challenge, str) or not CHALLENGE_PATTERN.fullmatch(challenge):
        raise DeliveryRefused(400, "verify challenge missing or not a plain token")
    if not settings.SMARTCAR_MANAGEMENT_TOKEN:
        # An HMAC keyed with nothing would "verify" a webhook whose deliveries could then never be checked.
        raise DeliveryRefused(503, "SMARTCAR_MANAGEMENT_TOKEN is not set")
    Webhook.objects.filter(pk=webhook.pk).update(verified_at=timezone.now())
    logger.info("webhook %s: verify challenge answered", webhook.smartcar_id)
    return hmac_hex(challenge)


def payload_version(body: dict) -> str:
    """The payload version a delivery declares: top-level ``version`` (2.0) or ``meta.version`` (4.0)."""
    meta = mapping_at(body, "meta")
    return str(body.get("version") or meta.get("version") or "")


def _event_fields_v4(body: dict, raw: bytes) -> dict:
    """An API v3 event (smartcar-api-v3/webhooks__events-overview.md): eventId the same across retries."""
    event_id, event_type = str_at(body, "eventId"), str_at(body, "eventType")
    if not (event_id and event_type):
        raise DeliveryRefused(400, "event lacks eventId or eventType")
    meta = mapping_at(body, "meta")
    from vehicles.readings_v3 import timestamp

    vehicle_id = str_at(body, "vehicleId")
    return {
        "event_name": event_type[:40],
        "event_type": event_type[:40],
        "event_id": event_id[:100],
        "smartcar_vehicle_id": vehicle_id[:64],
        "event_time": timestamp(meta.get("deliveredAt")),
        "mode": str(meta.get("mode") or "")[:12].lower(),
        "body": body,
    }


def _event_fields(body: dict, raw: bytes) -> dict:
    """The columns of an event row; refuses a body that lacks what its kind of event needs."""
    version = payload_version(body)
    if version.startswith("4.") or (not version and "eventType" in body and "data" in body):
        return _event_fields_v4(body, raw)
    if version and not version.startswith("2."):
        # A version this receiver does not know: kept whole, to be recorded as an unparsed reading by the worker.
        event_id = str_at(body, "eventId")
        return {
            "event_name": "unknown version",
            "event_type": version[:40],
            "mode": "",
            "body": body,
            "event_id": (event_id or "sha256:" + hashlib.sha256(raw).hexdigest())[:100],
        }
    event_name = body.get("eventName")
    if not isinstance(event_name, str) or not event_name:
        raise DeliveryRefused(400, "eventName missing")
    payload = body.get("payload")
    if not isinstance(payload, dict):
        raise DeliveryRefused(400, "payload missing")
    mode = str_at(body, "mode")
    fields = {"event_name": event_name[:40], "mode": mode[:12], "body": body}
    if event_name == EVENT_BASED:
        event_id, vehicle_id = str_at(payload, "eventId"), str_at(payload, "vehicleId")
        event_type, event_time = str_at(payload, "eventType"), str_at(payload, "eventTime")
        if not (event_id and vehicle_id and event_type and event_time):
            raise DeliveryRefused(400, "event lacks eventId, vehicleId, eventType or eventTime")
        moment = parse_datetime(event_time)
        if moment is None:
            raise DeliveryRefused(400, "eventTime is not an ISO 8601 time")
        return {
            **fields,
            "event_id": event_id[:100],
            "event_type": event_type[:40],
            "smartcar_vehicle_id": vehicle_id[:64],
            "event_time": moment,
        }
    # Other deliveries (schedule deliveries carrying vehicle data, and kinds Smartcar may add) may have no event
    # id: the digest of the exact body identifies a redelivery of the same one.
    event_id = str_at(payload, "eventId")
    return {**fields, "event_id": (event_id or "sha256:" + hashlib.sha256(raw).hexdigest())[:100]}


def _insert_new(event: WebhookEvent) -> bool:
    """INSERT … ON CONFLICT (event_id) DO NOTHING RETURNING id: one statement, no transaction of its own; sets the
    id and returns True when the row is new, False when a row with this event id was stored before."""
    meta = WebhookEvent._meta
    fields = [f for f in meta.concrete_fields if not f.primary_key]
    values = [f.get_db_prep_save(f.pre_save(event, add=True), connection) for f in fields]
    quote = connection.ops.quote_name
    assert meta.pk is not None
    sql = (
        f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(f.column) for f in fields)}) "  # noqa: S608 (model)
        f"VALUES ({', '.join(['%s'] * len(fields))}) "
        f"ON CONFLICT ({quote(meta.get_field('event_id').column)}) DO NOTHING RETURNING {quote(meta.pk.column)}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, values)
        row = cursor.fetchone()
    if row is None:
        return False
    event.pk = row[0]
    event._state.adding = False
    return True


def _store(webhook: Webhook, body: dict, raw: bytes) -> Receipt:
    from connect.webhook_events import HANDOVER

    fields = _event_fields(body, raw)
    event = WebhookEvent(webhook=webhook, **fields)
    if not _insert_new(event):
        # Unique event id: Smartcar redelivers (at least once); the first copy is the one that counts.
        existing = WebhookEvent.objects.filter(event_id=fields["event_id"]).first()
        if existing is None:
            raise RuntimeError("an event id conflicted with no stored row")
        return Receipt(body={"status": "duplicate"}, event=existing, duplicate=True)
    # Handed to a worker once the row is committed (never before: a worker would not find it), in a group with the
    # events of the next quarter of a second; with the broker down, the event waits in the outbox (still a 200).
    transaction.on_commit(lambda: HANDOVER.add(event.pk))
    return Receipt(body={"status": "received"}, event=event)
