"""What a stored event does once a worker processes it: charging state, charging session, targeted sync, readings."""

from datetime import UTC, datetime, timedelta

import pytest

from charging.models import ChargingSession
from connect.models import EventStatus, WebhookEvent
from connect.webhook_events import webhook_event_process
from tests.webhooks.conftest import charging_event
from vehicles.models import Activity, EndpointState, StatusHistory, Vehicle, VehicleStatus, VehicleSync

T0 = datetime(2026, 3, 2, 8, 15, tzinfo=UTC)


@pytest.fixture
def tesla(fleet) -> Vehicle:
    return Vehicle.objects.create(
        fleet=fleet,
        smartcar_id="tesla-1",
        make="TESLA",
        model="Model 3",
        permissions=["read_battery", "read_charge", "read_location"],
    )


def _event(webhook, vehicle_id: str, event_type: str, when: datetime) -> WebhookEvent:
    body = charging_event(webhook.smartcar_id, vehicle_id, event_type, eventTime=when.isoformat())
    payload = body["payload"]
    return WebhookEvent.objects.create(
        webhook=webhook,
        event_id=payload["eventId"],
        event_name="eventBased",
        event_type=event_type,
        smartcar_vehicle_id=vehicle_id,
        event_time=when,
        body=body,
    )


def test_charging_started_shows_at_once_opens_a_session_and_asks_for_a_targeted_sync(
    webhook, tesla, django_capture_on_commit_callbacks
):
    event = _event(webhook, "tesla-1", "CHARGING_STARTED", T0)

    with django_capture_on_commit_callbacks() as callbacks:
        assert webhook_event_process(event_id=event.pk) == EventStatus.PROCESSED

    status = VehicleStatus.objects.get(vehicle=tesla)
    assert (status.charging_state, status.is_plugged_in, status.activity) == ("CHARGING", True, Activity.CHARGING)
    assert StatusHistory.objects.get(vehicle=tesla, field="charging_state").recorded_at == T0
    session = ChargingSession.objects.get(vehicle=tesla)
    assert session.started_at == T0 and session.ended_at is None
    event.refresh_from_db()
    assert (event.vehicle, event.status) == (tesla, EventStatus.PROCESSED)
    # The targeted sync: charge and battery paths due now, its task enqueued after commit — nothing else.
    assert VehicleSync.objects.get(vehicle=tesla).requested_at is not None
    due = set(EndpointState.objects.filter(vehicle=tesla, next_sync_at__isnull=False).values_list("path", flat=True))
    assert "/battery" in due and "/charge" in due and "/location" not in due
    # One task (the targeted sync) and the signal that tells the layers above (alerts) of the new data.
    assert [c.__qualname__.split(".")[0] for c in callbacks] == ["enqueue", "vehicles_changed_send"]


def test_charging_completed_closes_the_session_and_the_vehicle_is_parked_and_full(webhook, tesla):
    webhook_event_process(event_id=_event(webhook, "tesla-1", "CHARGING_STARTED", T0).pk)
    end = T0.replace(hour=10)

    webhook_event_process(event_id=_event(webhook, "tesla-1", "CHARGING_COMPLETED", end).pk)

    status = VehicleStatus.objects.get(vehicle=tesla)
    assert (status.charging_state, status.activity) == ("FULLY_CHARGED", Activity.PARKED)
    assert ChargingSession.objects.get(vehicle=tesla).ended_at == end


def test_an_event_older_than_the_known_state_does_not_turn_it_back(webhook, tesla):
    webhook_event_process(event_id=_event(webhook, "tesla-1", "CHARGING_STOPPED", T0.replace(hour=9)).pk)

    webhook_event_process(event_id=_event(webhook, "tesla-1", "CHARGING_STARTED", T0).pk)

    assert VehicleStatus.objects.get(vehicle=tesla).charging_state == "NOT_CHARGING"


def test_an_event_is_processed_once_however_often_its_task_runs(webhook, tesla):
    event = _event(webhook, "tesla-1", "CHARGING_STARTED", T0)

    assert webhook_event_process(event_id=event.pk) == EventStatus.PROCESSED
    assert webhook_event_process(event_id=event.pk) is None

    assert StatusHistory.objects.filter(vehicle=tesla, field="charging_state").count() == 1
    assert ChargingSession.objects.filter(vehicle=tesla).count() == 1


def test_an_event_for_a_vehicle_not_connected_here_is_ignored(webhook, tesla):
    event = _event(webhook, "someone-elses", "CHARGING_STARTED", T0)

    assert webhook_event_process(event_id=event.pk) == EventStatus.IGNORED

    assert not VehicleStatus.objects.filter(vehicle=tesla).exists()


def test_a_delivery_with_vehicle_data_updates_the_latest_status_like_a_sync(webhook, tesla):
    body = {
        "version": "2.0",
        "webhookId": webhook.smartcar_id,
        "eventName": "schedule",
        "payload": {
            "vehicles": [
                {
                    "vehicleId": "tesla-1",
                    "data": [
                        {
                            "path": "/battery",
                            "code": 200,
                            "body": {"percentRemaining": 0.62, "range": 310.5},
                            "headers": {"SC-Data-Age": "2026-03-02T08:00:00.000Z"},
                        },
                        {"path": "/location", "code": 409, "body": {"type": "VEHICLE_STATE"}},
                    ],
                }
            ]
        },
    }
    event = WebhookEvent.objects.create(webhook=webhook, event_id="sha256:x", event_name="schedule", body=body)

    assert webhook_event_process(event_id=event.pk) == EventStatus.PROCESSED

    status = VehicleStatus.objects.get(vehicle=tesla)
    assert (status.battery_percent, status.range_km) == (62.0, 310.5)
    assert status.data_age == datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
    assert StatusHistory.objects.get(vehicle=tesla, field="battery_percent").number == 62.0
    state = EndpointState.objects.get(vehicle=tesla, path="/battery")
    assert state.body == {"percentRemaining": 0.62, "range": 310.5}
    assert not EndpointState.objects.filter(vehicle=tesla, path="/location", body__isnull=False).exists()


def test_the_outbox_hands_over_events_no_worker_was_given_and_those_whose_message_was_lost(webhook, tesla):
    from django.utils import timezone

    from fleet.outbox import outbox_sweep

    now = timezone.now()
    unqueued = _event(webhook, "tesla-1", "CHARGING_STARTED", T0)  # stored while the broker was down
    just_stored = _event(webhook, "tesla-1", "CHARGING_STOPPED", T0.replace(hour=9))  # its handover is under way
    queued = _event(webhook, "tesla-1", "CHARGING_STOPPED", T0.replace(hour=10))  # waiting in the queue
    lost = _event(webhook, "tesla-1", "CHARGING_STARTED", T0.replace(hour=11))  # its message was lost
    WebhookEvent.objects.filter(pk=unqueued.pk).update(received_at=now - timedelta(minutes=5))
    WebhookEvent.objects.filter(pk=queued.pk).update(enqueued_at=now - timedelta(minutes=5))
    WebhookEvent.objects.filter(pk=lost.pk).update(enqueued_at=now - timedelta(hours=1))

    assert outbox_sweep() == 2

    statuses = dict(WebhookEvent.objects.values_list("pk", "status"))
    assert statuses == {
        unqueued.pk: EventStatus.PROCESSED,
        just_stored.pk: EventStatus.RECEIVED,
        queued.pk: EventStatus.RECEIVED,
        lost.pk: EventStatus.PROCESSED,
    }
    assert WebhookEvent.objects.get(pk=unqueued.pk).enqueued_at is not None
    assert outbox_sweep() == 0


def test_an_event_whose_worker_died_while_processing_it_is_processed_again(webhook, tesla):
    from django.utils import timezone

    from fleet.outbox import outbox_sweep

    now = timezone.now()
    abandoned = _event(webhook, "tesla-1", "CHARGING_STARTED", T0)
    in_progress = _event(webhook, "tesla-1", "CHARGING_STOPPED", T0.replace(hour=9))
    WebhookEvent.objects.filter(pk=abandoned.pk).update(
        status=EventStatus.PROCESSING, enqueued_at=now - timedelta(minutes=20), received_at=now - timedelta(minutes=21)
    )
    WebhookEvent.objects.filter(pk=in_progress.pk).update(status=EventStatus.PROCESSING, enqueued_at=now)

    outbox_sweep(now=now + timedelta(seconds=10))

    statuses = dict(WebhookEvent.objects.values_list("pk", "status"))
    assert statuses == {abandoned.pk: EventStatus.PROCESSED, in_progress.pk: EventStatus.PROCESSING}
    assert VehicleStatus.objects.get(vehicle=tesla).charging_state == "CHARGING"
