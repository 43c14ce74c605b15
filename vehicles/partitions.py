"""Monthly partitions of the history tables on PostgreSQL (declarative range partitioning).

The history (StatusHistory) and its per-vehicle rollups (HistoryHourly, HistoryDaily) are each one partitioned table
with a partition per month of their time column, named ``<table>_pYYYYMM``, and a default partition
(``<table>_default``) that catches rows outside every month created (a vehicle whose clock is years off). Months are
created ahead of time — by the periodic task and after every ``migrate`` — so rows never wait for one; retention
drops whole months, which costs the same whatever a month holds.

Creating or dropping a partition locks the parent table briefly, and every statement on the table that starts while it
waits for that lock waits behind it: creating waits at most LOCK_TIMEOUT for the statements already running to finish
(a month that could not be created now is created by the next run, long before it is needed), dropping at most
DROP_LOCK_TIMEOUT (a month still busy is left for the next run of retention, a day later).

On other databases (the embedded SQLite demo) the tables are plain tables and these functions do nothing.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime

import psycopg
from django.db import OperationalError, connection, transaction

logger = logging.getLogger(__name__)

# Partitioned table → its partition key. The key is timestamptz, except the daily rollup's (a date).
PARTITIONED_TABLES = {
    "vehicles_statushistory": "recorded_at",
    "vehicles_historyhourly": "hour",
    "vehicles_historydaily": "day",
}
LOCK_TIMEOUT = "5s"
DROP_LOCK_TIMEOUT = "1s"


def month_start(moment: date | datetime) -> date:
    return date(moment.year, moment.month, 1)


def next_month(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def _bound(table: str, month: date) -> str:
    """A month's lower bound as the partition key's type spells it: midnight UTC, or the date itself."""
    if PARTITIONED_TABLES[table] == "day":
        return month.isoformat()
    return datetime(month.year, month.month, 1, tzinfo=UTC).isoformat()


def partition_name(table: str, month: date) -> str:
    return f"{table}_p{month:%Y%m}"


def is_partitioned() -> bool:
    return connection.vendor == "postgresql"


def _partitioned_tables() -> list[str]:
    """The tables of PARTITIONED_TABLES that are partitioned in this database (all of them once migrated)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname FROM pg_class WHERE relkind = 'p' AND relname = ANY(%s)", [list(PARTITIONED_TABLES)]
        )
        found = {row[0] for row in cursor.fetchall()}
    return [table for table in PARTITIONED_TABLES if table in found]


def existing_months(table: str) -> list[date]:
    """The months that have a partition, oldest first (from the partitions' names, which only this module sets)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = %s::regclass",
            [table],
        )
        names = [row[0] for row in cursor.fetchall()]
    prefix = f"{table}_p"
    return sorted(date(int(n[-6:-2]), int(n[-2:]), 1) for n in names if n.startswith(prefix) and n[-6:].isdigit())


def oldest_value(table: str) -> datetime | date | None:
    """The oldest partition key value of the table: the default partition's oldest, or else the first month of the
    oldest partition holding rows (a month's partition is not scanned for its minimum)."""
    column = PARTITIONED_TABLES[table]
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT min({column}) FROM {table}_default")  # noqa: S608 (the default partition is small)
        candidates = [value for (value,) in cursor.fetchall() if value is not None]
        for month in existing_months(table):
            cursor.execute(f"SELECT EXISTS (SELECT 1 FROM {partition_name(table, month)})")  # noqa: S608
            if cursor.fetchone()[0]:
                candidates.append(month if column == "day" else datetime(month.year, month.month, 1, tzinfo=UTC))
                break
    return min(candidates, default=None)


def partition_create(table: str, month: date) -> None:
    """Create one month's partition; rows of that month already in the default partition move into it."""
    column = PARTITIONED_TABLES[table]
    name, default = partition_name(table, month), f"{table}_default"
    lower, upper = _bound(table, month), _bound(table, next_month(month))
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
        cursor.execute(
            f"SELECT EXISTS (SELECT 1 FROM {default} WHERE {column} >= %s AND {column} < %s)",  # noqa: S608
            [lower, upper],
        )
        if not cursor.fetchone()[0]:
            cursor.execute(f"CREATE TABLE {name} PARTITION OF {table} FOR VALUES FROM ('{lower}') TO ('{upper}')")
            return
        # PostgreSQL refuses a new partition while the default one holds rows of its range: move them first.
        cursor.execute(f"CREATE TABLE {name} (LIKE {table} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)")
        cursor.execute(
            f"WITH moved AS (DELETE FROM {default} WHERE {column} >= %s AND {column} < %s RETURNING *) "  # noqa: S608
            f"INSERT INTO {name} SELECT * FROM moved",
            [lower, upper],
        )
        cursor.execute(f"ALTER TABLE {table} ATTACH PARTITION {name} FOR VALUES FROM ('{lower}') TO ('{upper}')")
        logger.info("history: %s created with %s rows moved from %s", name, cursor.rowcount, default)


def partitions_ensure(*, first: date, last: date) -> list[str]:
    """Make sure every partitioned table has a partition for each month from ``first`` to ``last``; returns those
    created."""
    if not is_partitioned():
        return []
    created = []
    for table in _partitioned_tables():
        have = set(existing_months(table))
        month = month_start(first)
        while month <= last:
            if month not in have:
                partition_create(table, month)
                created.append(partition_name(table, month))
            month = next_month(month)
    return created


def partitions_drop_before(*, table: str, cutoff: datetime) -> list[str]:
    """Drop the table's months that end at or before ``cutoff`` and its default partition's rows older than it.

    Each month in a transaction of its own: the parent table is locked from the DROP to its commit, a few
    milliseconds; PostgreSQL removes the month's files after releasing the lock. A month whose lock is not granted
    within DROP_LOCK_TIMEOUT (a long read of the table is running) is left, with the newer ones, for the next run.
    """
    if table not in _partitioned_tables():
        return []
    # Foreign-key checks deferred from rows written earlier in this transaction run now: PostgreSQL cannot drop a
    # table they concern.
    connection.check_constraints()
    dropped = []
    for month in existing_months(table):
        if not _ends_by(table, month, cutoff):
            break
        name = partition_name(table, month)
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(f"SET LOCAL lock_timeout = '{DROP_LOCK_TIMEOUT}'")
                cursor.execute(f"DROP TABLE {name}")
        except OperationalError as exc:
            if not isinstance(exc.__cause__, psycopg.errors.LockNotAvailable):
                raise
            logger.warning("history: %s left for the next run: %s was busy for %s", name, table, DROP_LOCK_TIMEOUT)
            break
        dropped.append(name)
    column = PARTITIONED_TABLES[table]
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {table}_default WHERE {column} < %s", [_key(table, cutoff)])  # noqa: S608
    return dropped


def _key(table: str, moment: datetime) -> date | datetime:
    return moment.date() if PARTITIONED_TABLES[table] == "day" else moment


def _ends_by(table: str, month: date, cutoff: datetime) -> bool:
    """Whether every value the month's partition can hold is older than ``cutoff``."""
    upper = next_month(month)
    if PARTITIONED_TABLES[table] == "day":
        return upper <= cutoff.date()
    return datetime(upper.year, upper.month, 1, tzinfo=UTC) <= cutoff
