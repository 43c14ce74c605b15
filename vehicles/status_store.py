"""Readings that arrive outside a sync round — webhook deliveries and a command's read-back — stored as a round
stores them: the endpoint's row, the typed latest status and a history row for each changed value.

Each write first takes the vehicle's sync row, as a round's store does (vehicles/sync/storing.py): a round that is
waiting for Smartcar's answers meanwhile then stores after this write, sees it and keeps it, and the two never wait
for each other's rows in opposite orders.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils.dateparse import parse_datetime

from connect.json_fields import mapping_at
from vehicles.catalogue import endpoint_by_path
from vehicles.history import Change, history_append
from vehicles.models import EndpointState, Vehicle, VehicleStatus, VehicleSync
from vehicles.readings import HISTORY_FIELDS, UnreadableBody, read

logger = logging.getLogger(__name__)


def history_value(value) -> tuple[float | None, str]:
    """A status value as a history row holds it: numbers as numbers, booleans and words as text."""
    if isinstance(value, bool):
        return None, "true" if value else "false"
    if isinstance(value, int | float):
        return float(value), ""
    return None, str(value)[:40]


def vehicle_hold(vehicle: Vehicle) -> None:
    """Takes the vehicle's sync row until the transaction ends (see the module's docstring)."""
    list(VehicleSync.objects.select_for_update().filter(vehicle=vehicle).values_list("pk", flat=True))


@transaction.atomic
def vehicle_status_update(
    *, vehicle: Vehicle, status: VehicleStatus, values: dict, recorded: dict[str, datetime], now: datetime
) -> None:
    """Writes changed values to the latest status and, as a sync round does, a history row per changed value."""
    vehicle_hold(vehicle)
    history = []
    for name, value in values.items():
        if name in HISTORY_FIELDS and getattr(status, name) != value:
            number, text = history_value(value)
            history.append(Change(vehicle.pk, name, recorded[name], number, text))
    newest = max(recorded.values(), default=None)
    updates = dict(values)
    if newest is not None and (status.data_age is None or newest > status.data_age):
        updates["data_age"] = newest
    VehicleStatus.objects.filter(pk=status.pk).update(**updates, updated_at=now)
    # The unique key (vehicle, field, recorded_at) makes a replayed reading harmless.
    history_append(history)


@transaction.atomic
def vehicle_readings_store(*, vehicle: Vehicle, items: list, now: datetime) -> int:
    """Stores answers in the batch endpoint's item shape (``{path, code, body, headers}``); returns how many."""
    vehicle_hold(vehicle)
    status, _ = VehicleStatus.objects.get_or_create(vehicle=vehicle)
    values: dict = {}
    recorded: dict[str, datetime] = {}
    stored = 0
    for item in items:
        if not isinstance(item, dict) or item.get("code") != 200 or not isinstance(item.get("path"), str):
            continue
        endpoint = endpoint_by_path(vehicle.make, item["path"])
        if endpoint is None:
            continue
        try:
            path_values = read(endpoint.path, item.get("body"))
        except UnreadableBody:
            logger.warning("reading of vehicle %s %s: unreadable body", vehicle.pk, item["path"])
            continue
        headers = mapping_at(item, "headers")
        lowered = {str(k).lower(): v for k, v in headers.items()}
        data_age = parse_datetime(str(lowered.get("sc-data-age") or "")) or now
        EndpointState.objects.update_or_create(
            vehicle=vehicle,
            path=item["path"],
            defaults={
                "body": item.get("body"),
                "data_age": data_age,
                "fetched_at": now,
                "last_success_at": now,
                "failures": 0,
                "last_error": "",
            },
        )
        values.update(path_values)
        recorded.update(dict.fromkeys(path_values, data_age))
        stored += 1
    if values:
        vehicle_status_update(vehicle=vehicle, status=status, values=values, recorded=recorded, now=now)
    return stored


def signals_answer_merge(*, vehicle: Vehicle, items: Any, codes: frozenset[str]) -> int:
    """Signals of these codes that a v3 webhook carried (a ``VEHICLE_STATE``), put into the vehicle's stored
    ``/signals`` answer in place of the same signals there, unless the stored one is at least as new (deliveries come
    in any order): whatever reads that answer then sees them as after a read. For the signals that live only there —
    the dealer's service records (vehicles/service_history.py), as v2's webhooks store ``/service/history`` through
    ``vehicle_readings_store`` — the typed status takes the others. The answer's read times are left as they are
    (they pace the sync). A vehicle never read on v3 has no answer to put them in: its first read brings them.
    Returns how many signals were put in."""
    from vehicles.readings_v3 import signal_failure, signal_parts, timestamp

    def age(item: Mapping) -> datetime | None:
        return timestamp(mapping_at(item, "meta").get("oemUpdatedAt"))

    arrived = {}
    for item in items if isinstance(items, list) else []:
        if isinstance(item, Mapping):
            code, _body, status, _meta = signal_parts(item)
            if code in codes and signal_failure(status) is None:
                arrived[code] = item
    if not arrived:
        return 0
    with transaction.atomic():
        state = EndpointState.objects.select_for_update().filter(vehicle=vehicle, path="/signals").first()
        if state is None or not isinstance(state.body, list):
            return 0
        stored = {signal_parts(i)[0]: i for i in state.body if isinstance(i, Mapping)}
        newer = {}
        for code, item in arrived.items():
            held = stored.get(code)
            held_at, item_at = (age(held), age(item)) if held is not None else (None, None)
            if held is None or held_at is None or (item_at is not None and item_at > held_at):
                newer[code] = item
        if not newer:
            return 0
        kept = [i for i in state.body if not (isinstance(i, Mapping) and signal_parts(i)[0] in newer)]
        EndpointState.objects.filter(pk=state.pk).update(body=[*kept, *newer.values()])
    return len(newer)
