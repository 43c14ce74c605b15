"""Dashboard figures (docs/benchmarks.md): the fleet page with 50,000 vehicles on PostgreSQL (issue 15.3).

    .venv/bin/python tests/bench/bench_overview.py [--vehicles 50000] [--rounds 200] [--load] [--explain] [--reuse]
        [--against REV]

1. Seeds one fleet of ``--vehicles`` vehicles of ten makes with latest status rows (a tenth with an active DTC) in its
   own PostgreSQL database, and a second fleet of the same size (the tables hold other tenants' rows too).
2. In process (Django's test client, real middleware and templates, DEBUG off): SQL queries per request of the full
   page and of its htmx refresh, the refresh fragment's size, and the server time of a 50-row page and of its
   refresh (median and p95 over ``--rounds`` each), the sort, filter and page varying.
3. ``--explain``: the plan (EXPLAIN ANALYZE, BUFFERS) of every query of the full page, with a state filter and the
   sort most expensive to serve, and of the default refresh.
4. ``--against REV``: the fleet page's code (dashboard/overview.py) at git revision REV and as it is now, timed
   interleaved request by request in this process over the same database (the load of a shared machine moves from one
   minute to the next): wall median and p95, and the CPU of each request — this process's and its PostgreSQL
   backend's (parallel workers off, so that the backend does all of a query's work) — and how many responses were
   the same (CSRF token and CSP nonce aside; a vehicle's data age in words may tick over between the two).
5. ``--load``: gunicorn serves the app (DEBUG off, as in production) and this process, a second one, runs 50
   concurrent clients on loopback for 30 s, mixing full pages and htmx refreshes over filters, sorts and pages.

Not collected by pytest (the file name does not start with test_).
"""

import argparse
import asyncio
import importlib.util
import inspect
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DATABASE = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/fleet_bench_dashboard")
VEHICLES = int(os.environ.get("BENCH_VEHICLES", "50000"))
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


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def _create_database() -> None:
    import psycopg

    name = DATABASE.rsplit("/", 1)[1]
    with psycopg.connect(DATABASE.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')


def seed(vehicles: int):
    from django.core.management import call_command
    from django.db import connection

    from fleet.models import User
    from fleet.services import fleet_create
    from tests.dashboard.factories import make_account, make_vehicles
    from vehicles.models import DiagnosticTroubleCode, Vehicle, VehicleStatus

    _create_database()
    call_command("migrate", verbosity=0)
    call_command("collectstatic", "--noinput", verbosity=0)
    makes = ["TESLA", "FORD", "CHEVROLET", "NISSAN", "BMW", "TOYOTA", "AUDI", "HYUNDAI", "KIA", "JEEP"]
    fleets = []
    for name in ("Bench Fleet", "Other Fleet"):
        user = User.objects.create_user(email=f"{name.split()[0].lower()}@example.com", password="bench password 1")
        fleet = fleet_create(name=name, owner=user, time_zone="Europe/Berlin")
        account = make_account(fleet)
        per_make = vehicles // len(makes)
        for index, make in enumerate(makes):
            make_vehicles(fleet, per_make, account=account, make=make, start=index * per_make)
        fleets.append((user, fleet))
    status_table, vehicle_table = VehicleStatus._meta.db_table, Vehicle._meta.db_table
    with connection.cursor() as cursor:
        # The spread of a live fleet (seeded with SQL: a bulk_update of 100,000 rows takes minutes).
        cursor.execute("SELECT setseed(0.5)")
        cursor.execute(
            f"UPDATE {status_table} SET battery_percent = round((5 + random() * 95)::numeric, 1), "  # noqa: S608
            "odometer_km = 1000 + random() * 149000, "
            "activity = (ARRAY['parked', 'parked', 'driving', 'asleep'])[1 + floor(random() * 4)::int], "
            "charging_state = (ARRAY['NOT_CHARGING', 'NOT_CHARGING', 'CHARGING', 'FULLY_CHARGED'])"
            "[1 + floor(random() * 4)::int], "
            "data_age = now() - make_interval(mins => 1 + floor(random() * 600)::int), "
            "is_locked = random() > 0.05"
        )
        cursor.execute(f"UPDATE {status_table} SET range_km = battery_percent * 4")  # noqa: S608
        cursor.execute(
            f"UPDATE {vehicle_table} SET nickname = 'Van ' || id WHERE id % 7 = 0"  # noqa: S608
        )
    now = timezone_now()
    troubled = [pk for pk in Vehicle.objects.values_list("pk", flat=True) if pk % 10 == 0]
    DiagnosticTroubleCode.objects.bulk_create(
        [DiagnosticTroubleCode(vehicle_id=pk, code="P0420", first_seen_at=now, last_seen_at=now) for pk in troubled],
        batch_size=2000,
    )
    VehicleStatus.objects.filter(vehicle_id__in=troubled).update(active_dtc_count=1)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")  # planner statistics, as autovacuum would gather on a live installation
    return fleets[0]


def timezone_now():
    from django.utils import timezone

    return timezone.now()


SORT_CHOICES = ["name", "-name", "make", "energy", "-energy", "range", "odometer", "age", "dtcs"]
STATE_CHOICES = ["", "", "", "driving", "charging", "low", "attention", "asleep", "sync_failing", "stale"]


def _client(user):
    from django.test import Client

    client = Client()
    client.force_login(user)
    return client


def _recorded(client, url, params, headers) -> list[tuple[str, tuple]]:
    from django.db import connection

    executed: list[tuple[str, tuple]] = []

    def record(execute, sql, sql_params, many, context):
        executed.append((sql, tuple(sql_params or ())))
        return execute(sql, sql_params, many, context)

    with connection.execute_wrapper(record):
        assert client.get(url, params, headers=headers).status_code == 200
    return executed


def measure_in_process(user, fleet, rounds: int) -> dict:
    from django.db import reset_queries
    from django.urls import reverse

    client = _client(user)
    url = reverse("fleet_home", args=[fleet.slug])
    page = client.get(url)
    fragment = client.get(url, headers={"HX-Request": "true"})
    assert page.status_code == fragment.status_code == 200
    # Query counts of every combination measured below: one number each if the count is constant.
    counts = {"page": set(), "fragment": set()}
    for sort in SORT_CHOICES:
        for state in STATE_CHOICES:
            for kind, headers in (("page", {}), ("fragment", {"HX-Request": "true"})):
                counts[kind].add(len(_recorded(client, url, {"sort": sort, "state": state, "page": 3}, headers)))
    rng = random.Random(15)
    timings = {"page": [], "fragment": []}
    for _ in range(rounds):
        params = {"sort": rng.choice(SORT_CHOICES), "state": rng.choice(STATE_CHOICES), "page": rng.randint(1, 20)}
        for kind, headers in (("page", {}), ("fragment", {"HX-Request": "true"})):
            started = time.perf_counter()
            response = client.get(url, params, headers=headers)
            timings[kind].append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200
            reset_queries()
    return {
        "queries_page": sorted(counts["page"]),
        "queries_fragment": sorted(counts["fragment"]),
        "fragment_bytes": len(fragment.content),
        "page_bytes": len(page.content),
        **{f"{kind}_median_ms": statistics.median(values) for kind, values in timings.items()},
        **{f"{kind}_p95_ms": percentile(values, 0.95) for kind, values in timings.items()},
    }


def _backend_cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def measure_against(user, fleet, revision: str, rounds: int) -> None:
    """The page's code at ``revision`` and now, interleaved request by request (see the module's docstring)."""
    from django.db import connection
    from django.urls import resolve, reverse

    import dashboard.overview as current

    source = subprocess.run(
        ["git", "show", f"{revision}:dashboard/overview.py"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    before = importlib.util.module_from_spec(importlib.util.spec_from_loader("overview_before", loader=None))
    sys.modules["overview_before"] = before
    exec(compile(source, "overview_before.py", "exec"), before.__dict__)  # noqa: S102 - the project's own code
    url = reverse("fleet_home", args=[fleet.slug])
    view = inspect.unwrap(resolve(url).func)
    names = [name for name, value in vars(before).items() if getattr(value, "__module__", None) == "overview_before"]
    names += [name for name in vars(before) if name.isupper()]
    versions = {
        "before": ({name: getattr(before, name) for name in names}, inspect.unwrap(before.fleet_overview).__code__),
        "now": ({name: getattr(current, name) for name in names if hasattr(current, name)}, view.__code__),
    }

    def use(version: str) -> None:
        values, code = versions[version]
        for name, value in values.items():
            setattr(current, name, value)
        view.__code__ = code

    client = _client(user)
    with connection.cursor() as cursor:
        cursor.execute("SET max_parallel_workers_per_gather = 0")
        cursor.execute("SELECT pg_backend_pid()")
        (backend,) = cursor.fetchone()
    unstable = re.compile(rb'(csrfmiddlewaretoken" value="|nonce="|csrf_token" content="|X-CSRFToken": ")[^"]*')
    figures = {
        (v, k): {"wall": [], "cpu": [], "python": [], "postgres": []} for v in versions for k in ("page", "fragment")
    }
    same = 0
    rng = random.Random(15)
    print("load average before: {:.1f} {:.1f} {:.1f}".format(*os.getloadavg()), flush=True)
    try:
        for number in range(rounds):
            params = {"sort": rng.choice(SORT_CHOICES), "state": rng.choice(STATE_CHOICES), "page": rng.randint(1, 20)}
            for kind, headers in (("page", {}), ("fragment", {"HX-Request": "true"})):
                bodies = []
                for version in ("before", "now") if number % 2 == 0 else ("now", "before"):
                    use(version)
                    wall, python, postgres = time.perf_counter(), time.process_time(), _backend_cpu_seconds(backend)
                    response = client.get(url, params, headers=headers)
                    assert response.status_code == 200
                    figure = figures[(version, kind)]
                    figure["wall"].append((time.perf_counter() - wall) * 1000)
                    figure["python"].append((time.process_time() - python) * 1000)
                    figure["postgres"].append((_backend_cpu_seconds(backend) - postgres) * 1000)
                    figure["cpu"].append(figure["python"][-1] + figure["postgres"][-1])
                    bodies.append(unstable.sub(b"", response.content))
                same += bodies[0] == bodies[1]
    finally:
        use("now")
    print("load average after: {:.1f} {:.1f} {:.1f}".format(*os.getloadavg()))
    print(f"same responses: {same} of {2 * rounds}")
    for (version, kind), figure in figures.items():
        print(
            f"{version:6} {kind:8} wall median {statistics.median(figure['wall']):6.1f} "
            f"p95 {percentile(figure['wall'], 0.95):6.1f} ms · "
            f"CPU mean: Python {statistics.mean(figure['python']):5.1f}, "
            f"PostgreSQL {statistics.mean(figure['postgres']):5.1f}, total {statistics.mean(figure['cpu']):5.1f} ms, "
            f"median total {statistics.median(figure['cpu']):5.1f} ms"
        )


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


def explain(user, fleet) -> None:
    """Every query of a full page (a state filter and the sort that costs most) and of the default refresh, with the
    plan PostgreSQL ran and its time."""
    from django.db import connection
    from django.urls import reverse

    client = _client(user)
    url = reverse("fleet_home", args=[fleet.slug])
    for title, params, headers in (
        ("full page, state=attention, sort=-energy, page 3", {"state": "attention", "sort": "-energy", "page": 3}, {}),
        ("htmx refresh, default sort (name), page 1", {}, {"HX-Request": "true"}),
    ):
        print(f"\n### {title}\n")
        for number, (sql, params_) in enumerate(_recorded(client, url, params, headers), 1):
            with connection.cursor() as cursor:
                cursor.execute("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + sql, params_)
                plan = [line for (line,) in cursor.fetchall()]
            print(f"{number}. `{connection.ops.compose_sql(sql, params_)}`")
            print("```")
            print("\n".join(plan))
            print("```")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--vehicles", type=int, default=VEHICLES, help="vehicles of the measured fleet")
    parser.add_argument("--rounds", type=int, default=200, help="timed pages and refreshes, each")
    parser.add_argument("--explain", action="store_true", help="print the plan of every query")
    parser.add_argument("--against", metavar="REV", help="also time the page's code at git revision REV, interleaved")
    parser.add_argument("--load", action="store_true", help="also load gunicorn with 50 clients for 30 s")
    parser.add_argument(
        "--reuse", action="store_true", help="measure the database seeded by an earlier run (migrated first)"
    )
    args = parser.parse_args()
    import django

    django.setup()
    started = time.perf_counter()
    if args.reuse:
        from django.core.management import call_command

        from fleet.models import Fleet, User

        call_command("migrate", verbosity=0)
        user, fleet = User.objects.get(email="bench@example.com"), Fleet.objects.get(name="Bench Fleet")
        print(f"reused the seeded database ({fleet.vehicles.count()} vehicles in the fleet)", flush=True)
    else:
        user, fleet = seed(args.vehicles)
        print(f"seeded 2 fleets of {args.vehicles} vehicles in {time.perf_counter() - started:.0f} s", flush=True)
    print("load average before measuring: {:.1f} {:.1f} {:.1f}".format(*os.getloadavg()), flush=True)
    print("in process:", measure_in_process(user, fleet, args.rounds), flush=True)
    print("load average after measuring: {:.1f} {:.1f} {:.1f}".format(*os.getloadavg()), flush=True)
    if args.explain:
        explain(user, fleet)
    if args.against:
        measure_against(user, fleet, args.against, args.rounds)
    if not args.load:
        return
    cookie = session_cookie(user)
    from django.db import connections

    connections.close_all()
    port = 8152
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
