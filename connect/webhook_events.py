"""Processing a stored webhook event on a worker (connect/webhooks.py stored it and enqueued this).

- ``CHARGING_STARTED`` / ``CHARGING_STOPPED`` / ``CHARGING_COMPLETED`` (changelog__2022.md, April 13, 2022): the
  vehicle's charging state changes at once — the dashboard shows it without waiting for a poll —, the charging
  session opens or closes (charging/history.py), and a targeted sync fetches the charge and battery readings.
- Deliveries carrying vehicle data update the latest status as a sync round would: the same readers
  (vehicles/readings.py), the same endpoint rows, history only for changed values. The pages in this folder do not
  document such a body; the receiver follows the shape of Smartcar's v2.0 schedule deliveries, which is the batch
  endpoint's (batch.md): ``payload.vehicles[] = {vehicleId, data: [{path, code, body, headers}]}``.

Each event is processed once: a conditional UPDATE from "received" to "processing" is the claim, so a task that
is delivered twice (late acknowledgement, or handed over again by the outbox) finds nothing to do the second time.
An event stored while the broker was down waits in the outbox (fleet/outbox.py) until a worker can be given it.
"""

from __future__ import annotations

import logging
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from connect.json_fields import mapping_at
from connect.models import EventStatus, WebhookEvent
from fleet.outbox import Handover, OutboxSource, enqueue
from vehicles.catalogue import endpoints_for
from vehicles.models import Activity, StatusHistory, Vehicle, VehicleStatus
from vehicles.signals import vehicles_changed_send
from vehicles.status_store import signals_answer_merge, vehicle_hold, vehicle_readings_store, vehicle_status_update

logger = logging.getLogger(__name__)

# What the vehicle's charge status (evs__get-charge-status.md: CHARGING, FULLY_CHARGED, NOT_CHARGING) is after each
# event.
CHARGING_STATE_AFTER = {
    "CHARGING_STARTED": "CHARGING",
    "CHARGING_STOPPED": "NOT_CHARGING",
    "CHARGING_COMPLETED": "FULLY_CHARGED",
}
# An event handed to a worker this long ago and still waiting lost its message: the outbox hands it over again.
LOST_AFTER = timedelta(minutes=15)
# The targeted sync after a charging event fetches what those events change.
CHARGING_PERMISSIONS = {"read_charge", "read_battery"}


def _stuck_after() -> timedelta:
    return timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + 60)


OUTBOX = OutboxSource(
    model="connect.WebhookEvent",
    task="connect.tasks.webhook_event_process",
    pending=Q(status=EventStatus.RECEIVED),
    created_field="received_at",
    lost_after=LOST_AFTER,
    # Processing is one transaction: a worker that died during it kept nothing, and the event is processed again.
    abandoned=lambda now: Q(status=EventStatus.PROCESSING, enqueued_at__lt=now - _stuck_after()),
    release={"status": EventStatus.RECEIVED, "enqueued_at": None},
)

# The receiver hands new events to workers in groups: one message and one UPDATE for up to 200 events.
HANDOVER = Handover("connect.tasks.webhook_events_process", "connect.WebhookEvent")


def webhook_events_process(*, event_ids: list[int]) -> None:
    """Events handed over together (fleet/outbox.py, Handover), each processed once as ``webhook_event_process``
    does. What costs as much for one event as for many is done once for the group, after its events: the charging
    sessions of each vehicle are settled once, from the earliest charge its events touched, and the vehicles the
    events changed are announced once (alerts evaluate each of them once)."""
    group = _Group()
    token = _GROUP.set(group)
    try:
        for event_id in event_ids:
            webhook_event_process(event_id=event_id)
    finally:
        _GROUP.reset(token)
    group.finish()


@dataclass
class _Group:
    """What the events of one hand-over leave to be done once they are all processed (``webhook_events_process``).

    Each event is one transaction, so a worker that dies before ``finish`` kept each event whole; what it did not do
    yet is settling (the periodic settle of recent charges does it, charging/tasks.py) and announcing.
    """

    settle_from: dict[Vehicle, datetime] = field(default_factory=dict)
    changed: set[int] = field(default_factory=set)

    def charge_observed(self, vehicle: Vehicle, observation) -> None:
        if observation is not None:
            earlier = self.settle_from.get(vehicle, observation.started_at)
            self.settle_from[vehicle] = min(earlier, observation.started_at)

    def finish(self) -> None:
        from charging.sessions import charging_events_settle

        if self.settle_from:
            try:
                charging_events_settle(since=self.settle_from)
            except Exception:
                logger.exception(
                    "webhook events: settling %d vehicles' charging sessions failed", len(self.settle_from)
                )
        vehicles_changed_send(vehicle_ids=self.changed, source="webhook")


# The group of the hand-over being processed in this thread (``webhook_events_process``); none for an event alone.
_GROUP: ContextVar[_Group | None] = ContextVar("webhook_events_group", default=None)


def webhook_event_process(*, event_id: int) -> str | None:
    """Processes the event if nobody has; returns its final status (None: already claimed or done). Alone, not in a
    group, its vehicle's sessions are settled and its vehicle announced at once."""
    group = _GROUP.get()
    if group is not None:
        return _event_process(event_id, group)
    group = _Group()
    token = _GROUP.set(group)
    try:
        status = _event_process(event_id, group)
    finally:
        _GROUP.reset(token)
    group.finish()
    return status


def _event_process(event_id: int, group: _Group) -> str | None:
    # The claim also dates the hand-over: an event still "processing" long after it lost its worker.
    claimed = WebhookEvent.objects.filter(pk=event_id, status=EventStatus.RECEIVED).update(
        status=EventStatus.PROCESSING, enqueued_at=timezone.now()
    )
    if not claimed:
        return None
    event = WebhookEvent.objects.get(pk=event_id)
    try:
        with transaction.atomic():
            status, outcome = _process(event)
            WebhookEvent.objects.filter(pk=event.pk).update(
                status=status, outcome=outcome[:300], processed_at=timezone.now(), vehicle=event.vehicle
            )
    except Exception as exc:
        logger.exception("webhook event %s: processing failed", event.event_id)
        WebhookEvent.objects.filter(pk=event.pk).update(
            status=EventStatus.FAILED, outcome=f"{exc.__class__.__name__}: {exc}"[:300], processed_at=timezone.now()
        )
        status = EventStatus.FAILED
    else:
        if status == EventStatus.PROCESSED and event.vehicle is not None:
            group.changed.add(event.vehicle.pk)
        logger.info("webhook event %s: %s (%s)", event.event_id, status, outcome)
    return status


def _charge_observed(vehicle: Vehicle, observation) -> None:
    """Noted for the group's settle (``_GROUP``: ``webhook_event_process`` always runs an event in one)."""
    group = _GROUP.get()
    assert group is not None
    group.charge_observed(vehicle, observation)


def webhook_event_retry(*, event: WebhookEvent) -> None:
    """Admin's "process again": back to received, and a worker takes it up after commit."""
    from connect.tasks import webhook_event_process as task

    WebhookEvent.objects.filter(pk=event.pk).update(
        status=EventStatus.RECEIVED, outcome="", processed_at=None, enqueued_at=None
    )
    enqueue(task, event.pk, row=event)


def _connected_vehicle(smartcar_id: str) -> Vehicle | None:
    return Vehicle.objects.filter(smartcar_id=smartcar_id, disconnected_at__isnull=True).first()


def _process(event: WebhookEvent) -> tuple[str, str]:
    if event.event_name == "VEHICLE_STATE":
        return _vehicle_state_apply(event)
    if event.event_name == "VEHICLE_ERROR":
        return _vehicle_error_note(event)
    if event.event_name == "unknown version":
        return _unknown_version_keep(event)
    payload = event.body.get("payload") if isinstance(event.body, dict) else None
    if event.event_type in CHARGING_STATE_AFTER:
        vehicle = _connected_vehicle(event.smartcar_vehicle_id)
        if vehicle is None:
            return EventStatus.IGNORED, "no connected vehicle with this Smartcar id"
        event.vehicle = vehicle
        return EventStatus.PROCESSED, _charging_event_apply(vehicle, event)
    if isinstance(payload, dict) and isinstance(payload.get("vehicles"), list):
        return _vehicle_data_apply(event, payload["vehicles"])
    return EventStatus.IGNORED, f"nothing to do for {event.event_name} {event.event_type}".strip()


# --- Charging events ------------------------------------------------------------------------------------------------


def _charging_event_apply(vehicle: Vehicle, event: WebhookEvent) -> str:
    from charging.sessions import charging_event_observe
    from vehicles.sync import vehicle_sync_now

    now = timezone.now()
    event_time = event.event_time or now
    vehicle_hold(vehicle)  # first, as a round's store: whichever comes second waits (vehicles/status_store.py)
    status, _ = VehicleStatus.objects.get_or_create(vehicle=vehicle)
    newest = (
        StatusHistory.objects.filter(vehicle=vehicle, field="charging_state")
        .order_by("-recorded_at")
        .values_list("recorded_at", flat=True)
        .first()
    )
    # Deliveries are unordered and retried: an event older than the charging state already known says nothing new.
    if newest is not None and newest > event_time:
        outcome = "older than the known charging state; status unchanged"
    else:
        values: dict = {"charging_state": CHARGING_STATE_AFTER[event.event_type]}
        if event.event_type in ("CHARGING_STARTED", "CHARGING_COMPLETED"):
            values["is_plugged_in"] = True  # charging, or full and still on the charger
        if event.event_type == "CHARGING_STARTED":
            values["activity"] = Activity.CHARGING
        elif status.activity == Activity.CHARGING:
            values["activity"] = Activity.PARKED
        vehicle_status_update(
            vehicle=vehicle, status=status, values=values, recorded=dict.fromkeys(values, event_time), now=now
        )
        outcome = f"charging state {values['charging_state']}"
    observation = charging_event_observe(vehicle=vehicle, event_type=event.event_type, event_time=event_time)
    _charge_observed(vehicle, observation)
    paths = [
        endpoint.path_for(vehicle.make)
        for endpoint in endpoints_for(vehicle.make, vehicle.permissions)
        if endpoint.permission in CHARGING_PERMISSIONS and endpoint.only_when is None
    ]
    if paths:
        vehicle_sync_now(vehicle=vehicle, paths=paths)
    charge = "charge observed" if observation else "no charge to close"
    return f"{outcome}; {charge}; sync of {len(paths)} paths requested"


# --- API v3 events (payload version 4.0) --------------------------------------------------------------------------


def _vehicle_state_apply(event: WebhookEvent) -> tuple[str, str]:
    """A VEHICLE_STATE (smartcar-api-v3/webhooks__event-vehicle-state.md): every configured signal at its value.

    Read by the same mapping as a signals read (vehicles/readings_v3.py). Deliveries are unordered: values older than
    what the status already holds (by the signals' ``oemUpdatedAt``) change nothing. A change of the charging state
    opens or closes the charging session, as v2's charging events do.
    """
    from charging.sessions import charging_event_observe
    from vehicles.readings_v3 import read_signals
    from vehicles.service_history import V3_CODE as SERVICE_RECORDS
    from vehicles.unparsed import unparsed_record

    vehicle = _connected_vehicle(event.smartcar_vehicle_id)
    if vehicle is None:
        return EventStatus.IGNORED, "no connected vehicle with this Smartcar id"
    vehicle_hold(vehicle)  # first, as a round's store: whichever comes second waits (vehicles/status_store.py)
    event.vehicle = vehicle
    data = mapping_at(event.body, "data")
    now = timezone.now()
    reading = read_signals(data.get("signals"), now=now)
    if reading.unparsed:
        unparsed_record(vehicle_id=vehicle.pk, source="webhook", items=reading.unparsed, now=now)
    status, _ = VehicleStatus.objects.get_or_create(vehicle=vehicle)
    fresh = {
        name: value
        for name, value in reading.values.items()
        if status.data_age is None or reading.recorded[name] >= status.data_age
    }
    before = status.charging_state
    if fresh:
        recorded = {name: reading.recorded[name] for name in fresh}
        vehicle_status_update(vehicle=vehicle, status=status, values=fresh, recorded=recorded, now=now)
    after = fresh.get("charging_state", before)
    if after != before and after:
        event_type = {v: k for k, v in CHARGING_STATE_AFTER.items()}[after]
        moment = reading.recorded["charging_state"]
        _charge_observed(vehicle, charging_event_observe(vehicle=vehicle, event_type=event_type, event_time=moment))
    # The dealer's service records, when the webhook carries them (the signals it carries are chosen in Smartcar's
    # Dashboard, management__webhooks.md; the records are the service-records signal, signals__service.md).
    records = signals_answer_merge(vehicle=vehicle, items=data.get("signals"), codes=frozenset({SERVICE_RECORDS}))
    skipped = len(reading.values) - len(fresh)
    return EventStatus.PROCESSED, (
        f"{len(fresh)} values stored, {skipped} older than the status, {len(reading.unparsed)} unparsed, "
        f"{len(reading.errors)} signal errors" + (", service records stored" if records else "")
    )


def _vehicle_error_note(event: WebhookEvent) -> tuple[str, str]:
    """A VEHICLE_ERROR (webhooks__event-vehicle-error.md): noted on the event; the next read meets the error itself."""
    vehicle = _connected_vehicle(event.smartcar_vehicle_id)
    event.vehicle = vehicle
    data = mapping_at(event.body, "data")
    errors = [e for e in (data.get("errors") or []) if isinstance(e, dict)]
    described = ", ".join(f"{e.get('type')}:{e.get('code')} {str(e.get('state') or '').lower()}" for e in errors)
    return (EventStatus.PROCESSED if vehicle else EventStatus.IGNORED), (described or "no errors listed")[:300]


def _unknown_version_keep(event: WebhookEvent) -> tuple[str, str]:
    from vehicles.readings_v3 import Unparsed
    from vehicles.unparsed import unparsed_record

    vehicle = _connected_vehicle(event.smartcar_vehicle_id or str(event.body.get("vehicleId") or ""))
    event.vehicle = vehicle
    unparsed_record(
        vehicle_id=vehicle.pk if vehicle else None,
        source="webhook",
        items=[Unparsed(f"payload version {event.event_type}", "unknown webhook payload version", event.body)],
        now=timezone.now(),
    )
    return EventStatus.IGNORED, f"payload version {event.event_type} is not one Fleet reads; kept as it came"


# --- Deliveries carrying vehicle data -------------------------------------------------------------------------------


def _vehicle_data_apply(event: WebhookEvent, entries: list) -> tuple[str, str]:
    now = timezone.now()
    applied, unknown = 0, 0
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("data"), list):
            continue
        vehicle = _connected_vehicle(str(entry.get("vehicleId") or ""))
        if vehicle is None:
            unknown += 1
            continue
        if event.vehicle is None:
            event.vehicle = vehicle
        applied += vehicle_readings_store(vehicle=vehicle, items=entry["data"], now=now)
    if not applied:
        return EventStatus.IGNORED, f"no readable vehicle data ({unknown} unknown vehicles)"
    return EventStatus.PROCESSED, f"{applied} readings stored ({unknown} unknown vehicles)"
