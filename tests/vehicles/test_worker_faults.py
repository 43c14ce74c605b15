"""The sync engine through real Celery workers on a real Redis broker and PostgreSQL.

tests/vehicles/test_faults.py runs fault rounds in the test process; here every round is a ``sync_dispatch`` sent
through Redis to ``celery -A fleet worker`` subprocesses, which lease the due vehicles and send ``sync_vehicles``
tasks back through the broker, late-acknowledged — the path a round takes in production.

The workers run on the wall clock, which time_machine cannot reach from here. Time passes for the engine instead by
moving its schedule back: every due time and back-off in the database moves earlier by the time that is meant to
pass, which is what the engine sees when that time has passed.

Hyundai and Kia are left out of the fleets: the simulator answers them about 20 requests a real day, and a real day
does not pass in these tests.
"""

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

import pytest
import redis
from celery import Celery
from django.conf import settings
from django.db import connection
from django.db.models import F, Q
from django.utils import timezone

from simulator.models import BillingCounter
from simulator.models import Vehicle as SimVehicle
from tests.vehicles.conftest import connect_simulated
from tests.vehicles.test_faults import assert_answers_were_stored, assert_history_has_no_repeats
from vehicles import sync
from vehicles.models import EndpointState, FleetSync, StatusHistory, SyncState, Vehicle, VehicleStatus, VehicleSync

ROOT = Path(__file__).resolve().parents[2]
MAKES = ("TESLA", "FORD", "NISSAN", "CHEVROLET", "BMW", "TOYOTA", "AUDI", "JEEP", "GMC", "VOLKSWAGEN")
DISPATCH = "vehicles.tasks.sync_dispatch"


@dataclass
class Worker:
    name: str
    process: subprocess.Popen
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def kill(self) -> None:
        """SIGKILL the whole worker, pool processes included: no warm shutdown, no message handed back."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)


@pytest.fixture
def broker(redis_url):
    """A Celery app that sends to a queue of this test's own; the queue's keys are removed from Redis afterwards."""
    queue = f"test-sync-{uuid.uuid4().hex}"
    app = Celery("fleet-test-sender", broker=redis_url, set_as_current=False)
    app.conf.update(task_default_queue=queue, broker_connection_retry_on_startup=True)
    try:
        yield app
    finally:
        app.close()
        _forget_queue(redis_url, queue)


def _forget_queue(redis_url: str, queue: str) -> None:
    """Remove the queue from Redis with all that names it, and the messages of it a killed worker left unacked.

    The workers' node names end with the queue's name, so their remote-control bindings go too.
    """
    client = redis.Redis.from_url(redis_url)
    try:
        for tag, entry in client.hgetall("unacked").items():
            _message, exchange, routing_key = json.loads(entry)
            if queue in (exchange, routing_key):
                client.hdel("unacked", tag)
                client.zrem("unacked_index", tag)
        for key in client.scan_iter(match=f"*{queue}*"):
            client.delete(key)
        pidbox = "_kombu.binding.celery.pidbox"
        for member in client.smembers(pidbox):
            if queue.encode() in member:
                client.srem(pidbox, member)
    finally:
        client.close()


@pytest.fixture
def start_worker(postgres, broker, tmp_path):
    """Starts ``celery -A fleet worker`` subprocesses on the test database and the test's queue; kills them after."""
    queue = broker.conf.task_default_queue
    database = connection.settings_dict
    credentials = quote(database["USER"] or "", safe="")
    if database["PASSWORD"]:
        credentials += ":" + quote(database["PASSWORD"], safe="")
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "fleet.settings",
        "DATABASE_URL": (
            f"postgres://{credentials}@{database['HOST'] or '127.0.0.1'}:{database['PORT'] or 5432}/{database['NAME']}"
        ),
        "SECRET_KEY": settings.SECRET_KEY,
        "TOKEN_ENCRYPTION_KEYS": ",".join(settings.TOKEN_ENCRYPTION_KEYS),
        "SMARTCAR_MODE": "simulated",
        "SMARTCAR_SIMULATOR_ORIGIN": "",  # the simulator answers inside each worker process
        "SMARTCAR_REDIRECT_URI": settings.SMARTCAR_REDIRECT_URI,
        # Its own var folder: the simulator's clock anchor there is shared by this test's workers only.
        "FLEET_VAR_DIR": str(tmp_path / "var"),
        "ALLOWED_HOSTS": "localhost,testserver",
        "LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
        "CELERY_BROKER_URL": broker.conf.broker_url,
        "CELERY_TASK_DEFAULT_QUEUE": queue,
    }
    started: list[Worker] = []

    def start(name: str, *, concurrency: int = 1, **overrides: str) -> Worker:
        log = tmp_path / f"worker-{name}.log"
        env = {**environment, **overrides}
        command = [
            sys.executable, "-m", "celery", "-A", "fleet", "worker", "--pool=prefork", f"--concurrency={concurrency}",
            "--hostname", f"{name}@{queue}", "--without-gossip", "--without-mingle",
            "--without-heartbeat", f"--loglevel={env['LOG_LEVEL']}",
        ]  # fmt: skip
        with log.open("wb") as out:
            process = subprocess.Popen(
                command,
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group, so that a kill reaches the pool processes too
            )
        worker = Worker(name, process, log)
        started.append(worker)
        return worker

    try:
        yield start
    finally:
        for worker in started:
            worker.kill()


def wait_until(condition, *, timeout: float, workers: list[Worker], what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        for worker in workers:
            assert worker.process.poll() is None, f"worker {worker.name} ended:\n{worker.output()[-3000:]}"
        assert time.monotonic() < deadline, f"{what}: not within {timeout} s\n" + "\n".join(
            f"--- {w.name}\n{w.output()[-2000:]}" for w in workers
        )
        time.sleep(0.2)


def assert_no_traceback(*workers: Worker) -> None:
    for worker in workers:
        output = worker.output()
        assert "Traceback" not in output, f"worker {worker.name}:\n{output[-6000:]}"


def advance_schedule(delta: timedelta) -> None:
    """Let ``delta`` pass for the engine: its due times and back-offs move that much earlier."""
    VehicleSync.objects.update(next_sync_at=F("next_sync_at") - delta, backoff_until=F("backoff_until") - delta)
    EndpointState.objects.update(next_sync_at=F("next_sync_at") - delta, parked_until=F("parked_until") - delta)


def _due(now) -> Q:
    return Q(sync__isnull=True) | Q(sync__next_sync_at__isnull=True) | Q(sync__next_sync_at__lte=now)


def round_through_broker(broker: Celery, workers: list[Worker], *, timeout: float = 45) -> tuple:
    """Send one dispatch through Redis; wait until the vehicles due when it was sent were synced and released.

    Returns (the moment it was sent, the ids of the vehicles that were due).
    """
    sent_at = timezone.now()
    due = set(Vehicle.objects.filter(_due(sent_at)).values_list("pk", flat=True))
    broker.send_task(DISPATCH)

    def done():
        if Vehicle.objects.filter(_due(sent_at), pk__in=due).exists():
            return False
        return not VehicleSync.objects.filter(lease_until__isnull=False).exists()

    wait_until(done, timeout=timeout, workers=workers, what="a dispatched round")
    return sent_at, due


def test_fault_rounds_through_a_worker_on_redis_lose_nothing_and_every_vehicle_ends_fresh(
    fleet, faults, broker, start_worker
):
    connect_simulated(fleet, makes=MAKES, seed=3)
    faults.upstream_rate = 0.15  # 502 UPSTREAM
    faults.asleep_rate = 0.1  # 409 VEHICLE_STATE ASLEEP / UNREACHABLE
    faults.timeout_rate = 0.05  # hangs until the client gives up (single calls)
    faults.malformed_rate = 0.1  # a body that is not JSON (single calls)
    faults.requests_per_minute = 12  # 429 RATE_LIMIT within a round of single calls
    faults.save()
    FleetSync.objects.get_or_create(fleet=fleet)
    worker = start_worker(
        "faults",
        concurrency=2,
        SYNC_TASK_VEHICLES="3",  # a round is several tasks, spread over the pool
        SYNC_WORKER_CONCURRENCY="16",
        SMARTCAR_VEHICLE_TIMEOUT_SECONDS="2",
        SIMULATOR_CLOCK_SPEED="300",  # the simulated vehicles drive and charge between rounds
    )
    errors: set[str] = set()
    rounds_with_work = 0
    for number in range(8):
        if number:
            advance_schedule(timedelta(minutes=20))
        # Batches and single calls take turns: timeouts and garbage bodies concern single calls.
        FleetSync.objects.filter(fleet=fleet).update(use_batch=number % 2 == 1)
        started, due = round_through_broker(broker, [worker])
        rounds_with_work += bool(due)
        assert_answers_were_stored(started)
        errors.update(VehicleStatus.objects.exclude(last_error="").values_list("last_error", flat=True))
        # A vehicle's summary is cut at 500 characters; each endpoint keeps its own last error whole.
        errors.update(EndpointState.objects.exclude(last_error="").values_list("last_error", flat=True))
    assert rounds_with_work >= 4
    assert_history_has_no_repeats()
    seen = " ".join(errors)  # each kind of fault was injected and reached the engine
    for kind in ("RATE_LIMIT:", "VEHICLE_STATE:", "UPSTREAM:", "TRANSPORT:TIMEOUT", "MALFORMED:"):
        assert kind in seen, (kind, errors)

    faults.upstream_rate = faults.asleep_rate = faults.timeout_rate = faults.malformed_rate = 0
    faults.requests_per_minute = None
    faults.save()
    healed = timezone.now()
    for _ in range(6):
        stale = VehicleStatus.objects.filter(Q(last_success_at__lt=healed) | Q(last_success_at__isnull=True))
        if not stale.exists() and not VehicleStatus.objects.exclude(sync_state=SyncState.OK).exists():
            break
        advance_schedule(timedelta(seconds=settings.SYNC_BACKOFF_MAX_SECONDS * 1.3))  # the longest back-off
        round_through_broker(broker, [worker])
    assert list(stale.values_list("vehicle_id", flat=True)) == []
    assert list(VehicleStatus.objects.exclude(sync_state=SyncState.OK).values("vehicle_id", "last_error")) == []
    assert VehicleStatus.objects.count() == len(MAKES)
    assert_history_has_no_repeats()
    assert_no_traceback(worker)


@pytest.mark.parametrize("recovery", ["message redelivered", "lease expired"])
def test_a_worker_killed_mid_round_loses_nothing_and_duplicates_nothing(fleet, broker, start_worker, recovery):
    """A worker dies (SIGKILL) with its round's message unacknowledged and four vehicles' answers still on the way.

    Either Redis hands that message to another worker once its visibility timeout is over — same lease token, so
    the round runs again for the vehicles still leased with it — or the leases, short and no longer renewed, expire
    first and a dispatch (every SYNC_DISPATCH_SECONDS, as beat sends them) takes the vehicles with a new token:
    within a minute of the death, every vehicle is synced again.
    """
    redelivered = recovery == "message redelivered"
    # Redelivery is shown with leases that outlast it; the other recovery with the default lease.
    env = {"SYNC_LEASE_SECONDS": "300"} if redelivered else {}
    # A worker hands back every queue's overdue messages, other test runs' on the same Redis included: short, for a
    # quick test, yet longer than any task of theirs, or a task still running would be handed out a second time.
    visibility_timeout = 8
    connected = connect_simulated(fleet, makes=MAKES[:8], seed=5)
    fast = {v.pk for v in connected.vehicles[:4]}
    slow = connected.sim_vehicles[4:]
    SimVehicle.objects.filter(pk__in=[v.pk for v in slow]).update(latency_ms=120_000)
    doomed = start_worker("doomed", **env)
    broker.send_task(DISPATCH)
    wait_until(
        lambda: VehicleStatus.objects.filter(last_success_at__isnull=False).count() >= 4,
        timeout=45,
        workers=[doomed],
        what="the fast vehicles stored",
    )
    doomed.kill()
    killed_at = time.monotonic()

    stored = dict(
        VehicleStatus.objects.filter(last_success_at__isnull=False).values_list("vehicle_id", "last_success_at")
    )
    assert set(stored) == fast
    history_before = StatusHistory.objects.count()
    assert history_before > 0
    attempts_before = dict(EndpointState.objects.filter(vehicle_id__in=fast).values_list("pk", "last_attempt_at"))
    # The dead worker's leases still hold its unfinished vehicles: nobody else may sync them yet.
    held = VehicleSync.objects.filter(lease_until__gt=timezone.now()).exclude(lease_token="")
    assert set(held.values_list("vehicle_id", flat=True)) == {v.pk for v in connected.vehicles} - fast
    assert sync.vehicles_lease_due()[1] == []
    SimVehicle.objects.update(latency_ms=None)

    if redelivered:
        time.sleep(visibility_timeout)
        # A worker starting now finds the message overdue and hands it back to the queue, and so to itself.
        successor = start_worker("successor", CELERY_BROKER_VISIBILITY_TIMEOUT=str(visibility_timeout), **env)
    else:
        successor = start_worker("successor", **env)

    def every_vehicle_synced() -> bool:
        if not redelivered and time.monotonic() >= beat[0]:
            broker.send_task(DISPATCH)
            beat[0] = time.monotonic() + settings.SYNC_DISPATCH_SECONDS
        return (
            VehicleStatus.objects.filter(last_success_at__isnull=False).count() == 8
            and not VehicleSync.objects.filter(lease_until__isnull=False).exists()
        )

    beat = [time.monotonic()]
    wait_until(every_vehicle_synced, timeout=70, workers=[successor], what="every vehicle synced")
    assert time.monotonic() - killed_at < 60, f"synced again {time.monotonic() - killed_at:.0f} s after the death"

    # The vehicles stored before the kill were not fetched again, and nothing was written twice.
    assert dict(EndpointState.objects.filter(vehicle_id__in=fast).values_list("pk", "last_attempt_at")) == (
        attempts_before
    )
    assert StatusHistory.objects.filter(vehicle_id__in=fast).count() == history_before
    assert dict(VehicleStatus.objects.filter(vehicle_id__in=fast).values_list("vehicle_id", "last_success_at")) == (
        stored
    )
    assert_history_has_no_repeats()
    assert VehicleStatus.objects.exclude(sync_state=SyncState.OK).count() == 0
    assert_no_traceback(doomed, successor)


def test_two_workers_on_postgresql_never_sync_the_same_vehicle_at_once(fleet, broker, start_worker):
    """Dispatches keep coming while rounds are in flight, taken by four pool processes of two workers.

    Each dispatch leases only a few vehicles, so that several dispatches race for the same oldest-due rows, and every
    vehicle takes 1.5 s to answer, so that later dispatches meet vehicles still being synced. The simulator bills each
    path it answers: had two rounds asked a vehicle at once, it would have billed the vehicle's paths twice while the
    vehicle's endpoint states hold one answer each.
    """
    connected = connect_simulated(fleet, makes=MAKES, seed=9)
    SimVehicle.objects.update(latency_ms=1500)
    env = {"SYNC_DISPATCH_LIMIT": "3", "SYNC_TASK_VEHICLES": "1", "LOG_LEVEL": "INFO"}
    workers = [start_worker(name, concurrency=2, **env) for name in ("left", "right")]
    simulated = {v.pk: s.pk for v, s in zip(connected.vehicles, connected.sim_vehicles, strict=True)}

    def billed() -> dict[int, int]:
        calls = dict.fromkeys(simulated.values(), 0)
        for vehicle_id, count in BillingCounter.objects.values_list("vehicle_id", "calls"):
            calls[vehicle_id] += count
        return calls

    for wave in range(3):
        wave_started = timezone.now()
        billed_before = billed()
        if wave:
            advance_schedule(timedelta(hours=8))
        deadline = time.monotonic() + 40
        for _ in range(4):
            broker.send_task(DISPATCH)
        while (
            Vehicle.objects.filter(_due(wave_started)).exists()
            or VehicleSync.objects.filter(lease_until__isnull=False).exists()
        ):
            assert time.monotonic() < deadline, f"wave {wave} did not finish"
            for worker in workers:
                assert worker.process.poll() is None, worker.output()[-3000:]
            broker.send_task(DISPATCH)
            time.sleep(0.3)
        billed_in_wave = {pk: calls - billed_before[pk] for pk, calls in billed().items()}
        for vehicle in connected.vehicles:
            states = EndpointState.objects.filter(vehicle=vehicle)
            rounds = set(states.filter(last_attempt_at__gte=wave_started).values_list("last_attempt_at", flat=True))
            assert len(rounds) == 1, (wave, vehicle.make, rounds)
            answered = states.filter(last_success_at__gte=wave_started).count()
            assert answered > 0
            assert billed_in_wave[simulated[vehicle.pk]] == answered, (wave, vehicle.make)
    for worker in workers:
        assert "sync round:" in worker.output(), f"worker {worker.name} ran no round"
    assert_no_traceback(*workers)


def test_a_round_that_outlasts_its_lease_keeps_it_and_no_second_round_asks_its_vehicles(fleet, broker, start_worker):
    """Without batch, each path is its own call: two vehicles' 20-odd paths on three threads at 2 s each take far
    longer than a 5 s lease. Dispatches keep coming every second meanwhile; a second round asking the same
    vehicles would make the simulator bill paths twice for one stored answer each. The calls' timeout is far above
    their latency: a call that timed out on a loaded machine would be billed, unanswered and asked again."""
    connected = connect_simulated(fleet, makes=("TESLA", "FORD"), seed=9)
    FleetSync.objects.get_or_create(fleet=fleet)
    FleetSync.objects.filter(fleet=fleet).update(use_batch=False)
    SimVehicle.objects.update(latency_ms=2000)
    worker = start_worker(
        "slow",
        concurrency=2,
        SYNC_LEASE_SECONDS="5",
        SMARTCAR_VEHICLE_TIMEOUT_SECONDS="30",
        SYNC_WORKER_CONCURRENCY="3",
        SYNC_TASK_VEHICLES="2",
        LOG_LEVEL="INFO",
    )
    simulated = {v.pk: s.pk for v, s in zip(connected.vehicles, connected.sim_vehicles, strict=True)}
    started = timezone.now()
    deadline = time.monotonic() + 60
    broker.send_task(DISPATCH)
    while (
        Vehicle.objects.filter(_due(started)).exists() or VehicleSync.objects.filter(lease_until__isnull=False).exists()
    ):
        assert time.monotonic() < deadline, worker.output()[-3000:]
        assert worker.process.poll() is None, worker.output()[-3000:]
        time.sleep(1)
        broker.send_task(DISPATCH)
    billed = dict.fromkeys(simulated.values(), 0)
    for vehicle_id, calls in BillingCounter.objects.values_list("vehicle_id", "calls"):
        billed[vehicle_id] += calls
    for vehicle in connected.vehicles:
        answered = EndpointState.objects.filter(vehicle=vehicle, last_success_at__gte=started).count()
        assert answered > 5, vehicle.make
        assert billed[simulated[vehicle.pk]] == answered, vehicle.make
    assert worker.output().count("sync round:") == 1, worker.output()[-3000:]
    assert_no_traceback(worker)


def wait_for_workers(broker: Celery, workers: list[Worker], *, timeout: float = 60) -> None:
    """Until every worker answers a ping: a dispatch sent earlier would go to the first one up."""
    names = [f"{worker.name}@{broker.conf.task_default_queue}" for worker in workers]

    def all_answer() -> bool:
        replies = broker.control.ping(destination=names, timeout=1.0) or []
        return {name for reply in replies for name in reply} >= set(names)

    wait_until(all_answer, timeout=timeout, workers=workers, what="the workers up")


def test_worker_processes_share_the_due_vehicles_without_double_work_or_starvation(fleet, broker, start_worker):
    """Three worker processes, thirty due vehicles handed out two per task, and a dispatch every half second (the
    later ones finding the vehicles still queued under their lease): each vehicle is synced once, none is left
    behind, and each process takes a fair share of the rounds."""
    connected = connect_simulated(fleet, makes=MAKES * 3, seed=13)
    SimVehicle.objects.update(latency_ms=1000)
    env = {"SYNC_TASK_VEHICLES": "2", "SYNC_DISPATCH_LIMIT": "100", "SYNC_WORKER_CONCURRENCY": "2", "LOG_LEVEL": "INFO"}
    workers = [start_worker(name, **env) for name in ("first", "second", "third")]
    wait_for_workers(broker, workers)
    started = timezone.now()
    deadline = time.monotonic() + 60
    while (
        Vehicle.objects.filter(_due(started)).exists() or VehicleSync.objects.filter(lease_until__isnull=False).exists()
    ):
        assert time.monotonic() < deadline, "the vehicles were not all synced"
        for worker in workers:
            assert worker.process.poll() is None, worker.output()[-3000:]
        broker.send_task(DISPATCH)
        time.sleep(0.5)

    simulated = {v.pk: s.pk for v, s in zip(connected.vehicles, connected.sim_vehicles, strict=True)}
    billed = dict.fromkeys(simulated.values(), 0)
    for vehicle_id, calls in BillingCounter.objects.values_list("vehicle_id", "calls"):
        billed[vehicle_id] += calls
    for vehicle in connected.vehicles:
        answered = EndpointState.objects.filter(vehicle=vehicle, last_success_at__gte=started).count()
        assert answered > 0, f"vehicle {vehicle.pk} starved"
        assert billed[simulated[vehicle.pk]] == answered, f"vehicle {vehicle.pk} asked twice"

    def logged_shares() -> dict[str, int]:
        return {
            worker.name: sum(int(n) for n in re.findall(r"sync round: (\d+) vehicles", worker.output()))
            for worker in workers
        }

    # A round frees its vehicles as it stores them and logs its line after what follows the store (trips, costs,
    # alerts): the last rounds' lines may still be on their way when every vehicle is free.
    deadline = time.monotonic() + 30
    while sum(logged_shares().values()) < len(connected.vehicles) and time.monotonic() < deadline:
        time.sleep(0.2)
    shares = logged_shares()
    assert sum(shares.values()) == len(connected.vehicles), shares
    assert min(shares.values()) >= len(connected.vehicles) / len(workers) / 2, shares
    assert_no_traceback(*workers)
