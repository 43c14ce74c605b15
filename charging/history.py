"""Charging history: the car makers' records, and the fleet's totals and export of its sessions.

- BMW/MINI charge records and Tesla billing records are fetched on demand (a date range; Tesla pages) and kept as
  observations of the charges they describe; charging/sessions.py merges them with what the charging events and the
  synced readings saw, one session per real charge.
- Totals per week and per vehicle, and the CSV, read those sessions.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Count, Q, Sum
from django.db.models.functions import TruncWeek
from django.utils.dateparse import parse_datetime

from charging import capabilities
from charging.models import ChargingObservation, ChargingSession, SessionSource
from charging.services import vehicle_client
from charging.sessions import observation_store, vehicle_sessions_settle
from connect.errors import MalformedResponseError
from fleet.exports import moment_cell, safe_cell
from fleet.formatting import amount

# --- Records from the car makers ---------------------------------------------------------------------------------


def _moment(value: Any) -> datetime:
    moment = parse_datetime(str(value)) if value else None
    if moment is None:
        raise MalformedResponseError(f"{value!r} is not an ISO 8601 datetime", type="MALFORMED")
    return moment


def _number(value: Any) -> float | None:
    try:
        return None if value is None or isinstance(value, bool) else float(value)
    except (TypeError, ValueError):
        return None


def _percent(value: Any) -> float | None:
    number = _number(value)
    return None if number is None else round(number * 100, 1)


def _present(facts: dict) -> dict:
    return {key: value for key, value in facts.items() if value not in (None, "")}


def _records_store(vehicle, source: str, records: list[tuple[str, datetime, datetime | None, dict]]):
    """Keeps each record as an observation, settles the vehicle's sessions, returns the session of each record."""
    with transaction.atomic():
        observations = [
            observation_store(
                vehicle=vehicle, source=source, external_id=key, started_at=start, ended_at=end, facts=facts
            )
            for key, start, end, facts in records
        ]
        if observations:
            vehicle_sessions_settle(vehicle=vehicle, since=min(o.started_at for o in observations))
    found = {
        observation.pk: observation.session
        for observation in ChargingObservation.objects.filter(pk__in=[o.pk for o in observations]).select_related(
            "session"
        )
    }
    return [found[observation.pk] for observation in observations if found.get(observation.pk)]


def charge_records_import(*, vehicle, start_date: date | None = None, end_date: date | None = None):
    """BMW/MINI completed sessions in the range (the API keeps the last 30 days at most), kept and returned."""
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
    kept = []
    for record in records:
        started_at = _moment(record.get("chargeStart"))
        facts = {
            "energy_kwh": _number(record.get("energy")),
            "start_percent": _percent(record.get("startPercentRemaining")),
            "end_percent": _percent(record.get("endPercentRemaining")),
            "location": str(record.get("location") or "")[:200],
            "is_public": record.get("isPublic") if isinstance(record.get("isPublic"), bool) else None,
            "charger_type": str(record.get("chargingType") or "")[:20],
        }
        ended_at = _moment(record["chargeEnd"]) if record.get("chargeEnd") else None
        # Records carry no id: the start instant identifies the charge of one vehicle.
        kept.append((started_at.isoformat(), started_at, ended_at, _present(facts)))
    return _records_store(vehicle, SessionSource.CHARGE_RECORD, kept)


@dataclass(frozen=True)
class BillingPage:
    sessions: list[ChargingSession]
    page: int
    has_more: bool


def billing_records_import(
    *, vehicle, start_date: date | None = None, end_date: date | None = None, page: int = 1
) -> BillingPage:
    """One page of Tesla billing records (page 1 is the newest), kept and returned as the sessions they describe.

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
    kept = []
    for record in records:
        started_at = _moment(record.get("chargeStart"))
        cost = record.get("cost") if isinstance(record.get("cost"), dict) else {}
        facts = {
            "energy_kwh": _number(record.get("energyConsumed")),
            "location": str(record.get("location") or "")[:200],
            "is_public": True,  # "charging sessions … at public Tesla chargers"
            "cost_energy": _money(cost.get("energy")),
            "cost_other": _money(cost.get("other")),
            "currency": str(cost.get("currency") or "")[:3],
        }
        ended_at = _moment(record["chargeEnd"]) if record.get("chargeEnd") else None
        key = str(record.get("recordId") or started_at.isoformat())
        kept.append((key, started_at, ended_at, _present(facts)))
    return BillingPage(
        sessions=_records_store(vehicle, SessionSource.BILLING_RECORD, kept),
        page=page,
        has_more=bool(body.get("hasMoreData")),
    )


def _money(value: Any) -> str | None:
    """An amount as the record gives it, kept as text (facts are JSON); None when it is not a number."""
    try:
        return None if value in (None, "") else str(Decimal(str(value)).quantize(Decimal("0.01")))
    except ArithmeticError:
        return None


# --- Fleet totals --------------------------------------------------------------------------------------------------


# What a row of the sessions table (charging/_sessions.html) shows besides the session: its cost, which trips
# stores against the session (trips.SessionCost, reverse one-to-one "cost").
SESSION_ROW = ("cost",)


def fleet_sessions(*, fleet, start: datetime | None = None, end: datetime | None = None):
    """The fleet's sessions in a range of start times (inclusive start, exclusive end), newest first."""
    sessions = (
        ChargingSession.objects.filter(vehicle__fleet=fleet)
        .select_related("vehicle", *SESSION_ROW)
        .prefetch_related("observations")
    )
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
    "started_at",
    "ended_at",
    "energy_kwh",
    "energy_from",
    "seen_in",
    "start_percent",
    "end_percent",
    "location",
    "latitude",
    "longitude",
    "cost_energy",
    "cost_other",
    "currency",
)


def sessions_csv(sessions, zone) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for session in sessions.prefetch_related("observations").iterator(chunk_size=500):
        writer.writerow(
            [
                safe_cell(session.vehicle.display_name),
                session.vehicle.vin,
                moment_cell(session.started_at, zone),
                moment_cell(session.ended_at, zone),
                amount(session.energy_kwh, "energy"),
                session.get_energy_source_display(),
                "; ".join(session.seen_in),
                amount(session.start_percent, "percent"),
                amount(session.end_percent, "percent"),
                safe_cell(session.location),
                amount(session.latitude, "coordinate"),
                amount(session.longitude, "coordinate"),
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
