"""History figures (docs/benchmarks.md): 10,000 vehicles × 1 year of history on PostgreSQL (issue 15.2).

    .venv/bin/python tests/bench/bench_history.py [--vehicles 10000] [--fraction 0.05] [--rounds 50] [--keep] [--reuse]

1. Seeds, in a PostgreSQL database of its own (``fleet_bench_history``, dropped at the end unless ``--keep``), one
   fleet (Europe/Berlin) of ``--vehicles`` vehicles, 60 % electric, and the history of the year that ends now, as the
   app holds it: the raw rows (vehicles_statushistory), the hourly and daily rollups and the fleet-daily one. A
   vehicle-day is 68 rows for an electric vehicle (ten readings of battery, range, odometer, position and speed
   while driving, an evening's charge: power four times, charging state and plug twice), 60 for a petrol one — the
   measured average was 68 at the default budget (the "Budget" section). Rows are written hour by hour across the
   fleet, as the sync and the rollup job write them, with COPY (psycopg 3) into each month's table before it
   is attached as a partition, so its indexes are built once.

   Full density (every vehicle): every daily rollup; the raw rows and hourly rollups of the previous and current
   month (what a 30-day chart and the sync's inserts touch) and of the month that retention drops next. Elsewhere
   the raw rows and hourly rollups of ``--fraction`` of the vehicles (they are read by nothing measured here; they
   make the tables and their partitions as many as a year's). Each table's sizes are printed.
2. Measures, with the app's own functions: a vehicle's 30-day and 12-month chart (``charts_data``, which calls
   ``history_series``), over ``--rounds`` different vehicles; the fleet's daily energy report over a year
   (``fleet_energy_days``, and its page in process through every middleware); the insert path the sync's store
   uses (``history_append``, one statement per group of 50 vehicles × 10 changed values and per 10,000 rows, each
   in its own transaction, into the previous month's full partition), beside the path it replaced and COPY; the
   rollup of one hour and of one day of the whole fleet; and retention (``history_prune``: one month of each table
   dropped, each statement and commit timed, with the sync's inserts running beside it). Medians and p95, and
   EXPLAIN (ANALYZE, BUFFERS) of every query each of them runs.

Targets (issue 15.2): 30-day chart ≤ 50 ms, the year's energy report ≤ 500 ms, retention of a month ≤ 1 s, inserts
≥ 50,000 rows/s.

Not collected by pytest (the file name does not start with test_).
"""

import argparse
import functools
import os
import random
import signal
import statistics
import sys
import threading
import time
from datetime import UTC, date, datetime, timedelta

from common import database_create, database_drop, environment, summary, timed

DATABASE = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/fleet_bench_history")
environment(DATABASE)

DRIVE_HOURS = range(7, 17)  # a reading of each driving signal in each of these hours
CHARGE_HOURS = (18, 19)  # charging power twice an hour
ELECTRIC_SHARE = 0.6
STORE_GROUP_ROWS = 50 * 10  # a store group of the sync (vehicles/sync/round.py STORE_GROUP) × 10 changed values


# --- Generated readings ---------------------------------------------------------------------------------------------
# A vehicle's values are plain arithmetic on its index, the day and the hour, so that the raw rows and the rollups
# agree: an hour's rollup of the raw rows is the generated hourly row.


def _driving(index: int, electric: bool, day_number: int, slot: int) -> list[tuple[str, float]]:
    level = 90.0 - 6 * slot - index % 10
    odometer = 5000.0 + (index % 997) * 50 + day_number * 45 + 4.5 * slot
    energy = [("battery_percent", level), ("range_km", level * 4)] if electric else [
        ("fuel_percent", level), ("fuel_range_km", level * 6)
    ]  # fmt: skip
    return [
        *energy,
        ("odometer_km", odometer),
        ("latitude", 52.0 + (index % 100) / 100 + slot / 1000),
        ("longitude", 13.0 + (index % 89) / 100 + slot / 1000),
        ("speed_kph", float(30 + (index + slot) % 70)),
    ]


ROLLED = {"battery_percent", "range_km", "fuel_percent", "fuel_range_km", "odometer_km", "charge_power_kw"}
CHARGE_POWER = 11.0


class Shape:
    """Which vehicles have rows on which day, and the moments of the run."""

    def __init__(self, vehicle_ids: list[int], fraction: float, now: datetime):
        from vehicles import history, partitions

        self.ids = vehicle_ids
        self.electric = int(len(vehicle_ids) * ELECTRIC_SHARE)
        self.step = max(1, round(1 / fraction))
        self.now = now
        self.hour_now = now.replace(minute=0, second=0, microsecond=0)
        retention = timedelta(days=365)
        # The month each table's retention drops next: the last one to end by its cutoff.
        self.raw_first = self._month_before(now - retention)
        self.hourly_first = self._month_before(now - history.HOURLY_RANGE)
        self.recent = partitions.month_start(now.replace(day=1) - timedelta(days=1))  # the previous month
        self.days = (now.date() - self.raw_first).days + 1

    @staticmethod
    def _month_before(cutoff: datetime) -> date:
        from vehicles import partitions

        month = partitions.month_start(cutoff)
        return partitions.month_start(month - timedelta(days=1))

    def full(self, day: date, first: date) -> bool:
        from vehicles import partitions

        return day >= self.recent or partitions.month_start(day) == first

    def vehicles(self, day: date, first: date) -> range:
        return range(0, len(self.ids), 1 if self.full(day, first) else self.step)

    def day_number(self, day: date) -> int:
        return (day - self.raw_first).days


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S+00")


def _raw_rows(shape: Shape, day: date):
    """The raw rows of one day as COPY text lines, hour by hour across the fleet, until now."""
    from vehicles.readings import HISTORY_FIELDS

    midnight = datetime(day.year, day.month, day.day, tzinfo=UTC)
    number = shape.day_number(day)
    indexes = shape.vehicles(day, shape.raw_first)
    for slot, hour in enumerate(DRIVE_HOURS):
        minutes = [midnight + timedelta(hours=hour, minutes=m) for m in range(60)]
        stamps = [_stamp(m) for m in minutes]
        for index in indexes:
            if minutes[index % 60] < shape.now:
                head, at = shape.ids[index], stamps[index % 60]
                for name, value in _driving(index, index < shape.electric, number, slot):
                    yield f"{head}\t{at}\t{value}\t{HISTORY_FIELDS[name]}\t\n"
    power, state, plug = (HISTORY_FIELDS[n] for n in ("charge_power_kw", "charging_state", "is_plugged_in"))
    for hour in (*CHARGE_HOURS, CHARGE_HOURS[-1] + 1):
        for index in indexes:
            at = midnight + timedelta(hours=hour, minutes=index % 60)
            if index >= shape.electric or at >= shape.now:
                continue
            head, stamp = shape.ids[index], _stamp(at)
            if hour in CHARGE_HOURS:
                yield f"{head}\t{stamp}\t{CHARGE_POWER}\t{power}\t\n"
                yield f"{head}\t{_stamp(at + timedelta(seconds=20))}\t{CHARGE_POWER}\t{power}\t\n"
            if hour != CHARGE_HOURS[1]:
                charging = hour == CHARGE_HOURS[0]
                yield f"{head}\t{stamp}\t\\N\t{state}\t{'CHARGING' if charging else 'FULLY_CHARGED'}\n"
                yield f"{head}\t{stamp}\t\\N\t{plug}\t{'true' if charging else 'false'}\n"


def _hourly_rows(shape: Shape, day: date):
    """The hourly rollups of one day's complete hours (COPY text lines): what the rollup job makes of ``_raw_rows``."""
    from vehicles.readings import HISTORY_FIELDS

    midnight = datetime(day.year, day.month, day.day, tzinfo=UTC)
    number = shape.day_number(day)
    indexes = shape.vehicles(day, shape.hourly_first)
    for slot, hour in enumerate(DRIVE_HOURS):
        start = midnight + timedelta(hours=hour)
        if start >= shape.hour_now:
            return
        stamp = _stamp(start)
        for index in indexes:
            head = shape.ids[index]
            for name, value in _driving(index, index < shape.electric, number, slot):
                if name in ROLLED:
                    yield f"{head}\t{stamp}\t{value}\t{value}\t{value}\t1\t{HISTORY_FIELDS[name]}\n"
    power = HISTORY_FIELDS["charge_power_kw"]
    for hour in CHARGE_HOURS:
        start = midnight + timedelta(hours=hour)
        if start >= shape.hour_now:
            return
        stamp = _stamp(start)
        for index in indexes:
            if index < shape.electric:
                yield f"{shape.ids[index]}\t{stamp}\t{CHARGE_POWER}\t{CHARGE_POWER}\t{CHARGE_POWER}\t2\t{power}\n"


@functools.cache
def _daily_of(index: int, electric: bool) -> tuple[tuple[int, float, float, float, int], ...]:
    """A vehicle's daily rollups on the first day: (field, min, max, mean, samples); later days drive further."""
    from vehicles.readings import HISTORY_FIELDS

    values: dict[str, list[float]] = {}
    for slot in range(len(DRIVE_HOURS)):
        for name, value in _driving(index, electric, 0, slot):
            if name in ROLLED:
                values.setdefault(name, []).append(value)
    if electric:
        values["charge_power_kw"] = [CHARGE_POWER] * 2 * len(CHARGE_HOURS)
    return tuple(
        (HISTORY_FIELDS[name], min(points), max(points), statistics.fmean(points), len(points))
        for name, points in values.items()
    )


def _daily_rows(shape: Shape, day: date):
    """The daily rollups of one complete day, every vehicle (COPY text lines)."""
    from vehicles.readings import HISTORY_FIELDS

    odometer, driven = HISTORY_FIELDS["odometer_km"], 45.0 * shape.day_number(day)  # as _driving's odometer
    for index, vehicle_id in enumerate(shape.ids):
        for field, low, high, mean, samples in _daily_of(index, index < shape.electric):
            if field == odometer:
                low, high, mean = low + driven, high + driven, mean + driven
            yield f"{vehicle_id}\t{day}\t{low}\t{high}\t{mean}\t{samples}\t{field}\n"


# --- Loading: a month at a time, COPY into a table of its own, then attached -----------------------------------------

TABLES = {
    "vehicles_statushistory": (
        ("vehicle_id", "recorded_at", "number", "field", "text"),
        _raw_rows,
    ),
    "vehicles_historyhourly": (
        ("vehicle_id", "hour", "min", "max", "mean", "samples", "field"),
        _hourly_rows,
    ),
    "vehicles_historydaily": (
        ("vehicle_id", "day", "min", "max", "mean", "samples", "field"),
        _daily_rows,
    ),
}


def _month_load(conn, table: str, month: date, days: list[date], shape: Shape) -> int:
    """One month's partition: created and filled in one transaction (COPY FREEZE: its rows need no vacuum to be read
    from the index alone), then attached, which builds its indexes and checks its bounds and foreign key."""
    from vehicles import partitions

    columns, lines_of = TABLES[table]
    name = partitions.partition_name(table, month)
    lower, upper = partitions._bound(table, month), partitions._bound(table, partitions.next_month(month))
    conn.execute(f"DROP TABLE IF EXISTS {name}")  # a month migrate created ahead, still empty
    conn.execute(f"CREATE TABLE {name} (LIKE {table} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)")
    count = 0
    sql = f"COPY {name} ({', '.join(columns)}) FROM STDIN WITH (FREEZE)"
    with conn.cursor() as cursor, cursor.copy(sql) as copy:
        for day in days:
            lines = list(lines_of(shape, day))
            copy.write("".join(lines))
            count += len(lines)
    conn.commit()
    conn.execute(f"ALTER TABLE {table} ATTACH PARTITION {name} FOR VALUES FROM ('{lower}') TO ('{upper}')")
    conn.execute(f"ANALYZE {name}")
    conn.commit()
    return count


def _months(first: date, last: date) -> dict[date, list[date]]:
    from vehicles import partitions

    months: dict[date, list[date]] = {}
    day = first
    while day <= last:
        months.setdefault(partitions.month_start(day), []).append(day)
        day += timedelta(days=1)
    return months


def load(shape: Shape) -> dict:
    """Every table's months; returns rows written per table."""
    import psycopg

    today = shape.now.date()
    spans = {
        "vehicles_statushistory": (shape.raw_first, today),
        "vehicles_historyhourly": (shape.hourly_first, today),
        "vehicles_historydaily": (shape.raw_first, today - timedelta(days=1)),
    }
    written = {}
    with psycopg.connect(DATABASE) as conn:
        conn.execute("SET maintenance_work_mem = '512MB'")
        for table, (first, last) in spans.items():
            started, written[table] = time.perf_counter(), 0
            for month, days in _months(first, last).items():
                written[table] += _month_load(conn, table, month, days, shape)
            seconds = time.perf_counter() - started
            print(f"  {table}: {written[table]:,} rows in {seconds:.0f} s "
                  f"({written[table] / seconds:,.0f} rows/s with COPY and index builds)", flush=True)  # fmt: skip
        conn.execute(
            "INSERT INTO vehicles_fleethistorydaily (fleet_id, field, day, vehicles, min, max, mean, spread) "
            "SELECT v.fleet_id, d.field, d.day, count(*), min(d.min), max(d.max), avg(d.mean), sum(d.max - d.min) "
            "FROM vehicles_historydaily d JOIN vehicles_vehicle v ON v.id = d.vehicle_id GROUP BY 1, 2, 3"
        )
        conn.execute("ANALYZE")
        conn.commit()
    return written


def seed(vehicles: int, fraction: float, now: datetime):
    from django.core.management import call_command

    from fleet.models import User
    from fleet.services import fleet_create
    from tests.dashboard.factories import make_account, make_vehicles
    from vehicles import history
    from vehicles.models import HistoryRollupProgress

    database_create(DATABASE)
    call_command("migrate", verbosity=0)
    call_command("collectstatic", "--noinput", verbosity=0)  # the manifest the energy page's template needs
    user = User.objects.create_user(email="bench@example.com", password="bench password 1")
    fleet = fleet_create(name="Bench Fleet", owner=user, time_zone="Europe/Berlin")
    account = make_account(fleet)
    electric = int(vehicles * ELECTRIC_SHARE)
    make_vehicles(fleet, electric, account=account, make="TESLA")
    make_vehicles(fleet, vehicles - electric, account=account, make="FORD", start=electric, battery_percent=None,
                  range_km=None, fuel_percent=50.0, fuel_range_km=300.0)  # fmt: skip
    shape = Shape(list(fleet.vehicles.order_by("pk").values_list("pk", flat=True)), fraction, now)
    written = load(shape)
    history.history_partitions_ensure(now=now)  # the months ahead, as every migrate and the periodic task keep them
    for level in ("hourly", "daily"):  # as after the rollup job's last run
        HistoryRollupProgress.objects.create(name=level, done_until=shape.hour_now)
    return user, fleet, shape, written


def reuse(fraction: float):
    """The last seeded database, at today's schema; its moment is the hour the seed's rollups stopped at."""
    from django.core.management import call_command

    from fleet.models import Fleet, User
    from vehicles.models import HistoryRollupProgress

    call_command("migrate", verbosity=0)
    call_command("collectstatic", "--noinput", verbosity=0)
    fleet = Fleet.objects.get(name="Bench Fleet")
    now = HistoryRollupProgress.objects.get(name="hourly").done_until
    shape = Shape(list(fleet.vehicles.order_by("pk").values_list("pk", flat=True)), fraction, now)
    return User.objects.get(email="bench@example.com"), fleet, shape, "(seeded before)"


# --- Measuring ------------------------------------------------------------------------------------------------------


def _recorded(function) -> list[tuple[str, tuple]]:
    """The SQL statements one call runs, with their parameters."""
    from django.db import connection

    executed: list[tuple[str, tuple]] = []

    def record(execute, sql, params, many, context):
        executed.append((sql, params))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        function()
    return executed


def explain(title: str, function) -> None:
    """EXPLAIN (ANALYZE, BUFFERS) of each statement one call runs; writes inside a transaction rolled back."""
    from django.db import connection, transaction

    print(f"\n#### {title}\n", flush=True)
    with transaction.atomic():
        statements = _recorded(function)
        transaction.set_rollback(True)
    for number, (sql, params) in enumerate(statements, 1):
        print(f"{number}. `{connection.ops.compose_sql(sql, params)[:600]}`")
        verb = sql.lstrip().split(None, 1)[0].upper()
        if verb not in {"SELECT", "INSERT", "UPDATE", "DELETE", "WITH"}:
            continue
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + sql, params)
            plan = [line for (line,) in cursor.fetchall()]
            transaction.set_rollback(True)
        print("```\n" + "\n".join(plan) + "\n```")


def explain_insert(shape: Shape) -> None:
    """EXPLAIN (ANALYZE, BUFFERS) of a store group's history insert (history_append's statement, which runs on
    psycopg's own cursor, out of sight of Django's execute wrappers), rolled back."""
    import psycopg
    from django.db import connection, transaction

    from vehicles.history import HISTORY_INSERT
    from vehicles.readings import HISTORY_FIELDS

    last = _last_day(shape.recent)
    changes = _changes(shape.ids[:50], datetime(last.year, last.month, last.day, 23, 59, tzinfo=UTC), 1.0)
    vehicle_ids, fields, moments, numbers, texts = zip(*changes, strict=True)
    columns = [list(vehicle_ids), [HISTORY_FIELDS[f] for f in fields], list(moments), list(numbers), list(texts)]
    print(f"\n#### The sync's insert of a store group's history (history_append, {len(changes)} rows)\n")
    print(f"`{HISTORY_INSERT}`")
    with transaction.atomic(), psycopg.Cursor(connection.connection) as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + HISTORY_INSERT, columns)
        plan = [line for (line,) in cursor.fetchall()]
        transaction.set_rollback(True)
    print("```\n" + "\n".join(plan) + "\n```")


def measure_charts(shape: Shape, rounds: int) -> dict:
    from vehicles.models import Vehicle
    from vehicles.views import charts_data

    picks = random.Random(7).sample(shape.ids, rounds)
    figures = {}
    for days in (30, 365):
        vehicles = iter([Vehicle.objects.select_related("fleet").get(pk=pk) for pk in picks])
        chart = lambda vehicles=vehicles, days=days: charts_data(next(vehicles), None, days)  # noqa: E731
        figures |= summary(f"chart_{days}d", timed(chart, rounds))
        sample = charts_data(Vehicle.objects.select_related("fleet").get(pk=shape.ids[0]), None, days)
        figures[f"chart_{days}d_points"] = len(sample["energy"]["data"][0])
    vehicle = Vehicle.objects.select_related("fleet").get(pk=picks[0])
    for days in (30, 365):
        explain(
            f"{days}-day chart of one vehicle (charts_data → history_series)",
            lambda days=days: charts_data(vehicle, None, days),
        )
    return figures


def measure_energy(user, fleet, rounds: int) -> dict:
    from django.test import Client
    from django.urls import reverse
    from django.utils import timezone

    from vehicles.history import fleet_energy_days

    yesterday = timezone.localdate(timezone=fleet.zone) - timedelta(days=1)
    first = yesterday - timedelta(days=364)

    def report():
        return fleet_energy_days(fleet=fleet, first=first, last=yesterday)

    client = Client()
    client.force_login(user)
    url = reverse("fleet_energy", args=[fleet.slug])

    def page():
        response = client.get(url, {"days": 365})
        assert response.status_code == 200

    figures = {"energy_days": len(report()), **summary("energy_year", timed(report, rounds))}
    figures |= summary("energy_page", timed(page, rounds))
    explain("The fleet's energy report over a year (fleet_energy_days)", report)
    return figures


NUMERIC_FIELDS = (
    "battery_percent", "range_km", "odometer_km", "latitude", "longitude", "speed_kph", "charge_power_kw",
    "exterior_temperature_c", "interior_temperature_c", "oil_life_percent",
)  # fmt: skip


def _server_cpu() -> float:
    """CPU seconds this connection's PostgreSQL backend has used (the server runs on this machine)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    with open(f"/proc/{pid}/stat") as stat:
        user, system = stat.read().rsplit(")", 1)[1].split()[11:13]
    return (int(user) + int(system)) / os.sysconf("SC_CLK_TCK")


def _changes(vehicle_ids: list[int], at: datetime, value: float) -> list:
    """A store group's history as the sync's round makes it (vehicles/sync/storing.py ``_history``)."""
    from vehicles.history import Change

    return [Change(vehicle_id, name, at, value, "") for vehicle_id in vehicle_ids for name in NUMERIC_FIELDS]


def _instances(vehicle_ids: list[int], at: datetime, value: float) -> list:
    """The same as model instances, as the sync made it before history_append."""
    from vehicles.models import StatusHistory

    return [
        StatusHistory(vehicle_id=vehicle_id, field=name, number=value, text="", recorded_at=at)
        for vehicle_id in vehicle_ids
        for name in NUMERIC_FIELDS
    ]


def _copy(changes: list) -> None:
    """The same rows with COPY (binary), for comparison: it cannot skip a row the table already holds, so one reading
    delivered twice would fail the whole store group."""
    import psycopg
    from django.db import connection

    from vehicles.readings import HISTORY_FIELDS

    sql = "COPY vehicles_statushistory (vehicle_id, field, recorded_at, number, text) FROM STDIN (FORMAT BINARY)"
    with psycopg.Cursor(connection.connection) as cursor, cursor.copy(sql) as copy:
        copy.set_types(["bigint", "smallint", "timestamptz", "double precision", "varchar"])
        for vehicle_id, field, recorded_at, number, text in changes:
            copy.write_row((vehicle_id, HISTORY_FIELDS[field], recorded_at, number, text))


def _insert_paths() -> dict:
    from vehicles.history import history_append
    from vehicles.models import StatusHistory
    from vehicles.sync.rows import rows_insert_new

    return {
        "insert": (_changes, history_append),
        "insert_before": (_instances, lambda rows: rows_insert_new(StatusHistory, rows)),
        "insert_copy": (_changes, _copy),
    }


def measure_inserts(shape: Shape, path: str, rows_per_statement: int, statements: int, minute: int) -> dict:
    """The sync's insert path into the previous month's full partition, one transaction per statement (as a store
    group: the deferred foreign-key checks run at its commit), at moments past every reading of the month's last day;
    ``insert_before``: the path it replaced, for comparison.

    Rows per second of wall time, and per CPU second (this process's and its PostgreSQL backend's): on a machine
    whose load average is several times its cores, the wall time is mostly waiting for a core."""
    from django.db import transaction

    from vehicles.models import StatusHistory

    build, insert = _insert_paths()[path]
    last_day = _last_day(shape.recent)
    base = datetime(last_day.year, last_day.month, last_day.day, 23, tzinfo=UTC) + timedelta(minutes=minute)
    per_statement = rows_per_statement // len(NUMERIC_FIELDS)
    wall = cpu = 0.0
    for number in range(statements):
        first = (number * per_statement) % len(shape.ids)
        at = base + timedelta(seconds=number)
        started, started_cpu, started_server = time.perf_counter(), time.process_time(), _server_cpu()
        rows = build(shape.ids[first : first + per_statement], at, float(number))
        with transaction.atomic():
            insert(rows)
        wall += time.perf_counter() - started
        cpu += time.process_time() - started_cpu + _server_cpu() - started_server
    stored = StatusHistory.objects.filter(recorded_at__gte=base, recorded_at__lt=base + timedelta(minutes=15)).count()
    name = f"{path}_{rows_per_statement}"
    return {
        f"{name}_rows": stored,
        f"{name}_rows_per_s": round(stored / wall),
        f"{name}_rows_per_cpu_s": round(stored / cpu),
    }


def _last_day(month: date) -> date:
    from vehicles import partitions

    return partitions.next_month(month) - timedelta(days=1)


def measure_rollups(shape: Shape, fleet) -> dict:
    """The rollup job's two steps over a full hour and a full local day, their rows removed first so that each is
    computed and written as in the run after it ended."""
    from django.db import connection, transaction

    from vehicles import history

    yesterday = shape.now.date() - timedelta(days=1)
    hour = datetime(yesterday.year, yesterday.month, yesterday.day, 12, tzinfo=UTC)
    zone = fleet.zone
    day_start = datetime(yesterday.year, yesterday.month, yesterday.day, tzinfo=zone).astimezone(UTC)
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM vehicles_historyhourly WHERE hour = %s", [hour])
        hourly_removed = cursor.rowcount
        cursor.execute("DELETE FROM vehicles_historydaily WHERE day = %s", [yesterday])
        daily_removed = cursor.rowcount
    figures = {}
    for name, function, removed in (
        ("rollup_hour", lambda: history._hourly(hour, hour + timedelta(hours=1)), hourly_removed),
        ("rollup_day", lambda: history._daily(day_start, day_start + timedelta(days=1)), daily_removed),
    ):
        started = time.perf_counter()
        with transaction.atomic():
            written = function()
        figures[f"{name}_ms"] = round((time.perf_counter() - started) * 1000)
        figures[f"{name}_rows"] = f"{written} written, {removed} generated"
    explain(
        "Rollup of one hour of the fleet (history._hourly, rewriting it)",
        lambda: history._hourly(hour, hour + timedelta(hours=1)),
    )
    return figures


class SyncBeside(threading.Thread):
    """A store group's history insert (history_append, 500 rows, its own transaction) again and again on a connection
    of its own, as the sync's rounds write while retention runs: how long each waited is what the sync notices."""

    def __init__(self, shape: Shape):
        super().__init__(daemon=True)
        self.shape, self.stop, self.timings = shape, threading.Event(), []

    def run(self) -> None:
        from django.db import connection, transaction

        from vehicles.history import history_append

        last_day = _last_day(self.shape.recent)
        base = datetime(last_day.year, last_day.month, last_day.day, 22, tzinfo=UTC)
        per_statement = STORE_GROUP_ROWS // len(NUMERIC_FIELDS)
        number = 0
        try:
            while not self.stop.is_set():
                first = (number * per_statement) % len(self.shape.ids)
                rows = _changes(self.shape.ids[first : first + per_statement], base + timedelta(seconds=number), 1.0)
                started = time.perf_counter()
                with transaction.atomic():
                    history_append(rows)
                self.timings.append((started, time.perf_counter() - started))
                number += 1
        finally:
            connection.close()

    def during(self, start: float, end: float) -> list[float]:
        """Milliseconds of each insert that ran at some point between ``start`` and ``end``."""
        return [seconds * 1000 for began, seconds in self.timings if began < end and began + seconds > start]


def measure_retention(shape: Shape) -> dict:
    """``history_prune`` as the periodic task runs it, each statement and commit timed (a DROP TABLE locks the parent
    table until its commit record is written; PostgreSQL removes the month's files after releasing its locks, before
    it answers), with the sync's inserts running beside it."""
    from django.db import connection

    from vehicles import history

    timings: list[tuple[float, str]] = []

    def record(execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            timings.append((time.perf_counter() - started, sql))

    commit = connection._commit

    def commit_timed():
        started = time.perf_counter()
        try:
            return commit()
        finally:
            timings.append((time.perf_counter() - started, "COMMIT"))

    beside = SyncBeside(shape)
    beside.start()
    time.sleep(5)
    connection._commit = commit_timed
    started = time.perf_counter()
    try:
        with connection.execute_wrapper(record):
            dropped = history.history_prune(now=shape.now)
    finally:
        connection._commit = commit
    ended = time.perf_counter()
    time.sleep(5)
    beside.stop.set()
    beside.join()
    print("\n#### Retention (history_prune), each statement and commit\n")
    print("\n".join(f"- {seconds * 1000:.1f} ms `{sql[:120]}`" for seconds, sql in timings))
    inserts_before = beside.during(0, started)
    inserts_during = beside.during(started, ended)
    return {
        "retention_months_dropped": dropped,
        "retention_ms": round((ended - started) * 1000),
        "retention_drop_statements_ms": round(sum(t for t, sql in timings if sql.startswith("DROP")) * 1000),
        "retention_commits_ms": round(sum(t for t, sql in timings if sql == "COMMIT") * 1000),
        "sync_inserts_before_retention": len(inserts_before),
        "sync_insert_before_median_ms": round(statistics.median(inserts_before), 1),
        "sync_insert_before_max_ms": round(max(inserts_before), 1),
        "sync_inserts_during_retention": len(inserts_during),
        "sync_insert_during_median_ms": round(statistics.median(inserts_during), 1) if inserts_during else None,
        "sync_insert_during_max_ms": round(max(inserts_during), 1) if inserts_during else None,
    }


def sizes() -> dict:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT p.relname, count(*), pg_size_pretty(sum(pg_total_relation_size(i.inhrelid))) "
            "FROM pg_inherits i JOIN pg_class p ON p.oid = i.inhparent "
            "WHERE p.relname LIKE 'vehicles_%%' AND p.relkind = 'p' GROUP BY 1 ORDER BY 1"
        )
        tables = {name: f"{size} in {count} partitions" for name, count, size in cursor.fetchall()}
        cursor.execute("SELECT pg_size_pretty(pg_database_size(current_database()))")
        tables["database"] = cursor.fetchone()[0]
    return tables


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--vehicles", type=int, default=10000)
    parser.add_argument("--fraction", type=float, default=0.05, help="share of vehicles with raw rows elsewhere")
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--keep", action="store_true", help="keep the database (disk is shared: drop it after)")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="measure on the database a run with --keep seeded and left unmeasured (retention drops its months once)",
    )
    args = parser.parse_args()

    import django

    django.setup()
    from django.utils import timezone

    now = timezone.now()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # stopped: the database is still dropped
    print("load average before seeding:", os.getloadavg(), flush=True)
    started = time.perf_counter()
    try:
        if args.reuse:
            user, fleet, shape, written = reuse(args.fraction)
            now = shape.now
        else:
            user, fleet, shape, written = seed(args.vehicles, args.fraction, now)
        print(f"seeded {args.vehicles:,} vehicles in {time.perf_counter() - started:.0f} s; full density from "
              f"{shape.recent} and in {shape.raw_first} (raw) and {shape.hourly_first} (hourly), elsewhere 1 vehicle "
              f"in {shape.step}; now {now:%Y-%m-%d %H:%M} UTC", flush=True)  # fmt: skip
        print("rows written:", written, flush=True)
        print("sizes:", sizes(), flush=True)
        print("load average before measuring:", os.getloadavg(), flush=True)
        figures: dict = {}
        measures = [
            lambda: measure_charts(shape, args.rounds),
            lambda: measure_energy(user, fleet, args.rounds),
            *(
                lambda run=run: measure_inserts(shape, *run)
                for run in (
                    ("insert", STORE_GROUP_ROWS, 200, 0),
                    ("insert", 10_000, 10, 15),
                    ("insert_before", STORE_GROUP_ROWS, 200, 30),
                    ("insert_before", 10_000, 10, 45),
                    ("insert_copy", STORE_GROUP_ROWS, 200, -30),
                    ("insert_copy", 10_000, 10, -15),
                )
            ),
            lambda: explain_insert(shape) or {},
            lambda: measure_rollups(shape, fleet),
            lambda: measure_retention(shape),
        ]
        for measure in measures:
            measured = measure()
            print("\nmeasured:", measured, "load average:", os.getloadavg(), flush=True)
            figures |= measured
        print("\nload average after measuring:", os.getloadavg(), flush=True)
        print("figures:", figures, flush=True)
        print("sizes after retention:", sizes(), flush=True)
    finally:
        if not args.keep:
            from django.db import connection

            connection.close()
            database_drop(DATABASE)
            print("database dropped", flush=True)


if __name__ == "__main__":
    main()
