"""Webhooks out: signed event deliveries, retries after 25, 50 and 100 s, and the verify challenge."""

import json
from datetime import timedelta

import pytest
import smartcar
import time_machine
from django.conf import settings
from django.utils import timezone

from simulator import webhooks
from simulator.models import Delivery, Subscription, Webhook
from simulator.tasks_webhooks import webhook_deliveries_retry
from tests.simulator.platform_fixtures import (
    CallbackServer,
    default_application,
    make_connection,
    make_user,
    make_vehicle,
)

AMT = settings.SMARTCAR_MANAGEMENT_TOKEN


@pytest.fixture
def over_the_network(settings):
    """With a separately served simulator, callback URLs on 127.0.0.1 are reached over real sockets."""
    settings.SMARTCAR_SIMULATOR_ORIGIN = "http://simulator.example"


@pytest.fixture
def vehicle(db):
    application = default_application()
    vehicle = make_vehicle(make_user(), make="FORD", model="Mustang Mach-E")
    make_connection(application, vehicle)
    return vehicle


def subscribe(vehicle, callback_url: str) -> Webhook:
    webhook = Webhook.objects.create(application=default_application(), callback_url=callback_url)
    Subscription.objects.create(webhook=webhook, vehicle=vehicle)
    return webhook


def test_an_event_reaches_each_subscribed_webhook_signed_and_in_the_documented_shape(
    vehicle, over_the_network, django_capture_on_commit_callbacks
):
    with CallbackServer() as receiver:
        webhook = subscribe(vehicle, receiver.url)
        with django_capture_on_commit_callbacks(execute=True):
            webhooks.queue_event(vehicle, "CHARGING_STARTED")

    assert len(receiver.requests) == 1
    request = receiver.requests[0]
    body = json.loads(request["body"])
    assert body == {
        "version": "2.0",
        "webhookId": webhook.webhook_id,
        "eventName": "eventBased",
        "mode": "live",
        "payload": {
            "eventId": body["payload"]["eventId"],
            "vehicleId": vehicle.vehicle_id,
            "eventType": "CHARGING_STARTED",
            "eventTime": body["payload"]["eventTime"],
        },
    }
    assert request["headers"]["Content-Type"] == "application/json"
    # The official SDK is the referee of the signature.
    assert smartcar.verify_payload(AMT, request["headers"]["SC-Signature"], request["body"].decode())
    delivery = Delivery.objects.get()
    assert delivery.delivered_at is not None
    assert delivery.attempts == 1
    assert delivery.last_status == "200"
    assert delivery.event_id == body["payload"]["eventId"]


def test_nothing_is_sent_for_an_unsubscribed_vehicle_or_before_commit(
    vehicle, over_the_network, django_capture_on_commit_callbacks
):
    other = make_vehicle(vehicle.owner)
    with CallbackServer() as receiver:
        subscribe(vehicle, receiver.url)
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            webhooks.queue_event(other, "CHARGING_STOPPED")
            webhooks.queue_event(vehicle, "CHARGING_STOPPED")
        assert receiver.requests == []
        assert len(callbacks) == 1

    assert Delivery.objects.count() == 1


def test_extra_data_joins_the_payload(vehicle, over_the_network, django_capture_on_commit_callbacks):
    with CallbackServer() as receiver:
        subscribe(vehicle, receiver.url)
        with django_capture_on_commit_callbacks(execute=True):
            webhooks.queue_event(vehicle, "CHARGING_COMPLETED", {"eventTime": "2026-01-01T08:00:00.000Z"})

    payload = json.loads(receiver.requests[0]["body"])["payload"]
    assert payload["eventType"] == "CHARGING_COMPLETED"
    assert payload["eventTime"] == "2026-01-01T08:00:00.000Z"


def test_unknown_event_names_are_refused(vehicle):
    with pytest.raises(ValueError, match="Unknown webhook event"):
        webhooks.queue_event(vehicle, "CHARGING_EXPLODED")


def test_a_failing_callback_is_retried_after_25_50_and_100_seconds_then_dropped(
    vehicle, over_the_network, django_capture_on_commit_callbacks
):
    start = timezone.now()
    with CallbackServer(answer=lambda body: (500, b"{}")) as receiver, time_machine.travel(start, tick=False) as clock:
        subscribe(vehicle, receiver.url)
        with django_capture_on_commit_callbacks(execute=True):
            webhooks.queue_event(vehicle, "CHARGING_STARTED")
        delivery = Delivery.objects.get()
        assert (delivery.attempts, delivery.last_status) == (1, "500")

        for delay, attempts_after in ((25, 2), (50, 3), (100, 4)):
            clock.shift(timedelta(seconds=delay - 1))
            webhook_deliveries_retry.delay()
            delivery.refresh_from_db()
            assert delivery.attempts == attempts_after - 1, f"not yet due {delay} s"
            clock.shift(timedelta(seconds=1))
            webhook_deliveries_retry.delay()
            delivery.refresh_from_db()
            assert delivery.attempts == attempts_after

        assert delivery.dropped_at is not None
        assert delivery.next_attempt_at is None
        clock.shift(timedelta(hours=1))
        webhook_deliveries_retry.delay()

    assert len(receiver.requests) == 4
    assert len({request["body"] for request in receiver.requests}) == 1
    delivery.refresh_from_db()
    assert delivery.attempts == 4
    assert delivery.delivered_at is None


def test_a_retry_that_succeeds_completes_the_delivery(vehicle, over_the_network, django_capture_on_commit_callbacks):
    answers = iter([(503, b"{}"), (204, b"")])
    with CallbackServer(answer=lambda body: next(answers)) as receiver:
        subscribe(vehicle, receiver.url)
        with django_capture_on_commit_callbacks(execute=True):
            webhooks.queue_event(vehicle, "CHARGING_STARTED")
        with time_machine.travel(timezone.now() + timedelta(seconds=26)):
            webhook_deliveries_retry.delay()

    delivery = Delivery.objects.get()
    assert delivery.delivered_at is not None
    assert (delivery.attempts, delivery.last_status) == (2, "204")
    assert len(receiver.requests) == 2


def test_a_callback_that_does_not_answer_in_time_counts_as_a_failure(
    vehicle, over_the_network, django_capture_on_commit_callbacks, monkeypatch
):
    # 15 s in production; shortened so the test does not wait that long.
    monkeypatch.setattr(webhooks, "ATTEMPT_TIMEOUT_SECONDS", 0.2)
    with CallbackServer(delay=1.0) as receiver:
        subscribe(vehicle, receiver.url)
        with django_capture_on_commit_callbacks(execute=True):
            webhooks.queue_event(vehicle, "CHARGING_STARTED")

    delivery = Delivery.objects.get()
    assert delivery.delivered_at is None
    assert delivery.last_status == "no answer"
    assert delivery.next_attempt_at > timezone.now() + timedelta(seconds=20)


def test_a_delivered_event_is_not_sent_again(vehicle, over_the_network, django_capture_on_commit_callbacks):
    with CallbackServer() as receiver:
        subscribe(vehicle, receiver.url)
        with django_capture_on_commit_callbacks(execute=True):
            webhooks.queue_event(vehicle, "CHARGING_STARTED")
        webhooks.delivery_attempt(delivery_id=Delivery.objects.get().pk)
        webhook_deliveries_retry.delay()

    assert len(receiver.requests) == 1


@pytest.mark.parametrize("callback_url", ["/simulator/oauth/token", "http://testserver/simulator/oauth/token"])
def test_callbacks_on_this_site_are_posted_in_process_through_django(
    vehicle, callback_url, django_capture_on_commit_callbacks
):
    # The token endpoint stands in for a callback on this site: it answers an unauthenticated POST with 401,
    # which only a real request through Django's URL routing and views can produce.
    subscribe(vehicle, callback_url)
    with django_capture_on_commit_callbacks(execute=True):
        webhooks.queue_event(vehicle, "CHARGING_STARTED")

    delivery = Delivery.objects.get()
    assert delivery.last_status == "401"
    assert delivery.next_attempt_at is not None


def test_the_verify_challenge_is_accepted_when_answered_with_the_hmac(vehicle, over_the_network):
    def answer(body):
        challenge = json.loads(body)["payload"]["challenge"]
        return 200, json.dumps({"challenge": smartcar.hash_challenge(AMT, challenge)}).encode()

    with CallbackServer(answer=answer) as receiver:
        webhook = Webhook.objects.create(application=default_application(), callback_url=receiver.url)
        assert webhooks.webhook_verify(webhook) is True

    body = json.loads(receiver.requests[0]["body"])
    assert body["version"] == "2.0"
    assert body["eventName"] == "verify"
    assert body["webhookId"] == webhook.webhook_id
    assert body["payload"]["challenge"]
    webhook.refresh_from_db()
    assert webhook.verified_at is not None


@pytest.mark.parametrize(
    "answer",
    [
        lambda body: (200, json.dumps({"challenge": json.loads(body)["payload"]["challenge"]}).encode()),
        lambda body: (200, b"not json"),
        lambda body: (500, b"{}"),
        lambda body: (200, json.dumps({"challenge": smartcar.hash_challenge("wrong", "x")}).encode()),
    ],
)
def test_a_wrong_verify_answer_leaves_the_webhook_unverified(db, over_the_network, answer):
    with CallbackServer(answer=answer) as receiver:
        webhook = Webhook.objects.create(application=default_application(), callback_url=receiver.url)
        assert webhooks.webhook_verify(webhook) is False

    webhook.refresh_from_db()
    assert webhook.verified_at is None


@pytest.mark.parametrize(("connection_mode", "body_mode"), [("live", "live"), ("test", "test"), ("simulated", "test")])
def test_the_body_carries_the_connections_mode(
    db, over_the_network, django_capture_on_commit_callbacks, connection_mode, body_mode
):
    vehicle = make_vehicle(make_user(), make="TESLA")
    make_connection(default_application(), vehicle, mode=connection_mode)
    with CallbackServer() as receiver:
        subscribe(vehicle, receiver.url)
        with django_capture_on_commit_callbacks(execute=True):
            webhooks.queue_event(vehicle, "CHARGING_STOPPED")

    assert json.loads(receiver.requests[0]["body"])["mode"] == body_mode
