"""Webhooks of API v3 (payload version 4.0) through the receiver and the worker: the verify challenge, a
VEHICLE_STATE read by the signals mapping, out-of-order deliveries, and a payload version nobody knows.

Reference: smartcar-api-v3/webhooks__event-verify.md, webhooks__event-vehicle-state.md, webhooks__events-overview.md
"""

import json
import uuid

import pytest
from django.utils import timezone

from charging.models import ChargingSession
from connect.models import EventStatus, WebhookEvent
from connect.webhook_events import webhook_event_process
from connect.webhooks import hmac_hex
from vehicles.models import UnparsedReading, Vehicle, VehicleStatus

MS = 1772430000000  # 2026-03-02T05:40:00Z


@pytest.fixture
def tesla(fleet) -> Vehicle:
    return Vehicle.objects.create(fleet=fleet, smartcar_id="tesla-v3", make="TESLA", model="Model 3")


def vehicle_state(webhook, signals: list, *, at: int = MS, version="4.0") -> dict:
    return {
        "eventId": str(uuid.uuid4()),
        "eventType": "VEHICLE_STATE",
        "vehicleId": "tesla-v3",
        "data": {
            "user": {"id": "user-1"},
            "vehicle": {"id": "tesla-v3", "make": "TESLA", "model": "Model 3", "year": 2022},
            "triggers": [{"code": "charge-detailedchargingstatus"}],
            "signals": [{**s, "meta": {"oemUpdatedAt": at, "fetchedAt": at}} for s in signals],
        },
        "meta": {"version": version, "webhookId": webhook.smartcar_id, "deliveryId": "d-1", "deliveredAt": at},
    }


def _process(webhook, deliver, body) -> WebhookEvent:
    response = deliver(webhook.smartcar_id, body)
    assert response.status_code == 200, response.content
    event = WebhookEvent.objects.get(event_id=body["eventId"])
    webhook_event_process(event_id=event.pk)
    event.refresh_from_db()
    return event


def test_the_v4_verify_challenge_is_answered_with_its_hmac(webhook, deliver):
    body = {"eventId": "e", "eventType": "VERIFY", "data": {"challenge": "3a5c8f72-e6d9"}, "meta": {"version": "4.0"}}
    response = deliver(webhook.smartcar_id, body, signed=False)
    assert response.status_code == 200
    assert json.loads(response.content) == {"challenge": hmac_hex("3a5c8f72-e6d9")}
    assert not WebhookEvent.objects.exists()


def test_a_vehicle_state_updates_the_status_and_opens_a_charging_session(webhook, deliver, tesla):
    signals = [
        {"code": "tractionbattery-stateofcharge", "body": {"unit": "percent", "value": 78}},
        {"code": "charge-detailedchargingstatus", "body": {"value": "CHARGING"}},
        {"code": "location-isathome", "status": {"value": "ERROR", "error": {"code": "VEHICLE_NOT_CAPABLE"}}},
    ]
    event = _process(webhook, deliver, vehicle_state(webhook, signals))
    assert (event.event_type, event.vehicle, event.status) == ("VEHICLE_STATE", tesla, EventStatus.PROCESSED)
    status = VehicleStatus.objects.get(vehicle=tesla)
    assert (status.battery_percent, status.charging_state) == (78.0, "CHARGING")
    assert ChargingSession.objects.get(vehicle=tesla).ended_at is None
    assert "1 signal errors" in event.outcome


def test_an_older_vehicle_state_changes_nothing(webhook, deliver, tesla):
    newer = [{"code": "tractionbattery-stateofcharge", "body": {"unit": "percent", "value": 80}}]
    older = [{"code": "tractionbattery-stateofcharge", "body": {"unit": "percent", "value": 60}}]
    _process(webhook, deliver, vehicle_state(webhook, newer, at=MS))
    _process(webhook, deliver, vehicle_state(webhook, older, at=MS - 60_000))
    assert VehicleStatus.objects.get(vehicle=tesla).battery_percent == 80.0


def test_a_signal_of_an_unexpected_shape_is_kept_never_a_wrong_value(webhook, deliver, tesla):
    signals = [
        {"code": "tractionbattery-stateofcharge", "body": {"percentage": 75}},  # the 3.0 body
        {"code": "odometer-traveleddistance", "body": {"unit": "kilometers", "value": 12000}},
    ]
    _process(webhook, deliver, vehicle_state(webhook, signals))
    status = VehicleStatus.objects.get(vehicle=tesla)
    assert status.battery_percent is None and status.odometer_km == 12000.0
    kept = UnparsedReading.objects.get(vehicle=tesla)
    assert (kept.source, kept.code, kept.body) == ("webhook", "tractionbattery-stateofcharge", {"percentage": 75})


def test_an_unknown_payload_version_is_acknowledged_kept_and_logged_once(webhook, deliver, tesla, caplog):
    for _ in range(2):
        body = vehicle_state(webhook, [], version="9.1")
        event = _process(webhook, deliver, body)
        assert event.status == EventStatus.IGNORED
    kept = UnparsedReading.objects.get()
    assert (kept.code, kept.reason, kept.count, kept.vehicle) == (
        "payload version 9.1",
        "unknown webhook payload version",
        2,
        tesla,
    )
    assert sum("payload version 9.1" in r.getMessage() and "not read" in r.getMessage() for r in caplog.records) == 1


def test_a_v4_event_without_an_event_id_is_refused(webhook, deliver):
    body = vehicle_state(webhook, [])
    del body["eventId"]
    assert deliver(webhook.smartcar_id, body).status_code == 400
    assert not WebhookEvent.objects.exists()


def _records(*entries) -> dict:
    return {"code": "service-records", "body": {"values": list(entries)}}


def _record(record_id: str, time: str, task: str) -> dict:
    return {
        "id": record_id, "time": time, "odometer": 50000, "cost": {"amount": 150, "currency": "USD"},
        "tasks": [{"id": "T1", "description": task}], "details": [],
    }  # fmt: skip


def test_service_records_in_a_vehicle_state_reach_the_dealer_history_and_an_older_delivery_does_not(
    webhook, deliver, tesla
):
    from vehicles.models import EndpointState
    from vehicles.service_history import dealer_history

    # The vehicle's last read on v3: its signals, the service records among them, one visit so far.
    first_visit = {"values": [_record("S1", "2025-01-15T14:30:00Z", "Oil Change")]}
    read = [
        {"attributes": {"code": "odometer-traveleddistance", "body": {"unit": "km", "value": 51000}},
         "meta": {"oemUpdatedAt": MS - 3_600_000}},
        {"attributes": {"code": "service-records", "body": first_visit}, "meta": {"oemUpdatedAt": MS - 3_600_000}},
    ]  # fmt: skip
    EndpointState.objects.create(vehicle=tesla, path="/signals", body=read, last_success_at=timezone.now())
    assert [r.tasks for r in dealer_history(tesla).records] == [("Oil Change",)]

    visits = _records(
        _record("S1", "2025-01-15T14:30:00Z", "Oil Change"), _record("S2", "2026-03-01T09:00:00Z", "Brakes")
    )
    event = _process(webhook, deliver, vehicle_state(webhook, [visits], at=MS))
    assert "service records stored" in event.outcome
    history = dealer_history(tesla)
    assert sorted(r.tasks for r in history.records) == [("Brakes",), ("Oil Change",)]
    assert history.records[0].odometer_km == 50000.0 and history.shared is True
    stored = EndpointState.objects.get(vehicle=tesla, path="/signals").body
    assert [item.get("code") or item["attributes"]["code"] for item in stored] == [
        "odometer-traveleddistance", "service-records",
    ]  # fmt: skip

    # A delivery older than what is stored (deliveries come in any order) leaves the records as they are.
    stale = _records(_record("S1", "2025-01-15T14:30:00Z", "Oil Change"))
    _process(webhook, deliver, vehicle_state(webhook, [stale], at=MS - 60_000))
    assert len(dealer_history(tesla).records) == 2
