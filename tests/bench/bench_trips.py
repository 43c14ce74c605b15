"""Benchmarks of trips, charging sessions and the fleet map. Not part of the test suite: run by hand.

    .venv/bin/python tests/bench/bench_trips.py derive [--vehicles 1000] [--days 30]
    .venv/bin/python tests/bench/bench_trips.py map [--vehicles 5000] [--requests 40]

Each uses its own PostgreSQL database (``fleet_bench_trips_derive``, ``fleet_bench_trips_map``, recreated on every
run) on 127.0.0.1:5432, so that the two can run at the same time.

derive: a history like the sync engine writes it — every vehicle commutes twice a weekday (a reading of odometer,
    position and battery every 5 minutes while driving) and charges in the evening (charging state and battery
    every 10 minutes) — loaded with COPY, then timed: trips derived from all of it, charging sessions settled from
    all of it (as after an upgrade or a backfill), then after each of two sync rounds that brought every vehicle new
    readings what the round's signal runs (trips/receivers.py): trips from the new rows, the recent sessions settled
    again; and that for one stored group of vehicles. Prints the load average before and after.
    Target (issue 18): trips and sessions for 1,000 vehicles × 30 days ≤ 10 s.
map: that many vehicles with positions; the map page and its htmx refresh through the whole Django stack in-process;
    prints the median and p95 server time and the queries per request. Target: ≤ 150 ms median at 5,000 vehicles,
    queries not growing with the fleet.
"""

import argparse
import os
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DB_NAME = "fleet_bench_trips_{}"


def _recreate_database(command: str) -> None:
    import psycopg

    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{DB_NAME.format(command)}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{DB_NAME.format(command)}"')


def _django(command: str) -> None:
    os.environ["DATABASE_URL"] = f"postgres://postgres@127.0.0.1:5432/{DB_NAME.format(command)}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fleet.settings_test")
    sys.path.insert(0, str(ROOT))
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


def _fleet_with_vehicles(count: int):
    from fleet.models import User
    from fleet.services import fleet_create
    from vehicles.models import Vehicle, VehicleStatus

    owner = User.objects.create_user(email="bench@example.com", password="bench-password-1")
    fleet = fleet_create(name="Bench", owner=owner, time_zone="Europe/Berlin")
    Vehicle.objects.bulk_create(
        Vehicle(fleet=fleet, smartcar_id=f"bench-{n}", make="TESLA", model="Model 3", year=2023) for n in range(count)
    )
    vehicles = list(Vehicle.objects.filter(fleet=fleet).order_by("pk"))
    VehicleStatus.objects.bulk_create(VehicleStatus(vehicle=v) for v in vehicles)
    return owner, fleet, vehicles


def _history(vehicles, days: int, end: datetime) -> int:
    """COPY the rows of ``days`` days of commuting and evening charging for every vehicle; returns the row count."""
    from django.db import connection

    from vehicles import partitions
    from vehicles.readings import HISTORY_FIELDS

    start = end - timedelta(days=days)
    partitions.partitions_ensure(first=start.date(), last=end.date() + timedelta(days=31))
    odometer, latitude, longitude = (
        HISTORY_FIELDS["odometer_km"],
        HISTORY_FIELDS["latitude"],
        HISTORY_FIELDS["longitude"],
    )
    battery, state = HISTORY_FIELDS["battery_percent"], HISTORY_FIELDS["charging_state"]
    rows = 0
    with (
        connection.cursor() as cursor,
        cursor.connection.cursor().copy(
            "COPY vehicles_statushistory (vehicle_id, field, recorded_at, number, text) FROM STDIN"
        ) as copy,
    ):
        for index, vehicle in enumerate(vehicles):
            odo, level = 10_000.0 + index, 80.0
            home = (52.4 + (index % 100) / 500, 13.2 + (index // 100) / 500)
            work = (home[0] + 0.08, home[1] + 0.05)
            copy.write_row((vehicle.pk, latitude, start, home[0], ""))
            copy.write_row((vehicle.pk, longitude, start, home[1], ""))
            copy.write_row((vehicle.pk, odometer, start, odo, ""))
            copy.write_row((vehicle.pk, battery, start, level, ""))
            rows += 4
            for day in range(days):
                midnight = start + timedelta(days=day)
                if midnight.weekday() >= 5:
                    continue
                for leg, (leave, origin, target) in enumerate(((7.5, home, work), (17.0, work, home))):
                    for step in range(1, 7):
                        moment = midnight + timedelta(hours=leave, minutes=5 * step + index % 5)
                        share = step / 6
                        odo += 2.2
                        level -= 0.5
                        lat = origin[0] + (target[0] - origin[0]) * share
                        lon = origin[1] + (target[1] - origin[1]) * share
                        for field, value in ((odometer, odo), (latitude, lat), (longitude, lon), (battery, level)):
                            copy.write_row((vehicle.pk, field, moment, value, ""))
                        rows += 4
                    if leg == 1:
                        plugged = midnight + timedelta(hours=18, minutes=index % 5)
                        copy.write_row((vehicle.pk, state, plugged, None, "CHARGING"))
                        for step in range(1, 5):
                            level += 1.5
                            copy.write_row((vehicle.pk, battery, plugged + timedelta(minutes=10 * step), level, ""))
                        copy.write_row((vehicle.pk, state, plugged + timedelta(minutes=45), None, "FULLY_CHARGED"))
                        rows += 6
    return rows


def derive(vehicles_count: int, days: int) -> None:
    _recreate_database("derive")
    _django("derive")
    from charging.models import ChargingSession
    from charging.sessions import vehicles_sessions_settle, vehicles_sessions_settle_recent
    from trips.derive import vehicles_trips_derive
    from trips.models import Trip
    from vehicles.models import StatusHistory
    from vehicles.sync.round import STORE_GROUP

    _, _, vehicles = _fleet_with_vehicles(vehicles_count)
    end = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    started = time.perf_counter()
    rows = _history(vehicles, days, end)
    print(f"history: {rows:,} rows for {vehicles_count:,} vehicles × {days} days, loaded in "
          f"{time.perf_counter() - started:.1f} s")  # fmt: skip
    ids = [v.pk for v in vehicles]
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")  # as autovacuum would after a load this size
    print(f"load average before: {_load()}")
    print("times: wall clock, and in brackets the CPU of this script + of its database connection's server process")

    trips = _timed(lambda: vehicles_trips_derive(vehicle_ids=ids))
    print(f"trips: {Trip.objects.count():,} derived in {trips}")
    sessions = _timed(lambda: vehicles_sessions_settle(vehicles=vehicles))
    print(f"sessions: {ChargingSession.objects.count():,} settled in {sessions}")
    print(f"trips and sessions from scratch: {trips + sessions} (target ≤ 10 s)")

    # Sync rounds after the history: every vehicle read once more, some rows new (it drove off, its battery fell).
    for round_number, moment in enumerate((end + timedelta(hours=7, minutes=35), end + timedelta(hours=7, minutes=40))):
        StatusHistory.objects.bulk_create(
            StatusHistory(vehicle_id=pk, field=field, recorded_at=moment, number=value)
            for index, pk in enumerate(ids)
            for field, value in (
                ("odometer_km", 20_000.0 + index + round_number),
                ("battery_percent", 60.0 - round_number),
            )
        )
        trips = _timed(lambda: vehicles_trips_derive(vehicle_ids=ids))
        sessions = _timed(lambda: vehicles_sessions_settle_recent(vehicles=vehicles))
        print(f"round {round_number + 1}, {vehicles_count:,} vehicles with new readings: trips {trips}, "
              f"sessions {sessions}, together {trips + sessions}")  # fmt: skip
    group = vehicles[:STORE_GROUP]
    together = _timed(lambda: vehicles_trips_derive(vehicle_ids=[v.pk for v in group]))
    together += _timed(lambda: vehicles_sessions_settle_recent(vehicles=group))
    print(f"one stored group of {len(group)} vehicles, as the round's signal runs it: {together}")
    print(f"load average after: {_load()}")


class _Took:
    def __init__(self, wall: float, script: float, server: float):
        self.wall, self.script, self.server = wall, script, server

    def __add__(self, other: "_Took") -> "_Took":
        return _Took(self.wall + other.wall, self.script + other.script, self.server + other.server)

    def __str__(self) -> str:
        return f"{self.wall:.2f} s ({self.script:.2f} s + {self.server:.2f} s)"


def _timed(work) -> _Took:
    """Wall clock and CPU: on a machine shared with others the wall clock mostly measures the wait for a core, the
    CPU the work itself (the server's from /proc, the database being on this machine)."""
    wall, script, server = time.perf_counter(), time.process_time(), _server_cpu()
    work()
    return _Took(time.perf_counter() - wall, time.process_time() - script, _server_cpu() - server)


def _server_cpu() -> float:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime, in clock ticks


def _load() -> str:
    return " ".join(f"{value:.1f}" for value in os.getloadavg())


def map_page(vehicles_count: int, requests: int) -> None:
    _recreate_database("map")
    _django("map")
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.urls import reverse

    from trips.models import Place
    from vehicles.models import VehicleStatus

    owner, fleet, _ = _fleet_with_vehicles(vehicles_count)
    activities = ["driving", "charging", "parked", "asleep", "unknown"]
    statuses = list(VehicleStatus.objects.filter(vehicle__fleet=fleet))
    for index, status in enumerate(statuses):
        status.latitude, status.longitude = 48 + (index % 300) / 50, 8 + (index // 300) / 20
        status.activity = activities[index % len(activities)]
        status.data_age = datetime.now(UTC) - timedelta(minutes=index % 90)
    VehicleStatus.objects.bulk_update(statuses, ["latitude", "longitude", "activity", "data_age"], batch_size=1000)
    Place.objects.bulk_create(
        Place(fleet=fleet, name=f"Depot {n}", kind="depot", latitude=48 + n / 10, longitude=8, radius_m=300)
        for n in range(20)
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")  # as autovacuum would after a load this size
    client = Client()
    client.force_login(owner)
    url = reverse("trips_map", args=[fleet.slug])
    for label, headers in (("page", {}), ("htmx refresh", {"HX-Request": "true"})):
        client.get(url, headers=headers)  # warm up
        times = []
        for _ in range(requests):
            with CaptureQueriesContext(connection) as queries:
                started = time.perf_counter()
                response = client.get(url, headers=headers)
                times.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200
        times.sort()
        p95 = times[int(len(times) * 0.95) - 1]
        print(f"map {label}, {vehicles_count:,} vehicles: median {statistics.median(times):.0f} ms, p95 {p95:.0f} ms, "
              f"{len(queries.captured_queries)} queries, {len(response.content) / 1024:.0f} KiB")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    one = commands.add_parser("derive")
    one.add_argument("--vehicles", type=int, default=1000)
    one.add_argument("--days", type=int, default=30)
    two = commands.add_parser("map")
    two.add_argument("--vehicles", type=int, default=5000)
    two.add_argument("--requests", type=int, default=40)
    args = parser.parse_args()
    if args.command == "derive":
        derive(args.vehicles, args.days)
    else:
        map_page(args.vehicles, args.requests)


if __name__ == "__main__":
    main()
