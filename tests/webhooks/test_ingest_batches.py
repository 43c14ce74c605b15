"""The receiver answers from one insert and hands events to workers in groups: no event lost, none processed twice.

Burst, redeliveries, a group message delivered twice, a broker outage during the burst (events kept, swept later),
and the per-process handover thread that makes the groups.
"""

import random
import threading
import time
from collections import Counter
from datetime import timedelta

import pytest
from django.utils import timezone

from connect import webhook_events
from connect.models import EventStatus, WebhookEvent
from connect.tasks import webhook_events_process
from fleet.outbox import Handover, outbox_sweep
from tests.webhooks.conftest import charging_event
from vehicles.models import Vehicle


@pytest.fixture
def vehicles(fleet) -> list[Vehicle]:
    return [
        Vehicle.objects.create(fleet=fleet, smartcar_id=f"car-{n}", make="TESLA", model="Model 3", permissions=[])
        for n in range(5)
    ]


@pytest.fixture
def applied(monkeypatch) -> Counter:
    """How many times each event's charging change was applied (the processing itself, not the claim)."""
    counts: Counter = Counter()
    apply = webhook_events._charging_event_apply

    def counting(vehicle, event):
        counts[event.event_id] += 1
        return apply(vehicle, event)

    monkeypatch.setattr(webhook_events, "_charging_event_apply", counting)
    return counts


def _burst(webhook, vehicles, events: int, redeliveries: int) -> tuple[list[dict], list[dict]]:
    rng = random.Random(15)
    kinds = ("CHARGING_STARTED", "CHARGING_STOPPED", "CHARGING_COMPLETED")
    bodies = [
        charging_event(webhook.smartcar_id, vehicles[n % len(vehicles)].smartcar_id, kinds[n % 3])
        for n in range(events)
    ]
    sent = bodies + rng.sample(bodies, redeliveries)
    rng.shuffle(sent)
    return bodies, sent


def test_a_burst_with_redeliveries_stores_and_processes_each_event_once(
    webhook, vehicles, deliver, applied, django_capture_on_commit_callbacks
):
    bodies, sent = _burst(webhook, vehicles, events=60, redeliveries=20)

    with django_capture_on_commit_callbacks(execute=True):
        answers = Counter(deliver(webhook.smartcar_id, body).json()["status"] for body in sent)

    assert answers == {"received": 60, "duplicate": 20}
    event_ids = {body["payload"]["eventId"] for body in bodies}
    assert Counter(WebhookEvent.objects.values_list("event_id", flat=True)) == dict.fromkeys(event_ids, 1)
    assert set(WebhookEvent.objects.values_list("status", flat=True)) == {EventStatus.PROCESSED}
    assert applied == dict.fromkeys(event_ids, 1)
    assert not WebhookEvent.objects.filter(enqueued_at__isnull=True).exists()

    # A group message delivered again (a worker died before acknowledging it) finds every event claimed.
    webhook_events_process.apply(args=(list(WebhookEvent.objects.values_list("pk", flat=True)),))
    assert applied == dict.fromkeys(event_ids, 1)


def test_with_the_broker_down_every_delivery_is_answered_and_kept_then_swept_and_processed_once(
    webhook, vehicles, deliver, applied, broker_down, monkeypatch, django_capture_on_commit_callbacks
):
    bodies, sent = _burst(webhook, vehicles, events=12, redeliveries=4)
    # The handover as its thread runs it, but in this thread (whose database connection sees this test's rows).
    in_line = Handover(webhook_events.HANDOVER.task, webhook_events.HANDOVER.model, background=False)
    monkeypatch.setattr(webhook_events, "HANDOVER", in_line)

    with django_capture_on_commit_callbacks(execute=True):
        for body in sent:
            assert deliver(webhook.smartcar_id, body).status_code == 200

    assert WebhookEvent.objects.count() == 12
    assert WebhookEvent.objects.filter(status=EventStatus.RECEIVED, enqueued_at__isnull=True).count() == 12
    assert not applied

    broker_down.restore()
    later = timezone.now() + timedelta(seconds=10)
    assert outbox_sweep(now=later) == 12
    assert applied == {body["payload"]["eventId"]: 1 for body in bodies}
    assert outbox_sweep(now=later) == 0


class _Recorder(Handover):
    """The handover thread with the sending recorded instead of done (no broker, no database)."""

    def __init__(self, fail_first=False, **kwargs):
        super().__init__("connect.tasks.webhook_events_process", "connect.WebhookEvent", background=True, **kwargs)
        self.groups: list[list[int]] = []
        self.fail_first = fail_first
        self.sent = threading.Event()

    def send(self, ids):
        if self.fail_first:
            self.fail_first = False
            return False
        self.groups.append(list(ids))
        if sum(map(len, self.groups)) >= 10:
            self.sent.set()
        return True


def test_the_handover_thread_sends_what_arrives_together_as_one_group():
    handover = _Recorder(max_wait=0.2)
    for pk in range(10):
        handover.add(pk)

    assert handover.sent.wait(5)
    assert handover.groups == [list(range(10))]


def test_the_handover_thread_never_waits_for_more_than_a_full_group():
    handover = _Recorder(max_rows=4, max_wait=30)
    started = time.monotonic()
    for pk in range(12):
        handover.add(pk)

    deadline = time.monotonic() + 5
    while sum(map(len, handover.groups)) < 12 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert sorted(pk for group in handover.groups for pk in group) == list(range(12))
    assert all(len(group) <= 4 for group in handover.groups)
    assert time.monotonic() - started < 5  # full groups go at once, not after max_wait


def test_a_group_the_broker_refused_is_left_to_the_sweep_and_the_next_ones_still_go():
    handover = _Recorder(fail_first=True, max_wait=0.01)
    for pk in range(3):
        handover.add(pk)
    deadline = time.monotonic() + 5
    while not handover.groups and time.monotonic() < deadline:
        handover.add(99)
        time.sleep(0.05)

    # The refused group is dropped from memory (its rows are unqueued: the sweep's), later ids are sent.
    sent = [pk for group in handover.groups for pk in group]
    assert sent and set(sent) == {99}


def test_a_group_settles_each_vehicles_charges_and_announces_its_vehicles_once(
    webhook, vehicles, django_capture_on_commit_callbacks
):
    from charging.models import ChargingSession
    from vehicles.signals import vehicles_changed

    start = timezone.now().replace(microsecond=0) - timedelta(hours=3)
    plan = [  # (vehicle, event, minutes after start), in the order they arrived
        (0, "CHARGING_STARTED", 0),
        (1, "CHARGING_STARTED", 5),
        (0, "CHARGING_COMPLETED", 60),
        (2, "CHARGING_STARTED", 70),
        (1, "CHARGING_STOPPED", 90),
    ]
    events = [
        WebhookEvent.objects.create(
            webhook=webhook, event_id=f"group-{n}", event_name="eventBased", event_type=kind, mode="live",
            smartcar_vehicle_id=vehicles[index].smartcar_id, event_time=start + timedelta(minutes=minutes), body={},
        )
        for n, (index, kind, minutes) in enumerate(plan)
    ]  # fmt: skip
    announced = []

    def listen(sender, vehicle_ids, source, **kwargs):
        announced.append((source, list(vehicle_ids)))

    vehicles_changed.connect(listen)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            webhook_events_process([event.pk for event in events])
    finally:
        vehicles_changed.disconnect(listen)

    assert set(WebhookEvent.objects.values_list("status", flat=True)) == {EventStatus.PROCESSED}
    # One announcement for the group's three vehicles (alerts evaluate each once), not one per event.
    assert announced == [("webhook", sorted(vehicles[index].pk for index in (0, 1, 2)))]
    sessions = {session.vehicle_id: (session.started_at, session.ended_at) for session in ChargingSession.objects.all()}
    minute = timedelta(minutes=1)
    assert sessions == {
        vehicles[0].pk: (start, start + 60 * minute),
        vehicles[1].pk: (start + 5 * minute, start + 90 * minute),
        vehicles[2].pk: (start + 70 * minute, None),
    }
