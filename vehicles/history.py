"""History over months: partitions kept ahead, retention, rollups, and the series that charts and reports read.

The sync engine and webhook events write StatusHistory rows (a row per changed value) through ``history_append``.
Everything else reads through this module:

1. ``history_partitions_ensure``: on PostgreSQL, monthly partitions exist from this month to PARTITIONS_AHEAD months
   ahead (periodic task and after every migrate; vehicles/partitions.py).
2. ``history_rollup``: the hourly rollup of every complete hour, then the daily rollup of every complete day in each
   fleet's time zone and the fleet-daily one from it; each run starts a little before where the last one stopped, so
   rows that arrive late (a webhook retried, a data age minutes old) are counted.
3. ``history_prune``: retention — whole months dropped on PostgreSQL, rows deleted elsewhere.
4. ``history_series``: a chart's points — raw rows for a few days, hourly rollups for weeks, daily for longer, each
   followed by the finer level for the time the coarser one has not covered yet.
5. ``fleet_energy_days``: the fleet's daily report, from the fleet-daily rollup.
6. ``history_by_vehicle``: many vehicles' raw rows at once, for derivations over the whole history (trips, charging
   sessions); ``collector_paused`` while their rows are in memory.

On SQLite (the embedded demo) the tables are plain tables and every function gives the same answers.
"""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from operator import itemgetter
from typing import NamedTuple
from zoneinfo import ZoneInfo

import psycopg
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Avg, Count, F, Max, Min, QuerySet, Sum, TextField
from django.db.models.functions import Cast, Trunc, TruncDate
from django.utils import timezone

from fleet.models import Fleet
from vehicles import partitions
from vehicles.models import (
    FleetHistoryDaily,
    HistoryDaily,
    HistoryHourly,
    HistoryRollupProgress,
    StatusHistory,
    Vehicle,
)
from vehicles.readings import HISTORY_FIELDS

logger = logging.getLogger(__name__)

PARTITIONS_AHEAD = 2  # months
# The numeric fields charts and reports read: only these are rolled up.
ROLLUP_FIELDS = ("battery_percent", "range_km", "fuel_percent", "fuel_range_km", "odometer_km", "charge_power_kw")
# Rows whose recorded_at is older than this when they arrive still reach the rollups (the next run recomputes it).
LATE_ROWS = timedelta(hours=3)
# One statement covers at most this much history (7 days of 10,000 vehicles: about 5 million rows); a run stops
# starting new chunks after RUN_SECONDS, so a first run over a year of history catches up over a few runs.
ROLLUP_CHUNK = timedelta(days=7)
RUN_SECONDS = 120
# A chart reads raw rows up to this range, hourly rollups up to the next, daily beyond; hourly rollups are kept as
# long as a chart may read them.
RAW_RANGE = timedelta(days=7)
HOURLY_RANGE = timedelta(days=92)
HOUR = timedelta(hours=1)


# --- Writing --------------------------------------------------------------------------------------------------------


class Change(NamedTuple):
    """A changed value of a vehicle as its history row holds it (numbers as numbers, words and booleans as text)."""

    vehicle_id: int
    field: str  # a HISTORY_FIELDS name
    recorded_at: datetime
    number: float | None
    text: str


# The columns as arrays sent in PostgreSQL's binary format (%b): psycopg builds them without quoting each value.
HISTORY_INSERT = (
    f"INSERT INTO {StatusHistory._meta.db_table} (vehicle_id, field, recorded_at, number, text) "  # noqa: S608
    "SELECT * FROM unnest(%b::bigint[], %b::smallint[], %b::timestamptz[], %b::double precision[], %b::varchar[]) "
    "ON CONFLICT DO NOTHING"
)


def history_append(changes: Sequence[Change]) -> None:
    """A history row per change, skipping those the table already holds (the same reading delivered again).

    On PostgreSQL one ``INSERT … SELECT FROM unnest`` with a binary array per column, made straight from the tuples
    and bound by the server: a model instance per row, or arrays spelled out as text by the client, cost the sync
    more CPU than PostgreSQL spent storing the rows (docs/benchmarks.md, "History at 10,000 vehicles × 1 year").
    The statement runs on Django's connection, in its transaction, with its database errors. Elsewhere bulk_create.
    """
    if not changes:
        return
    if connection.vendor != "postgresql":
        rows = [StatusHistory(**change._asdict()) for change in changes]
        StatusHistory.objects.bulk_create(rows, ignore_conflicts=True)
        return
    vehicle_ids, fields, moments, numbers, texts = zip(*changes, strict=True)
    columns = [list(vehicle_ids), [HISTORY_FIELDS[name] for name in fields], list(moments), list(numbers), list(texts)]
    connection.ensure_connection()
    # Django's cursors bind parameters on the client, as text; this one is psycopg's own, bound by the server.
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(HISTORY_INSERT, columns)


# --- Partitions and retention ---------------------------------------------------------------------------------------


def history_partitions_ensure(*, now: datetime | None = None) -> list[str]:
    """This month's partitions and PARTITIONS_AHEAD months more; returns the names of those created."""
    today = (now or timezone.now()).date()
    last = today.replace(day=1)
    for _ in range(PARTITIONS_AHEAD):
        last = partitions.next_month(last)
    return partitions.partitions_ensure(first=today, last=last)


def history_prune(*, now: datetime | None = None) -> int:
    """Drop history and daily rollups older than SYNC_HISTORY_RETENTION_DAYS, hourly rollups older than HOURLY_RANGE;
    returns the number of months dropped (PostgreSQL) or rows deleted (elsewhere).

    On PostgreSQL a month goes once all of it is past its cutoff, so data is kept at least that long and at most a
    month more; the default partitions' old rows are deleted row by row.
    """
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.SYNC_HISTORY_RETENTION_DAYS)
    hourly_cutoff = now - HOURLY_RANGE
    FleetHistoryDaily.objects.filter(day__lt=cutoff.date()).delete()
    if partitions.is_partitioned():
        dropped = []
        for model, table_cutoff in ((StatusHistory, cutoff), (HistoryHourly, hourly_cutoff), (HistoryDaily, cutoff)):
            dropped += partitions.partitions_drop_before(table=model._meta.db_table, cutoff=table_cutoff)
        if dropped:
            logger.info("history: dropped %s", ", ".join(dropped))
        return len(dropped)
    deleted = 0
    for query in (
        StatusHistory.objects.filter(recorded_at__lt=cutoff),
        HistoryHourly.objects.filter(hour__lt=hourly_cutoff),
        HistoryDaily.objects.filter(day__lt=cutoff.date()),
    ):
        deleted += query.delete()[0]
    return deleted


# --- Rollups --------------------------------------------------------------------------------------------------------


def _upsert(model, rows_query, key: tuple[str, ...], columns: tuple[str, ...]) -> int:
    """INSERT … SELECT the grouped rows of ``rows_query`` (its columns in the order key + columns), updating a row
    only where a value differs, so recomputing an unchanged bucket writes nothing. One statement on either database.
    """
    select, params = rows_query.query.sql_with_params()
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    names = ", ".join(quote(model._meta.get_field(name).column) for name in (*key, *columns))
    updated = ", ".join(f"{quote(c)} = excluded.{quote(c)}" for c in columns)
    changed = " OR ".join(f"{table}.{quote(c)} <> excluded.{quote(c)}" for c in columns)
    conflict = ", ".join(quote(model._meta.get_field(name).column) for name in key)
    sql = f"INSERT INTO {table} ({names}) {select} ON CONFLICT ({conflict}) DO UPDATE SET {updated} WHERE {changed}"
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def _rollup_rows(start: datetime, end: datetime):
    return StatusHistory.objects.filter(
        recorded_at__gte=start, recorded_at__lt=end, field__in=ROLLUP_FIELDS, number__isnull=False
    )


def _hourly(start: datetime, end: datetime) -> int:
    rows = (
        _rollup_rows(start, end)
        # Rows of existing vehicles only: the history table has no foreign key, and a reading stored while its vehicle
        # was being deleted must not stop the rollups (the hourly table keeps its foreign key).
        .filter(vehicle__in=Vehicle.objects.all())
        .annotate(bucket=Trunc("recorded_at", "hour", tzinfo=UTC))
        .values("vehicle_id", "field", "bucket")
        .annotate(samples=Count("*"), low=Min("number"), high=Max("number"), average=Avg("number"))
        .values_list("vehicle_id", "field", "bucket", "samples", "low", "high", "average")
        .order_by()
    )
    return _upsert(HistoryHourly, rows, ("vehicle", "field", "hour"), ("samples", "min", "max", "mean"))


def _local_midnight(moment: datetime, zone: ZoneInfo) -> datetime:
    local = moment.astimezone(zone)
    return datetime(local.year, local.month, local.day, tzinfo=zone).astimezone(UTC)


def _daily(start: datetime, end: datetime) -> int:
    """The local days that start at or after ``start``'s local midnight and end by ``end``, for each time zone the
    fleets use, then the fleet-daily rollup of those days."""
    written = 0
    zones = Fleet.objects.filter(vehicles__isnull=False).values_list("time_zone", flat=True).distinct().order_by()
    for name in zones:
        zone = ZoneInfo(name)
        first, last = _local_midnight(start, zone), _local_midnight(end, zone)
        if first >= last:
            continue
        rows = (
            _rollup_rows(first, last)
            .filter(vehicle__fleet__time_zone=name)
            .annotate(bucket=TruncDate("recorded_at", tzinfo=zone))
            .values("vehicle_id", "field", "bucket")
            .annotate(samples=Count("*"), low=Min("number"), high=Max("number"), average=Avg("number"))
            .values_list("vehicle_id", "field", "bucket", "samples", "low", "high", "average")
            .order_by()
        )
        written += _upsert(HistoryDaily, rows, ("vehicle", "field", "day"), ("samples", "min", "max", "mean"))
        days = (
            HistoryDaily.objects.filter(
                day__gte=first.astimezone(zone).date(),
                day__lt=last.astimezone(zone).date(),
                vehicle__fleet__time_zone=name,
            )
            .values("vehicle__fleet_id", "field", "day")
            .annotate(
                count=Count("*"),
                low=Min("min"),
                high=Max("max"),
                average=Avg("mean"),
                total_spread=Sum(F("max") - F("min")),
            )
            .values_list("vehicle__fleet_id", "field", "day", "count", "low", "high", "average", "total_spread")
            .order_by()
        )
        written += _upsert(
            FleetHistoryDaily, days, ("fleet", "field", "day"), ("vehicles", "min", "max", "mean", "spread")
        )
    return written


def _progress(name: str) -> datetime | None:
    return HistoryRollupProgress.objects.filter(name=name).values_list("done_until", flat=True).first()


def _advance(name: str, until: datetime) -> None:
    HistoryRollupProgress.objects.update_or_create(name=name, defaults={"done_until": until})


def _floor_hour(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def _oldest_history() -> datetime | None:
    if partitions.is_partitioned():
        oldest = partitions.oldest_value(StatusHistory._meta.db_table)
        if oldest is None or isinstance(oldest, datetime):
            return oldest
        return datetime(oldest.year, oldest.month, oldest.day, tzinfo=UTC)
    return StatusHistory.objects.order_by().aggregate(oldest=Min("recorded_at"))["oldest"]


def history_rollup(*, now: datetime | None = None) -> dict[str, int]:
    """Roll up the complete hours and the complete local days not rolled up yet, and the LATE_ROWS before them.

    Both read the raw rows. A first run starts at the oldest history within the retention (hourly: within
    HOURLY_RANGE); each chunk is its own transaction and moves the progress on, so an interrupted run loses nothing
    and the next one continues. A day is computed in the runs of the LATE_ROWS after it ends, then left alone.
    """
    now = now or timezone.now()
    end = _floor_hour(now)
    retention_edge = _floor_hour(now - timedelta(days=settings.SYNC_HISTORY_RETENTION_DAYS))
    counts = {"hourly": 0, "daily": 0}
    started = time.monotonic()
    for level, roll, earliest in (("hourly", _hourly, end - HOURLY_RANGE), ("daily", _daily, retention_edge)):
        done = _progress(level)
        if done is None:
            start = max(earliest, _floor_hour(_oldest_history() or end))
        else:
            start = max(earliest, done - LATE_ROWS)
        if done is None and start >= end:
            _advance(level, end)
        while start < end and time.monotonic() - started < RUN_SECONDS:
            chunk_end = min(end, start + ROLLUP_CHUNK)
            with transaction.atomic():
                counts[level] += roll(start, chunk_end)
                if done is None or chunk_end > done:
                    _advance(level, chunk_end)
            start = chunk_end
    return counts


# --- Reading: charts and reports ------------------------------------------------------------------------------------


def _raw(vehicle_id: int, fields: list[str], since: datetime, until: datetime | None, limit: int) -> dict:
    rows = StatusHistory.objects.filter(
        vehicle_id=vehicle_id, field__in=fields, recorded_at__gte=since, number__isnull=False
    )
    if until is not None:
        rows = rows.filter(recorded_at__lt=until)
    series: dict[str, list] = {f: [] for f in fields}
    for field, recorded_at, number in rows.order_by("-recorded_at").values_list("field", "recorded_at", "number")[
        : limit * len(fields)
    ]:
        if len(series[field]) < limit:
            series[field].append((recorded_at, number))
    return {f: list(reversed(points)) for f, points in series.items()}


def _rolled(model, time_field: str, vehicle_id: int, fields: list[str], since, until) -> dict:
    rows = model.objects.filter(vehicle_id=vehicle_id, field__in=fields, **{f"{time_field}__gte": since})
    if until is not None:
        rows = rows.filter(**{f"{time_field}__lt": until})
    series: dict[str, list] = {f: [] for f in fields}
    for field, moment, mean in rows.order_by(time_field).values_list("field", time_field, "mean"):
        series[field].append((moment, mean))
    return series


def history_series(
    *, vehicle, fields: list[str], since: datetime, limit: int = 1000, now: datetime | None = None
) -> dict[str, list[tuple[datetime, float]]]:
    """Points (moment, value) of these numeric fields of one vehicle from ``since`` to now, oldest first.

    Up to RAW_RANGE: the rows themselves (the newest ``limit`` per field). Longer: one point per hour (the hour's
    mean, at its start) and, beyond HOURLY_RANGE, one per day of the fleet's time zone (at its local midnight), each
    continued by the finer level where the coarser one has not been computed yet, so the newest readings always show.
    """
    now = now or timezone.now()
    if now - since <= RAW_RANGE:
        return _raw(vehicle.pk, fields, since, None, limit)
    hourly_done = _progress("hourly")
    parts: list[dict] = []
    start = since
    if now - since > HOURLY_RANGE and hourly_done is not None:
        zone = vehicle.fleet.zone
        days_done = _local_midnight(min(_progress("daily") or since, hourly_done), zone)
        if days_done > since:
            days_end = days_done.astimezone(zone).date()
            daily = _rolled(HistoryDaily, "day", vehicle.pk, fields, since.astimezone(zone).date(), days_end)
            parts.append(
                {
                    f: [(datetime(d.year, d.month, d.day, tzinfo=zone), v) for d, v in points]
                    for f, points in daily.items()
                }
            )
            start = days_done
    if hourly_done is not None and hourly_done > start:
        parts.append(_rolled(HistoryHourly, "hour", vehicle.pk, fields, start, hourly_done))
        start = hourly_done
    parts.append(_raw(vehicle.pk, fields, start, None, limit))
    return {f: [point for part in parts for point in part[f]] for f in fields}


ENERGY_FIELDS = ("battery_percent", "fuel_percent", "odometer_km", "charge_power_kw")


def fleet_energy_days(*, fleet, first: date, last: date) -> list[dict]:
    """The fleet's days from ``first`` to ``last`` (inclusive, its time zone) that have readings, newest first.

    Each: day, vehicles (with readings), battery and fuel levels (mean of the vehicles' means, lowest), distance
    driven (sum over vehicles of the day's highest odometer reading minus its lowest) and the highest charging power.
    """
    rows = FleetHistoryDaily.objects.filter(fleet=fleet, field__in=ENERGY_FIELDS, day__gte=first, day__lte=last)
    days: dict[date, dict] = {}
    for field, day, vehicles, low, high, mean, spread in rows.values_list(
        "field", "day", "vehicles", "min", "max", "mean", "spread"
    ):
        row = days.setdefault(day, {"day": day, "vehicles": 0})
        row["vehicles"] = max(row["vehicles"], vehicles)
        if field == "odometer_km":
            row["distance_km"] = spread
        elif field == "charge_power_kw":
            row["peak_charge_power_kw"] = high
        else:
            row[f"{field}_mean"], row[f"{field}_min"] = mean, low
    return [days[day] for day in sorted(days, reverse=True)]


# --- Rows for derivations -------------------------------------------------------------------------------------------

# A row for derivations: field number (readings.HISTORY_FIELDS), recorded_at, number, text.
HistoryRow = tuple[int, datetime, float | None, str]


def history_by_vehicle(rows: QuerySet[StatusHistory]) -> dict[int, list[HistoryRow]]:
    """Each vehicle's rows of ``rows`` in time order, as (field number, recorded_at, number, text).

    For reading a million rows at once: the query returns them as stored, without the ORM's conversions, and
    unsorted (the database spilled the sort to disk; rows are stored in about time order, which Python's sort
    finishes quickly). The timestamps are what costs: Django's loader of PostgreSQL's text timestamps is Python, and
    it was most of a derivation's time. So on PostgreSQL the rows come in the binary format, whose timestamps the
    driver decodes in C; elsewhere (SQLite) times come as text, parsed once per distinct moment.
    """
    found: dict[int, list[HistoryRow]] = {}
    for vehicle_id, field, moment, number, words in _history_rows(rows):
        found.setdefault(vehicle_id, []).append((field, moment, number, words))
    for vehicle_rows in found.values():
        vehicle_rows.sort(key=itemgetter(1))
    return found


def _history_rows(rows: QuerySet[StatusHistory]) -> list[tuple]:
    columns = ("vehicle_id", "field", "recorded_at", "number", "text")
    if connection.vendor == "postgresql":
        sql, params = rows.order_by().values_list(*columns).query.sql_with_params()
        connection.ensure_connection()
        with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
            cursor.execute(sql, params, binary=True)
            return cursor.fetchall()
    sql, params = (
        rows.annotate(at=Cast("recorded_at", TextField()))
        .order_by()
        .values_list("vehicle_id", "field", "at", "number", "text")
        .query.sql_with_params()
    )
    moments: dict[str, datetime] = {}
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        fetched = cursor.fetchall()
    for index, (vehicle_id, field, text, number, words) in enumerate(fetched):
        moment = moments.get(text)
        if moment is None:
            moment = moments[text] = _moment_parse(text)
        fetched[index] = (vehicle_id, field, moment, number, words)
    return fetched


@contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector paused while a derivation holds a chunk of history in memory.

    The collector runs every few hundred allocations and now and then walks every object alive. A derivation reads
    a few hundred thousand rows, tuples that live until its chunk is written, so the collector kept walking them in
    vain: a tenth of the derivation's CPU (trips and sessions from 1,000 vehicles × 30 days, docs/benchmarks.md).
    Reference counting frees those objects without it (rows, snapshots and records refer to nothing that refers
    back); anything that does form a cycle is collected once the block ends and the collector is back on.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _moment_parse(text: str) -> datetime:
    """A timestamp as the database writes it as text: with its offset on PostgreSQL, in UTC without one on SQLite."""
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
