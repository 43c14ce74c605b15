"""Dashboard figures (docs/benchmarks.md): the fleet page with 5,000 vehicles on PostgreSQL.

    .venv/bin/python tests/dashboard/bench_overview.py            # seed, measure in process, then load gunicorn

1. Seeds a fleet of 5,000 vehicles with latest status rows (and a few hundred DTCs) in its own PostgreSQL database.
2. In process (Django's test client, real middleware and templates): SQL queries per request of the full page and of
   its htmx refresh, the refresh fragment's size, and the server time of a 50-row page (median and p95 over 200).
3. Under load: gunicorn serves the app (DEBUG off, as in production) and this process, a second one, runs 50
   concurrent clients on loopback for 30 s, mixing full pages and htmx refreshes over filters, sorts and pages.

Not collected by pytest (the file name does not start with test_).
"""

import asyncio
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DATABASE = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/fleet_bench_dashboard")
VEHICLES = int(os.environ.get("BENCH_VEHICLES", "5000"))
CLIENTS = int(os.environ.get("BENCH_CLIENTS", "50"))
SECONDS = int(os.environ.get("BENCH_SECONDS", "30"))

ENV = {
    "DATABASE_URL": DATABASE,
    "SECRET_KEY": "bench-secret-key-" + "x" * 40,
    "TOKEN_ENCRYPTION_KEYS": "r6Y1Ah1Z7lqiVqRuw0l4GVeWtbG2fR7n9n9n1i3Yq0o=",
    "ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
    "SECURE_SSL_REDIRECT": "false",
    "STATIC_ROOT": str(Path(tempfile.gettempdir()) / "fleet-bench-static"),
    "FLEET_VAR_DIR": str(ROOT / "var" / "bench"),
    "LOG_LEVEL": "WARNING",
    "DJANGO_SETTINGS_MODULE": "fleet.settings",
    # DEBUG is off: the simulator's secrets must be given, never the public demo values.
    "SMARTCAR_CLIENT_SECRET": "bench-client-secret",
    "SMARTCAR_MANAGEMENT_TOKEN": "bench-management-token",
    "WEB_ACCESS_LOG": "",  # gunicorn.conf.py: no access log, as measured before it had one
}
os.environ.update(ENV)
sys.path.insert(0, str(ROOT))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def _create_database() -> None:
    import psycopg

    name = DATABASE.rsplit("/", 1)[1]
    with psycopg.connect(DATABASE.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')


def seed():
    from datetime import timedelta

    from django.core.management import call_command
    from django.utils import timezone

    from fleet.models import User
    from fleet.services import fleet_create
    from tests.dashboard.factories import make_account, make_vehicles
    from vehicles.models import Activity, DiagnosticTroubleCode, Vehicle, VehicleStatus

    _create_database()
    call_command("migrate", verbosity=0)
    call_command("collectstatic", "--noinput", verbosity=0)
    user = User.objects.create_user(email="bench@example.com", password="bench password 1")
    fleet = fleet_create(name="Bench Fleet", owner=user, time_zone="Europe/Berlin")
    account = make_account(fleet)
    makes = ["TESLA", "FORD", "CHEVROLET", "NISSAN", "BMW", "TOYOTA", "AUDI", "HYUNDAI", "KIA", "JEEP"]
    per_make = VEHICLES // len(makes)
    for index, make in enumerate(makes):
        make_vehicles(fleet, per_make, account=account, make=make, start=index * per_make)
    rng = random.Random(5)
    now = timezone.now()
    statuses = list(VehicleStatus.objects.all())
    for status in statuses:
        status.battery_percent = round(rng.uniform(5, 100), 1)
        status.range_km = status.battery_percent * 4
        status.odometer_km = rng.uniform(1000, 150000)
        status.activity = rng.choice([Activity.PARKED, Activity.PARKED, Activity.DRIVING, Activity.ASLEEP])
        status.charging_state = rng.choice(["NOT_CHARGING", "NOT_CHARGING", "CHARGING", "FULLY_CHARGED"])
        status.data_age = now - timedelta(minutes=rng.randint(1, 600))
        status.is_locked = rng.random() > 0.05
    VehicleStatus.objects.bulk_update(
        statuses,
        ["battery_percent", "range_km", "odometer_km", "activity", "charging_state", "data_age", "is_locked"],
        batch_size=1000,
    )
    gm = list(Vehicle.objects.filter(make="CHEVROLET")[:300])
    DiagnosticTroubleCode.objects.bulk_create(
        [DiagnosticTroubleCode(vehicle=v, code="P0420", first_seen_at=now, last_seen_at=now) for v in gm]
    )
    VehicleStatus.objects.filter(vehicle__in=gm).update(active_dtc_count=1)
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")  # planner statistics, as autovacuum would gather on a live installation
    return user, fleet


def measure_in_process(user, fleet) -> dict:
    from django.db import connection, reset_queries
    from django.test import Client
    from django.urls import reverse

    client = Client()
    client.force_login(user)
    url = reverse("fleet_home", args=[fleet.slug])
    executed: list[str] = []

    def count(execute, sql, params, many, context):
        executed.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        page = client.get(url)
        full = len(executed)
        fragment = client.get(url, headers={"HX-Request": "true"})
        fragment_queries = len(executed) - full
    assert page.status_code == fragment.status_code == 200
    timings = {"page": [], "fragment": []}
    for round_ in range(200):
        for kind, headers in (("page", {}), ("fragment", {"HX-Request": "true"})):
            params = {"sort": random.choice(["name", "-energy", "age", "odometer"]), "page": round_ % 100 + 1}
            started = time.perf_counter()
            response = client.get(url, params, headers=headers)
            timings[kind].append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200
            reset_queries()
    return {
        "queries_page": full,
        "queries_fragment": fragment_queries,
        "fragment_bytes": len(fragment.content),
        "page_bytes": len(page.content),
        **{f"{kind}_median_ms": statistics.median(values) for kind, values in timings.items()},
        **{f"{kind}_p95_ms": percentile(values, 0.95) for kind, values in timings.items()},
    }


def session_cookie(user) -> str:
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.save()
    return session.session_key


async def load(base: str, path: str, cookie: str) -> dict:
    import httpx

    latencies: list[float] = []
    errors: dict[str, int] = {}
    deadline = time.monotonic() + SECONDS
    rng = random.Random(7)

    async def one_client(http: httpx.AsyncClient):
        while time.monotonic() < deadline:
            params = {
                "sort": rng.choice(["name", "-energy", "age", "dtcs", "odometer"]),
                "state": rng.choice(["", "", "charging", "low", "attention", "driving"]),
                "page": rng.randint(1, 20),
            }
            headers = {"HX-Request": "true"} if rng.random() < 0.8 else {}  # mostly the 30-second refreshes
            started = time.perf_counter()
            try:
                response = await http.get(path, params=params, headers=headers)
                if response.status_code != 200:
                    errors[str(response.status_code)] = errors.get(str(response.status_code), 0) + 1
            except httpx.HTTPError as exc:
                errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
                continue
            latencies.append((time.perf_counter() - started) * 1000)

    limits = httpx.Limits(max_connections=CLIENTS, max_keepalive_connections=CLIENTS)
    async with httpx.AsyncClient(base_url=base, cookies={"sessionid": cookie}, limits=limits, timeout=30) as http:
        await asyncio.gather(*(one_client(http) for _ in range(CLIENTS)))
    return {
        "requests": len(latencies) + sum(errors.values()),
        "errors": errors,
        "throughput_rps": len(latencies) / SECONDS,
        "median_ms": statistics.median(latencies),
        "p95_ms": percentile(latencies, 0.95),
    }


def main():
    import django

    django.setup()
    started = time.perf_counter()
    user, fleet = seed()
    print(f"seeded {VEHICLES} vehicles in {time.perf_counter() - started:.0f} s", flush=True)
    print("load average before measuring:", os.getloadavg(), flush=True)
    print("in process:", measure_in_process(user, fleet), flush=True)
    cookie = session_cookie(user)
    from django.db import connections

    connections.close_all()
    port = _free_port()
    server = subprocess.Popen(
        [str(ROOT / ".venv/bin/gunicorn"), "fleet.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "2",
         "--threads", "8", "--log-level", "warning"],
        cwd=ROOT, env={**os.environ, **ENV},
    )  # fmt: skip
    try:
        import httpx

        for _ in range(100):
            try:
                httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.2)
        assert server.poll() is None, "gunicorn did not start"
        result = asyncio.run(load(f"http://127.0.0.1:{port}", f"/fleets/{fleet.slug}/", cookie))
        print(f"gunicorn, {CLIENTS} clients for {SECONDS} s:", result, flush=True)
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
