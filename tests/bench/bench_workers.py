"""The sync engine across Celery worker processes (issue 15.1) and its recovery from faults (issue 13.3).

Not part of the test suite: run by hand or with `make bench`.

    .venv/bin/python tests/bench/bench_workers.py processes [--vehicles 10000] [--latency-ms 1000] [--processes 1 2 4]
    .venv/bin/python tests/bench/bench_workers.py recovery [--vehicles 300] [--outage-seconds 30]

Both start, on their own PostgreSQL database (``sync_bench_workers``) and their own Redis queue:

- the simulator, served by gunicorn in its own processes (as in bench_sync.py's throughput run), answering every
  request after ``--latency-ms``;
- ``celery -A fleet worker`` processes (prefork, one pool process each), every one with SYNC_WORKER_CONCURRENCY
  requests in flight, connecting to PostgreSQL as a role of their own (``sync_bench_worker``), so that the database
  can be made unreachable for them alone while the simulator keeps answering;
- this process as beat: it sends ``vehicles.tasks.sync_dispatch`` every SYNC_DISPATCH_SECONDS.

processes: every vehicle is made due at once, and the wall time until each has been synced is set against the
    bound N × L / (processes × C). Prints vehicles/s, the CPU seconds per vehicle of the worker processes (and of
    the simulator), whether any vehicle was synced twice (the simulator bills each path it answers: billed calls must
    equal the answers stored) and the load average before and after. A round may run three times its bound or
    ``--seconds-per-vehicle`` for each vehicle, whichever is longer, plus two minutes; one past its limit is reported
    with the vehicles it synced and ends the run.
recovery: with every vehicle due and its round in flight, (1) a worker is killed (SIGKILL of its process group), and
    (2) the database refuses the workers for ``--outage-seconds`` (their connections terminated, their role's login
    withdrawn). Prints the time from the death, and from the database's return, to every vehicle synced again, and
    the vehicles fetched twice or lost.
"""

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.bench.bench_sync import _connect_fleet, _process_cpu, _wait_for  # noqa: E402

DB_NAME = "sync_bench_workers"
WORKER_ROLE = "sync_bench_worker"
PORT = int(os.environ.get("BENCH_WORKERS_PORT", "8767"))
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/15")
DISPATCH = "vehicles.tasks.sync_dispatch"


def _admin():
    import psycopg

    return psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True)


def _recreate_database() -> None:
    with _admin() as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {DB_NAME}")
        if not conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [WORKER_ROLE]).fetchone():
            conn.execute(f"CREATE ROLE {WORKER_ROLE} LOGIN")
        conn.execute(f"ALTER ROLE {WORKER_ROLE} LOGIN")


def _grant_worker_role() -> None:
    import psycopg

    with psycopg.connect(f"postgresql://postgres@127.0.0.1:5432/{DB_NAME}", autocommit=True) as conn:
        conn.execute(f"GRANT ALL ON ALL TABLES IN SCHEMA public TO {WORKER_ROLE}")
        conn.execute(f"GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO {WORKER_ROLE}")


def _environment(queue: str) -> dict:
    env = {
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{DB_NAME}",
        "SMARTCAR_MODE": "simulated",
        "WEB_ACCESS_LOG": "",  # gunicorn.conf.py: no access log, as measured before it had one
        # DEBUG is off: the simulator's secrets must be given, never the public demo values.
        "SMARTCAR_CLIENT_SECRET": "bench-client-secret",
        "SMARTCAR_MANAGEMENT_TOKEN": "bench-management-token",
        "SMARTCAR_SIMULATOR_ORIGIN": f"http://127.0.0.1:{PORT}",
        "SECRET_KEY": "bench-secret-key-" + "x" * 40,
        "TOKEN_ENCRYPTION_KEYS": "r6Y1Ah1Z7lqiVqRuw0l4GVeWtbG2fR7n9n9n1i3Yq0o=",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECURE_SSL_REDIRECT": "false",
        "LOG_LEVEL": "WARNING",
        "DATABASE_CONN_MAX_AGE": "0",
        "FLEET_VAR_DIR": str(ROOT / "var" / "bench-workers"),
        "DJANGO_SETTINGS_MODULE": "fleet.settings",
        "CELERY_BROKER_URL": REDIS_URL,
        "CELERY_TASK_DEFAULT_QUEUE": queue,
    }
    os.environ.update(env)
    return env


class Cluster:
    """The simulator server and the worker processes, started and stopped together."""

    def __init__(self, args, queue: str, log_dir: Path):
        self.args, self.queue, self.log_dir = args, queue, log_dir
        self.server: subprocess.Popen | None = None
        self.workers: list[subprocess.Popen] = []

    def start_server(self) -> None:
        command = [
            str(ROOT / ".venv/bin/gunicorn"), "fleet.wsgi", "-k", "gthread", "--threads", str(self.args.server_threads),
            "--workers", str(self.args.server_workers), "--bind", f"127.0.0.1:{PORT}", "--log-level", "warning",
        ]  # fmt: skip
        env = {**os.environ, "DATABASE_POOL_SIZE": str(self.args.server_pool)}
        with (self.log_dir / "server.log").open("wb") as out:
            self.server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
        _wait_for(PORT)

    def start_worker(self, number: int, **overrides: str) -> subprocess.Popen:
        env = {
            **os.environ,
            "DATABASE_URL": f"postgres://{WORKER_ROLE}@127.0.0.1:5432/{DB_NAME}",
            "SYNC_WORKER_CONCURRENCY": str(self.args.concurrency),
            "SYNC_TASK_VEHICLES": str(self.args.task_vehicles),
            "SYNC_DISPATCH_LIMIT": str(self.args.dispatch_limit),
            "LOG_LEVEL": "INFO",
            "PYTHONUNBUFFERED": "1",
            **overrides,
        }
        command = [
            str(ROOT / ".venv/bin/celery"), "-A", "fleet", "worker", "--pool=prefork", "--concurrency=1",
            "--hostname", f"bench{number}@{self.queue}", "--without-gossip", "--without-mingle", "--without-heartbeat",
            "--loglevel=INFO",
        ]  # fmt: skip
        with (self.log_dir / f"worker-{number}.log").open("ab") as out:
            worker = subprocess.Popen(
                command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        self.workers.append(worker)
        return worker

    def wait_for_workers(self, app, count: int, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            replies = app.control.ping(timeout=1.0, destination=None) or []
            if len([r for r in replies if any(self.queue in name for name in r)]) >= count:
                return
        raise SystemExit(f"{count} workers did not answer within {timeout} s; see {self.log_dir}")

    def workers_cpu(self) -> float:
        return sum(_process_cpu(w.pid) for w in self.workers if w.poll() is None)

    def kill(self, worker: subprocess.Popen) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(timeout=30)

    def stop(self) -> None:
        for worker in self.workers:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(worker.pid, signal.SIGTERM)
        for worker in self.workers:
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill(worker)
        self.workers = []
        if self.server is not None:
            self.server.send_signal(signal.SIGTERM)
            self.server.wait(timeout=30)


def _setup(args):
    queue = f"sync-bench-{uuid.uuid4().hex[:8]}"
    _environment(queue)
    _recreate_database()
    import django

    django.setup()
    from celery import Celery
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    fleet, _ = _connect_fleet(args.vehicles)
    from simulator.models import FaultSettings

    faults = FaultSettings.current()
    faults.latency_ms = args.latency_ms
    faults.save()
    _grant_worker_role()
    app = Celery("sync-bench", broker=REDIS_URL, set_as_current=False)
    app.conf.update(task_default_queue=queue, broker_connection_retry_on_startup=True)
    log_dir = ROOT / "var" / "bench-workers"
    log_dir.mkdir(parents=True, exist_ok=True)
    for old in log_dir.glob("*.log"):
        old.unlink()
    return fleet, app, Cluster(args, queue, log_dir)


def _make_all_due() -> None:
    from django.utils import timezone

    from vehicles.models import EndpointState, VehicleSync

    now = timezone.now()
    EndpointState.objects.update(next_sync_at=now)
    # Every round starts with nothing spent, on Fleet's side as on the simulator's (_reset_billing): without it Hyundai
    # and Kia (20 calls a day, so a budget of 20 × the month's days) are held back after the warm-up, most of all at
    # the start of a month, and the round can never end with every vehicle synced.
    VehicleSync.objects.update(
        next_sync_at=now,
        requested_at=now,
        lease_until=None,
        lease_token="",
        billed_calls_day=0,
        billed_calls_month=0,
        backoff_until=None,
        backoff_failures=0,
    )


def _billed_and_answered(since) -> tuple[int, int, int]:
    """Calls the simulator billed (since its counters were reset), answers stored since ``since``, and the vehicles
    billed for more paths than they stored: asked twice, or answers lost."""
    from collections import Counter

    from django.db.models import Count, Q

    from simulator.models import BillingCounter
    from vehicles.models import Vehicle

    billed: Counter[str] = Counter()
    for smartcar_id, calls in BillingCounter.objects.values_list("vehicle__vehicle_id", "calls"):
        billed[smartcar_id] += calls
    answered = dict(
        Vehicle.objects.annotate(
            stored=Count("endpoint_states", filter=Q(endpoint_states__last_success_at__gte=since))
        ).values_list("smartcar_id", "stored")
    )
    twice = sum(1 for smartcar_id, stored in answered.items() if billed[smartcar_id] > stored)
    return sum(billed.values()), sum(answered.values()), twice


def _reset_billing() -> None:
    from simulator.models import BillingCounter

    BillingCounter.objects.all().delete()


def _vacuum() -> None:
    """What autovacuum does on a live installation, done before each round: the machine's PostgreSQL runs without it
    (its CI configuration), and without this every round's updates leave the endpoint and simulator rows bloated and
    the planner without statistics (a chunk's endpoint rows read by a parallel scan of the whole table)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")


def _unsynced(since) -> int:
    """Vehicles without a round that asked something since ``since``."""
    from django.db.models import Q

    from vehicles.models import Vehicle

    return Vehicle.objects.filter(Q(status__isnull=True) | ~Q(status__last_sync_at__gte=since)).count()


def _leased() -> int:
    from vehicles.models import VehicleSync

    return VehicleSync.objects.filter(lease_until__isnull=False).count()


class NotDone(SystemExit):
    """A wait ran past its limit."""


def _beat_until(app, condition, *, timeout: float, every: float) -> float:
    """Sends a dispatch every ``every`` seconds, as beat does, until ``condition()``; returns the seconds taken."""
    started = time.monotonic()
    next_dispatch = started
    while not condition():
        now = time.monotonic()
        if now - started > timeout:
            raise NotDone(f"not done within {timeout:.0f} s")
        if now >= next_dispatch:
            app.send_task(DISPATCH)
            next_dispatch = now + every
        time.sleep(0.2)
    return time.monotonic() - started


def _warm_up(app, cluster: Cluster, args) -> None:
    """One round for every vehicle without latency, so that every measured run finds the same rows (endpoint states,
    statuses) in place rather than the first one creating them."""
    from django.conf import settings
    from django.utils import timezone

    from simulator.models import FaultSettings

    FaultSettings.objects.update(latency_ms=0)
    for number in range(args.processes[0]):
        cluster.start_worker(number)
    cluster.wait_for_workers(app, args.processes[0])
    since = timezone.now()
    wall = _beat_until(
        app,
        lambda: _unsynced(since) == 0 and _leased() == 0,
        timeout=max(1800, _limit(args, args.processes[0])),
        every=settings.SYNC_DISPATCH_SECONDS,
    )
    FaultSettings.objects.update(latency_ms=args.latency_ms)
    print(f"warm-up: every vehicle synced once without latency in {wall:.0f} s", flush=True)


def _limit(args, processes: int) -> float:
    """How long a round may run before the run stops: three times its bound, and at least ``--seconds-per-vehicle``
    for every vehicle (what a loaded two-core machine needs), plus two minutes."""
    bound = args.vehicles * args.latency_ms / 1000 / (processes * args.concurrency)
    return max(3 * bound, args.vehicles * args.seconds_per_vehicle) + 120


def _load() -> str:
    return "/".join(f"{value:.1f}" for value in os.getloadavg())


def processes(args) -> None:
    from django.conf import settings
    from django.utils import timezone

    fleet, app, cluster = _setup(args)
    server = f"{args.server_workers}×{args.server_threads}"
    print(
        f"{args.vehicles} vehicles, latency {args.latency_ms} ms, {args.concurrency} in flight per process, "
        f"tasks of {args.task_vehicles} vehicles; simulator gunicorn {server}"
    )
    try:
        cluster.start_server()
        _warm_up(app, cluster, args)
        rows = []
        for count in args.processes:
            for number in range(len(cluster.workers), count):
                cluster.start_worker(number)
            cluster.wait_for_workers(app, count)
            _make_all_due()
            _reset_billing()
            _vacuum()
            load_before = _load()
            since = timezone.now()
            cpu0, server0 = cluster.workers_cpu(), _process_cpu(cluster.server.pid)
            try:
                wall = _beat_until(
                    app,
                    lambda since=since: _unsynced(since) == 0 and _leased() == 0,
                    timeout=_limit(args, count),
                    every=settings.SYNC_DISPATCH_SECONDS,
                )
            except NotDone as exc:
                synced = args.vehicles - _unsynced(since)
                print(f"{count} processes: {exc} ({synced} of {args.vehicles} vehicles synced); load {_load()}")
                break
            cpu, server_cpu = cluster.workers_cpu() - cpu0, _process_cpu(cluster.server.pid) - server0
            billed, answered, twice = _billed_and_answered(since)
            bound = args.vehicles * args.latency_ms / 1000 / (count * args.concurrency)
            rows.append((count, wall, bound, cpu, server_cpu, billed, answered, twice, load_before, _load()))
            print(
                f"{count} processes: wall {wall:.1f} s, bound {bound:.1f} s, ratio {wall / bound:.2f}; "
                f"{args.vehicles / wall:.0f} vehicles/s; worker CPU {cpu / args.vehicles * 1000:.2f} ms/vehicle, "
                f"simulator CPU {server_cpu / args.vehicles * 1000:.2f} ms/vehicle; billed {billed}, stored "
                f"{answered}, vehicles asked twice {twice}; load {load_before} → {_load()}",
                flush=True,
            )
        print("\n| Processes | Wall (s) | Bound (s) | Ratio | Vehicles/s | Worker CPU/vehicle | Asked twice | Load |")
        print("| --- | --- | --- | --- | --- | --- | --- | --- |")
        for count, wall, bound, cpu, _server_cpu, _billed, _answered, twice, before, after in rows:
            print(
                f"| {count} | {wall:.1f} | {bound:.1f} | {wall / bound:.2f} | {args.vehicles / wall:.0f} | "
                f"{cpu / args.vehicles * 1000:.2f} ms | {twice} | {before} → {after} |"
            )
    finally:
        cluster.stop()
        del fleet


def _outage(seconds: float) -> tuple[float, float]:
    """The database refuses the workers' role for ``seconds``: their connections are terminated and their login
    withdrawn, then given back. Returns (began, ended) in time.monotonic()."""
    with _admin() as conn:
        conn.execute(f"ALTER ROLE {WORKER_ROLE} NOLOGIN")
        conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s", [WORKER_ROLE])
        began = time.monotonic()
        time.sleep(seconds)
        conn.execute(f"ALTER ROLE {WORKER_ROLE} LOGIN")
        return began, time.monotonic()


def _wait_rounds_in_flight(app, minimum: int, timeout: float = 60) -> None:
    """Dispatches until at least ``minimum`` vehicles are leased by running rounds."""
    _beat_until(app, lambda: _leased() >= minimum, timeout=timeout, every=1.0)


def _outage_lines(log_dir: Path) -> list[datetime]:
    """When each round that met the outage ended (its one ERROR line, logged once its answers were stored)."""
    moments = []
    for log in log_dir.glob("worker-*.log"):
        for line in log.read_text(errors="replace").splitlines():
            if "sync round: the database failed" in line:
                moments.append(datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f"))
    return moments


def recovery(args) -> None:
    from django.conf import settings
    from django.utils import timezone

    fleet, app, cluster = _setup(args)
    print(
        f"{args.vehicles} vehicles, latency {args.latency_ms} ms, {args.processes[0]} worker processes, "
        f"lease {settings.SYNC_LEASE_SECONDS} s, dispatch every {settings.SYNC_DISPATCH_SECONDS} s"
    )
    try:
        cluster.start_server()
        for number in range(args.processes[0]):
            cluster.start_worker(number)
        cluster.wait_for_workers(app, args.processes[0])
        every = settings.SYNC_DISPATCH_SECONDS

        # 1. A worker dies mid-round.
        _make_all_due()
        _reset_billing()
        since = timezone.now()
        _wait_rounds_in_flight(app, args.vehicles // 2)
        time.sleep(args.latency_ms / 2000)
        doomed = cluster.workers.pop(0)
        cluster.kill(doomed)
        killed = time.monotonic()
        print(f"worker killed with {_leased()} vehicles leased (load {_load()})", flush=True)
        cluster.start_worker(100)
        _beat_until(app, lambda: _unsynced(since) == 0 and _leased() == 0, timeout=300, every=every)
        billed, answered, twice = _billed_and_answered(since)
        print(
            f"worker death: every vehicle synced again {time.monotonic() - killed:.1f} s after it; "
            f"billed {billed}, stored {answered} (answers of the dead round are billed and lost), "
            f"vehicles asked twice {twice}; load {_load()}",
            flush=True,
        )

        # 2. The database goes away for the workers mid-round.
        _make_all_due()
        _reset_billing()
        since = timezone.now()
        _wait_rounds_in_flight(app, args.vehicles // 2)
        time.sleep(args.latency_ms / 2000)
        began, ended = _outage(args.outage_seconds)
        returned_at = datetime.now() - timedelta(seconds=time.monotonic() - ended)
        print(f"database unreachable for the workers for {ended - began:.1f} s (load {_load()})", flush=True)
        _beat_until(app, lambda: _unsynced(since) == 0 and _leased() == 0, timeout=300, every=every)
        back = time.monotonic() - ended
        billed, answered, twice = _billed_and_answered(since)
        held = [(at - returned_at).total_seconds() for at in _outage_lines(cluster.log_dir)]
        print(
            f"database outage: the {len(held)} rounds in flight stored their answers "
            f"{max(held, default=float('nan')):.1f} s after the database's return at the latest; every vehicle "
            f"synced {back:.1f} s after it; billed {billed}, stored {answered}, vehicles asked twice {twice}; "
            f"load {_load()}",
            flush=True,
        )
        errors = sum(
            (cluster.log_dir / f).read_text(errors="replace").count(" ERROR ")
            for f in os.listdir(cluster.log_dir)
            if f.startswith("worker")
        )
        tracebacks = sum(
            (cluster.log_dir / f).read_text(errors="replace").count("Traceback")
            for f in os.listdir(cluster.log_dir)
            if f.startswith("worker")
        )
        print(f"worker logs: {errors} ERROR lines, {tracebacks} tracebacks (logs in {cluster.log_dir})")
    finally:
        cluster.stop()
        with _admin() as conn:
            conn.execute(f"ALTER ROLE {WORKER_ROLE} LOGIN")
        del fleet


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", choices=["processes", "recovery"])
    parser.add_argument("--vehicles", type=int, default=None)
    parser.add_argument("--latency-ms", type=int, default=1000)
    parser.add_argument("--processes", type=int, nargs="+", default=None)
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--task-vehicles", type=int, default=500)
    parser.add_argument("--dispatch-limit", type=int, default=10000)
    parser.add_argument("--outage-seconds", type=float, default=30)
    parser.add_argument("--server-workers", type=int, default=2)
    parser.add_argument("--server-threads", type=int, default=250)
    parser.add_argument("--server-pool", type=int, default=8)
    parser.add_argument(
        "--seconds-per-vehicle", type=float, default=0.1, help="a round's limit is at least this much per vehicle"
    )
    args = parser.parse_args()
    if args.run == "processes":
        args.vehicles = args.vehicles or 10000
        args.processes = args.processes or [1, 2, 4]
        processes(args)
    else:
        args.vehicles = args.vehicles or 300
        args.processes = args.processes or [2]
        args.latency_ms = args.latency_ms if args.latency_ms != 1000 else 3000
        args.task_vehicles = min(args.task_vehicles, 50)
        recovery(args)


if __name__ == "__main__":
    main()
