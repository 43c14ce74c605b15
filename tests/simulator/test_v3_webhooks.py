"""The simulated Management API v3 (webhooks, subscriptions) and webhooks of payload version 4.0.

Reference: smartcar-api-v3/management__subscriptions.md, management__webhooks.md, webhooks__events-overview.md,
webhooks__event-vehicle-state.md, webhooks__event-verify.md, webhooks__payload-verification.md
"""

import hashlib
import hmac
import json
from datetime import timedelta

import pytest
from django.utils import timezone

from simulator import webhooks, world
from simulator.models import AppToken, Delivery, Subscription, Vehicle, Webhook
from simulator.v3.webhooks import verify_body

MANAGEMENT = "/simulator/management-api/v3"


@pytest.fixture
def management(client, sim_app):
    token = AppToken.objects.create(application=sim_app, expires_at=timezone.now() + timedelta(hours=1))
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token.access_token}"}

    class Management:
        def get(self, path):
            return client.get(MANAGEMENT + path, **headers)

        def post(self, path, body):
            return client.post(MANAGEMENT + path, json.dumps(body), content_type="application/json", **headers)

        def delete(self, path):
            return client.delete(MANAGEMENT + path, **headers)

    return Management()


@pytest.fixture
def webhook_v4(sim_app):
    return Webhook.objects.create(
        application=sim_app, callback_url="https://fleet.example/webhooks/x/", payload_version="4.0", name="Fleet"
    )


def _subscribe(management, webhook, vehicle, user):
    body = {"data": {"attributes": {"webhookId": webhook.webhook_id, "userId": user.user_id,
                                    "vehicleId": vehicle.vehicle_id}}}  # fmt: skip
    return management.post("/subscriptions", body)


def test_subscribing_is_accepted_and_the_first_delivery_carries_every_signal(
    management, webhook_v4, sim_vehicle, sim_user, django_capture_on_commit_callbacks
):
    vehicle = sim_vehicle("TESLA")
    with django_capture_on_commit_callbacks():
        response = _subscribe(management, webhook_v4, vehicle, sim_user)
    assert response.status_code == 202
    assert json.loads(response.content) == {"meta": {"message": "subscription creation in progress"}}
    delivery = Delivery.objects.get(webhook=webhook_v4)
    body = json.loads(delivery.body)
    assert body["eventType"] == "VEHICLE_STATE" and body["vehicleId"] == vehicle.vehicle_id
    assert body["meta"]["version"] == "4.0" and body["meta"]["webhookId"] == webhook_v4.webhook_id
    assert body["data"]["user"] == {"id": sim_user.user_id}
    assert body["data"]["triggers"] == [{"code": "FIRST_DELIVERY"}]
    codes = {signal["code"]: signal for signal in body["data"]["signals"]}
    soc = codes["tractionbattery-stateofcharge"]
    assert soc["body"]["unit"] == "percent" and set(soc["meta"]) == {"oemUpdatedAt", "fetchedAt"}
    assert codes["internalcombustionengine-fuellevel"]["status"]["value"] == "ERROR"  # a Tesla has no tank
    assert body["meta"]["signalCount"] == len(body["data"]["signals"])


def test_subscribing_twice_is_a_conflict(management, webhook_v4, sim_vehicle, sim_user):
    vehicle = sim_vehicle("TESLA")
    assert _subscribe(management, webhook_v4, vehicle, sim_user).status_code == 202
    response = _subscribe(management, webhook_v4, vehicle, sim_user)
    assert response.status_code == 409
    assert json.loads(response.content)["errors"][0]["status"] == "409"


def test_subscription_needs_the_users_connection(management, webhook_v4, sim_vehicle):
    from simulator.models import SmartcarUser

    vehicle = sim_vehicle("TESLA")
    stranger = SmartcarUser.objects.create(email="stranger@example.com")
    assert _subscribe(management, webhook_v4, vehicle, stranger).status_code == 404
    assert not Subscription.objects.exists()


def test_subscriptions_are_listed_read_and_deleted(management, webhook_v4, sim_vehicle, sim_user):
    vehicle = sim_vehicle("TESLA")
    _subscribe(management, webhook_v4, vehicle, sim_user)
    listed = json.loads(
        management.get(
            f"/subscriptions?filter[vehicleId]={vehicle.vehicle_id}&filter[webhookId]={webhook_v4.webhook_id}"
        ).content
    )
    (item,) = listed["data"]
    assert item["relationships"]["vehicle"]["data"]["id"] == vehicle.vehicle_id
    assert item["relationships"]["user"]["data"]["id"] == sim_user.user_id
    one = json.loads(management.get(f"/subscriptions/{item['id']}").content)["data"]
    assert one["id"] == item["id"]
    assert management.delete(f"/subscriptions/{item['id']}").status_code == 204
    assert not Subscription.objects.exists()
    assert management.get(f"/subscriptions/{item['id']}").status_code == 404


def test_webhooks_are_read_only_resources(management, webhook_v4):
    listed = json.loads(management.get("/webhooks").content)
    assert [w["id"] for w in listed["data"]] == [webhook_v4.webhook_id]
    one = json.loads(management.get(f"/webhooks/{webhook_v4.webhook_id}").content)["data"]
    assert one["attributes"]["callbackUri"] == webhook_v4.callback_url
    assert {"code": "charge-detailedchargingstatus", "group": "Charge", "name": "DetailedChargingStatus"} in one[
        "attributes"
    ]["triggers"]


def test_the_management_api_needs_an_application_token(client, db):
    response = client.get(f"{MANAGEMENT}/webhooks")
    assert response.status_code == 401
    assert json.loads(response.content)["errors"][0]["type"] == "AUTHENTICATION"


def test_a_change_of_charging_state_sends_vehicle_state_whatever_the_make(webhook_v4, sim_vehicle, sim_app):
    # Nissan announces nothing on v2 webhooks (changelog 2022: Ford, Tesla, Toyota); v3 is make-agnostic.
    v2_webhook = Webhook.objects.create(application=sim_app, callback_url="https://fleet.example/v2/")
    vehicle = sim_vehicle("NISSAN")
    Subscription.objects.create(webhook=webhook_v4, vehicle=vehicle)
    Subscription.objects.create(webhook=v2_webhook, vehicle=vehicle)
    world.announce(vehicle, [("CHARGING_STARTED", timezone.now())])
    (delivery,) = Delivery.objects.all()
    body = json.loads(delivery.body)
    assert delivery.webhook == webhook_v4
    assert body["data"]["triggers"][0]["code"] == "charge-detailedchargingstatus"


def test_v2_webhooks_keep_their_v2_body(sim_vehicle, sim_app):
    v2_webhook = Webhook.objects.create(application=sim_app, callback_url="https://fleet.example/v2/")
    vehicle = sim_vehicle("TESLA")
    Subscription.objects.create(webhook=v2_webhook, vehicle=vehicle)
    world.announce(vehicle, [("CHARGING_STARTED", timezone.now())])
    (delivery,) = Delivery.objects.all()
    assert json.loads(delivery.body)["version"] == "2.0"


def test_the_verify_challenge_of_a_v4_webhook(webhook_v4, sim_app):
    body = json.loads(verify_body(webhook_v4, "abc123"))
    assert body["eventType"] == "VERIFY" and body["data"] == {"challenge": "abc123"}
    assert body["meta"]["version"] == "4.0" and body["meta"]["webhookId"] == webhook_v4.webhook_id
    assert "vehicleId" not in body


def test_deliveries_are_signed_as_in_v2(webhook_v4, sim_vehicle, sim_app, monkeypatch):
    vehicle = sim_vehicle("TESLA")
    Subscription.objects.create(webhook=webhook_v4, vehicle=vehicle)
    world.announce(vehicle, [("CHARGING_COMPLETED", timezone.now())])
    delivery = Delivery.objects.get()
    sent = {}

    def post(url, body, headers):
        sent.update(url=url, body=body, headers=headers)
        return "200"

    monkeypatch.setattr(webhooks, "_post", post)
    webhooks.delivery_attempt(delivery_id=delivery.pk)
    expected = hmac.new(sim_app.management_token.encode(), sent["body"], hashlib.sha256).hexdigest()
    assert sent["headers"]["SC-Signature"] == expected
    assert Delivery.objects.get(pk=delivery.pk).delivered_at is not None
    assert Vehicle.objects.filter(pk=vehicle.pk).exists()
