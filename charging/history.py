"""Charging history: records imported from the car makers and sessions the app derives itself, with totals.

- BMW/MINI charge records and Tesla billing records are fetched on demand (date range; Tesla pages) and kept.
- Every make: sessions derived from the synced charging state and battery level (vehicles.StatusHistory) and
  from charging webhook events where the app receives them.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.db.models import Count, Q, Sum
from django.db.models.functions import TruncWeek
from django.utils.dateparse import parse_datetime

from charging import capabilities
from charging.models import ChargingSession, SessionSource
from charging.services import vehicle_client
from connect.errors import MalformedResponseError
from vehicles.models import EndpointState, StatusHistory

# --- Records from the car makers ---------------------------------------------------------------------------------


def _moment(value: Any) -> datetime:
    moment = parse_datetime(str(value)) if value else None
    if moment is None:
        raise MalformedResponseError(f"{value!r} is not an ISO 8601 datetime", type="MALFORMED")
    return moment


def _number(value: Any) -> float | None:
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None


def _money(value: Any) -> Decimal | None:
    try:
        return None if value in (None, "") else Decimal(str(value)).quantize(Decimal("0.01"))
    except InvalidOperation:
        return None


def _percent(value: Any) -> float | None:
    number = _number(value)
    return None if number is None else round(number * 100, 1)


def _upsert(vehicle, source: str, external_id: str, values: dict) -> ChargingSession:
    session, _ = ChargingSession.objects.update_or_create(
        vehicle=vehicle, source=source, external_id=external_id, defaults=values
    )
    return session


def charge_records_import(*, vehicle, start_date: date | None = None, end_date: date | None = None):
    """BMW/MINI completed sessions in the range (the API keeps the last 30 days at most), stored and returned."""
    # Reference: smartcar-api/bmw__get-charge-records.md
    capabilities.require(vehicle, "charge_records")
    response = vehicle_client(vehicle).charge_records(
        vehicle.smartcar_id,
        vehicle.make_slug,
        start_date=start_date.isoformat() if start_date else None,
        end_date=end_date.isoformat() if end_date else None,
    )
    records = response.body.get("records") if isinstance(response.body, dict) else None
    if not isinstance(records, list):
        raise MalformedResponseError("The charge records have no records list", type="MALFORMED")
    sessions = []
    with transaction.atomic():
        for record in records:
            started_at = _moment(record.get("chargeStart"))
            # Records carry no id: the start instant identifies the session of one vehicle.
            sessions.append(
                _upsert(
                    vehicle,
                    SessionSource.CHARGE_RECORD,
                    started_at.isoformat(),
                    {
                        "started_at": started_at,
                        "ended_at": _moment(record["chargeEnd"]) if record.get("chargeEnd") else None,
                        "energy_kwh": _number(record.get("energy")),
                        "start_percent": _percent(record.get("startPercentRemaining")),
                        "end_percent": _percent(record.get("endPercentRemaining")),
                        "location": str(record.get("location") or "")[:200],
                        "is_public": record.get("isPublic") if isinstance(record.get("isPublic"), bool) else None,
                        "charger_type": str(record.get("chargingType") or "")[:20],
                    },
                )
            )
    return sessions


@dataclass(frozen=True)
class BillingPage:
    sessions: list[ChargingSession]
    page: int
    has_more: bool


def billing_records_import(
    *, vehicle, start_date: date | None = None, end_date: date | None = None, page: int = 1
) -> BillingPage:
    """One page of Tesla billing records (page 1 is the newest), stored and returned.

    An empty page does not mean there is nothing further: only ``hasMoreData`` says whether to offer the next page.
    """
    # Reference: smartcar-api/tesla__get-charge-records-billing.md
    capabilities.require(vehicle, "billing_records")
    response = vehicle_client(vehicle).charge_records_billing(
        vehicle.smartcar_id,
        vehicle.make_slug,
        start_date=start_date.isoformat() if start_date else None,
        end_date=end_date.isoformat() if end_date else None,
        page=page,
    )
    body = response.body if isinstance(response.body, dict) else {}
    records = body.get("records")
    if not isinstance(records, list):
        raise MalformedResponseError("The billing records have no records list", type="MALFORMED")
    sessions = []
    with transaction.atomic():
        for record in records:
            started_at = _moment(record.get("chargeStart"))
            cost = record.get("cost") if isinstance(record.get("cost"), dict) else {}
            sessions.append(
                _upsert(
                    vehicle,
                    SessionSource.BILLING_RECORD,
                    str(record.get("recordId") or started_at.isoformat())[:120],
                    {
                        "started_at": started_at,
                        "ended_at": _moment(record["chargeEnd"]) if record.get("chargeEnd") else None,
                        "energy_kwh": _number(record.get("energyConsumed")),
                        "location": str(record.get("location") or "")[:200],
                        "is_public": True,  # "charging sessions … at public Tesla chargers"
                        "cost_energy": _money(cost.get("energy")),
                        "cost_other": _money(cost.get("other")),
                        "currency": str(cost.get("currency") or "")[:3],
                    },
                )
            )
    return BillingPage(sessions=sessions, page=page, has_more=bool(body.get("hasMoreData")))


# --- Sessions derived from sync data -----------------------------------------------------------------------------


def _nominal_capacity_kwh(vehicle) -> float | None:
    # Reference: smartcar-api/get-nominal-capacity.md — {"capacity": {"nominal": 80.9, …}}, null when unknown.
    state = EndpointState.objects.filter(vehicle=vehicle, path="/battery/nominal_capacity").first()
    body = state.body if state else None
    capacity = body.get("capacity") if isinstance(body, dict) else None
    return _number(capacity.get("nominal")) if isinstance(capacity, dict) else None


def _value_at(rows: list[StatusHistory], moment: datetime) -> float | None:
    """The last recorded number at or before ``moment``."""
    value = None
    for row in rows:
        if row.recorded_at > moment:
            break
        value = row.number
    return value


def charging_sessions_derive(*, vehicle) -> int:
    """Turns the synced charging state changes into sessions; returns how many it wrote.

    A session starts when charging_state becomes CHARGING and ends at the next other state. Start and end levels
    are the last battery readings at those moments; energy is the level gained times the nominal capacity when the
    API gave one; the location is the last position at the start. Re-running rewrites the same rows.
    """
    fields = ("charging_state", "battery_percent", "latitude", "longitude")
    rows: dict[str, list[StatusHistory]] = {name: [] for name in fields}
    for row in StatusHistory.objects.filter(vehicle=vehicle, field__in=fields).order_by("recorded_at"):
        rows[row.field].append(row)
    capacity = _nominal_capacity_kwh(vehicle)
    spans: list[tuple[datetime, datetime | None]] = []
    started = None
    for row in rows["charging_state"]:
        if row.text == "CHARGING" and started is None:
            started = row.recorded_at
        elif row.text != "CHARGING" and started is not None:
            spans.append((started, row.recorded_at))
            started = None
    if started is not None:
        spans.append((started, None))
    with transaction.atomic():
        for started_at, ended_at in spans:
            start_percent = _value_at(rows["battery_percent"], started_at)
            end_percent = _value_at(rows["battery_percent"], ended_at) if ended_at else None
            energy = None
            if capacity and start_percent is not None and end_percent is not None and end_percent >= start_percent:
                energy = round((end_percent - start_percent) / 100 * capacity, 2)
            _upsert(
                vehicle,
                SessionSource.SYNC,
                started_at.isoformat(),
                {
                    "started_at": started_at,
                    "ended_at": ended_at,
                    "start_percent": start_percent,
                    "end_percent": end_percent,
                    "energy_kwh": energy,
                    "latitude": _value_at(rows["latitude"], started_at),
                    "longitude": _value_at(rows["longitude"], started_at),
                },
            )
    return len(spans)


# --- Sessions from charging webhook events --------------------------------------------------------------------------

CHARGING_STARTED = "CHARGING_STARTED"
CHARGING_ENDED = ("CHARGING_STOPPED", "CHARGING_COMPLETED")


def charging_event_record(*, vehicle, event_type: str, event_time: datetime) -> ChargingSession | None:
    """Opens or closes a session from one charging webhook event (changelog 2022-04-13: Ford, Tesla, Toyota).

    For the webhook receiver to call once an event is verified and stored. The events carry only their time, so the
    levels come from the synced battery readings at those moments. Idempotent: a re-delivered start updates the same
    row, a re-delivered end finds its session already closed and changes nothing.
    """
    battery = list(StatusHistory.objects.filter(vehicle=vehicle, field="battery_percent").order_by("recorded_at"))
    if event_type == CHARGING_STARTED:
        return _upsert(
            vehicle,
            SessionSource.WEBHOOK,
            event_time.isoformat(),
            {"started_at": event_time, "start_percent": _value_at(battery, event_time)},
        )
    if event_type not in CHARGING_ENDED:
        return None
    session = (
        ChargingSession.objects.filter(
            vehicle=vehicle, source=SessionSource.WEBHOOK, ended_at=None, started_at__lte=event_time
        )
        .order_by("-started_at")
        .first()
    )
    if session is None:
        return None  # the start was missed; the synced readings still yield the session
    session.ended_at = event_time
    session.end_percent = _value_at(battery, event_time)
    capacity = _nominal_capacity_kwh(vehicle)
    if capacity and session.start_percent is not None and session.end_percent is not None:
        session.energy_kwh = round(max(0.0, session.end_percent - session.start_percent) / 100 * capacity, 2)
    session.save(update_fields=["ended_at", "end_percent", "energy_kwh", "updated_at"])
    return session


# --- Fleet totals --------------------------------------------------------------------------------------------------


def fleet_sessions(*, fleet, start: datetime | None = None, end: datetime | None = None):
    """The fleet's sessions in a range of start times (inclusive start, exclusive end), newest first."""
    sessions = ChargingSession.objects.filter(vehicle__fleet=fleet).select_related("vehicle")
    if start:
        sessions = sessions.filter(started_at__gte=start)
    if end:
        sessions = sessions.filter(started_at__lt=end)
    return sessions


def _sum_fields():
    return {
        "sessions": Count("id"),
        "energy_kwh": Sum("energy_kwh"),
        "cost": Sum("cost_energy", default=0) + Sum("cost_other", default=0),
        "priced": Count("id", filter=Q(cost_energy__isnull=False) | Q(cost_other__isnull=False)),
    }


def totals_per_vehicle(sessions) -> list[dict]:
    return list(
        sessions.order_by()
        .values("vehicle_id", "vehicle__nickname", "vehicle__make", "vehicle__model", "vehicle__year")
        .annotate(**_sum_fields())
        .order_by("-energy_kwh", "vehicle_id")
    )


def totals_per_week(sessions, zone) -> list[dict]:
    weeks = (
        sessions.order_by()
        .annotate(week=TruncWeek("started_at", tzinfo=zone))
        .values("week")
        .annotate(**_sum_fields())
        .order_by("week")
    )
    return [{**row, "week": row["week"].date() if isinstance(row["week"], datetime) else row["week"]} for row in weeks]


CSV_COLUMNS = (
    "vehicle",
    "vin",
    "source",
    "started_at",
    "ended_at",
    "energy_kwh",
    "start_percent",
    "end_percent",
    "location",
    "latitude",
    "longitude",
    "cost_energy",
    "cost_other",
    "currency",
)


def _csv_safe(value: Any) -> Any:
    """Neutralises spreadsheet formulas in text coming from outside (a location named "=cmd…")."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def sessions_csv(sessions, zone) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for session in sessions.iterator(chunk_size=500):

        def local(moment):
            return moment.astimezone(zone).isoformat() if moment else ""

        writer.writerow(
            [
                _csv_safe(session.vehicle.display_name),
                session.vehicle.vin,
                session.source,
                local(session.started_at),
                local(session.ended_at),
                "" if session.energy_kwh is None else session.energy_kwh,
                "" if session.start_percent is None else session.start_percent,
                "" if session.end_percent is None else session.end_percent,
                _csv_safe(session.location),
                "" if session.latitude is None else session.latitude,
                "" if session.longitude is None else session.longitude,
                "" if session.cost_energy is None else session.cost_energy,
                "" if session.cost_other is None else session.cost_other,
                session.currency,
            ]
        )
    return out.getvalue()


def week_start(day: date) -> date:
    return day - timedelta(days=day.weekday())


HALF_A_WEEK = int(timedelta(days=3.5).total_seconds())


def week_chart(weeks: list[dict], zone) -> dict:
    """Energy per week as the vehicle page's charts take it (static/js/vehicle.js draws it with the vendored uPlot).

    Keyed like the vehicle page's charts: {key: {"label", "data": [[unix seconds…], [values…]], …}}. Like them, a
    chart needs two weeks: a single week is read from the table beside it. The time axis runs half a week beyond
    the first and last week, so that each point sits in its week; the energy axis starts at zero.
    """
    times, values = [], []
    for row in weeks:
        week = row["week"]
        times.append(int(datetime(week.year, week.month, week.day, tzinfo=zone).timestamp()))
        values.append(round(row["energy_kwh"] or 0, 1))
    if len(times) < 2:
        return {}
    chart = {
        "label": "Energy charged per week (kWh)",
        "data": [times, values],
        "x_range": [times[0] - HALF_A_WEEK, times[-1] + HALF_A_WEEK],
        "y_min": 0,
    }
    return {"energy": chart}
