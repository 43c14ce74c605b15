"""Many new rows of one model written at once: COPY on PostgreSQL, ``bulk_create`` elsewhere.

``bulk_create`` spends most of its time preparing each value of each row in Python (tens of thousands of trips take
seconds); COPY hands psycopg the attributes as they are. The primary keys are taken from the table's sequence first,
so every object has its pk afterwards, as after ``bulk_create``. Only for models whose fields psycopg writes as they
are (numbers, text, booleans, aware datetimes, foreign key ids): no JSON, no custom field conversions.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import connection, models


def objects_copy(objects: Sequence[models.Model]) -> None:
    """Inserts the unsaved ``objects`` (all of one model) and sets their primary keys."""
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
                copy.write_row([key, *(getattr(obj, field.attname) for field in fields)])
                obj._state.adding, obj._state.db = False, connection.alias
