"""Reimbursement statements: a driver's home charging in a month, session by session, at the home's tariff.

A draft is worked out on every read: the sessions that started in the month on a vehicle the driver had at the time,
at a position inside the driver's home circle. Issuing copies the draft into a Statement and its lines; the copy is
what the statement shows from then on, with a note when the live data has since moved away from it.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from charging.models import ChargingSession
from fleet.exports import moment_cell, safe_cell
from trips.logbook import Month
from trips.models import Driver, Statement, StatementLine, Tariff, TariffKind
from trips.places import place_at
from trips.tariffs import Band, bands_text, energy_cost


@dataclass
class Line:
    session_id: int
    vehicle_name: str
    started_at: object
    ended_at: object
    energy_kwh: float | None
    amount: Decimal | None
    note: str = ""


@dataclass
class Draft:
    driver: Driver
    month: Month
    lines: list[Line] = field(default_factory=list)
    tariff: Tariff | None = None
    problem: str = ""

    @property
    def energy_kwh(self) -> float:
        return sum(line.energy_kwh for line in self.lines if line.amount is not None and line.energy_kwh)

    @property
    def amount(self) -> Decimal:
        return sum((line.amount for line in self.lines if line.amount is not None), Decimal(0)).quantize(
            Decimal("0.01")
        )

    @property
    def tariff_text(self) -> str:
        if self.tariff is None:
            return ""
        if self.tariff.kind == TariffKind.TIME_OF_USE:
            return f"{self.tariff.currency} per kWh: " + "; ".join(bands_text(self.tariff.bands.all()).splitlines())
        return f"{self.tariff.price_per_kwh.normalize():f} {self.tariff.currency} per kWh"


def statement_draft(*, driver: Driver, month: Month) -> Draft:
    draft = Draft(driver=driver, month=month)
    home = driver.home
    if home is None:
        draft.problem = f"{driver.name} has no home place: choose one on the driver's page."
        return draft
    draft.tariff = Tariff.objects.filter(place=home).prefetch_related("bands").first()
    if draft.tariff is None:
        draft.problem = f"{home.name} has no tariff: set one on the tariffs page to price home charging."
    zone = driver.fleet.zone
    bands = None
    if draft.tariff is not None and draft.tariff.kind == TariffKind.TIME_OF_USE:
        bands = [Band(tuple(b.weekdays), b.start_hour, b.end_hour, b.price_per_kwh) for b in draft.tariff.bands.all()]
    for session in _home_sessions(driver, home, month.bounds(zone)):
        draft.lines.append(_line(session, draft.tariff, bands, zone))
    return draft


def _home_sessions(driver: Driver, home, bounds) -> list[ChargingSession]:
    """The month's charging sessions at the driver's home of the vehicles they had at the time, in time order."""
    start, end = bounds
    assignments = list(driver.assignments.filter(starts_at__lt=end).exclude(ends_at__lte=start))
    sessions = (
        ChargingSession.objects.filter(
            vehicle_id__in={a.vehicle_id for a in assignments}, started_at__gte=start, started_at__lt=end
        )
        .select_related("vehicle")
        .order_by("started_at")
    )
    return [
        session
        for session in sessions
        if any(a.vehicle_id == session.vehicle_id and a.covers(session.started_at) for a in assignments)
        and place_at([home], session.latitude, session.longitude) is not None
    ]


def _line(session: ChargingSession, tariff: Tariff | None, bands, zone) -> Line:
    """A session's line: priced with the tariff, or a note saying why it is not."""
    line = Line(session.pk, session.vehicle.display_name, session.started_at, session.ended_at,
                session.energy_kwh, None)  # fmt: skip
    if session.ended_at is None:
        line.note = "Still charging: priced once it ends"
    elif session.energy_kwh is None:
        line.note = "Energy unknown: not reimbursed"
    elif tariff is not None:
        line.amount = energy_cost(bands=bands, flat=tariff.price_per_kwh, energy_kwh=session.energy_kwh,
                                  start=session.started_at, end=session.ended_at, zone=zone)  # fmt: skip
    return line


def statement_issue(*, driver: Driver, month: Month, user) -> Statement:
    """Freezes the month's draft; refused while it has a problem, or when the month is issued already."""
    draft = statement_draft(driver=driver, month=month)
    if draft.problem:
        raise ValidationError(draft.problem)
    if month.bounds(driver.fleet.zone)[1] > timezone.now():
        raise ValidationError("The month is not over yet: issue its statement once it has ended.")
    home, tariff = driver.home, draft.tariff
    assert home is not None and tariff is not None
    try:
        with transaction.atomic():
            statement = Statement.objects.create(
                fleet=driver.fleet, driver=driver, month=month.first, driver_name=driver.name, home_name=home.name,
                home_latitude=home.latitude, home_longitude=home.longitude, home_radius_m=home.radius_m,
                tariff_text=draft.tariff_text[:500], currency=tariff.currency, energy_kwh=draft.energy_kwh,
                amount=draft.amount, issued_at=timezone.now(), issued_by=user,
            )  # fmt: skip
            StatementLine.objects.bulk_create(
                StatementLine(statement=statement, session_id_at_issue=line.session_id, vehicle_name=line.vehicle_name,
                              started_at=line.started_at, ended_at=line.ended_at, energy_kwh=line.energy_kwh or 0,
                              amount=line.amount)
                for line in draft.lines
                if line.amount is not None
            )  # fmt: skip
    except IntegrityError:
        raise ValidationError(f"The statement for {month.label} has been issued already.") from None
    return statement


def statement_drift(statement: Statement, draft: Draft) -> int:
    """How many lines the live data would now give differently (added, removed or changed)."""
    issued = {line.session_id_at_issue: (round(line.energy_kwh, 3), line.amount) for line in statement.lines.all()}
    live = {
        line.session_id: (round(line.energy_kwh or 0, 3), line.amount)
        for line in draft.lines
        if line.amount is not None
    }
    return sum(issued.get(key) != live.get(key) for key in issued.keys() | live.keys())


STATEMENT_COLUMNS = ["driver", "month", "vehicle", "started_at", "ended_at", "energy_kwh", "amount", "currency", "note"]


def statement_csv(statement: Statement | Draft, zone) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(STATEMENT_COLUMNS)

    if isinstance(statement, Statement):
        name, month, currency = statement.driver_name, f"{statement.month:%Y-%m}", statement.currency
        rows = [(line.vehicle_name, line.started_at, line.ended_at, line.energy_kwh, line.amount, "")
                for line in statement.lines.all()]  # fmt: skip
    else:
        name, month = statement.driver.name, str(statement.month)
        currency = statement.tariff.currency if statement.tariff else ""
        rows = [(line.vehicle_name, line.started_at, line.ended_at, line.energy_kwh, line.amount, line.note)
                for line in statement.lines]  # fmt: skip
    for vehicle, started, ended, energy, amount, note in rows:
        energy_cell = "" if energy is None else f"{energy:.2f}"
        amount_cell = "" if amount is None else amount
        writer.writerow(
            [safe_cell(name), month, safe_cell(vehicle), moment_cell(started, zone, "minutes"),
             moment_cell(ended, zone, "minutes"), energy_cell, amount_cell, currency, note]
        )  # fmt: skip
    return out.getvalue()
