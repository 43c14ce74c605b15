"""Where a sync round's CPU goes, step by step, in a fleet that has been synced before (issue 15.1). Not part of the
test suite: run by hand.

    .venv/bin/python tests/bench/bench_sync_steps.py [--fleet 10000] [--vehicles 1000] [--latency-ms 300] [--reuse]

On its own PostgreSQL database (``fleet_bench_steps``, dropped at the end unless ``--keep``): a fleet of ``--fleet``
simulated vehicles, every one synced once without latency (the warm-up: the rows a later round finds in place), then
every vehicle made due, the database vacuumed and analysed (as autovacuum would), and ``--vehicles`` of them synced in
rounds of ``--task-vehicles``, each on a fresh database connection as a worker's task is. The simulator is served by
gunicorn in its own process, as in bench_sync.py's throughput run. For each step of the round
(vehicles/sync/round.py) and each receiver of ``readings_stored`` it prints the CPU per vehicle of the round's thread
and of its PostgreSQL backend; the fetch threads' CPU is the process's less the round thread's. ``--reuse`` measures
again on the database a ``--keep`` run left.
"""

import argparse
import collections
import functools
import importlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.bench.bench_sync import _connect_fleet, _environment, _process_cpu, _recreate_database, _wait_for  # noqa: E402

DB_NAME = "fleet_bench_steps"
PORT = int(os.environ.get("BENCH_STEPS_PORT", "8769"))

# (where, name, label): the round's steps in order, then what runs inside them.
STEPS = [
    ("vehicles.sync.round:Round", "run", "round, all steps"),
    ("vehicles.sync.round:Round", "plan_and_submit", "1 plan and submit"),
    ("vehicles.sync.round", "vehicle_write", "2 apply answers in memory"),
    ("vehicles.sync.round", "group_store", "3 store groups"),
    ("vehicles.sync.storing", "rows_update", "   of which: endpoint, status, sync rows"),
    ("vehicles.sync.storing", "system_statuses_store", "   of which: system statuses"),
    ("vehicles.sync.round", "follow_ups_run", "4 follow-ups"),
    ("vehicles.sync.round:Round", "announce", "5 readings_stored receivers"),
    ("trips.derive", "vehicles_trips_derive", "   trips derived"),
    ("trips.hours", "vehicles_departures_judge", "   departures judged"),
    ("charging.sessions", "vehicles_sessions_settle_recent", "   charging sessions settled"),
    ("trips.costs", "sessions_cost", "   sessions priced"),
    ("alerts.evaluation", "vehicles_evaluate", "   alerts evaluated"),
    ("vehicles.sync.round", "leases_renew", "6 leases renewed"),
]


def _backend_cpu() -> float:
    """CPU seconds of this thread's PostgreSQL backend so far (0 before it connects)."""
    from django.db import connection

    raw = connection.connection
    if raw is None:
        return 0.0
    fields = Path(f"/proc/{raw.info.backend_pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Steps:
    """Wraps each step so that its calls add up the round thread's CPU and its backend's."""

    def __init__(self):
        self.cpu: dict[str, float] = collections.defaultdict(float)
        self.database: dict[str, float] = collections.defaultdict(float)
        for where, name, label in STEPS:
            module_name, _, class_name = where.partition(":")
            owner = importlib.import_module(module_name)
            if class_name:
                owner = getattr(owner, class_name)
            setattr(owner, name, self._timed(getattr(owner, name), label))

    def _timed(self, function, label):
        @functools.wraps(function)
        def timed(*args, **kwargs):
            cpu, database = time.thread_time(), _backend_cpu()
            try:
                return function(*args, **kwargs)
            finally:
                self.cpu[label] += time.thread_time() - cpu
                self.database[label] += _backend_cpu() - database

        return timed


def _make_all_due() -> None:
    from django.db import connection
    from django.utils import timezone

    from simulator.models import BillingCounter
    from vehicles.models import EndpointState, VehicleSync

    now = timezone.now()
    EndpointState.objects.update(next_sync_at=now)
    VehicleSync.objects.update(
        next_sync_at=now, requested_at=now, lease_until=None, lease_token="", billed_calls_day=0,
        billed_calls_month=0, backoff_until=None, backoff_failures=0,
    )  # fmt: skip
    BillingCounter.objects.all().delete()
    with connection.cursor() as cursor:
        # The machine's PostgreSQL runs without autovacuum (its CI configuration): without this, every round's
        # updates leave the endpoint rows bloated and the planner without statistics, and the figures measure that.
        cursor.execute("VACUUM ANALYZE")


def _rounds(ids: list[int], size: int) -> None:
    from django.db import connection

    from vehicles import sync

    for start in range(0, len(ids), size):
        connection.close()  # each task of a worker has a connection of its own
        token, claimed = sync.vehicles_lease(vehicle_ids=ids[start : start + size])
        sync.vehicles_sync(vehicle_ids=claimed, lease_token=token)


def run(args) -> None:
    env = _environment(f"http://127.0.0.1:{PORT}", DB_NAME)
    if not args.reuse:
        _recreate_database(DB_NAME)
    import django

    django.setup()
    from django.core.management import call_command

    from simulator.models import FaultSettings
    from vehicles.models import Vehicle
    from vehicles.sync import vehicles_ensure_sync_rows

    if not args.reuse:
        call_command("migrate", verbosity=0)
        _connect_fleet(args.fleet)
        vehicles_ensure_sync_rows()
    server = subprocess.Popen(
        [str(ROOT / ".venv/bin/gunicorn"), "fleet.wsgi", "-k", "gthread", "--threads", "200", "--workers", "1",
         "--bind", f"127.0.0.1:{PORT}", "--log-level", "warning"],
        cwd=ROOT, env={**os.environ, **env, "DATABASE_POOL_SIZE": "40"}, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    size = args.task_vehicles
    try:
        _wait_for(PORT)
        ids = list(Vehicle.objects.order_by("pk").values_list("pk", flat=True))
        if not args.reuse:
            FaultSettings.objects.update(latency_ms=0)
            started = time.monotonic()
            _rounds(ids, size)
            print(f"warm-up: {len(ids)} vehicles synced once without latency in {time.monotonic() - started:.0f} s")
        FaultSettings.objects.update(latency_ms=args.latency_ms)
        _make_all_due()
        measured = ids[: args.vehicles]
        steps = Steps()
        load = os.getloadavg()[0]
        server_cpu, cpu, thread_cpu = _process_cpu(server.pid), time.process_time(), time.thread_time()
        started = time.monotonic()
        _rounds(measured, size)
        wall = time.monotonic() - started
        cpu, thread_cpu = time.process_time() - cpu, time.thread_time() - thread_cpu
        server_cpu = _process_cpu(server.pid) - server_cpu
        count = len(measured)

        def ms(seconds: float) -> str:
            return f"{seconds / count * 1000:.2f} ms"

        print(
            f"{count} vehicles of a {len(ids)}-vehicle fleet in rounds of {size}, latency {args.latency_ms} ms: "
            f"wall {wall:.1f} s; load {load:.1f} → {os.getloadavg()[0]:.1f}"
        )
        print(f"CPU per vehicle: sync process {ms(cpu)} (round thread {ms(thread_cpu)}, fetch threads "
              f"{ms(cpu - thread_cpu)}); simulator {ms(server_cpu)}")  # fmt: skip
        print("| Step | Round thread CPU per vehicle | Its PostgreSQL backend per vehicle |")
        print("| --- | --- | --- |")
        for _, _, label in STEPS:
            print(f"| {label} | {ms(steps.cpu[label])} | {ms(steps.database[label])} |")
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
        if not args.keep:
            from django.db import connections

            connections.close_all()
            import psycopg

            with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as admin:
                admin.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fleet", type=int, default=10000)
    parser.add_argument("--vehicles", type=int, default=1000)
    parser.add_argument("--latency-ms", type=int, default=300)
    parser.add_argument("--task-vehicles", type=int, default=500, help="vehicles per round, as bench_workers.py")
    parser.add_argument("--reuse", action="store_true", help="measure on the database a --keep run left")
    parser.add_argument("--keep", action="store_true", help="keep the database for a --reuse run")
    run(parser.parse_args())


if __name__ == "__main__":
    main()
