"""Many rows in one statement: what lets a round store a group of vehicles at the pace of its answers, and the
derivations over a fleet's whole history (trips, charging sessions) write tens of thousands of rows in seconds.

On PostgreSQL each statement carries one typed array parameter per column, whatever the number of rows, and new rows
that need their keys go in with COPY; elsewhere (SQLite, the embedded demo) the ORM writes them.
"""

import json
from collections.abc import Iterable, Sequence
from operator import attrgetter
from typing import Any

from django.db import connection, models


def _column_arrays(rows: list, fields: Sequence[models.Field]) -> tuple[list[str], list[Any]]:
    """One typed array parameter per column (``%s::<type>[]``) and its values, for ``unnest``.

    A statement with one placeholder per column, whatever the number of rows, costs far less to build and to send
    than one placeholder per value: Django's bulk_update builds a CASE per field per row, and a VALUES list of
    thousands of placeholders spent more of a round's CPU in preparing and splitting the query than the HTTP
    round trips it follows (profiled). Every column type here is adapted by psycopg as it is, except JSON, sent as
    text and cast.
    """
    casts: list[str] = []
    arrays: list[Any] = []
    for f in fields:
        values = [f.get_prep_value(getattr(row, f.attname)) for row in rows]
        db_type = f.db_type(connection)  # a foreign key's is its target's (rel_db_type)
        if isinstance(f, models.JSONField):
            values = [None if value is None else json.dumps(value, cls=f.encoder) for value in values]
            db_type = "jsonb"
        casts.append(f"%s::{db_type}[]")
        arrays.append(values)
    return casts, arrays


def _column_field(model: type[models.Model], name: str) -> models.Field:
    field = model._meta.get_field(name)
    if not isinstance(field, models.Field) or not field.concrete:
        raise TypeError(f"{model.__name__}.{name} is not a column")
    return field


def rows_update(
    model: type[models.Model], rows: list, field_names: Iterable[str], *, lease_token: str | None = None
) -> None:
    """Save these fields of many rows in one statement (PostgreSQL), or row by row elsewhere.

    ``rows``: model instances, or plain records with the model's attribute names (rows_copy).

    ``lease_token``: only rows still leased with it are written (VehicleSync).
    """
    if not rows:
        return
    pk = model._meta.pk
    assert pk is not None
    fields = [_column_field(model, name) for name in field_names]
    if connection.vendor != "postgresql":
        for row in rows:
            query = model._default_manager.filter(pk=getattr(row, pk.attname))
            if lease_token is not None:
                query = query.filter(lease_token=lease_token)
            query.update(**{f.attname: getattr(row, f.attname) for f in fields})
        return
    quote = connection.ops.quote_name
    casts, parameters = _column_arrays(rows, [pk, *fields])
    columns = [quote(f.column) for f in fields]
    key = quote(pk.column)
    assignments = ", ".join(f"{column} = v.{column}" for column in columns)
    condition = f"t.{key} = v.{key}"
    if lease_token is not None:
        condition += " AND t.lease_token = %s"
        parameters.append(lease_token)
    sql = (
        f"UPDATE {quote(model._meta.db_table)} AS t SET {assignments} "  # noqa: S608 (identifiers from models)
        f"FROM unnest({', '.join(casts)}) AS v({key}, {', '.join(columns)}) WHERE {condition}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, parameters)


def rows_insert_new(model: type[models.Model], rows: list) -> None:
    """Insert many new rows, skipping those a unique key already holds (``bulk_create(ignore_conflicts=True)``).

    On PostgreSQL one ``INSERT … SELECT FROM unnest`` with a parameter per column (see _column_arrays). The values
    are the instances' own (defaults come from the model's constructor): for models without ``auto_now`` fields.
    """
    if not rows:
        return
    if connection.vendor != "postgresql":
        model._default_manager.bulk_create(rows, ignore_conflicts=True)
        return
    quote = connection.ops.quote_name
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    casts, parameters = _column_arrays(rows, fields)
    columns = ", ".join(quote(f.column) for f in fields)
    sql = (
        f"INSERT INTO {quote(model._meta.db_table)} ({columns}) "  # noqa: S608 (identifiers from models)
        f"SELECT * FROM unnest({', '.join(casts)}) ON CONFLICT DO NOTHING"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, parameters)


def rows_copy(rows: Sequence[Any], *, model: type[models.Model] | None = None) -> None:
    """Insert many new rows of one model with COPY (PostgreSQL; ``bulk_create`` elsewhere) and set their keys.

    ``rows`` are model instances, or plain records of ``model``: any objects whose attributes are named like the
    model's (``vehicle_id``, ``started_at``), such as a dataclass; a column a record lacks gets the field's default.
    Records are for tens of thousands of rows at once, where constructing a model instance costs more than deriving
    the row (trips/derive.py); ``bulk_create`` spent most of a derivation's writing time preparing each value in
    Python. The keys are taken from the table's sequence first, so every row has its pk afterwards, as after
    ``bulk_create``. Values go to psycopg as the rows hold them, except JSON and ``auto_now`` times, prepared as
    ``save()`` would.
    """
    if not rows:
        return
    model = model or type(rows[0])
    meta = model._meta
    pk = meta.pk
    assert pk is not None
    fields = [f for f in meta.concrete_fields if f is not pk]
    missing = object()
    defaults = {f.attname: f.get_default() for f in fields if getattr(rows[0], f.attname, missing) is missing}
    if connection.vendor != "postgresql":
        created = model._default_manager.bulk_create(
            [row if isinstance(row, models.Model) else model(**_record_values(row, fields, defaults)) for row in rows]
        )
        for row, instance in zip(rows, created, strict=True):
            setattr(row, pk.attname, instance.pk)
        return
    # Columns in three groups, in COPY's column list as in each row: the values taken as they are, read in one call
    # (attrgetter, in C: per-value Python code cost more than the COPY itself), then those prepared, then defaults.
    prepared = [f for f in fields if isinstance(f, models.JSONField) or getattr(f, "auto_now", False)]
    plain = [f for f in fields if f not in prepared and f.attname not in defaults]
    filled = [f for f in fields if f not in prepared and f.attname in defaults]
    read = attrgetter(pk.attname, *(f.attname for f in plain))
    filled_values = [defaults[f.attname] for f in filled]
    quote = connection.ops.quote_name
    columns = ", ".join(quote(f.column) for f in [pk, *plain, *prepared, *filled])
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [meta.db_table, pk.column, len(rows)],
        )
        keys = [found[0] for found in cursor.fetchall()]
        with cursor.connection.cursor().copy(f"COPY {quote(meta.db_table)} ({columns}) FROM STDIN") as copy:
            for key, row in zip(keys, rows, strict=True):
                setattr(row, pk.attname, key)
                copy.write_row(
                    [
                        *read(row),
                        *(f.get_db_prep_save(f.pre_save(row, True), connection) for f in prepared),
                        *filled_values,
                    ]
                )
                if isinstance(row, models.Model):
                    row._state.adding, row._state.db = False, connection.alias


def _record_values(record: Any, fields: list[models.Field], defaults: dict[str, Any]) -> dict[str, Any]:
    return {f.attname: defaults[f.attname] if f.attname in defaults else getattr(record, f.attname) for f in fields}
