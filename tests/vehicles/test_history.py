"""History at scale: monthly partitions (PostgreSQL), retention, rollups, and what charts and the energy report read.

Partition tests run on PostgreSQL only (SQLite has no partitions); the others hold on both databases.
"""

import importlib
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace

import psycopg
import pytest
import time_machine
from django.core.management import call_command
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from fleet.models import UnitSystem
from vehicles import history, partitions, tasks
from vehicles.models import (
    FleetHistoryDaily,
    HistoryDaily,
    HistoryHourly,
    StatusHistory,
    Vehicle,
    VehicleStatus,
)
from vehicles.readings import HISTORY_FIELDS

postgresql_only = pytest.mark.skipif(connection.vendor != "postgresql", reason="partitions exist on PostgreSQL only")
TABLES = list(partitions.PARTITIONED_TABLES)


def month(moment) -> date:
    return date(moment.year, moment.month, 1)


def months_from(first: date, count: int) -> list[date]:
    months = [first]
    while len(months) < count:
        months.append(partitions.next_month(months[-1]))
    return months


def make_vehicle(fleet, number: int = 1) -> Vehicle:
    vehicle = Vehicle.objects.create(fleet=fleet, smartcar_id=f"veh-{number}", make="TESLA", model="Model 3")
    VehicleStatus.objects.create(vehicle=vehicle, last_success_at=timezone.now())
    return vehicle


def record(vehicle, field: str, at: datetime, number: float | None = None, text: str = "") -> None:
    StatusHistory.objects.create(vehicle=vehicle, field=field, number=number, text=text, recorded_at=at)


def partition_of(vehicle, field: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tableoid::regclass::text FROM vehicles_statushistory WHERE vehicle_id = %s AND field = %s",
            [vehicle.pk, HISTORY_FIELDS[field]],
        )
        return cursor.fetchone()[0]


# --- Partitions (PostgreSQL) ----------------------------------------------------------------------------------------


@postgresql_only
def test_migrate_leaves_this_month_and_the_next_two_partitioned(db):
    wanted = months_from(month(timezone.now()), 3)
    for table in TABLES:
        assert set(wanted) <= set(partitions.existing_months(table)), table


@postgresql_only
def test_every_migrate_creates_the_months_ahead_of_the_day_it_runs(db):
    later = timezone.now() + timedelta(days=200)
    with time_machine.travel(later, tick=False):
        call_command("migrate", verbosity=0)
    for table in TABLES:
        assert set(months_from(month(later), 3)) <= set(partitions.existing_months(table)), table


@postgresql_only
def test_the_periodic_task_creates_the_months_ahead(db):
    later = timezone.now() + timedelta(days=400)
    assert month(later) not in partitions.existing_months(TABLES[0])
    with time_machine.travel(later, tick=False):
        tasks.history_partitions_ensure.delay()
    for table in TABLES:
        assert set(months_from(month(later), 3)) <= set(partitions.existing_months(table)), table


@postgresql_only
def test_a_row_outside_every_month_waits_in_the_default_partition_until_its_month_is_created(fleet):
    vehicle = make_vehicle(fleet)
    far = datetime(2031, 7, 14, 9, 30, tzinfo=UTC)
    record(vehicle, "battery_percent", far, 71.0)
    assert partition_of(vehicle, "battery_percent") == "vehicles_statushistory_default"

    created = history.history_partitions_ensure(now=far)

    assert "vehicles_statushistory_p203107" in created
    assert partition_of(vehicle, "battery_percent") == "vehicles_statushistory_p203107"
    assert StatusHistory.objects.get(vehicle=vehicle).number == 71.0


@postgresql_only
def test_retention_drops_the_months_wholly_older_than_it_and_keeps_the_rest(fleet, settings):
    settings.SYNC_HISTORY_RETENTION_DAYS = 365
    now = datetime(2031, 6, 15, 12, tzinfo=UTC)  # cutoff: 2030-06-15 12:00
    partitions.partitions_ensure(first=date(2030, 3, 1), last=date(2031, 8, 1))
    vehicle = make_vehicle(fleet)
    record(vehicle, "battery_percent", datetime(2030, 4, 20, tzinfo=UTC), 50.0)  # April 2030: dropped
    record(vehicle, "range_km", datetime(2030, 5, 31, 23, 59, tzinfo=UTC), 300.0)  # May 2030: dropped
    record(vehicle, "odometer_km", datetime(2030, 6, 2, tzinfo=UTC), 1000.0)  # June 2030 straddles: kept
    record(vehicle, "fuel_percent", datetime(2029, 1, 1, tzinfo=UTC), 10.0)  # default partition, old: deleted
    record(vehicle, "speed_kph", datetime(2040, 1, 1, tzinfo=UTC), 10.0)  # default partition, future: kept

    # Hourly rollups are kept as long as a chart reads them: 92 days, cutoff 2031-03-15.
    kept_from = {table: date(2030, 6, 1) for table in TABLES} | {"vehicles_historyhourly": date(2031, 3, 1)}
    older = {table: [m for m in partitions.existing_months(table) if m < kept_from[table]] for table in TABLES}

    dropped = history.history_prune(now=now)

    assert dropped == sum(len(months) for months in older.values())
    for table in TABLES:
        months = partitions.existing_months(table)
        assert months == months_from(kept_from[table], len(months)) and months[-1] == date(2031, 8, 1), table
    assert set(StatusHistory.objects.values_list("field", flat=True)) == {"odometer_km", "speed_kph"}


@postgresql_only
def test_retention_leaves_a_month_for_the_next_run_while_a_long_read_holds_its_table(fleet, settings, caplog):
    # Every month migrate created is past the cutoff of a day three years on.
    settings.SYNC_HISTORY_RETENTION_DAYS = 365
    now = timezone.now() + timedelta(days=3 * 365)
    months = {table: partitions.existing_months(table) for table in TABLES}
    reader = psycopg.connect(
        dbname=connection.settings_dict["NAME"],
        host=connection.settings_dict["HOST"],
        port=connection.settings_dict["PORT"] or 5432,
        user=connection.settings_dict["USER"],
    )
    try:
        # A long read of the raw history, e.g. trips derived from a month of it, still running.
        reader.execute("BEGIN; LOCK TABLE vehicles_statushistory IN ACCESS SHARE MODE")

        dropped = history.history_prune(now=now)
    finally:
        reader.close()

    assert partitions.existing_months("vehicles_statushistory") == months["vehicles_statushistory"]
    assert partitions.existing_months("vehicles_historyhourly") == []
    assert partitions.existing_months("vehicles_historydaily") == []
    assert dropped == len(months["vehicles_historyhourly"]) + len(months["vehicles_historydaily"])
    assert "left for the next run" in caplog.text


# --- Writing (both databases) --------------------------------------------------------------------------------------


def test_a_reading_stored_again_adds_no_second_row_and_the_chart_shows_it_once(fleet):
    vehicle = make_vehicle(fleet)
    at = timezone.now() - timedelta(hours=2)
    history.history_append(
        [
            history.Change(vehicle.pk, "battery_percent", at, 55.0, ""),
            history.Change(vehicle.pk, "charging_state", at, None, "CHARGING"),
        ]
    )

    history.history_append([history.Change(vehicle.pk, "battery_percent", at, 55.0, "")])  # delivered again

    rows = StatusHistory.objects.filter(vehicle=vehicle).order_by("field").values_list("field", "number", "text")
    assert sorted(rows) == [("battery_percent", 55.0, ""), ("charging_state", None, "CHARGING")]
    series = history.history_series(vehicle=vehicle, fields=["battery_percent"], since=at - timedelta(hours=1))
    assert series["battery_percent"] == [(at, 55.0)]


def test_deleting_a_vehicle_deletes_its_history_and_no_other(fleet):
    gone, kept = make_vehicle(fleet, 1), make_vehicle(fleet, 2)
    at = timezone.now() - timedelta(hours=2)
    history.history_append([history.Change(v.pk, "battery_percent", at, 50.0, "") for v in (gone, kept)])

    gone.delete()

    assert list(StatusHistory.objects.values_list("vehicle_id", flat=True)) == [kept.pk]


# --- Retention and rollups (both databases) -------------------------------------------------------------------------


def test_retention_deletes_history_and_rollups_older_than_it(fleet, settings):
    vehicle = make_vehicle(fleet)
    now = timezone.now()
    old, recent = now - timedelta(days=100), now - timedelta(days=2)
    history.history_partitions_ensure(now=old)
    for moment in (old, recent):
        record(vehicle, "battery_percent", moment, 50.0)
    history.history_rollup(now=now)
    # Hourly rollups start where charts stop reading them (92 days); the daily ones cover the retention.
    assert HistoryHourly.objects.count() == 1 and HistoryDaily.objects.count() == 2
    older = now - timedelta(days=130)  # in a month that ended more than 92 days ago
    HistoryHourly.objects.create(vehicle=vehicle, field="battery_percent", hour=older, samples=1, min=1, max=1, mean=1)
    settings.SYNC_HISTORY_RETENTION_DAYS = 30

    history.history_prune(now=now)

    assert list(StatusHistory.objects.values_list("recorded_at", flat=True)) == [recent]
    assert [h.hour for h in HistoryHourly.objects.all()] == [recent.replace(minute=0, second=0, microsecond=0)]
    assert HistoryDaily.objects.count() == 1
    assert FleetHistoryDaily.objects.count() == 1


@pytest.fixture
def day():
    """A day well inside this month's partition: the day before yesterday (UTC)."""
    today = timezone.now().astimezone(UTC).date()
    return today - timedelta(days=2)


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)


def test_the_rollups_hold_min_max_and_mean_per_hour_per_local_day_and_per_fleet(fleet, day):
    # The fleet's days are Berlin days: 23:30 UTC is already the next day there.
    van, car = make_vehicle(fleet, 1), make_vehicle(fleet, 2)
    record(van, "battery_percent", at(day, 10, 5), 50.0)
    record(van, "battery_percent", at(day, 10, 35), 60.0)
    record(van, "battery_percent", at(day, 11, 10), 40.0)
    record(van, "charging_state", at(day, 10, 5), text="CHARGING")  # words are not rolled up,
    record(van, "latitude", at(day, 10, 5), 52.5)  # nor what no chart or report reads
    record(van, "odometer_km", at(day, 10, 5), 1000.0)
    record(van, "odometer_km", at(day, 11, 10), 1030.0)
    record(van, "odometer_km", at(day, 23, 30), 1050.0)
    record(car, "battery_percent", at(day, 12), 80.0)
    record(car, "odometer_km", at(day, 8), 500.0)
    record(car, "odometer_km", at(day, 9), 520.0)

    history.history_rollup(now=at(day + timedelta(days=2), 2))

    hourly = {(h.vehicle_id, h.field, h.hour): (h.samples, h.min, h.max, h.mean) for h in HistoryHourly.objects.all()}
    assert hourly[(van.pk, "battery_percent", at(day, 10))] == (2, 50.0, 60.0, 55.0)
    assert hourly[(van.pk, "battery_percent", at(day, 11))] == (1, 40.0, 40.0, 40.0)
    assert {field for _, field, _ in hourly} == {"battery_percent", "odometer_km"}
    daily = {(d.vehicle_id, d.field, d.day): (d.samples, d.min, d.max, d.mean) for d in HistoryDaily.objects.all()}
    assert daily[(van.pk, "battery_percent", day)] == (3, 40.0, 60.0, 50.0)
    assert daily[(van.pk, "odometer_km", day)] == (2, 1000.0, 1030.0, 1015.0)
    assert daily[(van.pk, "odometer_km", day + timedelta(days=1))] == (1, 1050.0, 1050.0, 1050.0)
    fleet_days = {(f.field, f.day): f for f in FleetHistoryDaily.objects.filter(fleet=fleet)}
    battery = fleet_days[("battery_percent", day)]
    assert (battery.vehicles, battery.min, battery.max, battery.mean) == (2, 40.0, 80.0, 65.0)
    assert fleet_days[("odometer_km", day)].spread == 30.0 + 20.0


def test_a_late_row_of_an_hour_already_rolled_up_is_counted_by_the_next_run(fleet, day):
    vehicle = make_vehicle(fleet)
    record(vehicle, "battery_percent", at(day, 10, 5), 50.0)
    history.history_rollup(now=at(day, 11, 7))
    assert HistoryHourly.objects.get().samples == 1

    record(vehicle, "battery_percent", at(day, 10, 55), 70.0)  # a data age an hour old when it arrived
    history.history_rollup(now=at(day, 11, 37))

    hour = HistoryHourly.objects.get()
    assert (hour.samples, hour.max, hour.mean) == (2, 70.0, 60.0)


def test_a_run_after_days_without_one_catches_up(fleet, day):
    vehicle = make_vehicle(fleet)
    history.history_rollup(now=at(day - timedelta(days=3), 0, 7))
    for days_ago in (3, 2, 1):
        record(vehicle, "battery_percent", at(day - timedelta(days=days_ago), 12), 50.0 + days_ago)

    history.history_rollup(now=at(day, 6, 7))

    assert HistoryHourly.objects.count() == 3
    assert HistoryDaily.objects.count() == 3


def test_a_reading_stored_as_its_vehicle_was_deleted_leaves_the_rollups_working(fleet, day):
    # The sync's round stored it while the vehicle was being deleted: the row outlives the vehicle.
    gone, kept = make_vehicle(fleet, 1), make_vehicle(fleet, 2)
    gone_id = gone.pk
    gone.delete()
    history.history_append([history.Change(v, "battery_percent", at(day, 10), 50.0, "") for v in (gone_id, kept.pk)])

    history.history_rollup(now=at(day + timedelta(days=2), 2))
    connection.check_constraints()  # what each rollup chunk's commit checks

    assert list(HistoryHourly.objects.values_list("vehicle_id", flat=True)) == [kept.pk]
    assert list(HistoryDaily.objects.values_list("vehicle_id", flat=True)) == [kept.pk]


def test_rows_outside_every_month_are_rolled_up_too(fleet):
    vehicle = make_vehicle(fleet)
    now = timezone.now()
    record(vehicle, "battery_percent", now - timedelta(days=50), 42.0)  # before the months migrate created

    history.history_rollup(now=now)

    assert HistoryHourly.objects.get().mean == 42.0 and HistoryDaily.objects.get().mean == 42.0


# --- What the pages read ----------------------------------------------------------------------------------------------


def chart(owner_client, vehicle, query: str = ""):
    url = reverse("vehicle_detail", args=[vehicle.fleet.slug, vehicle.pk]) + query
    return owner_client.get(url).context["charts"]


@pytest.fixture
def now():
    """Yesterday at 12:40 UTC, frozen: the newest rows fall after the last complete hour, days do not wrap."""
    moment = datetime.combine(timezone.now().date() - timedelta(days=1), datetime.min.time(), UTC)
    moment += timedelta(hours=12, minutes=40)
    with time_machine.travel(moment, tick=False):
        yield moment


def test_the_30_day_chart_reads_hourly_rollups_and_the_newest_rows_themselves(owner_client, fleet, now):
    vehicle = make_vehicle(fleet)
    rolled_hour = (now - timedelta(days=10)).replace(minute=0, second=0, microsecond=0)
    for minute in range(0, 60, 5):  # a charging hour: twelve readings
        record(vehicle, "battery_percent", rolled_hour + timedelta(minutes=minute), 20.0 + minute)
    history.history_rollup(now=now)
    fresh = [now - timedelta(minutes=20), now - timedelta(minutes=10)]  # after the last rolled-up hour
    for minutes, moment in enumerate(fresh):
        record(vehicle, "battery_percent", moment, 90.0 + minutes)
    VehicleStatus.objects.filter(vehicle=vehicle).update(last_success_at=fresh[-1])

    times, values = chart(owner_client, vehicle)["energy"]["data"]

    assert values == [47.5, 90.0, 91.0]
    assert times == [int(rolled_hour.timestamp()), *(int(moment.timestamp()) for moment in fresh)]


def test_the_12_month_chart_reads_daily_rollups(owner_client, fleet, now):
    vehicle = make_vehicle(fleet)
    history.history_partitions_ensure(now=now - timedelta(days=200))
    for days_ago in (200, 100):
        moment = now - timedelta(days=days_ago)
        record(vehicle, "odometer_km", moment, 1000.0 + days_ago)
        record(vehicle, "odometer_km", moment + timedelta(hours=2), 1100.0 + days_ago)
    history.history_rollup(now=now)

    charts = chart(owner_client, vehicle, "?history=365")

    times, values = charts["odometer"]["data"]
    assert values[:2] == [1250.0, 1150.0]  # one point per day: the day's mean
    zone = fleet.zone
    first = (now - timedelta(days=200)).astimezone(zone)
    assert times[0] == int(datetime(first.year, first.month, first.day, tzinfo=zone).timestamp())


def test_the_energy_report_shows_the_fleets_days_in_its_units(owner_client, fleet):
    fleet.unit_system = UnitSystem.IMPERIAL
    fleet.save()
    vehicle = make_vehicle(fleet)
    yesterday = timezone.localdate(timezone=fleet.zone) - timedelta(days=1)
    FleetHistoryDaily.objects.create(
        fleet=fleet, field="odometer_km", day=yesterday, vehicles=1, min=900, max=1060.9344, mean=980, spread=160.9344
    )
    FleetHistoryDaily.objects.create(
        fleet=fleet, field="battery_percent", day=yesterday, vehicles=1, min=35, max=90, mean=61.4, spread=55
    )
    assert vehicle.fleet == fleet

    response = owner_client.get(reverse("fleet_energy", args=[fleet.slug]))

    [row] = response.context["rows"]
    assert row["day"] == yesterday and round(row["distance"], 3) == 100.0
    body = response.content.decode()
    assert "Distance (mi)" in body and "61 %" in body and "35 %" in body


def test_another_fleets_energy_report_is_a_404(owner_client, other_fleet):
    assert owner_client.get(reverse("fleet_energy", args=[other_fleet.slug])).status_code == 404


def test_a_year_of_the_report_is_one_query_of_the_fleet_rollup(owner_client, fleet, django_assert_max_num_queries):
    yesterday = timezone.localdate(timezone=fleet.zone) - timedelta(days=1)
    FleetHistoryDaily.objects.bulk_create(
        FleetHistoryDaily(
            fleet=fleet, field=field, day=yesterday - timedelta(days=n), vehicles=3, min=1, max=2, mean=1.5, spread=1
        )
        for n in range(365)
        for field in history.ENERGY_FIELDS
    )
    with django_assert_max_num_queries(8):
        response = owner_client.get(reverse("fleet_energy", args=[fleet.slug]) + "?days=365")
    assert len(response.context["rows"]) == 365


# --- The migration's copy of the old rows ---------------------------------------------------------------------------


def test_the_migration_copies_the_old_rows_with_their_field_numbers(fleet):
    migration = importlib.import_module("vehicles.migrations.0005_history_partitions_rollups")
    vehicle = make_vehicle(fleet)
    moment = timezone.now() - timedelta(days=1)
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE vehicles_statushistory_old (id bigint, vehicle_id bigint, field varchar(40), "
            "number double precision NULL, text varchar(40), recorded_at timestamp with time zone, "
            "fetched_at timestamp with time zone)"
        )
        for number, field, value, text in [(1, "battery_percent", 64.0, ""), (2, "charging_state", None, "CHARGING")]:
            cursor.execute(
                "INSERT INTO vehicles_statushistory_old VALUES (%s, %s, %s, %s, %s, %s, %s)",
                [number, vehicle.pk, field, value, text, moment, moment],
            )

    def execute(sql):
        with connection.cursor() as cursor:
            cursor.execute(sql)

    migration.old_history_copy(None, SimpleNamespace(connection=connection, execute=execute))

    rows = StatusHistory.objects.order_by("field").values_list("field", "number", "text", "recorded_at")
    assert list(rows) == [("battery_percent", 64.0, "", moment), ("charging_state", None, "CHARGING", moment)]
    assert "vehicles_statushistory_old" not in connection.introspection.table_names()
