"""The receiver: the verify challenge, signed events stored once and handed on, every kind of bad delivery refused."""

import json
import logging
import uuid

import pytest
import smartcar
from django.conf import settings

from connect.models import EventStatus, Webhook, WebhookEvent
from tests.webhooks.conftest import charging_event, sign

AMT = settings.SMARTCAR_MANAGEMENT_TOKEN


@pytest.mark.parametrize("challenge", [uuid.uuid4().hex, str(uuid.uuid4()), "q83vEjRWeJq8/+3e3w=="])
def test_it_answers_the_verify_challenge_with_the_hmac_of_the_challenge(webhook, deliver, challenge):
    body = {
        "version": "2.0",
        "webhookId": webhook.smartcar_id,
        "eventName": "verify",
        "payload": {"challenge": challenge},
    }

    response = deliver(webhook.smartcar_id, body, signed=False)

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    # The official SDK is the referee of the answer.
    assert response.json() == {"challenge": smartcar.hash_challenge(AMT, challenge)}
    webhook.refresh_from_db()
    assert webhook.verified_at is not None
    assert not WebhookEvent.objects.exists()


def test_a_challenge_that_is_not_a_plain_token_gets_no_signature_back(webhook, deliver):
    """The answer is the HMAC that signs deliveries: echoing it for any string would let anyone forge events."""
    forged = json.dumps(charging_event(webhook.smartcar_id, "any-vehicle"))
    body = {"version": "2.0", "webhookId": webhook.smartcar_id, "eventName": "verify", "payload": {"challenge": forged}}

    response = deliver(webhook.smartcar_id, body, signed=False)

    assert response.status_code == 400
    assert sign(forged.encode()) not in response.content.decode()


def test_the_webhook_named_in_settings_is_known_without_being_added(deliver, db):
    challenge = "abc123"
    body = {"eventName": "verify", "webhookId": settings.SMARTCAR_WEBHOOK_ID, "payload": {"challenge": challenge}}

    response = deliver(settings.SMARTCAR_WEBHOOK_ID, body, signed=False)

    assert response.json() == {"challenge": smartcar.hash_challenge(AMT, challenge)}
    assert Webhook.objects.filter(smartcar_id=settings.SMARTCAR_WEBHOOK_ID).exists()


def test_a_signed_event_is_stored_and_handed_to_a_worker_after_commit(
    webhook, deliver, django_capture_on_commit_callbacks
):
    body = charging_event(webhook.smartcar_id, "vehicle-1")

    with django_capture_on_commit_callbacks() as callbacks:
        response = deliver(webhook.smartcar_id, body)

    assert response.status_code == 200
    assert response.json() == {"status": "received"}
    event = WebhookEvent.objects.get()
    assert (event.event_id, event.event_type, event.smartcar_vehicle_id) == (
        body["payload"]["eventId"],
        "CHARGING_STARTED",
        "vehicle-1",
    )
    assert event.event_time.isoformat() == "2026-03-02T08:15:00+00:00"
    assert event.status == EventStatus.RECEIVED
    assert len(callbacks) == 1  # the processing task, enqueued only once the row is committed


def test_a_replayed_event_is_acknowledged_and_ignored(webhook, deliver, django_capture_on_commit_callbacks):
    body = charging_event(webhook.smartcar_id, "vehicle-1")
    deliver(webhook.smartcar_id, body)

    with django_capture_on_commit_callbacks() as callbacks:
        again = deliver(webhook.smartcar_id, body)

    assert again.status_code == 200
    assert again.json() == {"status": "duplicate"}
    assert WebhookEvent.objects.count() == 1
    assert callbacks == []


def test_a_delivery_without_an_event_id_is_recognised_by_its_body(webhook, deliver):
    body = {"version": "2.0", "webhookId": webhook.smartcar_id, "eventName": "schedule", "payload": {"vehicles": []}}

    assert deliver(webhook.smartcar_id, body).json() == {"status": "received"}
    assert deliver(webhook.smartcar_id, body).json() == {"status": "duplicate"}
    assert WebhookEvent.objects.get().event_id.startswith("sha256:")


def _tampered(webhook):
    original = json.dumps(charging_event(webhook.smartcar_id, "vehicle-1")).encode()
    return original.replace(b"CHARGING_STARTED", b"CHARGING_STOPPED"), {"signature": sign(original)}


BAD_DELIVERIES = {
    "forged signature": (
        401,
        lambda w: (charging_event(w.smartcar_id, "v"), {"signature": sign(b"x", key="not-the-management-token")}),
    ),
    "tampered body": (401, _tampered),
    "no signature": (401, lambda w: (charging_event(w.smartcar_id, "v"), {"signed": False})),
    "wrong content type": (
        415,
        lambda w: (json.dumps(charging_event(w.smartcar_id, "v")).encode(), {"content_type": "text/plain"}),
    ),
    "form-encoded": (
        415,
        lambda w: (b"eventName=eventBased", {"content_type": "application/x-www-form-urlencoded"}),
    ),
    "malformed JSON": (400, lambda w: (b'{"eventName": "eventBased", ', {})),
    "JSON that is not an object": (400, lambda w: (b"[1, 2, 3]", {})),
    "event without an id": (400, lambda w: (charging_event(w.smartcar_id, "v", eventId=None), {})),
    "event time that is not a time": (400, lambda w: (charging_event(w.smartcar_id, "v", eventTime="soon"), {})),
    "another webhook's body": (400, lambda w: (charging_event(str(uuid.uuid4()), "v"), {})),
}


@pytest.mark.parametrize("case", BAD_DELIVERIES, ids=list(BAD_DELIVERIES))
def test_a_bad_delivery_is_refused_logged_and_not_stored(case, webhook, deliver, caplog):
    status, build = BAD_DELIVERIES[case]
    body, options = build(webhook)

    with caplog.at_level(logging.WARNING, logger="connect.views"):
        response = deliver(webhook.smartcar_id, body, **options)

    assert response.status_code == status
    assert not WebhookEvent.objects.exists()
    refusals = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert len(refusals) == 1 and str(status) in refusals[0]
    assert AMT not in refusals[0]


def test_an_oversize_body_is_refused_before_anything_else(webhook, deliver, settings, caplog):
    settings.WEBHOOK_MAX_BODY_BYTES = 1024
    body = charging_event(webhook.smartcar_id, "v", padding="x" * 2000)

    with caplog.at_level(logging.WARNING, logger="connect.views"):
        response = deliver(webhook.smartcar_id, body)

    assert response.status_code == 413
    assert not WebhookEvent.objects.exists()
    assert "413" in caplog.text


def test_an_unknown_webhook_id_is_not_found(deliver, db, caplog):
    unknown = str(uuid.uuid4())

    with caplog.at_level(logging.WARNING, logger="connect.views"):
        response = deliver(unknown, charging_event(unknown, "v"))

    assert response.status_code == 404
    assert not WebhookEvent.objects.exists()
    assert "unknown webhook id" in caplog.text


def test_only_post_is_accepted(webhook, client):
    assert client.get(f"/webhooks/{webhook.smartcar_id}/").status_code == 405


def test_without_a_management_token_nothing_is_verified_or_accepted(webhook, deliver, settings):
    body = charging_event(webhook.smartcar_id, "v")
    signature = sign(json.dumps(body).encode())
    settings.SMARTCAR_MANAGEMENT_TOKEN = ""
    verify = {"eventName": "verify", "webhookId": webhook.smartcar_id, "payload": {"challenge": "abc"}}

    assert deliver(webhook.smartcar_id, verify, signed=False).status_code == 503
    assert deliver(webhook.smartcar_id, body, signature=signature).status_code == 401
    webhook.refresh_from_db()
    assert webhook.verified_at is None
    assert not WebhookEvent.objects.exists()
