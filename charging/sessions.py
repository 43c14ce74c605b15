"""Charging sessions: one per real charge, merged from every source that saw it.

Three kinds of source see a charge, and each writes what it saw as a ChargingObservation of the vehicle:

- the car maker's records (BMW/MINI charge records, Tesla billing records; charging/history.py imports them): start,
  end, energy, levels and (Tesla) cost, as the car maker accounts for them;
- charging webhook events (CHARGING_STARTED, then _STOPPED or _COMPLETED): the exact start and end;
- the synced readings: a span of charging_state CHARGING in StatusHistory, as late as the polls that saw it.

``vehicle_sessions_settle`` turns a vehicle's observations into sessions, in three steps:

1. Group: a record and an event pair that start within START_TOLERANCE of each other are one charge (two records,
   or two event pairs, are always two charges); a span of readings joins the charge whose time it overlaps most, or
   stands alone.
2. Figure: each figure from the best source that has it. Times from the record, else the events, else the readings.
   Levels from the record, else the battery readings: the lower of the last before and the first after the start;
   the highest from the start to the first reading after the end (a reading that arrives after the end event still
   counts). Energy from the record, else the energy the vehicle reported added (Tesla), else the nominal capacity ×
   the level gained; ``energy_source`` says which.
3. Write: one ChargingSession per charge, keeping the rows that already stand for it; sessions no observation
   supports any more are deleted. A charge seen only in the readings that gained nothing (the state flickered to
   CHARGING for one poll) is no session.

Settling runs after every event and record import, and periodically over the recent past (charging/tasks.py), so
readings that arrive after an event correct the session within one period. It is idempotent: settling twice writes
the same sessions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Min, Q
from django.utils import timezone

from charging.models import ChargingObservation, ChargingSession, EnergySource, SessionSource
from vehicles.models import EndpointState, StatusHistory, Vehicle

# A record and the events of one charge start within this of each other (both are stamped by the vehicle's clock).
START_TOLERANCE = timedelta(minutes=10)
# A battery reading this long after a charge ended still tells the level it ended at.
END_GRACE = timedelta(hours=1)
# The periodic settle revisits charges that ended this recently.
SETTLE_WINDOW = timedelta(days=2)

_RANK = {
    SessionSource.CHARGE_RECORD: 3,
    SessionSource.BILLING_RECORD: 3,
    SessionSource.WEBHOOK: 2,
    SessionSource.SYNC: 1,
}
_RECORDS = (SessionSource.CHARGE_RECORD, SessionSource.BILLING_RECORD)


# --- Observations ----------------------------------------------------------------------------------------------------


def observation_store(
    *, vehicle, source: str, external_id: str, started_at: datetime, ended_at: datetime | None, facts: dict
) -> ChargingObservation:
    """What one source said about one charge, stored (facts merged into what it said before); no settling."""
    observation, created = ChargingObservation.objects.get_or_create(
        vehicle=vehicle,
        source=source,
        external_id=external_id[:120],
        defaults={"started_at": started_at, "ended_at": ended_at, "facts": facts},
    )
    if not created:
        merged = {**observation.facts, **facts}
        if (observation.started_at, observation.ended_at, observation.facts) != (started_at, ended_at, merged):
            observation.started_at, observation.ended_at, observation.facts = started_at, ended_at, merged
            observation.save(update_fields=["started_at", "ended_at", "facts", "updated_at"])
    return observation


CHARGING_STARTED = "CHARGING_STARTED"
CHARGING_ENDED = ("CHARGING_STOPPED", "CHARGING_COMPLETED")


def charging_event_record(*, vehicle, event_type: str, event_time: datetime) -> ChargingSession | None:
    """Opens or closes the events' observation of a charge (changelog 2022-04-13: Ford, Tesla, Toyota), then settles.

    For the webhook receiver to call once an event is verified and stored. Idempotent: a re-delivered start finds
    its own observation, a re-delivered end finds it closed already. An end whose start was missed closes nothing;
    the synced readings still show the charge.
    """
    with transaction.atomic():
        _lock(vehicle)
        if event_type == CHARGING_STARTED:
            observation = observation_store(
                vehicle=vehicle,
                source=SessionSource.WEBHOOK,
                external_id=event_time.isoformat(),
                started_at=event_time,
                ended_at=None,
                facts={},
            )
        elif event_type in CHARGING_ENDED:
            observation = (
                ChargingObservation.objects.filter(
                    vehicle=vehicle, source=SessionSource.WEBHOOK, ended_at=None, started_at__lte=event_time
                )
                .order_by("-started_at")
                .first()
            )
            if observation is None:
                return None
            observation.ended_at = event_time
            observation.save(update_fields=["ended_at", "updated_at"])
        else:
            return None
        _settle(vehicle, since=observation.started_at)
    observation.refresh_from_db()
    return observation.session


# --- Settling --------------------------------------------------------------------------------------------------------


def vehicle_sessions_settle(*, vehicle, since: datetime | None = None) -> int:
    """Derives the readings' spans and settles the vehicle's sessions from ``since`` (all history when None).

    Returns how many sessions the window holds afterwards.
    """
    with transaction.atomic():
        _lock(vehicle)
        return _settle(vehicle, since=since)


def vehicle_sessions_settle_recent(*, vehicle) -> int:
    """The periodic settle: the last SETTLE_WINDOW, and further back to any observation no session stands for yet
    (records kept from before sessions were merged, an import interrupted)."""
    since = timezone.now() - SETTLE_WINDOW
    unsettled = ChargingObservation.objects.filter(vehicle=vehicle, session=None).aggregate(first=Min("started_at"))
    return vehicle_sessions_settle(vehicle=vehicle, since=min(since, unsettled["first"] or since))


def _lock(vehicle) -> None:
    """One settle at a time per vehicle (the periodic task, an event and an import may meet); a no-op on SQLite,
    whose writes are serialised anyway."""
    Vehicle.objects.select_for_update().filter(pk=vehicle.pk).values_list("pk", flat=True).first()


@dataclass
class _Readings:
    """The vehicle's readings a settle needs, each a list of (moment, value) in time order.

    ``whole_from``: spans of CHARGING that start after it are whole (None: from the first reading on).
    """

    whole_from: datetime | None = None
    charging_state: list[tuple[datetime, str]] = field(default_factory=list)
    battery_percent: list[tuple[datetime, float]] = field(default_factory=list)
    latitude: list[tuple[datetime, float]] = field(default_factory=list)
    longitude: list[tuple[datetime, float]] = field(default_factory=list)


def _readings(vehicle, since: datetime | None) -> _Readings:
    """From the last reading before ``since`` that was not CHARGING (so that a charge under way then is read whole),
    and a day before it, for the levels and the position around it."""
    rows = StatusHistory.objects.filter(vehicle=vehicle)
    readings = _Readings()
    if since is not None:
        readings.whole_from = (
            rows.filter(field="charging_state", recorded_at__lt=since)
            .exclude(text="CHARGING")
            .order_by("-recorded_at")
            .values_list("recorded_at", flat=True)
            .first()
        )
        if readings.whole_from is not None:
            rows = rows.filter(recorded_at__gte=readings.whole_from - timedelta(days=1))
    for name, number, text, moment in (
        rows.filter(field__in=("charging_state", "battery_percent", "latitude", "longitude"))
        .order_by("recorded_at")
        .values_list("field", "number", "text", "recorded_at")
    ):
        getattr(readings, name).append((moment, text if name == "charging_state" else number))
    return readings


def _spans(readings: _Readings) -> list[tuple[datetime, datetime | None]]:
    """Whole spans of charging_state CHARGING: from the first reading that says so to the first that does not."""
    spans: list[tuple[datetime, datetime | None]] = []
    started = None
    for moment, state in readings.charging_state:
        if state == "CHARGING" and started is None:
            started = moment
        elif state != "CHARGING" and started is not None:
            spans.append((started, moment))
            started = None
    if started is not None:
        spans.append((started, None))
    return [span for span in spans if readings.whole_from is None or span[0] > readings.whole_from]


def _settle(vehicle, *, since: datetime | None) -> int:
    readings = _readings(vehicle, since)
    for started_at, ended_at in _spans(readings):
        observation_store(
            vehicle=vehicle,
            source=SessionSource.SYNC,
            external_id=started_at.isoformat(),
            started_at=started_at,
            ended_at=ended_at,
            facts={},
        )
    # The charges that reach into the window, whole: with the observations they began with before it.
    observations = list(ChargingObservation.objects.filter(vehicle=vehicle).filter(_window(since)))
    if since is not None and observations:
        since = min(since, *(observation.started_at for observation in observations)) - START_TOLERANCE
        observations = list(ChargingObservation.objects.filter(vehicle=vehicle).filter(_window(since)))
        if readings.whole_from is not None and readings.whole_from - timedelta(days=1) > since:
            readings = _readings(vehicle, since)
    charges = _group(observations)
    _note_energy_added(vehicle, charges)
    capacity = _nominal_capacity_kwh(vehicle)
    kept: set[int] = set()
    for index, charge in enumerate(charges):
        following = charges[index + 1].start if index + 1 < len(charges) else None
        values = _figures(charge, readings, capacity, following)
        if values is None:  # seen only in readings, nothing gained: no charge, and nothing to keep of it
            ChargingObservation.objects.filter(pk__in=[o.pk for o in charge.observations]).delete()
            continue
        session = _session_for(charge, kept)
        if session.pk is None or any(getattr(session, name) != value for name, value in values.items()):
            for name, value in values.items():
                setattr(session, name, value)
            session.vehicle = vehicle
            session.save()
        kept.add(session.pk)
        ids = [observation.pk for observation in charge.observations if observation.session_id != session.pk]
        ChargingObservation.objects.filter(pk__in=ids).update(session=session)
    stale = ChargingSession.objects.filter(vehicle=vehicle).filter(_window(since)).exclude(pk__in=kept)
    ChargingObservation.objects.filter(session__in=stale).update(session=None)
    stale.delete()
    return len(kept)


def _window(since: datetime | None) -> Q:
    if since is None:
        return Q()
    return Q(ended_at__isnull=True) | Q(ended_at__gte=since) | Q(started_at__gte=since)


@dataclass
class _Charge:
    """The observations of one real charge."""

    observations: list[ChargingObservation]

    def best(self, *sources: str) -> ChargingObservation | None:
        found = [o for o in self.observations if o.source in sources]
        return min(found, key=lambda o: o.started_at) if found else None

    @property
    def record(self) -> ChargingObservation | None:
        return self.best(*_RECORDS)

    @property
    def events(self) -> ChargingObservation | None:
        return self.best(SessionSource.WEBHOOK)

    @property
    def spans(self) -> list[ChargingObservation]:
        return sorted((o for o in self.observations if o.source == SessionSource.SYNC), key=lambda o: o.started_at)

    @property
    def start(self) -> datetime:
        precise = self.record or self.events
        return precise.started_at if precise else self.spans[0].started_at

    @property
    def end(self) -> datetime | None:
        for precise in (self.record, self.events):
            if precise and precise.ended_at:
                return precise.ended_at
        spans = self.spans
        return spans[-1].ended_at if spans and all(span.ended_at for span in spans) else None


def _group(observations: list[ChargingObservation]) -> list[_Charge]:
    """Step 1 of the module docstring: the observations of each real charge, charges in time order."""
    precise = sorted((o for o in observations if o.source != SessionSource.SYNC), key=lambda o: (o.started_at, o.pk))
    charges: list[_Charge] = []
    for observation in precise:
        same = next(
            (
                charge
                for charge in charges
                if abs(charge.start - observation.started_at) <= START_TOLERANCE
                and not any(_same_kind(other, observation) for other in charge.observations)
            ),
            None,
        )
        if same:
            same.observations.append(observation)
        else:
            charges.append(_Charge([observation]))
    charges.sort(key=lambda charge: charge.start)
    alone: list[_Charge] = []
    for span in (o for o in observations if o.source == SessionSource.SYNC):
        overlaps = [(_overlap(span, charge, charges), charge) for charge in charges]
        overlaps = [(seconds, charge) for seconds, charge in overlaps if seconds is not None]
        if overlaps:
            max(overlaps, key=lambda pair: pair[0])[1].observations.append(span)
        else:
            alone.append(_Charge([span]))
    return sorted([*charges, *alone], key=lambda charge: charge.start)


def _same_kind(one: ChargingObservation, other: ChargingObservation) -> bool:
    return (one.source in _RECORDS) == (other.source in _RECORDS)


def _overlap(span: ChargingObservation, charge: _Charge, charges: list[_Charge]) -> float | None:
    """Seconds the span of readings shares with the charge (None: none); an open charge lasts until the next one."""
    later = [other.start for other in charges if other.start > charge.start]
    end = charge.end or (min(later) if later else timezone.now())
    span_end = span.ended_at or timezone.now()
    shared = (min(end, span_end) - max(charge.start, span.started_at)).total_seconds()
    return shared if shared > 0 else None


def _note_energy_added(vehicle, charges: list[_Charge]) -> None:
    """Tesla reports the energy added "in the current charging session or most recent session if the vehicle is not
    charging" (tesla__get-charge.md): a reading taken after the latest charge began belongs to it, and is kept with
    that charge's events or readings so that the next charge's readings do not replace it."""
    if not charges or (vehicle.make or "").upper() != "TESLA":
        return
    state = EndpointState.objects.filter(vehicle=vehicle, path="/tesla/charge").first()
    body = state.body if state and isinstance(state.body, dict) else {}
    energy = _number(body.get("energyAdded"))
    taken = (state.data_age or state.fetched_at) if state else None
    latest = charges[-1]
    keeper = latest.events or (latest.spans[0] if latest.spans else None)
    if energy is None or taken is None or taken < latest.start or keeper is None:
        return
    if keeper.facts.get("energy_added_kwh") != energy:
        keeper.facts = {**keeper.facts, "energy_added_kwh": energy}
        keeper.save(update_fields=["facts", "updated_at"])


def _figures(
    charge: _Charge, readings: _Readings, capacity: float | None, following: datetime | None
) -> dict[str, Any] | None:
    """Step 2 of the module docstring: the session's values, or None for a flicker of the readings."""
    record = charge.record
    facts = record.facts if record else {}
    start, end = charge.start, charge.end
    start_percent = _number(facts.get("start_percent"))
    end_percent = _number(facts.get("end_percent"))
    if start_percent is None:
        start_percent = _level_at_start(readings.battery_percent, start, end)
    if end_percent is None and end is not None:  # an ongoing charge has no end level yet
        end_percent = _level_at_end(readings.battery_percent, start, end, following)
    energy, energy_source = _number(facts.get("energy_kwh")), EnergySource.RECORD
    if energy is None:
        added = [_number(o.facts.get("energy_added_kwh")) for o in charge.observations]
        energy, energy_source = max((a for a in added if a is not None), default=None), EnergySource.ENERGY_ADDED
    gained = None if start_percent is None or end_percent is None else max(0.0, end_percent - start_percent)
    if energy is None and gained is not None and capacity:
        energy, energy_source = round(gained / 100 * capacity, 2), EnergySource.CAPACITY
    only_readings = all(o.source == SessionSource.SYNC for o in charge.observations)
    if only_readings and end is not None and gained == 0 and not energy:
        return None
    source = max((o.source for o in charge.observations), key=lambda value: _RANK[value])
    return {
        "source": source,
        "started_at": start,
        "ended_at": end,
        "start_percent": start_percent,
        "end_percent": end_percent,
        "energy_kwh": energy,
        "energy_source": energy_source if energy is not None else "",
        "location": str(facts.get("location") or "")[:200],
        "latitude": _value_at(readings.latitude, start),
        "longitude": _value_at(readings.longitude, start),
        "is_public": facts.get("is_public") if isinstance(facts.get("is_public"), bool) else None,
        "charger_type": str(facts.get("charger_type") or "")[:20],
        "cost_energy": _money(facts.get("cost_energy")),
        "cost_other": _money(facts.get("cost_other")),
        "currency": str(facts.get("currency") or "")[:3],
    }


def _session_for(charge: _Charge, taken: set[int]) -> ChargingSession:
    """The row that already stands for this charge (its best observation's first), or a new one."""
    for observation in sorted(charge.observations, key=lambda o: -_RANK[o.source]):
        if observation.session_id and observation.session_id not in taken:
            session = ChargingSession.objects.filter(pk=observation.session_id).first()
            if session is not None:
                return session
    return ChargingSession()


def _level_at_start(levels: list[tuple[datetime, float]], start: datetime, end: datetime | None) -> float | None:
    """The lower of the last reading before the start and the first during the charge: a level only falls before a
    charge (driving) and only rises during it, so the lower one is nearer the level it started at."""
    before = _value_at(levels, start)
    during = next((level for moment, level in levels if start < moment and (end is None or moment <= end)), None)
    candidates = [level for level in (before, during) if level is not None]
    return min(candidates) if candidates else None


def _level_at_end(
    levels: list[tuple[datetime, float]], start: datetime, end: datetime, following: datetime | None
) -> float | None:
    """The highest level from the start to the first reading after the end (within END_GRACE, before the next
    charge): the level rises while charging and falls after, and the reading that tells the end often comes with the
    poll after the end event."""
    during = [level for moment, level in levels if start <= moment <= end]
    limit = min(end + END_GRACE, following) if following else end + END_GRACE
    after = next((level for moment, level in levels if end < moment <= limit), None)
    if after is not None:
        during.append(after)
    before = _value_at(levels, start)
    candidates = during + ([before] if before is not None else [])
    return max(candidates) if candidates else None


def _value_at(points: list[tuple[datetime, Any]], moment: datetime) -> Any:
    """The last value recorded at or before ``moment``."""
    value = None
    for at, point in points:
        if at > moment:
            break
        value = point
    return value


def _nominal_capacity_kwh(vehicle) -> float | None:
    # Reference: smartcar-api/get-nominal-capacity.md — {"capacity": {"nominal": 80.9, …}}, null when unknown.
    state = EndpointState.objects.filter(vehicle=vehicle, path="/battery/nominal_capacity").first()
    body = state.body if state else None
    capacity = body.get("capacity") if isinstance(body, dict) else None
    return _number(capacity.get("nominal")) if isinstance(capacity, dict) else None


def _number(value: Any) -> float | None:
    try:
        return None if value is None or isinstance(value, bool) else float(value)
    except (TypeError, ValueError):
        return None


def _money(value: Any) -> Decimal | None:
    try:
        return None if value in (None, "") else Decimal(str(value)).quantize(Decimal("0.01"))
    except ArithmeticError:
        return None
