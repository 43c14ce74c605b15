"""History at scale: a slimmer StatusHistory, partitioned by month on PostgreSQL, and its rollups.

A history row loses what it did not need — the surrogate id (the primary key is now vehicle, field, recorded_at),
the field's name (a small number instead) and the fetch time (retention goes by recorded_at) — and on PostgreSQL the
table is partitioned by month of recorded_at, with a default partition for rows outside every month created. The
hourly and daily rollups are partitioned the same way; the fleet-daily one is small and stays one table.

The existing rows are copied into the new table in one statement, then the old table is dropped: on a large
installation this migration takes as long as copying the history once (see docs/benchmarks.md for the insert rate).
"""

from datetime import UTC, date, datetime, timedelta

import django.db.models.deletion
from django.db import migrations, models

import vehicles.models

# The field numbers as this migration wrote them (vehicles/readings.py HISTORY_FIELDS may grow, never change).
FIELD_NUMBERS = {
    "battery_percent": 1,
    "range_km": 2,
    "charging_state": 3,
    "is_plugged_in": 4,
    "charge_limit_percent": 5,
    "charge_power_kw": 6,
    "fuel_percent": 7,
    "fuel_range_km": 8,
    "is_locked": 9,
    "latitude": 10,
    "longitude": 11,
    "odometer_km": 12,
    "speed_kph": 13,
    "oil_life_percent": 14,
    "tire_pressure_front_left_kpa": 15,
    "tire_pressure_front_right_kpa": 16,
    "tire_pressure_back_left_kpa": 17,
    "tire_pressure_back_right_kpa": 18,
    "exterior_temperature_c": 19,
    "interior_temperature_c": 20,
    "active_dtc_count": 21,
    "system_alert_count": 22,
}

# Column order chosen for alignment (8-byte columns first): 56 bytes per row with its header. The primary key carries
# `number`, so a chart reads the index alone; a BRIN index on the time column (a few pages per month) lets the
# rollups read one hour of every vehicle without scanning the month.
POSTGRESQL_TABLES = """
CREATE TABLE vehicles_statushistory (
    vehicle_id bigint NOT NULL
        CONSTRAINT vehicles_statushistory_vehicle_fk REFERENCES vehicles_vehicle (id) DEFERRABLE INITIALLY DEFERRED,
    recorded_at timestamptz NOT NULL,
    number double precision NULL,
    field smallint NOT NULL CHECK (field >= 0),
    text varchar(40) NOT NULL,
    CONSTRAINT vehicles_statushistory_pkey PRIMARY KEY (vehicle_id, field, recorded_at) INCLUDE (number)
) PARTITION BY RANGE (recorded_at);
CREATE INDEX vehicles_statushistory_recorded_brin ON vehicles_statushistory USING brin (recorded_at);
CREATE TABLE vehicles_statushistory_default PARTITION OF vehicles_statushistory DEFAULT;

CREATE TABLE vehicles_historyhourly (
    vehicle_id bigint NOT NULL
        CONSTRAINT vehicles_historyhourly_vehicle_fk REFERENCES vehicles_vehicle (id) DEFERRABLE INITIALLY DEFERRED,
    hour timestamptz NOT NULL,
    min double precision NOT NULL,
    max double precision NOT NULL,
    mean double precision NOT NULL,
    samples integer NOT NULL CHECK (samples >= 0),
    field smallint NOT NULL CHECK (field >= 0),
    CONSTRAINT vehicles_historyhourly_pkey PRIMARY KEY (vehicle_id, field, hour)
) PARTITION BY RANGE (hour);
CREATE INDEX vehicles_historyhourly_hour_brin ON vehicles_historyhourly USING brin (hour);
CREATE TABLE vehicles_historyhourly_default PARTITION OF vehicles_historyhourly DEFAULT;

CREATE TABLE vehicles_historydaily (
    vehicle_id bigint NOT NULL
        CONSTRAINT vehicles_historydaily_vehicle_fk REFERENCES vehicles_vehicle (id) DEFERRABLE INITIALLY DEFERRED,
    day date NOT NULL,
    min double precision NOT NULL,
    max double precision NOT NULL,
    mean double precision NOT NULL,
    samples integer NOT NULL CHECK (samples >= 0),
    field smallint NOT NULL CHECK (field >= 0),
    CONSTRAINT vehicles_historydaily_pkey PRIMARY KEY (vehicle_id, field, day)
) PARTITION BY RANGE (day);
CREATE INDEX vehicles_historydaily_day_brin ON vehicles_historydaily USING brin (day);
CREATE TABLE vehicles_historydaily_default PARTITION OF vehicles_historydaily DEFAULT;
"""
PARTITION_KEYS = {"vehicles_statushistory": "recorded_at", "vehicles_historyhourly": "hour", "vehicles_historydaily": "day"}


def old_history_set_aside(apps, schema_editor):
    schema_editor.execute("ALTER TABLE vehicles_statushistory RENAME TO vehicles_statushistory_old")
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER INDEX vehicles_statushistory_pkey RENAME TO vehicles_statushistory_old_pkey")


def new_tables_create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        for name in ("StatusHistory", "HistoryHourly", "HistoryDaily"):
            schema_editor.create_model(apps.get_model("vehicles", name))
        return
    schema_editor.execute(POSTGRESQL_TABLES)


def _months(first: date, last: date):
    month = date(first.year, first.month, 1)
    while month <= last:
        yield month
        month = date(month.year + month.month // 12, month.month % 12 + 1, 1)


def _month_partitions_create(schema_editor, oldest: datetime | None) -> None:
    """Months of the copied rows (at most two years back; older rows wait in the default partition for retention),
    or this month on a new installation, through two months ahead."""
    today = datetime.now(UTC).date()
    first = today if oldest is None else max(oldest.date(), today - timedelta(days=730))
    last = (today.replace(day=1) + timedelta(days=62)).replace(day=1)
    for table, key in PARTITION_KEYS.items():
        for month in _months(first, last):
            upper = date(month.year + month.month // 12, month.month % 12 + 1, 1)
            if key == "day":
                lower_bound, upper_bound = month.isoformat(), upper.isoformat()
            else:
                lower_bound = datetime(month.year, month.month, 1, tzinfo=UTC).isoformat()
                upper_bound = datetime(upper.year, upper.month, 1, tzinfo=UTC).isoformat()
            schema_editor.execute(
                f"CREATE TABLE IF NOT EXISTS {table}_p{month:%Y%m} PARTITION OF {table} "
                f"FOR VALUES FROM ('{lower_bound}') TO ('{upper_bound}')"
            )


def old_history_copy(apps, schema_editor):
    connection = schema_editor.connection
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT min(recorded_at) FROM vehicles_statushistory_old")
            oldest = cursor.fetchone()[0]
        _month_partitions_create(schema_editor, oldest)
    numbers = " ".join(f"WHEN '{name}' THEN {number}" for name, number in FIELD_NUMBERS.items())
    names = ", ".join(f"'{name}'" for name in FIELD_NUMBERS)
    # A field recorded twice at the same instant (the old key allowed it only for distinct names) cannot happen, so
    # no row is lost to the new key.
    schema_editor.execute(
        "INSERT INTO vehicles_statushistory (vehicle_id, field, recorded_at, number, text) "
        f"SELECT vehicle_id, CASE field {numbers} END, recorded_at, number, text "
        f"FROM vehicles_statushistory_old WHERE field IN ({names})"
    )
    schema_editor.execute("DROP TABLE vehicles_statushistory_old")


class Migration(migrations.Migration):
    dependencies = [
        ("fleet", "0003_webhooks_subscribe_new_vehicles"),
        ("vehicles", "0004_command_state_machine"),
    ]

    operations = [
        migrations.RunPython(old_history_set_aside),
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name="StatusHistory"),
                migrations.CreateModel(
                    name="StatusHistory",
                    fields=[
                        (
                            "pk",
                            models.CompositePrimaryKey(
                                "vehicle", "field", "recorded_at", blank=True, editable=False, primary_key=True,
                                serialize=False,
                            ),
                        ),
                        (
                            "vehicle",
                            models.ForeignKey(
                                db_index=False,
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="history",
                                to="vehicles.vehicle",
                            ),
                        ),
                        ("field", vehicles.models.HistoryFieldName(help_text="A VehicleStatus field name, e.g. battery_percent")),
                        ("recorded_at", models.DateTimeField(help_text="Vehicle data age, or fetch time when the API gives none")),
                        ("number", models.FloatField(blank=True, null=True)),
                        ("text", models.CharField(blank=True, help_text="Words and booleans (true/false)", max_length=40)),
                    ],
                    options={"verbose_name_plural": "status history"},
                ),
                migrations.CreateModel(
                    name="HistoryHourly",
                    fields=[
                        (
                            "pk",
                            models.CompositePrimaryKey(
                                "vehicle", "field", "hour", blank=True, editable=False, primary_key=True, serialize=False
                            ),
                        ),
                        (
                            "vehicle",
                            models.ForeignKey(
                                db_index=False,
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="+",
                                to="vehicles.vehicle",
                            ),
                        ),
                        ("field", vehicles.models.HistoryFieldName(help_text="A VehicleStatus field name, e.g. battery_percent")),
                        ("hour", models.DateTimeField(help_text="Start of the hour")),
                        ("samples", models.PositiveIntegerField()),
                        ("min", models.FloatField()),
                        ("max", models.FloatField()),
                        ("mean", models.FloatField()),
                    ],
                    options={"verbose_name_plural": "hourly history"},
                ),
                migrations.CreateModel(
                    name="HistoryDaily",
                    fields=[
                        (
                            "pk",
                            models.CompositePrimaryKey(
                                "vehicle", "field", "day", blank=True, editable=False, primary_key=True, serialize=False
                            ),
                        ),
                        (
                            "vehicle",
                            models.ForeignKey(
                                db_index=False,
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="+",
                                to="vehicles.vehicle",
                            ),
                        ),
                        ("field", vehicles.models.HistoryFieldName(help_text="A VehicleStatus field name, e.g. battery_percent")),
                        ("day", models.DateField(help_text="In the fleet's time zone")),
                        ("samples", models.PositiveIntegerField()),
                        ("min", models.FloatField()),
                        ("max", models.FloatField()),
                        ("mean", models.FloatField()),
                    ],
                    options={"verbose_name_plural": "daily history"},
                ),
            ],
        ),
        migrations.RunPython(new_tables_create),
        migrations.RunPython(old_history_copy),
        migrations.CreateModel(
            name="FleetHistoryDaily",
            fields=[
                (
                    "pk",
                    models.CompositePrimaryKey(
                        "fleet", "field", "day", blank=True, editable=False, primary_key=True, serialize=False
                    ),
                ),
                (
                    "fleet",
                    models.ForeignKey(
                        db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name="+", to="fleet.fleet"
                    ),
                ),
                ("field", vehicles.models.HistoryFieldName(help_text="A VehicleStatus field name, e.g. battery_percent")),
                ("day", models.DateField(help_text="In the fleet's time zone")),
                ("vehicles", models.PositiveIntegerField(help_text="Vehicles with a reading that day")),
                ("min", models.FloatField()),
                ("max", models.FloatField()),
                ("mean", models.FloatField(help_text="Mean of the vehicles' daily means")),
                ("spread", models.FloatField(help_text="Sum over vehicles of the day's max − min")),
            ],
            options={"verbose_name_plural": "fleet daily history"},
        ),
        migrations.CreateModel(
            name="HistoryRollupProgress",
            fields=[
                ("name", models.CharField(max_length=20, primary_key=True, serialize=False)),
                ("done_until", models.DateTimeField()),
            ],
        ),
    ]
