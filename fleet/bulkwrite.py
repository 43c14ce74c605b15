"""Writes of many rows at once, for derivations over a fleet's whole history (trips, charging sessions).

Django's ``bulk_create`` and ``bulk_update`` spend most of their time in Python preparing each value and, for
updates, building a CASE expression per row (tens of thousands of rows take seconds); these hand the values to the
database driver as they are.

- ``objects_copy``: new objects inserted with COPY on PostgreSQL (``bulk_create`` elsewhere); the primary keys are
  taken from the table's sequence first, so every object has its pk afterwards, as after ``bulk_create``.
- ``column_update``: one column of many rows set from a list of (pk, value), in one statement.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from django.db import connection, models


def objects_copy(objects: Sequence[models.Model]) -> None:
    """Inserts the unsaved ``objects`` (all of one model) and sets their primary keys.

    Values go to psycopg as the attributes hold them, except JSON fields and ``auto_now`` times, which are prepared
    as ``save()`` would."""
    if not objects:
        return
    model = type(objects[0])
    if connection.vendor != "postgresql":
        model._default_manager.bulk_create(objects)
        return
    meta = model._meta
    pk = meta.pk
    assert pk is not None
    fields = [field for field in meta.concrete_fields if field is not pk]
    prepared = {field.attname for field in fields if _prepared(field)}
    table = connection.ops.quote_name(meta.db_table)
    columns = ", ".join(connection.ops.quote_name(field.column) for field in [pk, *fields])
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [meta.db_table, pk.column, len(objects)],
        )
        keys = [row[0] for row in cursor.fetchall()]
        with cursor.connection.cursor().copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
            for key, obj in zip(keys, objects, strict=True):
                obj.pk = key
                copy.write_row(
                    [
                        key,
                        *(
                            field.get_db_prep_save(field.pre_save(obj, True), connection)
                            if field.attname in prepared
                            else getattr(obj, field.attname)
                            for field in fields
                        ),
                    ]
                )
                obj._state.adding, obj._state.db = False, connection.alias


def _prepared(field: models.Field) -> bool:
    automatic = getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False)
    return isinstance(field, models.JSONField) or automatic


UPDATE_ROWS = 5000  # rows of one statement: SQLite takes at most 32,766 parameters


def column_update(model: type[models.Model], field_name: str, values: Iterable[tuple[int, int]]) -> None:
    """Sets ``field_name`` (a number or a foreign key) of the rows with these primary keys, UPDATE_ROWS in one
    statement: ``WITH … AS (VALUES …) UPDATE … FROM``, which PostgreSQL and SQLite (3.33 on) both run."""
    meta = model._meta
    field = meta.get_field(field_name)
    assert meta.pk is not None and isinstance(field, models.Field)
    quote = connection.ops.quote_name
    table, column, key = quote(meta.db_table), quote(field.column), quote(meta.pk.column)
    pending = list(values)
    with connection.cursor() as cursor:
        for start in range(0, len(pending), UPDATE_ROWS):
            chunk = pending[start : start + UPDATE_ROWS]
            rows = ", ".join(["(%s, %s)"] * len(chunk))
            cursor.execute(
                f"WITH changes (id, value) AS (VALUES {rows}) UPDATE {table} "  # noqa: S608 (model)
                f"SET {column} = CAST(changes.value AS {field.db_type(connection)}) "
                f"FROM changes WHERE {table}.{key} = changes.id",
                [item for pair in chunk for item in pair],
            )
