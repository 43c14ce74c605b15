"""What each charging session cost: the car maker's billing record where there is one (Tesla, BMW/MINI), else the
tariff of the place it charged at, else the fleet's default public tariff. Amounts are kept in their own currency and
only ever summed per currency.

``sessions_cost`` stores a SessionCost for every session that has none or changed since: after a sync group for the
group's vehicles only (trips/receivers.py), so that a round's work grows with its vehicles and not with the fleet's
sessions; for the whole fleet before the cost report is read, and when a tariff is saved (``fleet_costs_reprice``:
every cost dropped and priced again). A session settled outside a sync (a records import, a webhook event) is priced
by its vehicle's next sync, or by the report.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import IntegrityError
from django.db.models import F, Q
from django.utils import timezone

from charging.models import ChargingSession
from trips.drivers import driver_at
from trips.models import Assignment, CostBasis, Place, SessionCost, Tariff, TariffKind
from trips.places import place_at
from trips.tariffs import Band, energy_cost
from vehicles.models import Vehicle


@dataclass
class _Priced:
    tariff: Tariff
    bands: list[Band]


def _priced(tariff: Tariff | None) -> _Priced | None:
    if tariff is None:
        return None
    bands = [
        Band(tuple(b.weekdays), b.start_hour, b.end_hour, b.price_per_kwh) for b in tariff.bands.all()
    ] if tariff.kind == TariffKind.TIME_OF_USE else []  # fmt: skip
    return _Priced(tariff, bands)


def session_price(session: ChargingSession, place: Place | None, tariff: _Priced | None, zone) -> dict:
    """The cost fields of one session (Step "price" of the module docstring)."""
    if session.cost_total is not None and session.currency:
        return {"basis": CostBasis.RECORD, "amount": session.cost_total, "currency": session.currency.upper()}
    if session.ended_at is None:
        return {"missing": "Still charging"}
    if session.energy_kwh is None:
        return {"missing": "Energy unknown"}
    if tariff is None:
        return {"missing": "No tariff for this place, and no default public tariff"}
    amount = energy_cost(
        bands=tariff.bands,
        flat=tariff.tariff.price_per_kwh,
        energy_kwh=session.energy_kwh,
        start=session.started_at,
        end=session.ended_at,
        zone=zone,
    )
    basis = CostBasis.DEFAULT if tariff.tariff.place_id is None else CostBasis.PLACE
    return {"basis": basis, "amount": amount, "currency": tariff.tariff.currency}


_COST_FIELDS = ["place", "driver", "basis", "amount", "currency", "missing", "computed_at"]


def sessions_cost(*, fleet, vehicle_ids: Iterable[int] | None = None) -> int:
    """Prices the fleet's sessions (or only those of these vehicles) that have no cost yet or changed since; returns
    how many were priced."""
    vehicle_ids = None if vehicle_ids is None else list(vehicle_ids)
    try:
        return _sessions_cost(fleet, vehicle_ids)
    except IntegrityError:
        # Something priced was deleted before its cost was stored: a session by a settle in another worker (a webhook
        # event's, the periodic one) that found no observation supports it any more, or a place or a driver by a
        # manager. The costs were not stored; the sessions left are priced again from what is there now.
        return _sessions_cost(fleet, vehicle_ids)


def _sessions_cost(fleet, vehicle_ids: list[int] | None) -> int:
    if vehicle_ids is None:
        sessions = ChargingSession.objects.filter(vehicle__fleet=fleet)
    else:
        # The fleet's own among these vehicles first: a join with the fleet's vehicles would read all of them.
        own = Vehicle.objects.filter(fleet=fleet, pk__in=vehicle_ids).values_list("pk", flat=True)
        sessions = ChargingSession.objects.filter(vehicle_id__in=list(own))
    stale = sessions.filter(Q(cost__isnull=True) | Q(updated_at__gt=F("cost__computed_at")))
    sessions = list(stale.select_related("vehicle"))
    if not sessions:
        return 0
    places = list(Place.objects.filter(fleet=fleet))
    tariffs = {t.place_id: _priced(t) for t in Tariff.objects.filter(fleet=fleet).prefetch_related("bands")}
    default = tariffs.get(None)
    assignments: dict[int, list[Assignment]] = defaultdict(list)
    priced_vehicles = {session.vehicle_id for session in sessions}
    for assignment in Assignment.objects.filter(vehicle_id__in=priced_vehicles).select_related("driver"):
        assignments[assignment.vehicle_id].append(assignment)
    now = timezone.now()
    rows = []
    for session in sessions:
        place = place_at(places, session.latitude, session.longitude)
        tariff = tariffs.get(place.pk, default) if place is not None else default
        values = {
            "basis": "",
            "amount": None,
            "currency": "",
            "missing": "",
            **session_price(session, place, tariff, fleet.zone),
        }
        driver = driver_at(assignments[session.vehicle_id], session.started_at)
        rows.append(SessionCost(session=session, place=place, driver=driver, computed_at=now, **values))
    # An upsert, not delete-then-insert: two workers (or a worker and a page) pricing the same new session at once
    # both find it unpriced; the second waits for the first's row and overwrites it with the same values.
    SessionCost.objects.bulk_create(rows, update_conflicts=True, unique_fields=["session"], update_fields=_COST_FIELDS)
    return len(rows)


def fleet_costs_reprice(*, fleet) -> int:
    """Tariffs or places changed: every session of the fleet is priced again, at once (the sync prices only the
    sessions of the vehicles it stores)."""
    SessionCost.objects.filter(session__vehicle__fleet=fleet).delete()
    return sessions_cost(fleet=fleet)


@dataclass
class Sum:
    label: str
    currency: str
    sessions: int = 0
    energy_kwh: float = 0.0
    amount: Decimal = field(default_factory=lambda: Decimal(0))


def totals_by(costs, key) -> list[Sum]:
    """Sums per (key, currency): amounts in different currencies are never added together."""
    sums: dict[tuple[str, str], Sum] = {}
    for cost in costs:
        if cost.amount is None:
            continue
        label = key(cost)
        row = sums.setdefault((label, cost.currency), Sum(label, cost.currency))
        row.sessions += 1
        row.energy_kwh += cost.session.energy_kwh or 0.0
        row.amount += cost.amount
    return sorted(sums.values(), key=lambda s: (s.label, s.currency))


def fleet_cost_summary(*, fleet, start, end) -> dict:
    """Costs of the sessions that started in [start, end), per vehicle, driver and place, and the unpriced count."""
    sessions_cost(fleet=fleet)
    costs = list(
        SessionCost.objects.filter(
            session__vehicle__fleet=fleet, session__started_at__gte=start, session__started_at__lt=end
        ).select_related("session__vehicle", "driver", "place")
    )
    return {
        "per_vehicle": totals_by(costs, lambda c: c.session.vehicle.display_name),
        "per_driver": totals_by(costs, lambda c: c.driver.name if c.driver else "No driver assigned"),
        "per_place": totals_by(costs, lambda c: c.place.name if c.place else "Elsewhere"),
        "unpriced": sum(1 for c in costs if c.amount is None),
        "currencies": sorted({c.currency for c in costs if c.currency}),
    }
