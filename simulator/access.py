"""The hot path of every vehicle request, in three SQL statements.

A batch of every endpoint must cost at most a few milliseconds of simulator CPU, and the ORM's query
compilation alone costs more than the raw round trip; so the request's one read (token, its user,
the connection with its permissions, the vehicle, today's billed calls) and its two writes (the
vehicle's state, the billing counter) are written out here, in SQL that PostgreSQL and SQLite both
run. Writes are optimistic: the state is saved only if ``simulated_at`` is still what was read, and
every save moves ``simulated_at`` forward, so two concurrent requests cannot overwrite each other —
the loser reads again and redoes its work.
"""

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from django.db import connection
from django.utils import timezone

from simulator.models import BillingCounter, Connection, FaultSettings, SmartcarUser, Token, Vehicle

_VEHICLE_COLUMNS = (
    "id", "vehicle_id", "owner_id", "make", "model", "year", "vin", "engine_type", "region", "routine", "state",
    "simulated_at", "latency_ms", "requests_per_minute", "fault_rate", "created_at",
)  # fmt: skip


_FAULT_COLUMNS = (
    "latency_ms", "realistic_latency", "requests_per_minute", "upstream_rate", "asleep_rate", "timeout_rate",
    "malformed_rate", "clock_speed",
)  # fmt: skip


@dataclass
class Access:
    user_id: int
    user_email: str
    application_id: int
    permissions: list
    vehicle: Vehicle
    calls_today: int
    read_simulated_at: datetime | None
    faults: FaultSettings


def _json(value):
    return json.loads(value) if isinstance(value, str | bytes) else value


def _datetime(value) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value if value is None or value.tzinfo else value.replace(tzinfo=UTC)
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _select_sql() -> str:
    token, user = Token._meta.db_table, SmartcarUser._meta.db_table
    link, vehicle, billing = Connection._meta.db_table, Vehicle._meta.db_table, BillingCounter._meta.db_table
    fault_settings = FaultSettings._meta.db_table
    columns = ", ".join(f"v.{column}" for column in _VEHICLE_COLUMNS)
    fault_columns = ", ".join(f"f.{column}" for column in _FAULT_COLUMNS)
    # The global fault settings (one row) come along, so the request needs no query of its own for them.
    return (
        f"SELECT t.user_id, u.email, t.application_id, c.permissions, b.calls, f.id, {fault_columns}, {columns} "  # noqa: S608 (table names)
        f"FROM {token} t JOIN {user} u ON u.id = t.user_id "
        f"LEFT JOIN {vehicle} v ON v.vehicle_id = %s "
        f"LEFT JOIN {link} c ON c.vehicle_id = v.id AND c.application_id = t.application_id AND c.user_id = t.user_id "
        f"LEFT JOIN {billing} b ON b.vehicle_id = v.id AND b.day = %s "
        f"LEFT JOIN {fault_settings} f ON f.id = 1 "
        f"WHERE t.access_token = %s AND t.access_expires_at > %s"
    )


_SELECT: str | None = None


def load(access_token: str, vehicle_id: str, day: date) -> tuple[str, Access | None]:
    """("ok", access) | ("no-token", None) | ("no-vehicle", None), in one query."""
    global _SELECT
    _SELECT = _SELECT or _select_sql()
    ops = connection.ops
    with connection.cursor() as cursor:
        cursor.execute(
            _SELECT,
            [vehicle_id, ops.adapt_datefield_value(day), access_token, ops.adapt_datetimefield_value(timezone.now())],
        )
        row = cursor.fetchone()
    if row is None:
        return "no-token", None
    user_id, email, application_id, permissions, calls, faults_id = row[:6]
    if permissions is None:
        return "no-vehicle", None
    width = len(_FAULT_COLUMNS)
    if faults_id is None:
        fault_settings = FaultSettings.current()
    else:
        fault_settings = FaultSettings(id=faults_id, **dict(zip(_FAULT_COLUMNS, row[6 : 6 + width], strict=True)))
        fault_settings.realistic_latency = bool(fault_settings.realistic_latency)  # SQLite gives 0/1
    fields = dict(zip(_VEHICLE_COLUMNS, row[6 + width :], strict=True))
    fields["state"] = _json(fields["state"])
    fields["simulated_at"] = _datetime(fields["simulated_at"])
    fields["created_at"] = _datetime(fields["created_at"])
    vehicle = Vehicle(**fields)
    vehicle._state.adding = False
    return "ok", Access(
        user_id=user_id,
        user_email=email,
        application_id=application_id,
        permissions=_json(permissions),
        vehicle=vehicle,
        calls_today=calls or 0,
        read_simulated_at=fields["simulated_at"],
        faults=fault_settings,
    )


def store(vehicle: Vehicle, read_simulated_at: datetime | None, *, day: date | None = None, calls: int = 0) -> bool:
    """Save state and simulated_at if nobody saved since we read; False means: read again.

    With ``calls``, also bills them on ``day`` — on PostgreSQL in the same statement (a data-modifying
    CTE), so a request costs one write round trip.
    """
    if calls and read_simulated_at is not None and connection.vendor == "postgresql":
        return _store_and_bill(vehicle, read_simulated_at, day, calls)
    if not _store(vehicle, read_simulated_at):
        return False
    if calls:
        bill(vehicle.pk, day, calls)
    return True


def _store_and_bill(vehicle: Vehicle, read_simulated_at: datetime, day: date, calls: int) -> bool:
    vehicle.simulated_at = max(vehicle.simulated_at, read_simulated_at + timedelta(microseconds=1))
    ops = connection.ops
    table, billing = Vehicle._meta.db_table, BillingCounter._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH saved AS (UPDATE {table} SET state = %s, simulated_at = %s "  # noqa: S608 (table names)
            f"WHERE id = %s AND simulated_at = %s RETURNING id) "
            f"INSERT INTO {billing} (vehicle_id, day, calls) SELECT id, %s, %s FROM saved "
            f"ON CONFLICT (vehicle_id, day) DO UPDATE SET calls = {billing}.calls + excluded.calls",
            [
                ops.adapt_json_value(vehicle.state, None),
                ops.adapt_datetimefield_value(vehicle.simulated_at),
                vehicle.pk,
                ops.adapt_datetimefield_value(read_simulated_at),
                ops.adapt_datefield_value(day),
                calls,
            ],
        )
        return cursor.rowcount == 1


def _store(vehicle: Vehicle, read_simulated_at: datetime | None) -> bool:
    if read_simulated_at is not None and vehicle.simulated_at is not None:
        vehicle.simulated_at = max(vehicle.simulated_at, read_simulated_at + timedelta(microseconds=1))
    ops = connection.ops
    table = Vehicle._meta.db_table
    new_state = ops.adapt_json_value(vehicle.state, None)
    new_time = ops.adapt_datetimefield_value(vehicle.simulated_at)
    with connection.cursor() as cursor:
        if read_simulated_at is None:
            cursor.execute(
                f"UPDATE {table} SET state = %s, simulated_at = %s WHERE id = %s AND simulated_at IS NULL",  # noqa: S608
                [new_state, new_time, vehicle.pk],
            )
        else:
            cursor.execute(
                f"UPDATE {table} SET state = %s, simulated_at = %s WHERE id = %s AND simulated_at = %s",  # noqa: S608
                [new_state, new_time, vehicle.pk, ops.adapt_datetimefield_value(read_simulated_at)],
            )
        return cursor.rowcount == 1


def bill(vehicle_pk: int, day: date, calls: int) -> None:
    """Add ``calls`` billed calls to the vehicle's counter of ``day`` in one upsert."""
    if calls <= 0:
        return
    table = BillingCounter._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (vehicle_id, day, calls) VALUES (%s, %s, %s) "  # noqa: S608
            f"ON CONFLICT (vehicle_id, day) DO UPDATE SET calls = {table}.calls + excluded.calls",
            [vehicle_pk, connection.ops.adapt_datefield_value(day), calls],
        )
