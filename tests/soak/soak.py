"""The fault soak (``make soak``): a whole installation runs while faults are injected on a schedule, then checked.

Web (gunicorn, 2 processes), two Celery workers and beat run against a PostgreSQL database of their own
(SOAK_DATABASE, created and dropped here) and a Redis server of their own (started here on SOAK_REDIS_PORT, with an
append-only file so that stopping it loses nothing). A fleet of simulated vehicles (no Hyundai or Kia: their 20 calls
a real day would run out) is synced, commanded and sent webhook events throughout. One fault at a time:

 1. a worker killed (SIGKILL, pool included) during a sync round;
 2. a pool process of the other worker killed during a round;
 3. pool processes killed while a command is being sent;
 4. both workers killed while a command is being sent;
 5. the broker unreachable for SOAK_OUTAGE seconds (Redis stopped) while commands, "Sync now" and webhooks arrive;
 6. every database connection of the installation terminated (pg_terminate_backend), twice, mid-round;
 7. simulator faults (5xx, 429, timeouts and malformed bodies, in single calls and batch members);
 8. a burst of webhook deliveries with the workers down;
 9. two beats at once.

After each fault the soak measures the time until the installation recovered (every vehicle synced after the fault,
every command and webhook event settled), up to SOAK_RECOVERY_CAP seconds. At the end it checks: every command in
a final state, every vehicle synced since the last fault, every webhook event processed once, no reading stored
twice, no traceback outside the injected faults. It prints one line per fault and per check, and exits 1 if a check
failed. The figures go to docs/reliability.md.

Run: ``make soak`` (about 15–30 minutes). Needs PostgreSQL on 127.0.0.1:5432 (or SOAK_POSTGRES_URL) and
``redis-server`` on the PATH.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
VAR = ROOT / "var" / "soak"
PORT = int(os.environ.get("SOAK_PORT", "8190"))
REDIS_PORT = int(os.environ.get("SOAK_REDIS_PORT", "6391"))
POSTGRES = os.environ.get("SOAK_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432")
DATABASE = os.environ.get("SOAK_DATABASE", "fleet_soak")
VEHICLES = int(os.environ.get("SOAK_VEHICLES", "40"))
OUTAGE = int(os.environ.get("SOAK_OUTAGE", "60"))
RECOVERY_CAP = int(os.environ.get("SOAK_RECOVERY_CAP", "480"))
BURST = int(os.environ.get("SOAK_WEBHOOK_BURST", "500"))
# Commands carry their own 60 s vehicle timeout and a task time limit of 150 s, so that a command whose worker died
# is settled within minutes (the production default, 660 s, works the same way, only slower).
TIME_LIMIT = int(os.environ.get("SOAK_TASK_TIME_LIMIT", "150"))
MAKES = ("TESLA", "FORD", "NISSAN", "CHEVROLET", "BMW", "TOYOTA", "AUDI", "JEEP", "GMC", "VOLKSWAGEN")
PERMISSIONS = [
    "read_battery", "read_charge", "read_location", "read_odometer", "read_security", "read_vehicle_info",
    "read_vin", "read_fuel", "read_tires", "read_engine_oil", "control_security", "control_charge",
]  # fmt: skip
EVENT_FOR = {"CHARGING": "CHARGING_STARTED", "NOT_CHARGING": "CHARGING_STOPPED", "FULLY_CHARGED": "CHARGING_COMPLETED"}
LOG_TIME = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),\d+ ")

ENV = {
    **os.environ,
    "DJANGO_SETTINGS_MODULE": "fleet.settings",
    "DEBUG": "false",
    "DATABASE_URL": f"{POSTGRES}/{DATABASE}",
    "CELERY_BROKER_URL": f"redis://127.0.0.1:{REDIS_PORT}/0",
    "CELERY_BROKER_VISIBILITY_TIMEOUT": str(TIME_LIMIT + 60),
    "CELERY_TASK_TIME_LIMIT": str(TIME_LIMIT),
    "SMARTCAR_VEHICLE_TIMEOUT_SECONDS": "60",
    "SIMULATOR_TIMEOUT_SECONDS": "70",
    "SECRET_KEY": "soak-" + "x" * 50,
    "TOKEN_ENCRYPTION_KEYS": "r6Y1Ah1Z7lqiVqRuw0l4GVeWtbG2fR7n9n9n1i3Yq0o=",
    "ALLOWED_HOSTS": "127.0.0.1,localhost",
    "SECURE_SSL_REDIRECT": "false",
    "SMARTCAR_MODE": "simulated",
    "WEB_ACCESS_LOG": "",  # gunicorn.conf.py: no access log, as measured before it had one
    # DEBUG is off: the simulator's secrets must be given, never the public demo values.
    "SMARTCAR_CLIENT_SECRET": "soak-client-secret",
    "SMARTCAR_MANAGEMENT_TOKEN": "soak-management-token",
    "SMARTCAR_SIMULATOR_ORIGIN": "",
    "SMARTCAR_REDIRECT_URI": f"http://127.0.0.1:{PORT}/connect/callback/",
    "FLEET_VAR_DIR": str(VAR),
    "STATIC_ROOT": str(VAR / "static"),
    "LOG_LEVEL": "WARNING",
    "PYTHONUNBUFFERED": "1",
    # Rounds every minute and short back-offs, so that a vehicle faulted in one phase is synced again in the next.
    **{
        f"SYNC_INTERVAL_{cls}_{activity}": "60"
        for cls in ("FAST", "MEDIUM", "SLOW", "DAILY")
        for activity in ("DRIVING", "CHARGING", "PARKED", "ASLEEP", "UNKNOWN")
    },
    "SYNC_INTERVAL_FLOOR_SECONDS": "60",
    "SYNC_BACKOFF_BASE_SECONDS": "60",
    "SYNC_BACKOFF_MAX_SECONDS": "120",
    "SYNC_RETRY_BASE_SECONDS": "30",
    "SYNC_RETRY_MAX_SECONDS": "120",
}


def now() -> datetime:
    return datetime.now(UTC)


def say(message: str) -> None:
    print(f"{now():%H:%M:%S} {message}", flush=True)


# --- Processes ---------------------------------------------------------------------------------------------------


@dataclass
class Process:
    name: str
    command: list[str]
    log: Path
    popen: subprocess.Popen | None = None

    def start(self) -> Process:
        with self.log.open("ab") as out:
            self.popen = subprocess.Popen(
                self.command, cwd=ROOT, env=ENV, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        return self

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.popen is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout=60)
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(timeout=30)
        self.popen = None

    def children(self) -> list[int]:
        if self.popen is None:
            return []
        found = subprocess.run(["pgrep", "-P", str(self.popen.pid)], capture_output=True, text=True).stdout.split()
        return [int(pid) for pid in found]


def python(*args: str) -> list[str]:
    return [sys.executable, *args]


def web() -> Process:
    command = python(
        "-m", "gunicorn", "fleet.wsgi", "--bind", f"127.0.0.1:{PORT}", "--workers", "2", "--threads", "8",
        "--no-control-socket",
    )  # fmt: skip
    return Process("web", command, VAR / "web.log")


def worker(name: str) -> Process:
    command = python(
        "-m", "celery", "-A", "fleet", "worker", "--pool=prefork", "--concurrency=2", "--hostname", f"{name}@soak",
        "--loglevel=WARNING", "--without-gossip", "--without-mingle",
    )  # fmt: skip
    return Process(name, command, VAR / f"{name}.log")


def beat(name: str) -> Process:
    schedule = VAR / f"{name}-schedule"
    command = python("-m", "celery", "-A", "fleet", "beat", "--loglevel=WARNING", "--schedule", str(schedule))
    return Process(name, command, VAR / f"{name}.log")


def redis() -> Process:
    command = [
        "redis-server", "--port", str(REDIS_PORT), "--bind", "127.0.0.1", "--dir", str(VAR), "--appendonly", "yes",
        "--save", "", "--logfile", "",
    ]  # fmt: skip
    return Process("redis", command, VAR / "redis.log")


def redis_stop() -> None:
    subprocess.run(["redis-cli", "-p", str(REDIS_PORT), "shutdown"], capture_output=True, check=False)


def wait_for(condition, *, timeout: float, what: str, every: float = 1.0) -> float | None:
    """Seconds until ``condition()`` held, or None after ``timeout``."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        with contextlib.suppress(Exception):
            if condition():
                return time.monotonic() - started
        time.sleep(every)
    say(f"  {what}: not within {timeout:.0f} s")
    return None


# --- The installation's data (read and written with the app's own models) -----------------------------------------


def django_setup() -> None:
    os.environ.update(ENV)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def database_create() -> None:
    import psycopg

    with psycopg.connect(f"{POSTGRES}/postgres", autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{DATABASE}"')


def database_drop() -> None:
    import psycopg

    with psycopg.connect(f"{POSTGRES}/postgres", autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')


def connections_terminate() -> int:
    import psycopg

    with psycopg.connect(f"{POSTGRES}/postgres", autocommit=True) as connection:
        rows = connection.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            [DATABASE],
        ).fetchall()
    return len(rows)


def fleet_create():
    from django.core.management import call_command

    from fleet.models import Membership, Role, User
    from fleet.services import fleet_create as create
    from tests.vehicles.conftest import connect_simulated

    call_command("migrate", verbosity=0)
    call_command("collectstatic", "--noinput", verbosity=0)  # the web server runs with DEBUG off
    owner = User.objects.create_user(email="soak-owner@example.com", password="soak soak soak")
    manager = User.objects.create_user(email="soak-manager@example.com", password="soak soak soak")
    fleet = create(name="Soak", owner=owner)
    Membership.objects.create(user=manager, fleet=fleet, role=Role.MANAGER)
    makes = [MAKES[i % len(MAKES)] for i in range(VEHICLES)]
    connected = connect_simulated(fleet, makes=makes, permissions=PERMISSIONS, seed=17)
    return manager, connected.vehicles


def close_connections() -> None:
    from django.db import connections

    connections.close_all()


# --- Load: commands and webhooks ------------------------------------------------------------------------------------


@dataclass
class Load:
    manager: object
    vehicles: list
    deliveries: set[str] = field(default_factory=set)  # event ids answered 200
    refused: int = 0
    submitted: int = 0

    def command(self, vehicle=None, kind: str | None = None):
        from vehicles import commands

        vehicle = vehicle or random.choice(self.vehicles)
        kind = kind or random.choice(["lock", "unlock"])
        try:
            command = commands.command_submit(vehicle=vehicle, user=self.manager, kind=kind)
        except commands.CommandRefused as exc:
            say(f"  command refused: {exc.user_message}")
            return None
        finally:
            close_connections()
        self.submitted += 1
        return command

    def webhooks(self, count: int) -> None:
        from django.conf import settings

        from simulator.models import Vehicle as SimVehicle
        from tests.webhooks.conftest import charging_event, sign

        # Events as Smartcar sends them: each says what the vehicle is doing (a made-up event would be contradicted
        # by the next poll, and the history would then hold the flip-flop).
        charging = {
            sim.vehicle_id: sim.state["ev"]["charging"]
            for sim in SimVehicle.objects.filter(vehicle_id__in=[v.smartcar_id for v in self.vehicles])
            if "ev" in sim.state
        }
        close_connections()
        electric = [v for v in self.vehicles if v.smartcar_id in charging]
        with httpx.Client(base_url=f"http://127.0.0.1:{PORT}", timeout=20) as client:
            for _ in range(count):
                vehicle = random.choice(electric)
                kind = EVENT_FOR[charging[vehicle.smartcar_id]]
                body = charging_event(
                    settings.SMARTCAR_WEBHOOK_ID, vehicle.smartcar_id, kind, eventTime=f"{now():%Y-%m-%dT%H:%M:%S.000Z}"
                )
                raw = json.dumps(body).encode()
                headers = {"SC-Signature": sign(raw), "Content-Type": "application/json"}
                try:
                    response = client.post(f"/webhooks/{settings.SMARTCAR_WEBHOOK_ID}/", content=raw, headers=headers)
                except httpx.HTTPError:
                    self.refused += 1
                    continue
                if response.status_code == 200:
                    self.deliveries.add(body["payload"]["eventId"])
                else:
                    self.refused += 1


# --- Conditions -----------------------------------------------------------------------------------------------------


def vehicles_synced_since(moment: datetime) -> bool:
    from vehicles.models import VehicleStatus

    close_connections()
    return VehicleStatus.objects.filter(last_sync_at__gte=moment).count() == VEHICLES


def commands_settled() -> bool:
    from django.db.models import Q

    from vehicles.models import Command

    close_connections()
    return not Command.objects.filter(Q(status__in=["pending", "sending"]) | Q(readback="due")).exists()


def events_settled() -> bool:
    from connect.models import WebhookEvent

    close_connections()
    return not WebhookEvent.objects.filter(status__in=["received", "processing"]).exists()


def recovered_since(moment: datetime) -> bool:
    return vehicles_synced_since(moment) and commands_settled() and events_settled()


# --- Faults ---------------------------------------------------------------------------------------------------------


@dataclass
class Fault:
    name: str
    started: datetime
    ended: datetime | None = None
    recovery: float | None = None
    note: str = ""


class Soak:
    def __init__(self, load: Load):
        self.load = load
        self.web = web()
        self.workers = [worker("worker-a"), worker("worker-b")]
        self.beat = beat("beat")
        self.redis = redis()
        self.faults: list[Fault] = []

    def start(self) -> None:
        self.redis.start()
        wait_for(self.redis_answers, timeout=20, what="redis", every=0.2)
        for process in (self.web, *self.workers, self.beat):
            process.start()
        wait_for(self.web_answers, timeout=60, what="web", every=0.5)

    def stop(self) -> None:
        for process in (self.beat, *self.workers, self.web):
            process.kill(signal.SIGTERM)
        redis_stop()
        self.redis.kill(signal.SIGTERM)

    def redis_answers(self) -> bool:
        done = subprocess.run(["redis-cli", "-p", str(REDIS_PORT), "ping"], capture_output=True, text=True)
        return done.stdout.strip() == "PONG"

    def web_answers(self) -> bool:
        return httpx.get(f"http://127.0.0.1:{PORT}/healthz", timeout=5).status_code in (200, 503)

    @contextlib.contextmanager
    def fault(self, name: str):
        fault = Fault(name, now())
        say(f"fault: {name}")
        self.faults.append(fault)
        try:
            yield fault
        finally:
            fault.ended = now()
            fault.recovery = wait_for(
                lambda: recovered_since(fault.ended), timeout=RECOVERY_CAP, what=f"{name}: recovery", every=2
            )
            say(f"  recovered in {fault.recovery:.0f} s" if fault.recovery is not None else "  not recovered")

    def slow_command(self):
        """A lock sent to a vehicle that takes 30 s to answer: returns once a worker is sending it."""
        from simulator.models import Vehicle as SimVehicle
        from vehicles.models import Command

        vehicle = random.choice(self.load.vehicles)
        SimVehicle.objects.filter(vehicle_id=vehicle.smartcar_id).update(latency_ms=30_000)
        command = self.load.command(vehicle, "lock")
        sending = wait_for(
            lambda: Command.objects.filter(pk=command.pk, status="sending").exists(), timeout=60, what="sending"
        )
        time.sleep(2)
        return vehicle, command, sending is not None

    def fast_again(self, vehicle=None) -> None:
        from simulator.models import Vehicle as SimVehicle

        vehicles = SimVehicle.objects.all()
        if vehicle is not None:
            vehicles = vehicles.filter(vehicle_id=vehicle.smartcar_id)
        vehicles.update(latency_ms=None)
        close_connections()

    def mid_round(self) -> str:
        """Every vehicle due now and slow to answer (5 s); returns once a round holds some of them."""
        from simulator.models import Vehicle as SimVehicle
        from vehicles.models import EndpointState, VehicleSync

        SimVehicle.objects.update(latency_ms=5000)
        EndpointState.objects.update(next_sync_at=now())  # as "Sync now" does, for every vehicle
        VehicleSync.objects.update(next_sync_at=now(), requested_at=now())
        wait_for(
            lambda: VehicleSync.objects.filter(lease_until__gt=now()).exists(), timeout=60, what="a round", every=0.2
        )
        time.sleep(1)
        held = VehicleSync.objects.filter(lease_until__gt=now()).count()
        close_connections()
        return f"{held} vehicles leased"

    def run(self) -> None:
        from vehicles.sync import vehicle_sync_now

        say(f"warming up: {VEHICLES} vehicles, first rounds")
        wait_for(lambda: vehicles_synced_since(START), timeout=300, what="first rounds", every=2)
        for _ in range(4):
            self.load.command()
        self.load.webhooks(20)
        wait_for(commands_settled, timeout=120, what="first commands", every=2)

        with self.fault("worker killed mid-round") as fault:
            fault.note = self.mid_round()
            self.workers[0].kill()
            self.fast_again()
            time.sleep(10)
            self.workers[0].start()

        with self.fault("pool process killed mid-round") as fault:
            fault.note = self.mid_round()
            for pid in self.workers[1].children():
                os.kill(pid, signal.SIGKILL)
            self.fast_again()

        with self.fault("pool processes killed while a command is sent") as fault:
            vehicle, command, sending = self.slow_command()
            for process in self.workers:
                for pid in process.children():
                    os.kill(pid, signal.SIGKILL)
            self.fast_again(vehicle)
            fault.note = f"command {command.pk} {'was' if sending else 'was not yet'} sending"

        with self.fault("both workers killed while a command is sent") as fault:
            vehicle, command, sending = self.slow_command()
            for process in self.workers:
                process.kill()
            self.fast_again(vehicle)
            time.sleep(5)
            for process in self.workers:
                process.start()
            fault.note = f"command {command.pk} {'was' if sending else 'was not yet'} sending"

        with self.fault(f"broker stopped {OUTAGE} s"):
            redis_stop()
            self.redis.kill(signal.SIGTERM)
            for _ in range(3):
                self.load.command()
            vehicle_sync_now(vehicle=random.choice(self.load.vehicles))
            close_connections()
            self.load.webhooks(20)
            time.sleep(OUTAGE)
            self.redis.start()
            wait_for(self.redis_answers, timeout=30, what="redis back", every=0.2)

        with self.fault("database connections terminated mid-round") as fault:
            terminated = 0
            for _ in range(2):
                held = self.mid_round()
                terminated += connections_terminate()
                self.fast_again()
            fault.note = f"{held}; {terminated} connections terminated"

        with self.fault("simulator 5xx, 429, timeouts and malformed bodies for 120 s"):
            simulator_faults(upstream=0.15, asleep=0.1, timeout=0.05, malformed=0.1, requests_per_minute=12)
            for _ in range(4):
                self.load.command()
                time.sleep(30)
            simulator_faults(upstream=0, asleep=0, timeout=0, malformed=0, requests_per_minute=None)

        with self.fault(f"{BURST} webhook deliveries with the workers down"):
            for process in self.workers:
                process.kill(signal.SIGTERM)
            self.load.webhooks(BURST)
            for process in self.workers:
                process.start()

        with self.fault("two beats for 90 s"):
            second = beat("beat-2").start()
            for _ in range(3):
                self.load.command()
                time.sleep(30)
            second.kill(signal.SIGTERM)


START = now()


def simulator_faults(*, upstream: float, asleep: float, timeout: float, malformed: float, requests_per_minute) -> None:
    """The simulator's global fault rates (its admin's fault settings), for every vehicle."""
    from simulator.models import FaultSettings

    rates = {"upstream_rate": upstream, "asleep_rate": asleep, "timeout_rate": timeout, "malformed_rate": malformed}
    FaultSettings.objects.update_or_create(pk=1, defaults={**rates, "requests_per_minute": requests_per_minute})
    close_connections()


def tracebacks(faults: list[Fault]) -> tuple[int, int]:
    """(tracebacks inside a fault's window, tracebacks outside every window), from every process's log."""
    windows = [(f.started - timedelta(seconds=5), (f.ended or now()) + timedelta(seconds=60)) for f in faults]
    inside = outside = 0
    for log in VAR.glob("*.log"):
        stamp = None
        for line in log.read_text(errors="replace").splitlines():
            match = LOG_TIME.match(line)
            if match:
                stamp = datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
            if line.startswith("Traceback"):
                if stamp is not None and any(start <= stamp <= end for start, end in windows):
                    inside += 1
                else:
                    outside += 1
                    say(f"  traceback outside the faults in {log.name} (after {stamp})")
    return inside, outside


def checks(soak: Soak, load: Load) -> list[tuple[str, bool, str]]:
    from connect.models import WebhookEvent
    from vehicles.models import Command, StatusHistory, VehicleStatus

    close_connections()
    last_fault = max(f.ended for f in soak.faults)
    results = []
    unsettled = Command.objects.exclude(status__in=["done", "error", "unknown"]).count()
    due = Command.objects.filter(readback="due").count()
    by_status = {s: Command.objects.filter(status=s).count() for s in ("done", "error", "unknown")}
    results.append(
        ("every command in a final state", unsettled == 0 and due == 0, f"{load.submitted} sent: {by_status}")
    )
    stale = VehicleStatus.objects.filter(last_sync_at__lt=last_fault).count()
    results.append(("every vehicle synced since the last fault", stale == 0, f"{stale} of {VEHICLES} not"))
    events = WebhookEvent.objects.filter(event_id__in=load.deliveries)
    stored = events.count()
    unprocessed = WebhookEvent.objects.filter(status__in=["received", "processing"]).count()
    results.append(
        (
            "every webhook event stored and processed once",
            stored == len(load.deliveries) and unprocessed == 0,
            f"{len(load.deliveries)} answered 200, {stored} stored, {unprocessed} unprocessed, {load.refused} refused",
        )
    )
    repeats = 0
    last: dict = {}
    for row in StatusHistory.objects.order_by("vehicle_id", "field", "recorded_at", "pk").values_list(
        "vehicle_id", "field", "number", "text"
    ):
        repeats += last.get(row[:2]) == row[2:]
        last[row[:2]] = row[2:]
    results.append(("no reading stored twice", repeats == 0, f"{repeats} repeated history rows"))
    inside, outside = tracebacks(soak.faults)
    results.append(("no traceback outside the injected faults", outside == 0, f"{inside} inside, {outside} outside"))
    return results


def main() -> int:
    if subprocess.run(["which", "redis-server"], capture_output=True).returncode:
        print("make soak needs redis-server on the PATH (Debian: apt-get install redis-server)")
        return 2
    (VAR / "static").mkdir(parents=True, exist_ok=True)
    for old in [*VAR.glob("*.log"), *VAR.glob("*-schedule*"), *VAR.glob("appendonly*")]:
        if old.is_dir():
            subprocess.run(["rm", "-rf", str(old)], check=False)
        else:
            old.unlink()
    database_create()
    django_setup()
    manager, vehicles = fleet_create()
    close_connections()
    say(f"soak: database {DATABASE}, redis on {REDIS_PORT}, web on {PORT}, logs in {VAR}")
    load = Load(manager, vehicles)
    soak = Soak(load)
    soak.start()
    try:
        soak.run()
        say("final: waiting for everything to settle")
        wait_for(
            lambda: recovered_since(max(f.ended for f in soak.faults)), timeout=RECOVERY_CAP, what="final", every=2
        )
        results = checks(soak, load)
    finally:
        soak.stop()
    print()
    print(f"{'fault':58} {'recovered in':>13}  note")
    for fault in soak.faults:
        recovery = f"{fault.recovery:.0f} s" if fault.recovery is not None else f"> {RECOVERY_CAP} s"
        print(f"{fault.name:58} {recovery:>13}  {fault.note}")
    print()
    for name, passed, detail in results:
        print(f"{'PASS' if passed else 'FAIL'}  {name}: {detail}")
    print(f"load average at the end: {os.getloadavg()[0]:.2f}")
    close_connections()
    if not os.environ.get("SOAK_KEEP_DATABASE"):
        database_drop()
    return 0 if all(passed for _, passed, _ in results) else 1


if __name__ == "__main__":
    sys.exit(main())
