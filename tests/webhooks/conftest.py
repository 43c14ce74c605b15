"""Signed deliveries as Smartcar sends them (smartcar-api/webhooks__payload-verification.md), for the receiver."""

import hashlib
import hmac
import json
import uuid

import pytest
from django.conf import settings

from connect.models import Webhook


def sign(body: bytes, key: str | None = None) -> str:
    return hmac.new((key or settings.SMARTCAR_MANAGEMENT_TOKEN).encode(), body, hashlib.sha256).hexdigest()


def charging_event(webhook_id: str, vehicle_id: str, event_type="CHARGING_STARTED", **overrides) -> dict:
    """The event-based body of changelog__2022.md (April 13, 2022)."""
    payload = {
        "eventId": str(uuid.uuid4()),
        "vehicleId": vehicle_id,
        "eventType": event_type,
        "eventTime": "2026-03-02T08:15:00.000Z",
        **overrides,
    }
    return {"version": "2.0", "webhookId": webhook_id, "eventName": "eventBased", "mode": "live", "payload": payload}


@pytest.fixture
def webhook(db) -> Webhook:
    return Webhook.objects.create(smartcar_id=str(uuid.uuid4()), name="Charging events")


@pytest.fixture
def deliver(client):
    """POSTs a body to a webhook's URL, signed unless told otherwise."""

    def post(webhook_id: str, body, *, signature: str | None = None, content_type="application/json", signed=True):
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        headers = {}
        if signed:
            headers["HTTP_SC_SIGNATURE"] = signature if signature is not None else sign(raw)
        return client.post(f"/webhooks/{webhook_id}/", data=raw, content_type=content_type, **headers)

    return post
