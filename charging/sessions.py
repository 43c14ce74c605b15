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

Settling runs after every event and record import, after every sync round over the recent past of the vehicles it
stored (trips/receivers.py), and periodically over every vehicle's recent past (charging/tasks.py), so readings that
arrive after an event correct the session within one round. It is idempotent: settling twice writes the same
sessions. Many vehicles settle together (``vehicles_sessions_settle``): CHUNK of them in one transaction, each read
one query for all of them, the writes in bulk — a fleet's whole history is settled in seconds, not one vehicle and
one row at a time.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta
from decimal import Decimal
from operator import itemgetter
from typing import Any

from django.db import transaction
from django.db.models import Max, Min, Q
from django.utils import timezone

from charging.models import ChargingObservation, ChargingSession, EnergySource, SessionSource
from vehicles.history import collector_paused, history_by_vehicle
from vehicles.models import EndpointState, StatusHistory, Vehicle
from vehicles.readings import HISTORY_FIELDS
from vehicles.sync.rows import rows_copy, rows_update

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
CHUNK = 200  # vehicles settled in one transaction


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
        observation = charging_event_observe(vehicle=vehicle, event_type=event_type, event_time=event_time)
        if observation is None:
            return None
        _settle([vehicle], {vehicle.pk: observation.started_at})
    observation.refresh_from_db()
    return observation.session


def charging_event_observe(*, vehicle, event_type: str, event_time: datetime) -> ChargingObservation | None:
    """``charging_event_record`` without the settle: the observation the event opened or closed (None: an end whose
    start was missed, or not a charging event). ``charging_events_settle`` settles the vehicles of many events
    once each."""
    with transaction.atomic():
        _lock([vehicle])
        if event_type == CHARGING_STARTED:
            return observation_store(
                vehicle=vehicle,
                source=SessionSource.WEBHOOK,
                external_id=event_time.isoformat(),
                started_at=event_time,
                ended_at=None,
                facts={},
            )
        if event_type not in CHARGING_ENDED:
            return None
        observation = (
            ChargingObservation.objects.filter(
                vehicle=vehicle, source=SessionSource.WEBHOOK, ended_at=None, started_at__lte=event_time
            )
            .order_by("-started_at")
            .first()
        )
        if observation is not None:
            observation.ended_at = event_time
            observation.save(update_fields=["ended_at", "updated_at"])
        return observation


def charging_events_settle(*, since: dict) -> dict[int, int]:
    """Settles each vehicle (the keys of ``since``) from the start of the earliest charge its events observed (the
    values), many vehicles per transaction; returns how many sessions each vehicle's window holds."""
    return _settle_chunks(list(since), {vehicle.pk: moment for vehicle, moment in since.items()})


# --- Settling --------------------------------------------------------------------------------------------------------


def vehicle_sessions_settle(*, vehicle, since: datetime | None = None) -> int:
    """Derives the readings' spans and settles the vehicle's sessions from ``since`` (all history when None).

    Returns how many sessions the window holds afterwards.
    """
    return vehicles_sessions_settle(vehicles=[vehicle], since=since)[vehicle.pk]


def vehicle_sessions_settle_recent(*, vehicle) -> int:
    """The periodic settle of one vehicle (``vehicles_sessions_settle_recent``)."""
    return vehicles_sessions_settle_recent(vehicles=[vehicle])[vehicle.pk]


def vehicles_sessions_settle(*, vehicles: list, since: datetime | None = None) -> dict[int, int]:
    """``vehicle_sessions_settle`` for many vehicles at once, CHUNK in one transaction whose reads are one query
    each; returns how many sessions each vehicle's window holds."""
    return _settle_chunks(vehicles, {vehicle.pk: since for vehicle in vehicles})


def vehicles_sessions_settle_recent(*, vehicles: list) -> dict[int, int]:
    """The periodic settle: the last SETTLE_WINDOW, and further back to any observation no session stands for yet
    (records kept from before sessions were merged, an import interrupted)."""
    since = timezone.now() - SETTLE_WINDOW
    unsettled = dict(
        ChargingObservation.objects.filter(vehicle__in=vehicles, session=None)
        .order_by()
        .values("vehicle_id")
        .annotate(first=Min("started_at"))
        .values_list("vehicle_id", "first")
    )
    return _settle_chunks(vehicles, {v.pk: min(since, unsettled.get(v.pk) or since) for v in vehicles})


def _settle_chunks(vehicles: list, since: dict[int, datetime | None]) -> dict[int, int]:
    settled: dict[int, int] = {}
    ordered = sorted(vehicles, key=lambda vehicle: vehicle.pk)
    for start in range(0, len(ordered), CHUNK):
        chunk = ordered[start : start + CHUNK]
        with collector_paused(), transaction.atomic():
            _lock(chunk)
            settled.update(_settle(chunk, since))
    return settled


def _lock(vehicles: list) -> None:
    """One settle at a time per vehicle (the periodic task, an event and an import may meet), taken in the order of
    their ids; a no-op on SQLite, whose writes are serialised anyway."""
    list(
        Vehicle.objects.select_for_update()
        .filter(pk__in=[vehicle.pk for vehicle in vehicles])
        .order_by("pk")
        .values_list("pk", flat=True)
    )


@dataclass(slots=True, eq=False)
class _Observation:
    """A ChargingObservation as a settle reads and writes it: its columns by their attribute names (rows_copy,
    rows_update). Not a model instance: a settle over a fleet's history handles tens of thousands, and constructing
    a model costs more than settling its charge."""

    vehicle_id: int
    source: str
    started_at: datetime
    ended_at: datetime | None
    facts: dict
    external_id: str = ""
    session_id: int | None = None
    updated_at: datetime | None = None
    id: int | None = None


@dataclass(slots=True, eq=False)
class _Session:
    """A ChargingSession as a settle writes it, by attribute names as ``_Observation``; ``id`` None until stored."""

    vehicle_id: int | None = None
    source: str = ""
    started_at: datetime | None = None
    ended_at: datetime | None = None
    start_percent: float | None = None
    end_percent: float | None = None
    energy_kwh: float | None = None
    energy_source: str = ""
    location: str = ""
    latitude: float | None = None
    longitude: float | None = None
    is_public: bool | None = None
    charger_type: str = ""
    cost_energy: Decimal | None = None
    cost_other: Decimal | None = None
    currency: str = ""
    updated_at: datetime | None = None
    id: int | None = None


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


_READ = ("charging_state", "battery_percent", "latitude", "longitude")


def _readings(vehicle_ids: list[int], since: dict[int, datetime | None]) -> dict[int, _Readings]:
    """Each vehicle's readings from the last before its ``since`` that was not CHARGING (so that a charge under way
    then is read whole), and a day before it, for the levels and the position around it; all in one query."""
    readings = {vehicle_id: _Readings() for vehicle_id in vehicle_ids}
    for vehicle_id, whole_from in _whole_from(since, vehicle_ids).items():
        readings[vehicle_id].whole_from = whole_from
    first = {v: r.whole_from - timedelta(days=1) for v, r in readings.items() if r.whole_from is not None}
    rows = StatusHistory.objects.filter(vehicle_id__in=vehicle_ids, field__in=_READ)
    if first:  # from the earliest of them, each vehicle's own start below; those without one read it all
        whole = [vehicle_id for vehicle_id in vehicle_ids if vehicle_id not in first]
        rows = rows.filter(Q(vehicle_id__in=whole) | Q(recorded_at__gte=min(first.values())))
    names = {HISTORY_FIELDS[name]: name for name in _READ}
    for vehicle_id, found in history_by_vehicle(rows).items():
        vehicle_readings, start = readings[vehicle_id], first.get(vehicle_id)
        for number_of_field, moment, number, text in found:
            if start is None or moment >= start:
                name = names[number_of_field]
                getattr(vehicle_readings, name).append((moment, text if name == "charging_state" else number))
    return readings


def _whole_from(since: dict[int, datetime | None], vehicle_ids: list[int]) -> dict[int, datetime]:
    """For each vehicle with a ``since``: the last reading of its charging state before it that was not CHARGING."""
    by_since: dict[datetime, list[int]] = {}
    for vehicle_id in vehicle_ids:
        if since[vehicle_id] is not None:
            by_since.setdefault(since[vehicle_id], []).append(vehicle_id)  # type: ignore[arg-type]
    if not by_since:
        return {}
    before = Q()
    for moment, ids in by_since.items():
        before |= Q(vehicle_id__in=ids, recorded_at__lt=moment)
    return dict(
        StatusHistory.objects.filter(before, field="charging_state")
        .exclude(text="CHARGING")
        .order_by()
        .values("vehicle_id")
        .annotate(last=Max("recorded_at"))
        .values_list("vehicle_id", "last")
    )


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


def _spans_store(vehicles: list, readings: dict[int, _Readings]) -> None:
    """Each span of the readings as an observation (``observation_store`` for many at once)."""
    spans = {
        (vehicle.pk, started_at.isoformat()[:120]): (vehicle, started_at, ended_at)
        for vehicle in vehicles
        for started_at, ended_at in _spans(readings[vehicle.pk])
    }
    if not spans:
        return
    stored = {
        (vehicle_id, external_id): (pk, started_at, ended_at)
        for vehicle_id, external_id, pk, started_at, ended_at in ChargingObservation.objects.filter(
            vehicle__in=vehicles, source=SessionSource.SYNC, external_id__in={key for _, key in spans}
        )
        .order_by()
        .values_list("vehicle_id", "external_id", "pk", "started_at", "ended_at")
    }
    new, changed, now = [], [], timezone.now()
    for key, (vehicle, started_at, ended_at) in spans.items():
        found = stored.get(key)
        if found is None:
            new.append(_Observation(vehicle.pk, SessionSource.SYNC, started_at, ended_at, {}, external_id=key[1]))
        elif found[1:] != (started_at, ended_at):
            changed.append(ChargingObservation(pk=found[0], started_at=started_at, ended_at=ended_at, updated_at=now))
    rows_copy(new, model=ChargingObservation)
    rows_update(ChargingObservation, changed, ["started_at", "ended_at", "updated_at"])


_OBSERVATION_COLUMNS = ("vehicle_id", "source", "started_at", "ended_at", "facts", "external_id", "session_id", "id")


def _observations(vehicle_ids: list[int], since: dict[int, datetime | None]) -> dict[int, list[_Observation]]:
    """Each vehicle's observations that reach into its window, in one query."""
    # Ordered by the column: the model's ordering by vehicle would join the fleet's vehicles to sort them.
    query = ChargingObservation.objects.filter(vehicle_id__in=vehicle_ids).order_by("vehicle_id", "started_at")
    starts = [since[vehicle_id] for vehicle_id in vehicle_ids]
    if None not in starts:
        query = query.filter(_window(min(starts)))  # type: ignore[type-var]
    found: dict[int, list[_Observation]] = {}
    for columns in query.values(*_OBSERVATION_COLUMNS):
        observation = _Observation(**columns)
        if _in_window(observation, since[observation.vehicle_id]):
            found.setdefault(observation.vehicle_id, []).append(observation)
    return found


def _settle(vehicles: list, since: dict[int, datetime | None]) -> dict[int, int]:
    """Steps 1–3 of the module docstring for these (locked) vehicles; how many sessions each window holds."""
    ids = [vehicle.pk for vehicle in vehicles]
    readings = _readings(ids, since)
    _spans_store(vehicles, readings)
    # The charges that reach into the window, whole: with the observations they began with before it.
    observations = _observations(ids, since)
    widened = {
        vehicle_id: min(since[vehicle_id], *(o.started_at for o in found)) - START_TOLERANCE  # type: ignore[type-var]
        for vehicle_id, found in observations.items()
        if since[vehicle_id] is not None
    }
    if widened:
        since = {**since, **widened}
        observations.update(_observations(list(widened), since))
        again = [
            vehicle_id
            for vehicle_id in widened
            if readings[vehicle_id].whole_from is not None
            and readings[vehicle_id].whole_from - timedelta(days=1) > since[vehicle_id]  # type: ignore[operator]
        ]
        if again:
            readings.update(_readings(again, since))
    charges = {vehicle_id: _group(observations.get(vehicle_id, [])) for vehicle_id in ids}
    _note_energy_added([vehicle for vehicle in vehicles if charges[vehicle.pk]], charges)
    capacities = _nominal_capacities_kwh(ids)
    current = _current_sessions(observations)
    new: list[_Session] = []
    changed: list[_Session] = []
    gone: list[int] = []
    kept: dict[int, list[tuple[_Session, _Charge]]] = {}
    for vehicle in vehicles:
        taken: set[int] = set()
        kept[vehicle.pk] = []
        for index, charge in enumerate(charges[vehicle.pk]):
            vehicle_charges = charges[vehicle.pk]
            following = vehicle_charges[index + 1].start if index + 1 < len(vehicle_charges) else None
            values = _figures(charge, readings[vehicle.pk], capacities.get(vehicle.pk), following)
            if values is None:  # seen only in readings, nothing gained: no charge, and nothing to keep of it
                gone += [observation.id for observation in charge.observations]
                continue
            session = _session_for(charge, taken, current)
            if session.id is None or any(getattr(session, name) != value for name, value in values.items()):
                for name, value in values.items():
                    setattr(session, name, value)
                session.vehicle_id = vehicle.pk
                (changed if session.id else new).append(session)
            if session.id:
                taken.add(session.id)
            kept[vehicle.pk].append((session, charge))
    _sessions_write(new, changed, gone, kept)
    _stale_delete(ids, since, {vehicle_id: {session.id for session, _ in pairs} for vehicle_id, pairs in kept.items()})
    return {vehicle_id: len(pairs) for vehicle_id, pairs in kept.items()}


_SESSION_FIELDS = [
    "vehicle", "source", "started_at", "ended_at", "start_percent", "end_percent", "energy_kwh", "energy_source",
    "location", "latitude", "longitude", "is_public", "charger_type", "cost_energy", "cost_other", "currency",
    "updated_at",
]  # fmt: skip


def _sessions_write(
    new: list[_Session],
    changed: list[_Session],
    gone: list[int],
    kept: dict[int, list[tuple[_Session, _Charge]]],
) -> None:
    """Step 3's writes: flickers' observations deleted, sessions created and updated, each charge's observations
    pointed at its session."""
    ChargingObservation.objects.filter(pk__in=gone).delete()
    rows_copy(new, model=ChargingSession)
    now = timezone.now()
    for session in changed:
        session.updated_at = now
    rows_update(ChargingSession, changed, _SESSION_FIELDS)
    moved = []
    for pairs in kept.values():
        for session, charge in pairs:
            for observation in charge.observations:
                if observation.session_id != session.id:
                    observation.session_id = session.id
                    moved.append(observation)
    rows_update(ChargingObservation, moved, ["session"])


def _stale_delete(vehicle_ids: list[int], since: dict[int, datetime | None], kept: dict[int, set[int]]) -> None:
    """Sessions in a vehicle's window that no observation supports any more."""
    query = ChargingSession.objects.filter(vehicle_id__in=vehicle_ids).exclude(
        pk__in=[pk for pks in kept.values() for pk in pks]
    )
    starts = [since[vehicle_id] for vehicle_id in vehicle_ids]
    if None not in starts:
        query = query.filter(_window(min(starts)))  # type: ignore[type-var]
    stale = [
        pk
        for pk, vehicle_id, started_at, ended_at in query.values_list("pk", "vehicle_id", "started_at", "ended_at")
        if _in_window_at(started_at, ended_at, since[vehicle_id])
    ]
    if stale:
        ChargingObservation.objects.filter(session__in=stale).update(session=None)
        ChargingSession.objects.filter(pk__in=stale).delete()


def _window(since: datetime | None) -> Q:
    if since is None:
        return Q()
    return Q(ended_at__isnull=True) | Q(ended_at__gte=since) | Q(started_at__gte=since)


def _in_window(observation: _Observation, since: datetime | None) -> bool:
    return _in_window_at(observation.started_at, observation.ended_at, since)


def _in_window_at(started_at: datetime, ended_at: datetime | None, since: datetime | None) -> bool:
    """``_window`` in Python, for rows read over the widest window of several vehicles."""
    return since is None or ended_at is None or ended_at >= since or started_at >= since


@dataclass
class _Charge:
    """The observations of one real charge."""

    observations: list[_Observation]

    def best(self, *sources: str) -> _Observation | None:
        found = [o for o in self.observations if o.source in sources]
        return min(found, key=lambda o: o.started_at) if found else None

    @property
    def record(self) -> _Observation | None:
        return self.best(*_RECORDS)

    @property
    def events(self) -> _Observation | None:
        return self.best(SessionSource.WEBHOOK)

    @property
    def spans(self) -> list[_Observation]:
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


def _group(observations: list[_Observation]) -> list[_Charge]:
    """Step 1 of the module docstring: the observations of each real charge, charges in time order."""
    precise = sorted((o for o in observations if o.source != SessionSource.SYNC), key=lambda o: (o.started_at, o.id))
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


def _same_kind(one: _Observation, other: _Observation) -> bool:
    return (one.source in _RECORDS) == (other.source in _RECORDS)


def _overlap(span: _Observation, charge: _Charge, charges: list[_Charge]) -> float | None:
    """Seconds the span of readings shares with the charge (None: none); an open charge lasts until the next one."""
    later = [other.start for other in charges if other.start > charge.start]
    end = charge.end or (min(later) if later else timezone.now())
    span_end = span.ended_at or timezone.now()
    shared = (min(end, span_end) - max(charge.start, span.started_at)).total_seconds()
    return shared if shared > 0 else None


def _note_energy_added(vehicles: list, charges: dict[int, list[_Charge]]) -> None:
    """Tesla reports the energy added "in the current charging session or most recent session if the vehicle is not
    charging" (tesla__get-charge.md): a reading taken after the latest charge began belongs to it, and is kept with
    that charge's events or readings so that the next charge's readings do not replace it."""
    teslas = [vehicle.pk for vehicle in vehicles if (vehicle.make or "").upper() == "TESLA"]
    if not teslas:
        return
    for state in EndpointState.objects.filter(vehicle_id__in=teslas, path="/tesla/charge").order_by():
        body = state.body if isinstance(state.body, dict) else {}
        energy = _number(body.get("energyAdded"))
        taken = state.data_age or state.fetched_at
        latest = charges[state.vehicle_id][-1]
        keeper = latest.events or (latest.spans[0] if latest.spans else None)
        if energy is None or taken is None or taken < latest.start or keeper is None:
            continue
        if keeper.facts.get("energy_added_kwh") != energy:
            keeper.facts, keeper.updated_at = {**keeper.facts, "energy_added_kwh": energy}, timezone.now()
            rows_update(ChargingObservation, [keeper], ["facts", "updated_at"])


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


_SESSION_COLUMNS = [f.name for f in fields(_Session)]


def _current_sessions(observations: dict[int, list[_Observation]]) -> dict[int, _Session]:
    """The sessions the observations stand for now, by id."""
    ids = {o.session_id for found in observations.values() for o in found if o.session_id}
    if not ids:
        return {}
    return {row["id"]: _Session(**row) for row in ChargingSession.objects.filter(pk__in=ids).values(*_SESSION_COLUMNS)}


def _session_for(charge: _Charge, taken: set[int], current: dict[int, _Session]) -> _Session:
    """The row that already stands for this charge (its best observation's first), or a new one."""
    for observation in sorted(charge.observations, key=lambda o: -_RANK[o.source]):
        if observation.session_id and observation.session_id not in taken:
            session = current.get(observation.session_id)
            if session is not None:
                return session
    return _Session()


def _level_at_start(levels: list[tuple[datetime, float]], start: datetime, end: datetime | None) -> float | None:
    """The lower of the last reading before the start and the first during the charge: a level only falls before a
    charge (driving) and only rises during it, so the lower one is nearer the level it started at."""
    before = _value_at(levels, start)
    first = bisect_right(levels, start, key=_MOMENT)
    during = levels[first][1] if first < len(levels) and (end is None or levels[first][0] <= end) else None
    candidates = [level for level in (before, during) if level is not None]
    return min(candidates) if candidates else None


def _level_at_end(
    levels: list[tuple[datetime, float]], start: datetime, end: datetime, following: datetime | None
) -> float | None:
    """The highest level from the start to the first reading after the end (within END_GRACE, before the next
    charge): the level rises while charging and falls after, and the reading that tells the end often comes with the
    poll after the end event."""
    after_end = bisect_right(levels, end, key=_MOMENT)
    during = [level for _, level in levels[bisect_left(levels, start, key=_MOMENT) : after_end]]
    limit = min(end + END_GRACE, following) if following else end + END_GRACE
    if after_end < len(levels) and levels[after_end][0] <= limit:
        during.append(levels[after_end][1])
    before = _value_at(levels, start)
    candidates = during + ([before] if before is not None else [])
    return max(candidates) if candidates else None


_MOMENT = itemgetter(0)


def _value_at(points: list[tuple[datetime, Any]], moment: datetime) -> Any:
    """The last value recorded at or before ``moment``."""
    index = bisect_right(points, moment, key=_MOMENT)
    return points[index - 1][1] if index else None


def _nominal_capacities_kwh(vehicle_ids: list[int]) -> dict[int, float | None]:
    # Reference: smartcar-api/get-nominal-capacity.md — {"capacity": {"nominal": 80.9, …}}, null when unknown.
    found = {}
    for vehicle_id, body in (
        EndpointState.objects.filter(vehicle_id__in=vehicle_ids, path="/battery/nominal_capacity")
        .order_by()
        .values_list("vehicle_id", "body")
    ):
        capacity = body.get("capacity") if isinstance(body, dict) else None
        found[vehicle_id] = _number(capacity.get("nominal")) if isinstance(capacity, dict) else None
    return found


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
