"""A vehicle's dealer service records as Smartcar last sent them, through whichever API version synced it.

API v2.0 reads them from ``GET /vehicles/{id}/service/history`` (Reference: smartcar-api/get-service-records.md; the
makes that share them are in vehicles/catalogue.py). API v3 has no such endpoint: the records are the
``service-records`` signal among the vehicle's signals (Reference: smartcar-api-v3/signals__service.md), with other
field names. Sync stores both answers as they came (``EndpointState.body``); this module reads whichever is newer
into one shape. Pure parsing, lenient: a record not of the documented shape is left out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from django.utils import timezone
from django.utils.dateparse import parse_datetime

from vehicles.catalogue import endpoint_by_path
from vehicles.models import EndpointState, Vehicle
from vehicles.readings import UnreadableBody
from vehicles.readings_v3 import measure, signal_failure, signal_parts

V2_PATH = "/service/history"
V3_PATH = "/signals"
V3_CODE = "service-records"


@dataclass(frozen=True)
class ServiceRecord:
    at: datetime
    tasks: tuple[str, ...]
    details: tuple[str, ...]
    odometer_km: float | None
    cost: Decimal | None
    currency: str


@dataclass(frozen=True)
class DealerHistory:
    records: list[ServiceRecord]
    # True: Smartcar sent this vehicle's records (perhaps none yet); False: it does not share them for this vehicle
    # (API v3: its last signals held none; v2.0: the make is not among those of the endpoint's page); None: not yet
    # asked.
    shared: bool | None


def _moment(value: Any) -> datetime | None:
    try:
        moment = parse_datetime(str(value or ""))
    except ValueError:
        return None
    if moment is not None and timezone.is_naive(moment):
        moment = moment.replace(tzinfo=UTC)
    return moment


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _texts(items: Any, key: str) -> tuple[str, ...]:
    found = (item.get(key) for item in items if isinstance(item, Mapping)) if isinstance(items, list) else ()
    return tuple(str(text) for text in found if text)


def _cost(amount: Any) -> Decimal | None:
    number = _number(amount)
    return Decimal(str(number)) if number is not None else None


def v2_records(body: Any) -> list[ServiceRecord]:
    """The records of a ``/service/history`` body: a list of ``{serviceDate, serviceTasks, …}`` (or, leniently, that
    list under ``records``)."""
    if isinstance(body, Mapping):
        body = body.get("records")
    records = []
    for item in body if isinstance(body, list) else []:
        at = _moment(item.get("serviceDate")) if isinstance(item, Mapping) else None
        if at is None:
            continue
        cost = item.get("serviceCost") if isinstance(item.get("serviceCost"), Mapping) else {}
        records.append(
            ServiceRecord(
                at=at,
                tasks=_texts(item.get("serviceTasks"), "taskDescription"),
                details=_texts(item.get("serviceDetails"), "value"),
                odometer_km=_number(item.get("odometerDistance")),
                cost=_cost(cost.get("totalCost")),
                currency=str(cost.get("currency") or ""),
            )
        )
    return records


def _v3_odometer(value: Any, fallback_unit: str | None) -> float | None:
    """signals__service.md gives ``odometer`` as a bare number and states no unit (the README's open question 12).
    Read leniently: a ``{unit, value}`` like every other distance signal is converted; a bare number is taken in the
    unit the vehicle's ``odometer-traveleddistance`` carries in the same answer, else in km (the client asks for
    ``SC-Unit-System: metric``, headers.md)."""
    try:
        if isinstance(value, Mapping):
            return measure(value, "distance", "service odometer")
        number = _number(value)
        if number is None:
            return None
        return measure({"unit": fallback_unit or "kilometers", "value": number}, "distance", "service odometer")
    except UnreadableBody:
        return None


def v3_records(body: Any, odometer_unit: str | None = None) -> list[ServiceRecord]:
    """The records of a ``service-records`` signal body: ``{"values": [{time, tasks, details, odometer, cost}]}``."""
    values = body.get("values") if isinstance(body, Mapping) else None
    records = []
    for item in values if isinstance(values, list) else []:
        at = _moment(item.get("time")) if isinstance(item, Mapping) else None
        if at is None:
            continue
        cost = item.get("cost") if isinstance(item.get("cost"), Mapping) else {}
        records.append(
            ServiceRecord(
                at=at,
                tasks=_texts(item.get("tasks"), "description"),
                details=_texts(item.get("details"), "description"),
                odometer_km=_v3_odometer(item.get("odometer"), odometer_unit),
                cost=_cost(cost.get("amount")),
                currency=str(cost.get("currency") or ""),
            )
        )
    return records


def v3_history(items: Any) -> DealerHistory:
    """The service records among a vehicle's signals (the ``/signals`` answer: a list of signal items)."""
    bodies = {}
    for item in items if isinstance(items, list) else []:
        if isinstance(item, Mapping):
            code, body, status, _meta = signal_parts(item)
            if signal_failure(status) is None:
                bodies[code] = body
    if V3_CODE not in bodies:
        return DealerHistory([], shared=False)
    odometer = bodies.get("odometer-traveleddistance")
    unit = odometer.get("unit") if isinstance(odometer, Mapping) and isinstance(odometer.get("unit"), str) else None
    return DealerHistory(v3_records(bodies[V3_CODE], unit), shared=True)


def dealer_history(vehicle: Vehicle) -> DealerHistory:
    """The records of the newer of the vehicle's two reads (v2's endpoint, v3's signals)."""
    state = (
        EndpointState.objects.filter(vehicle=vehicle, path__in=(V2_PATH, V3_PATH), last_success_at__isnull=False)
        .order_by("-last_success_at")
        .values_list("path", "body")
        .first()
    )
    if state is None:
        return DealerHistory([], shared=None if endpoint_by_path(vehicle.make, V2_PATH) else False)
    path, body = state
    return DealerHistory(v2_records(body), shared=True) if path == V2_PATH else v3_history(body)
