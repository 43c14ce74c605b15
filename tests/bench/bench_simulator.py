"""Benchmarks of the simulated Smartcar vehicle API. Not part of the test suite: run by hand.

    .venv/bin/python tests/bench/bench_simulator.py cpu [--runs 300] [--make TESLA]
    .venv/bin/python tests/bench/bench_simulator.py concurrency [--requests 250] [--latency-ms 1000]

Both use their own PostgreSQL database (``fleet_bench_simulator``, recreated on every run) on 127.0.0.1:5432.

cpu: a batch of every GET endpoint of one vehicle (core and its make's), sent through the whole Django stack
    in-process; prints the process CPU milliseconds per batch (median, p95) for the simulator's view alone and
    for the full request, and the queries each batch makes. Target: ≤ 5 ms of simulator CPU per batch.
concurrency: the simulator served by gunicorn (gthread, 2 × 128 threads) with injected latency; fires that many
    requests at once and prints how long they took against the latency: about one latency means they were all
    served concurrently. The same command serves the simulator for a demo under load:

    gunicorn fleet.wsgi --worker-class gthread --workers 2 --threads 128 --bind 127.0.0.1:8791
"""

import argparse
import concurrent.futures
import contextlib
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DB_NAME = "fleet_bench_simulator"
DB_URL = f"postgres://postgres@127.0.0.1:5432/{DB_NAME}"
PORT = 8791


def _recreate_database() -> None:
    import psycopg

    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{DB_NAME}"')


def _django() -> None:
    os.environ["DATABASE_URL"] = DB_URL
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fleet.settings_test")
    sys.path.insert(0, str(ROOT))
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


def _fixtures(make: str, count: int = 1):
    from datetime import timedelta

    from django.utils import timezone

    from simulator import world
    from simulator.models import Application, Connection, SmartcarUser, Token

    app = Application.objects.create(name="Bench", redirect_uris="http://localhost/cb")
    user = SmartcarUser.objects.create(email=f"bench-{time.time_ns()}@example.com")
    vehicles = [world.create_vehicle(user, make=make, seed=n + 1) for n in range(count)]
    permissions = sorted({e.permission for e in [*_endpoints().CORE, *_endpoints().MAKE_SPECIFIC] if e.permission})
    for vehicle in vehicles:
        Connection.objects.create(application=app, user=user, vehicle=vehicle, permissions=permissions)
    now = timezone.now()
    token = Token.objects.create(
        application=app,
        user=user,
        access_expires_at=now + timedelta(hours=2),
        refresh_expires_at=now + timedelta(days=60),
    )
    return vehicles, token


def _endpoints():
    from simulator import endpoints

    return endpoints


def _all_get_paths(vehicle) -> list[str]:
    endpoints = _endpoints()
    paths = [f"/{e.path}".rstrip("/") or "/" for e in endpoints.CORE if e.method == "GET"]
    make = vehicle.make.lower()
    paths += [f"/{make}/{e.path}" for e in endpoints.MAKE_SPECIFIC if e.method == "GET" and make in e.makes]
    return paths


def cpu(args) -> None:
    _recreate_database()
    _django()
    from django.db import connection
    from django.test import Client

    from simulator import api

    (vehicle,), token = _fixtures(args.make)
    paths = _all_get_paths(vehicle)
    body = {"requests": [{"path": path} for path in paths]}
    client = Client(HTTP_AUTHORIZATION=f"Bearer {token.access_token}")
    url = f"/simulator/api/v2.0/vehicles/{vehicle.vehicle_id}/batch"

    view_cpu: list[float] = []
    original = api.entry

    def timed_entry(request, path=""):
        started = time.process_time()
        try:
            return original(request, path)
        finally:
            view_cpu.append(time.process_time() - started)

    api.entry = timed_entry  # the URLconf calls api.entry through the module attribute below
    from simulator import api_urls

    api_urls.urlpatterns[0].callback = timed_entry
    for _ in range(20):  # warm-up: imports, connection, caches
        client.post(url, body, content_type="application/json")
    view_cpu.clear()
    full_cpu = []
    statements = []

    def count(execute, sql, params, many, context):
        statements.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        response = client.post(url, body, content_type="application/json")
    assert response.status_code == 200, response.content[:300]
    codes = [item["code"] for item in response.json()["responses"]]
    view_cpu.clear()
    for _ in range(args.runs):
        started = time.process_time()
        client.post(url, body, content_type="application/json")
        full_cpu.append(time.process_time() - started)

    def ms(values, q):
        return statistics.quantiles(values, n=100)[q - 1] * 1000 if q != 50 else statistics.median(values) * 1000

    print(f"vehicle: {vehicle.year} {vehicle.make} {vehicle.model} ({vehicle.engine_type})")
    print(f"batch of {len(paths)} GET paths: {codes.count(200)} answered 200, the rest documented errors")
    print(f"SQL statements per batch: {len(statements)}")
    print(f"simulator view CPU per batch: median {ms(view_cpu, 50):.2f} ms, p95 {ms(view_cpu, 95):.2f} ms")
    print(f"full request CPU per batch (Django test client, middleware included): median {ms(full_cpu, 50):.2f} ms, "
          f"p95 {ms(full_cpu, 95):.2f} ms")  # fmt: skip


def _wait_for_port(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"nothing answers on port {port}")


def concurrency(args) -> None:
    _recreate_database()
    _django()
    import httpx

    from simulator.models import FaultSettings

    vehicles, token = _fixtures("TESLA", count=args.requests)
    FaultSettings.objects.update_or_create(pk=1, defaults={"latency_ms": args.latency_ms})
    # Production settings (the test settings re-scan static files on every request), one PostgreSQL
    # connection per request: 256 threads must not hold 256 connections (max_connections is 100).
    env = {
        **os.environ,
        "DATABASE_URL": DB_URL,
        "DJANGO_SETTINGS_MODULE": "fleet.settings",
        "DATABASE_CONN_MAX_AGE": "0",
        "SECRET_KEY": "bench-" + "x" * 50,
        "ALLOWED_HOSTS": "127.0.0.1",
        "TOKEN_ENCRYPTION_KEYS": "r6Y1Ah1Z7lqiVqRuw0l4GVeWtbG2fR7n9n9n1i3Yq0o=",
        "SECURE_SSL_REDIRECT": "false",
        "SMARTCAR_MODE": "simulated",
        "WEB_ACCESS_LOG": "",  # gunicorn.conf.py: no access log, as measured before it had one
        # DEBUG is off: the simulator's secrets must be given, never the public demo values.
        "SMARTCAR_CLIENT_SECRET": "bench-client-secret",
        "SMARTCAR_MANAGEMENT_TOKEN": "bench-management-token",
        "FLEET_VAR_DIR": str(ROOT / "var" / "bench"),
    }
    command = [sys.executable, "-m", "gunicorn", "fleet.wsgi", "--worker-class", "gthread", "--workers", "2",
               "--threads", "128", "--bind", f"127.0.0.1:{PORT}", "--log-level", "warning"]  # fmt: skip
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", PORT), timeout=0.5):
        raise SystemExit(f"port {PORT} is already taken; stop what listens there first")
    server = subprocess.Popen(
        command,
        cwd=ROOT,
        env=env,
    )
    try:
        _wait_for_port(PORT)
        headers = {"Authorization": f"Bearer {token.access_token}"}
        base = f"http://127.0.0.1:{PORT}/simulator/api/v2.0/vehicles"
        with httpx.Client(timeout=60, limits=httpx.Limits(max_connections=args.requests)) as http:
            http.get(f"{base}/{vehicles[0].vehicle_id}/odometer", headers=headers)  # warm-up

            def one(index):
                vehicle = vehicles[index % len(vehicles)]
                return http.get(f"{base}/{vehicle.vehicle_id}/odometer", headers=headers).status_code

            started = time.monotonic()
            with concurrent.futures.ThreadPoolExecutor(max_workers=args.requests) as pool:
                statuses = list(pool.map(one, range(args.requests)))
            elapsed = time.monotonic() - started
        ok = statuses.count(200)
        serial = args.requests * args.latency_ms / 1000
        print(f"{args.requests} concurrent requests with {args.latency_ms} ms injected latency: {ok} answered 200 "
              f"in {elapsed:.2f} s ({elapsed * 1000 / args.latency_ms:.2f}× the latency; one at a time would take "
              f"{serial:.0f} s)")  # fmt: skip
    finally:
        server.terminate()
        server.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    cpu_parser = commands.add_parser("cpu")
    cpu_parser.add_argument("--runs", type=int, default=300)
    cpu_parser.add_argument("--make", default="TESLA")
    concurrency_parser = commands.add_parser("concurrency")
    concurrency_parser.add_argument("--requests", type=int, default=250)
    concurrency_parser.add_argument("--latency-ms", type=int, default=1000)
    args = parser.parse_args()
    {"cpu": cpu, "concurrency": concurrency}[args.command](args)


if __name__ == "__main__":
    main()
