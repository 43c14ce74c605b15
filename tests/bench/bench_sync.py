"""Benchmarks of the sync engine (issue 5). Not part of the test suite: run by hand or with `make bench`.

    .venv/bin/python tests/bench/bench_sync.py throughput [--vehicles 1000] [--latency-ms 1000] [--concurrency 100]
    .venv/bin/python tests/bench/bench_sync.py budget [--vehicles 100] [--days 7] [--api-version 3]

Each uses its own PostgreSQL database on 127.0.0.1:5432, recreated on every run (``fleet_bench`` for throughput,
``fleet_bench_budget`` for budget, ``v3_fleet_bench_budget`` for budget on API v3), so that they can run at once.

throughput: the simulator is served by gunicorn in its own process (gthread, 200 threads); this process is the
    sync worker, pointed at it with SMARTCAR_SIMULATOR_ORIGIN. Prints vehicles/s, the ratio to the lower bound
    (vehicles × latency / concurrency), CPU seconds per vehicle of this process, and the naive baseline (each
    endpoint one blocking call, one vehicle at a time) measured on 20 vehicles.
budget: a simulated week of a mixed fleet with the simulator in-process and the clock stepped with time_machine
    (the simulator runs at clock speed 1, so its vehicles drive, park and charge on the stepped clock). The
    dispatcher and the sync round run every simulated minute, exactly as beat and the workers would. Prints billed
    calls per vehicle against the budget, the median and p95 age of battery/charge/location data sampled while
    vehicles drive or charge, the naive figure, and bytes of history per vehicle-day.
"""

import argparse
import contextlib
import os
import resource
import signal
import socket
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DB_NAME = "fleet_bench"
BUDGET_DB_NAME = "fleet_bench_budget"
PORT = 8765


def _environment(origin: str = "", db_name: str = DB_NAME) -> dict:
    env = {
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{db_name}",
        "SMARTCAR_MODE": "simulated",
        "WEB_ACCESS_LOG": "",  # gunicorn.conf.py: no access log, as measured before it had one
        # DEBUG is off: the simulator's secrets must be given, never the public demo values.
        "SMARTCAR_CLIENT_SECRET": "bench-client-secret",
        "SMARTCAR_MANAGEMENT_TOKEN": "bench-management-token",
        "SMARTCAR_SIMULATOR_ORIGIN": origin,
        "SECRET_KEY": "bench-secret-key-" + "x" * 40,
        "TOKEN_ENCRYPTION_KEYS": "r6Y1Ah1Z7lqiVqRuw0l4GVeWtbG2fR7n9n9n1i3Yq0o=",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECURE_SSL_REDIRECT": "false",
        "LOG_LEVEL": "WARNING",
        # Hundreds of server threads must not each keep a PostgreSQL connection open (max_connections is 100).
        "DATABASE_CONN_MAX_AGE": "0",
        "FLEET_VAR_DIR": str(ROOT / "var" / "bench"),
        "DJANGO_SETTINGS_MODULE": "fleet.settings",
    }
    os.environ.update(env)
    return env


def _recreate_database(db_name: str = DB_NAME) -> None:
    import psycopg

    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {db_name} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {db_name}")


def _setup_django():
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def _connect_fleet(count: int, seed: int = 11):
    """A fleet with ``count`` simulated vehicles of mixed makes, every read permission granted."""
    from django.conf import settings

    from connect import vault
    from connect.models import SmartcarAccount
    from fleet.models import User
    from fleet.services import fleet_create
    from simulator import world
    from simulator.models import Connection, SmartcarUser
    from simulator.oauth import authorization_code_issue, token_exchange_code
    from simulator.platform import ensure_default_application
    from tests.vehicles.conftest import ALL_READ
    from vehicles.models import Vehicle

    owner = User.objects.create_user(email="bench@example.com", password="x" * 20)
    fleet = fleet_create(name="Bench fleet", owner=owner)
    application = ensure_default_application()
    user = SmartcarUser.objects.create(email="bench-driver@example.com")
    sims = world.create_vehicles(user, count, seed=seed)
    Connection.objects.bulk_create(
        Connection(application=application, user=user, vehicle=sim, permissions=ALL_READ) for sim in sims
    )
    redirect = settings.SMARTCAR_REDIRECT_URI
    code = authorization_code_issue(application=application, user=user, redirect_uri=redirect)
    token = token_exchange_code(application=application, code=code.code, redirect_uri=redirect)
    account = SmartcarAccount.objects.create(
        fleet=fleet,
        smartcar_user_id=user.user_id,
        access_token_encrypted=vault.encrypt(token.access_token),
        refresh_token_encrypted=vault.encrypt(token.refresh_token),
        access_expires_at=token.access_expires_at,
        refresh_expires_at=token.refresh_expires_at,
    )
    Vehicle.objects.bulk_create(
        Vehicle(
            fleet=fleet,
            account=account,
            smartcar_id=sim.vehicle_id,
            make=sim.make,
            model=sim.model,
            year=sim.year,
            vin=sim.vin,
            permissions=ALL_READ,
        )
        for sim in sims
    )
    return fleet, token


def _wait_for(port: int, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"nothing answers on port {port}")


def _process_cpu(pid: int) -> float:
    """CPU seconds (user + system) of a process and its children so far, from /proc."""
    total = 0.0
    ticks = os.sysconf("SC_CLK_TCK")
    pids = [pid]
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if children.exists():
        pids += [int(child) for child in children.read_text().split()]
    for each in pids:
        fields = Path(f"/proc/{each}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def _round(vehicle_ids):
    from vehicles import sync

    sync.vehicles_ensure_sync_rows()
    token, claimed = sync.vehicles_lease(vehicle_ids=vehicle_ids)
    return sync.vehicles_sync(vehicle_ids=claimed, lease_token=token)


def throughput(args) -> None:
    origin = f"http://127.0.0.1:{PORT}"
    env = _environment(origin)
    _recreate_database()
    _setup_django()
    from django.conf import settings

    from simulator.models import FaultSettings
    from vehicles.catalogue import endpoints_for
    from vehicles.models import EndpointState, StatusHistory, Vehicle, VehicleStatus

    settings.SYNC_WORKER_CONCURRENCY = args.concurrency
    if args.switch_interval:
        sys.setswitchinterval(args.switch_interval)
    fleet, _ = _connect_fleet(args.vehicles)
    faults = FaultSettings.current()
    faults.latency_ms = args.latency_ms
    faults.save()
    server = subprocess.Popen(
        [
            str(ROOT / ".venv/bin/gunicorn"),
            "fleet.wsgi",
            "-k",
            "gthread",
            "--threads",
            str(args.server_threads),
            "--workers",
            str(args.server_workers),
            "--bind",
            f"127.0.0.1:{PORT}",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        # Each server thread closes its connection while it sleeps out the latency; a pool per worker process hands
        # it back instead of opening a new PostgreSQL backend for every request.
        env={**os.environ, **env, "DATABASE_POOL_SIZE": str(args.server_pool)},
    )
    try:
        _wait_for(PORT)
        ids = list(Vehicle.objects.filter(fleet=fleet).order_by("pk").values_list("pk", flat=True))
        paths = sum(len(endpoints_for(v.make, v.permissions)) for v in Vehicle.objects.filter(pk__in=ids))
        print(f"{len(ids)} vehicles, {paths} endpoint paths in their poll sets, latency {args.latency_ms} ms")
        threads = f"{args.server_workers}×{args.server_threads}"
        print(f"worker concurrency {args.concurrency}; simulator: gunicorn gthread {threads}")
        server_cpu0 = _process_cpu(server.pid)
        cpu0, wall0 = time.process_time(), time.monotonic()
        if args.profile:
            import cProfile
            import pstats

            profiler = cProfile.Profile()
            report = profiler.runcall(_round, ids)
            pstats.Stats(profiler).sort_stats("cumulative").print_stats("vehicles|psycopg.connection|execute", 40)
        elif args.sql_timing:
            from collections import defaultdict

            from django.db import connection

            spent: dict = defaultdict(lambda: [0, 0.0])

            def timed(execute, sql, params, many, context):
                started = time.monotonic()
                try:
                    return execute(sql, params, many, context)
                finally:
                    key = " ".join(sql.split()[:4])[:70]
                    spent[key][0] += 1
                    spent[key][1] += time.monotonic() - started

            with connection.execute_wrapper(timed):
                report = _round(ids)
            for key, (count, seconds) in sorted(spent.items(), key=lambda item: -item[1][1])[:15]:
                print(f"  sql {seconds:7.2f} s {count:6d}× {key}")
        else:
            report = _round(ids)
        wall, cpu = time.monotonic() - wall0, time.process_time() - cpu0
        server_cpu = _process_cpu(server.pid) - server_cpu0
        bound = len(ids) * args.latency_ms / 1000 / args.concurrency
        ok = VehicleStatus.objects.filter(vehicle__fleet=fleet, last_success_at__isnull=False).count()
        fetched = EndpointState.objects.filter(vehicle__fleet=fleet, last_success_at__isnull=False).count()
        print(f"round: {report.synced} vehicles synced ({report.paths} paths, {report.errors} with an error)")
        print(f"  time the sync process spent storing answers: {report.store_seconds:.1f} s")
        print(f"  vehicles with data stored: {ok}; endpoint readings stored: {fetched}")
        rate = len(ids) / wall
        ratio = wall / bound if bound else float("nan")
        print(f"  wall {wall:.2f} s → {rate:.1f} vehicles/s; lower bound {bound:.1f} s; ratio {ratio:.2f}")
        print(f"  CPU of the sync process: {cpu:.1f} s = {cpu / len(ids) * 1000:.1f} ms per vehicle")
        print(f"  CPU of the simulator server: {server_cpu:.1f} s = {server_cpu / len(ids) * 1000:.1f} ms per vehicle")
        print(f"  history rows: {StatusHistory.objects.filter(vehicle__fleet=fleet).count()}")
        if args.naive:
            naive_ids = ids[: args.naive]
            from connect.client import SmartcarClient
            from connect.errors import SmartcarError
            from connect.tokens import account_access_token

            vehicles = list(Vehicle.objects.filter(pk__in=naive_ids).select_related("account"))
            access = account_access_token(account=vehicles[0].account)
            client = SmartcarClient(access)
            calls = 0
            wall0 = time.monotonic()
            for vehicle in vehicles:
                for endpoint in endpoints_for(vehicle.make, vehicle.permissions):
                    path = endpoint.path_for(vehicle.make)
                    # The naive loop counts calls, not outcomes.
                    with contextlib.suppress(SmartcarError):
                        client.request("GET", f"/vehicles/{vehicle.smartcar_id}{'' if path == '/' else path}")
                    calls += 1
            naive_wall = time.monotonic() - wall0
            print(
                f"naive baseline ({len(vehicles)} vehicles, {calls} blocking calls one after another): "
                f"{naive_wall:.1f} s → {len(vehicles) / naive_wall:.3f} vehicles/s"
            )
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)


def budget(args) -> None:
    import time_machine

    # API v3 runs in a database of its own (prefixed with the branch that added it), so both can run at once.
    db_name = BUDGET_DB_NAME if args.api_version == "2.0" else f"v3_{BUDGET_DB_NAME}"
    _environment("", db_name)
    os.environ["SIMULATOR_CLOCK_SPEED"] = "1"
    os.environ["SMARTCAR_API_VERSION"] = args.api_version
    _recreate_database(db_name)
    start = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)
    traveller = time_machine.travel(start, tick=False)
    traveller.start()
    _setup_django()
    from django.conf import settings
    from django.db import connection

    from connect import transports
    from simulator import clock, world
    from simulator.models import Vehicle as SimVehicle
    from vehicles import sync
    from vehicles.models import EndpointState, FleetSync, StatusHistory, Vehicle

    settings.SIMULATOR_CLOCK_SPEED = 1
    settings.SYNC_WORKER_CONCURRENCY = 16
    results = []
    for monthly in args.budgets:
        from django.core.management import call_command

        call_command("flush", "--noinput", verbosity=0)
        traveller.stop()
        traveller = time_machine.travel(start, tick=False)
        traveller.start()
        clock.pin(start)
        fleet, _ = _connect_fleet(args.vehicles, seed=23)
        FleetSync.objects.update_or_create(fleet=fleet, defaults={"monthly_call_budget_per_vehicle": monthly})
        vehicles = list(Vehicle.objects.filter(fleet=fleet))
        by_smartcar = {v.smartcar_id: v for v in vehicles}
        sims = {s.vehicle_id: s for s in SimVehicle.objects.all()}
        poll = transports.current().poll_endpoints
        endpoint_count = statistics.mean(len(poll(v.make, v.permissions)) for v in vehicles)
        ages: list[float] = []
        step = timedelta(seconds=args.step)
        sample_every = int(300 / args.step)
        steps = int(args.days * 86400 / args.step)
        wall0 = time.monotonic()
        for index in range(steps):
            now = start + index * step
            traveller.stop()
            traveller = time_machine.travel(now, tick=False)
            traveller.start()
            clock.pin(now)  # the simulated vehicles live on the same stepped clock
            token, due = sync.vehicles_lease_due()
            if due:
                sync.vehicles_sync(vehicle_ids=due, lease_token=token)
            if index % sample_every == 0:
                for sim in sims.values():
                    world.advance(sim, now)
                active = [
                    sid
                    for sid, sim in sims.items()
                    if sim.state.get("activity") == "driving"
                    or (sim.state.get("ev") or {}).get("charging") == "CHARGING"
                ]
                if active:
                    fetched = {}
                    for vehicle_id, data_age, fetched_at in EndpointState.objects.filter(
                        # API v3 reads them all at once: /signals.
                        vehicle__smartcar_id__in=active,
                        path__in=["/battery", "/charge", "/location", "/signals"],
                    ).values_list("vehicle__smartcar_id", "data_age", "fetched_at"):
                        fetched.setdefault(vehicle_id, []).append(data_age or fetched_at)
                    for sid in active:
                        times = [t for t in fetched.get(sid, []) if t]
                        ages.append((now - max(times)).total_seconds() if times else args.days * 86400)
        wall = time.monotonic() - wall0
        billed = sum(v.sync.billed_calls_month for v in Vehicle.objects.filter(fleet=fleet).select_related("sync"))
        per_vehicle = billed / len(vehicles)
        allowed = monthly * args.days / 30.4
        history_rows = StatusHistory.objects.filter(vehicle__fleet=fleet).count()
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_total_relation_size('vehicles_statushistory')")
            history_bytes = cursor.fetchone()[0]
        ages.sort()
        median = statistics.median(ages) if ages else float("nan")
        p95 = ages[int(len(ages) * 0.95)] if ages else float("nan")
        results.append(monthly)
        del by_smartcar
        print(
            f"API {args.api_version}: budget {monthly}/vehicle-month, {len(vehicles)} vehicles, {args.days} days "
            f"(step {args.step} s):"
        )
        print(f"  billed calls per vehicle: {per_vehicle:.0f} (pro-rata budget for {args.days} days: {allowed:.0f})")
        print(
            f"  data age while driving/charging (battery/charge/location, {len(ages)} samples): median "
            f"{median / 60:.1f} min, p95 {p95 / 60:.1f} min"
        )
        print(
            f"  naive (every endpoint every 5 min): {288 * endpoint_count * args.days:.0f} calls per vehicle "
            f"({endpoint_count:.1f} endpoints on average)"
        )
        print(
            f"  history: {history_rows} rows, {history_bytes} bytes with indexes = "
            f"{history_bytes / len(vehicles) / args.days:.0f} bytes per vehicle-day"
        )
        print(f"  simulated in {wall:.0f} s; CPU {resource.getrusage(resource.RUSAGE_SELF).ru_utime:.0f} s so far")
    traveller.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    t = sub.add_parser("throughput")
    t.add_argument("--vehicles", type=int, default=1000)
    t.add_argument("--latency-ms", type=int, default=1000)
    t.add_argument("--concurrency", type=int, default=100)
    t.add_argument("--server-threads", type=int, default=200)
    t.add_argument("--server-workers", type=int, default=1)
    t.add_argument("--server-pool", type=int, default=40, help="database connections per server worker (0: none)")
    t.add_argument("--naive", type=int, default=20, help="vehicles for the naive baseline (0: skip)")
    t.add_argument("--profile", action="store_true", help="print where the sync process spends its CPU")
    t.add_argument("--switch-interval", type=float, default=0)
    t.add_argument("--sql-timing", action="store_true", help="print the sync process's time per kind of statement")
    b = sub.add_parser("budget")
    b.add_argument("--vehicles", type=int, default=100)
    b.add_argument("--days", type=float, default=7)
    b.add_argument("--step", type=int, default=60, help="simulated seconds between dispatcher runs")
    b.add_argument("--budgets", type=int, nargs="+", default=[1000, 10000])
    b.add_argument("--api-version", choices=["2.0", "3"], default="2.0", help="the Smartcar API the app speaks")
    args = parser.parse_args()
    {"throughput": throughput, "budget": budget}[args.command](args)


if __name__ == "__main__":
    main()
