"""Webhooks of API v3: payload version 4.0 (VERIFY, VEHICLE_STATE), signed like v2's.

Reference: smartcar-api-v3/webhooks__events-overview.md (the envelope), webhooks__event-vehicle-state.md (signals and
triggers; FIRST_DELIVERY after a subscription), webhooks__event-verify.md, webhooks__payload-verification.md (the
same SC-Signature as v2), webhooks__delivery-behavior.md (at least once, retried after 25, 50 and 100 s — the v2
simulator's delivery machinery, simulator/webhooks.py, does that for both versions).

The signals a webhook carries are chosen in Smartcar's Dashboard; the simulated webhook carries DATA_SIGNALS, and a
change of the charging state (or a first delivery) triggers an event.
"""

import json
import uuid

from django.db import transaction
from django.utils import timezone

from simulator import clock
from simulator import webhooks as delivery
from simulator.models import Connection, Delivery, Webhook
from simulator.units import for_request
from simulator.v3 import signals

VERSION = "4.0"
DATA_SIGNALS = (
    "tractionbattery-stateofcharge",
    "tractionbattery-range",
    "charge-detailedchargingstatus",
    "charge-ischarging",
    "charge-ischargingcableconnected",
    "charge-chargelimits",
    "location-preciselocation",
    "odometer-traveleddistance",
    "closure-islocked",
    "internalcombustionengine-fuellevel",
)
CHARGING_TRIGGER = "charge-detailedchargingstatus"


def _millis(moment) -> int:
    return int(moment.timestamp() * 1000)


def _meta(webhook: Webhook, **extra) -> dict:
    return {
        "version": VERSION,
        "webhookId": webhook.webhook_id,
        "webhookName": webhook.name,
        "deliveryId": str(uuid.uuid4()),
        "deliveredAt": _millis(timezone.now()),
        **extra,
    }


def _signal_items(vehicle, permissions, now) -> list[dict]:
    reading = signals.Reading(vehicle, for_request("metric"), now)
    served = {s.code: s for s in signals.served(vehicle, permissions)}
    items = []
    for code in DATA_SIGNALS:
        signal = signals.BY_CODE[code]
        item = {"code": code, "name": signal.name, "group": signal.group}
        if code in served:
            item["body"] = signal.body(reading)
            item["meta"] = {"oemUpdatedAt": _millis(now), "fetchedAt": _millis(now)}
        else:
            # A signal that cannot be read carries a status with an error instead of a body.
            item["status"] = {"error": {"code": "VEHICLE_NOT_CAPABLE", "type": "COMPATIBILITY"}, "value": "ERROR"}
        items.append(item)
    return items


def state_payload(webhook: Webhook, connection: Connection, triggers: list[str], now) -> dict:
    vehicle = connection.vehicle
    items = _signal_items(vehicle, connection.permissions, now)
    trigger_items = []
    for code in triggers:
        signal = signals.BY_CODE.get(code)
        trigger_items.append({"code": code, "name": signal.name, "group": signal.group} if signal else {"code": code})
    return {
        "eventId": str(uuid.uuid4()),
        "eventType": "VEHICLE_STATE",
        "vehicleId": vehicle.vehicle_id,
        "data": {
            "user": {"id": connection.user.user_id},
            "vehicle": {"id": vehicle.vehicle_id, "make": vehicle.make, "model": vehicle.model, "year": vehicle.year},
            "triggers": trigger_items,
            "signals": items,
        },
        "meta": _meta(webhook, signalCount=len(items), mode="LIVE" if connection.mode == "live" else "TEST"),
    }


def queue_state(vehicle, triggers: list[str], now=None, *, webhooks=None) -> int:
    """Queue a VEHICLE_STATE for every 4.0 webhook the vehicle is subscribed to (sent after the transaction). Its
    signals are read at the simulated now, as a read of them would be (the first delivery after subscribing too)."""
    now = now or clock.now()
    if webhooks is None:
        webhooks = Webhook.objects.filter(subscriptions__vehicle=vehicle, payload_version=VERSION).select_related(
            "application"
        )
    queued = 0
    for webhook in webhooks:
        connection = (
            Connection.objects.select_related("user", "vehicle")
            .filter(application=webhook.application, vehicle=vehicle)
            .first()
        )
        if connection is None:
            continue
        connection.vehicle = vehicle  # the caller's copy holds the newest state
        payload = state_payload(webhook, connection, triggers, now)
        row = Delivery.objects.create(
            webhook=webhook,
            event_id=payload["eventId"],
            event_name="VEHICLE_STATE",
            body=json.dumps(payload),
            next_attempt_at=timezone.now(),
        )
        transaction.on_commit(lambda delivery_id=row.pk: delivery._enqueue_attempt(delivery_id))
        queued += 1
    return queued


def announce(vehicle, events) -> None:
    """World events (charging started, stopped, completed) as VEHICLE_STATE deliveries, whatever the make."""
    if events:
        queue_state(vehicle, [CHARGING_TRIGGER], events[-1][1])


def verify_body(webhook: Webhook, challenge: str) -> bytes:
    return json.dumps(
        {"eventId": str(uuid.uuid4()), "eventType": "VERIFY", "data": {"challenge": challenge}, "meta": _meta(webhook)}
    ).encode()
