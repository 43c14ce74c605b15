"""Readings that arrive outside a sync round — webhook deliveries and a command's read-back — stored as a round
stores them: the endpoint's row, the typed latest status and a history row for each changed value.

Each write first takes the vehicle's sync row, as a round's store does (vehicles/sync/storing.py): a round that is
waiting for Smartcar's answers meanwhile then stores after this write, sees it and keeps it, and the two never wait
for each other's rows in opposite orders.
"""

from __future__ import annotations

import logging
from datetime import datetime

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
