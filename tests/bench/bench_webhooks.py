"""Load test of the webhook receiver (issues 7 and 15.4). Not part of the test suite: run by hand.

    .venv/bin/python tests/bench/bench_webhooks.py [--events 10000] [--duplicates 1000] [--senders 32]
        [--worker-processes 2] [--worker-after]

The app is served by gunicorn as in the Procfile (2 workers × 8 threads) and a Celery worker (``--worker-processes``)
takes the processing tasks from Redis (127.0.0.1:6379/14, else a file-system broker); both use their own PostgreSQL
database (``fleet_bench_webhooks``, recreated on every run) on 127.0.0.1:5432. This process is Smartcar: over
loopback it POSTs ``--events`` distinct signed CHARGING_* deliveries for 200 vehicles, plus ``--duplicates``
redeliveries of events already sent, all at once from ``--senders`` threads (each with one kept-alive connection of
Python's http.client: a light sender leaves the two cores to the receiver and the worker).

Prints the receiver's answers (status counts, latency percentiles), deliveries per second, how long until the last
event was processed, the CPU time spent per delivery by the web server's processes and per event by the worker's
(each with its PostgreSQL backends, told apart by their application_name), and the checks: every event stored
exactly once (none lost), every duplicate acknowledged as such, and every event processed exactly once — counted
from the worker's own log line per processed event.
"""

import argparse
import collections
import hashlib
import hmac
import http.client
import json
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DB_NAME = "fleet_bench_webhooks"
PORT = 8151
VEHICLES = 200
MANAGEMENT_TOKEN = "bench-management-token"
WEBHOOK_ID = "9b6ae692-60cc-4b3e-89d8-71e7549cf805"
EVENT_TYPES = ("CHARGING_STARTED", "CHARGING_STOPPED", "CHARGING_COMPLETED")


def _redis_answers() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=0.5):
            return True
    except OSError:
        return False


def _environment() -> dict:
    broker = "redis://127.0.0.1:6379/14" if _redis_answers() else "filesystem://"
    env = {
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{DB_NAME}",
        # As in production (settings default): connections kept for a minute, not opened per request.
        "DATABASE_CONN_MAX_AGE": "60",
        "SMARTCAR_MODE": "simulated",
        "WEB_ACCESS_LOG": "",  # gunicorn.conf.py: no access log, as measured before it had one
        "SMARTCAR_MANAGEMENT_TOKEN": MANAGEMENT_TOKEN,
        "SMARTCAR_CLIENT_SECRET": "bench-client-secret",
        "SMARTCAR_WEBHOOK_ID": WEBHOOK_ID,
        "SECRET_KEY": "bench-secret-key-" + "x" * 40,
        "TOKEN_ENCRYPTION_KEYS": "r6Y1Ah1Z7lqiVqRuw0l4GVeWtbG2fR7n9n9n1i3Yq0o=",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECURE_SSL_REDIRECT": "false",
        "LOG_LEVEL": "INFO",
        "CELERY_BROKER_URL": broker,
        "FLEET_VAR_DIR": str(ROOT / "var" / "bench-webhooks"),
        "DJANGO_SETTINGS_MODULE": "fleet.settings",
    }
    os.environ.update(env)
    return env


def _recreate_database() -> None:
    import psycopg

    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {DB_NAME}")


def _setup() -> list[str]:
    """Migrated database, one fleet of vehicles (no permissions: no targeted sync leaves this machine)."""
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from fleet.models import Fleet
    from vehicles.models import Vehicle

    fleet = Fleet.objects.create(name="Bench", slug="bench")
    vehicles = [
        Vehicle(fleet=fleet, smartcar_id=str(uuid.uuid4()), make="TESLA", model="Model 3", permissions=[])
        for _ in range(VEHICLES)
    ]
    Vehicle.objects.bulk_create(vehicles)
    if os.environ["CELERY_BROKER_URL"].startswith("redis"):
        import redis

        redis.Redis.from_url(os.environ["CELERY_BROKER_URL"]).flushdb()
    return [v.smartcar_id for v in vehicles]


def _deliveries(vehicle_ids: list[str], events: int, duplicates: int, rng: random.Random) -> list[tuple[str, bytes]]:
    start = datetime(2026, 3, 1, tzinfo=UTC)
    bodies = []
    for index in range(events):
        payload = {
            "eventId": str(uuid.uuid4()),
            "vehicleId": vehicle_ids[index % len(vehicle_ids)],
            "eventType": EVENT_TYPES[(index // len(vehicle_ids)) % len(EVENT_TYPES)],
            "eventTime": (start + timedelta(minutes=index)).isoformat().replace("+00:00", "Z"),
        }
        body = {"version": "2.0", "webhookId": WEBHOOK_ID, "eventName": "eventBased", "mode": "live"}
        bodies.append((payload["eventId"], json.dumps({**body, "payload": payload}).encode()))
    sent = bodies + rng.sample(bodies, duplicates)
    rng.shuffle(sent)
    return sent


def _wait_for(port: int, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"nothing answers on port {port}")


def _wait_for_worker(log_path: Path, seconds: float = 60) -> None:
    """Until the worker says it is ready (its start-up is not counted in the CPU per event)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if " ready." in log_path.read_text(errors="replace"):
            return
        time.sleep(0.2)
    raise SystemExit("the worker did not start")


def _tree_cpu(pid: int) -> float:
    """CPU seconds (user + system) so far of a process and its children (gunicorn's, Celery's workers), from /proc."""
    ticks = os.sysconf("SC_CLK_TCK")
    pids, total = [pid], 0.0
    for each in Path("/proc").iterdir():
        if each.name.isdigit():
            try:
                if int(_stat_fields(int(each.name))[1]) == pid:
                    pids.append(int(each.name))
            except OSError:
                continue
    for each in pids:
        try:
            fields = _stat_fields(each)
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def _stat_fields(pid: int) -> list[str]:
    """/proc/<pid>/stat after the command name: [state, ppid, …, utime (11), stime (12), …]."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def _backends_cpu() -> dict[int, tuple[str, float]]:
    """CPU seconds so far of each of this database's PostgreSQL backends: {pid: (application_name, seconds)}."""
    import psycopg

    ticks = os.sysconf("SC_CLK_TCK")
    with psycopg.connect(f"postgresql://postgres@127.0.0.1:5432/{DB_NAME}", autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid, application_name FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            [DB_NAME],
        ).fetchall()
    backends = {}
    for pid, name in rows:
        try:
            fields = _stat_fields(pid)
        except OSError:
            continue
        backends[pid] = (name or "other", (int(fields[11]) + int(fields[12])) / ticks)
    return backends


class CpuMeter:
    """CPU seconds spent by the web server and the worker (each with its PostgreSQL backends) since the meter started.

    Backends come and go (the worker opens a connection per task; the web server's are renewed after CONN_MAX_AGE):
    a thread reads them every half second and keeps each one's last figure, so one that ended takes at most its last
    half second with it."""

    def __init__(self, processes: dict[str, subprocess.Popen]):
        self.processes = processes
        self.start_processes = {name: _tree_cpu(p.pid) for name, p in processes.items()}
        self.start_backends = _backends_cpu()
        self.backends = dict(self.start_backends)
        self.lock = threading.Lock()
        threading.Thread(target=self._watch, daemon=True).start()

    def _watch(self) -> None:
        while True:
            time.sleep(0.5)
            seen = _backends_cpu()
            with self.lock:
                self.backends.update(seen)

    def spent(self) -> dict[str, float]:
        figures = {
            f"{name} processes": _tree_cpu(p.pid) - self.start_processes.get(name, 0.0)
            for name, p in self.processes.items()
        }
        with self.lock:
            self.backends.update(_backends_cpu())
            for pid, (name, seconds) in self.backends.items():
                before = self.start_backends.get(pid, (name, 0.0))[1]
                figures[f"{name} backends"] = figures.get(f"{name} backends", 0.0) + seconds - before
        return figures


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=10000)
    parser.add_argument("--duplicates", type=int, default=1000)
    parser.add_argument("--senders", type=int, default=32)
    parser.add_argument("--worker-processes", type=int, default=2, help="the Celery worker's --concurrency")
    parser.add_argument(
        "--worker-nice", type=int, default=0, help="run the worker at this nice level (the web server keeps 0)"
    )
    parser.add_argument("--timeout", type=float, default=300, help="seconds to wait for processing to finish")
    parser.add_argument(
        "--worker-after", action="store_true", help="start the worker once all is sent: the receiver's figures alone"
    )
    args = parser.parse_args()

    env = _environment()
    _recreate_database()
    vehicle_ids = _setup()
    rng = random.Random(7)
    deliveries = _deliveries(vehicle_ids, args.events, args.duplicates, rng)
    log_path = ROOT / "var" / "bench-webhooks" / "worker.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    web_log = (ROOT / "var" / "bench-webhooks" / "web.log").open("w")
    server = subprocess.Popen(
        [str(ROOT / ".venv/bin/gunicorn"), "fleet.wsgi", "--bind", f"127.0.0.1:{PORT}", "--workers", "2",
         "--threads", "8", "--log-level", "warning"],
        cwd=ROOT, env={**os.environ, **env, "PGAPPNAME": "web"}, stdout=web_log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    processes = [server]

    def start_worker() -> None:
        with log_path.open("w") as log:
            processes.append(
                subprocess.Popen(
                    ["nice", "-n", str(args.worker_nice), str(ROOT / ".venv/bin/celery"), "-A", "fleet", "worker",
                     "--concurrency", str(args.worker_processes), "--loglevel", "INFO", "--without-heartbeat",
                     "--without-gossip", "--without-mingle"],
                    cwd=ROOT, env={**os.environ, **env, "PGAPPNAME": "worker"}, stdout=log, stderr=subprocess.STDOUT,
                )
            )  # fmt: skip

    if not args.worker_after:
        start_worker()
    try:
        _wait_for(PORT)
        if not args.worker_after:
            _wait_for_worker(log_path)
        _run(args, deliveries, log_path, processes, start_worker if args.worker_after else None)
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=30)


def _run(args, deliveries: list[tuple[str, bytes]], log_path: Path, processes: list, start_worker=None) -> None:
    from connect.models import EventStatus, WebhookEvent

    path = f"/webhooks/{WEBHOOK_ID}/"
    url = f"http://127.0.0.1:{PORT}{path}"
    local = threading.local()
    answers: list[tuple[int, str, float]] = []
    lock = threading.Lock()
    # Signed before the clock starts: the sender's own work is not the receiver's.
    signed = [
        (body, {"Content-Type": "application/json", "SC-Signature": hmac.new(
            MANAGEMENT_TOKEN.encode(), body, hashlib.sha256).hexdigest()})
        for _, body in deliveries
    ]  # fmt: skip

    def send(delivery: tuple[bytes, dict]) -> None:
        body, headers = delivery
        started = time.perf_counter()
        for attempt in range(2):  # a kept-alive connection the server closed is opened again once
            if getattr(local, "connection", None) is None:
                local.connection = http.client.HTTPConnection("127.0.0.1", PORT, timeout=15)
            try:
                local.connection.request("POST", path, body=body, headers=headers)
                response = local.connection.getresponse()
                status, kind = response.status, json.loads(response.read()).get("status", "")
                break
            except (OSError, http.client.HTTPException, ValueError) as exc:
                local.connection.close()
                local.connection = None
                status, kind = 0, type(exc).__name__
                if attempt:
                    break
        with lock:
            answers.append((status, kind, time.perf_counter() - started))

    print(f"{args.events} events + {args.duplicates} redeliveries from {args.senders} threads → {url}")
    print("load average before: {:.1f} {:.1f} {:.1f}".format(*os.getloadavg()))
    meter = CpuMeter({"web": processes[0]} | ({"worker": processes[1]} if len(processes) > 1 else {}))
    sender_cpu = time.process_time()
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=args.senders) as pool:
        list(pool.map(send, signed))
    sending = time.perf_counter() - started
    sender_cpu = time.process_time() - sender_cpu
    while_sending = meter.spent()
    print("load average after sending: {:.1f} {:.1f} {:.1f}".format(*os.getloadavg()))
    latencies = [seconds * 1000 for _, _, seconds in answers]
    statuses = collections.Counter((status, kind) for status, kind, _ in answers)
    print(f"sent {len(answers)} in {sending:.1f} s: {len(answers) / sending:.0f} deliveries/s")
    print("answers: " + ", ".join(f"{status} {kind}: {n}" for (status, kind), n in sorted(statuses.items())))
    print(
        f"latency ms: p50 {statistics.median(latencies):.0f}, p95 {_percentile(latencies, 0.95):.0f}, "
        f"p99 {_percentile(latencies, 0.99):.0f}, max {max(latencies):.0f}"
    )
    print(
        "CPU while sending, ms per delivery: "
        + ", ".join(f"{name} {seconds * 1000 / len(answers):.2f}" for name, seconds in sorted(while_sending.items()))
        + f", the sender {sender_cpu * 1000 / len(answers):.2f}"
    )

    if start_worker is not None:
        start_worker()
        meter.processes["worker"] = processes[1]
        meter.start_processes["worker"] = 0.0
        started = time.perf_counter()
        print("worker started now")
    unfinished = [EventStatus.RECEIVED, EventStatus.PROCESSING]
    deadline = time.monotonic() + args.timeout
    while WebhookEvent.objects.filter(status__in=unfinished).exists() and time.monotonic() < deadline:
        time.sleep(0.5)
    processed_after = time.perf_counter() - started
    in_all = meter.spent()
    time.sleep(2)  # the worker's last log lines
    sent_ids = {event_id for event_id, _ in deliveries}
    stored = collections.Counter(WebhookEvent.objects.values_list("event_id", flat=True))
    final = collections.Counter(WebhookEvent.objects.values_list("status", flat=True))
    processed_lines = collections.Counter(
        re.findall(r"webhook event ([0-9a-f-]{36}): processed", log_path.read_text(errors="replace"))
    )
    print(f"all processed {processed_after:.1f} s after the first delivery (or the worker's start); {dict(final)}")
    print(
        f"CPU in all, ms per event stored ({len(stored)}): "
        + ", ".join(f"{name} {seconds * 1000 / max(1, len(stored)):.2f}" for name, seconds in sorted(in_all.items()))
    )
    lost = sent_ids - set(stored)
    twice_stored = [e for e, n in stored.items() if n > 1]
    twice_processed = [e for e, n in processed_lines.items() if n > 1]
    never_processed = sent_ids - set(processed_lines)
    duplicates_acknowledged = statuses.get((200, "duplicate"), 0)
    print(f"lost: {len(lost)}; stored twice: {len(twice_stored)}; processed twice: {len(twice_processed)}; ")
    print(f"not processed: {len(never_processed)}; redeliveries acknowledged as duplicates: {duplicates_acknowledged}")
    ok = (
        not lost
        and not twice_stored
        and not twice_processed
        and not never_processed
        and duplicates_acknowledged == args.duplicates
        and statuses.get((200, "received"), 0) == args.events
    )
    print("OK" if ok else "FAILED")
    if not ok:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
