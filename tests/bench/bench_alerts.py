"""Benchmarks of alerts (issue 17). Not part of the test suite: run by hand.

    .venv/bin/python tests/bench/bench_alerts.py overhead [--vehicles 500] [--latency-ms 200] [--nudge 0.1]
    .venv/bin/python tests/bench/bench_alerts.py fanout [--vehicles 2500] [--cycles 2] [--senders 8] [--fail 0.05]
    .venv/bin/python tests/bench/bench_alerts.py due [--vehicles 50000] [--stale 0.1] [--fleets 2000] [--rounds 20]

Each uses its own PostgreSQL database on 127.0.0.1:5432, recreated on every run (``fleet_bench_alerts``,
``fleet_bench_alerts_overhead`` and ``fleet_bench_alerts_due``).

overhead: the sync throughput benchmark's round (tests/bench/bench_sync.py: simulator served by gunicorn in its own
    process, this process the sync worker) on a fresh fleet, with the alerts receiver of the sync signal timed by
    the CPU of its own thread. Prints the round's CPU per vehicle and the share spent judging conditions and moving
    alerts (a share ``--nudge`` of the vehicles is put into a condition first, so alerts open as well); then the
    other half of the same fleet (same mix of makes) synced with alerts disconnected, for the plain difference.
fanout: ``--vehicles`` vehicles go low and back ``--cycles`` times (cooldown off), each change judged as sync's
    signal would: 4 × vehicles × cycles / 2 transitions, each delivered to one webhook (a receiver on loopback that
    checks every signature and answers 503 to a share ``--fail`` of deliveries at random) and opened ones by e-mail
    to one subscriber (Django's in-memory mail). ``--senders`` threads play the Celery workers (each calls the
    task's function for every pending delivery; claims decide who sends), and the sweep hands retries over with the
    clock moved past their back-off. Then checks: every transition received exactly once per channel. Finally the
    latency from a condition stored to its webhook received, on loopback, for ``--latency-samples`` vehicles.
due: the minute's check of what starts with time (alerts.evaluation.due_check): one fleet of ``--vehicles``
    vehicles, a share ``--stale`` of them with readings five hours old and as many electric ones unplugged at 30 %
    past the fleet's plug-in time, beside ``--fleets`` small fleets (5 fresh vehicles each). Times the first check
    (it opens those alerts), then ``--rounds`` checks with nothing new (the steady state, every minute), then the same
    with the big fleet's stale alert turned off; prints the queries and the time of each.
"""

import argparse
import hashlib
import hmac
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_sync

ROOT = bench_sync.ROOT
DB_NAME = "fleet_bench_alerts"
DUE_DB_NAME = "fleet_bench_alerts_due"
OVERHEAD_DB_NAME = "fleet_bench_alerts_overhead"
SIMULATOR_PORT = 8161
RECEIVER_PORT = 8162
SECRET = "whsec_bench"


def _load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


# --- overhead -------------------------------------------------------------------------------------------------------


def overhead(args) -> None:
    env = bench_sync._environment(f"http://127.0.0.1:{SIMULATOR_PORT}", db_name=OVERHEAD_DB_NAME)
    bench_sync._recreate_database(OVERHEAD_DB_NAME)
    bench_sync._setup_django()
    from django.conf import settings

    from alerts import apps as alerts_apps
    from simulator.models import FaultSettings
    from vehicles.models import Vehicle
    from vehicles.signals import readings_stored, vehicles_changed

    settings.SYNC_WORKER_CONCURRENCY = args.concurrency
    spent = [0.0, 0]

    def timed(sender, vehicle_ids, **kwargs):
        started = time.thread_time()
        alerts_apps._vehicles_changed(sender, vehicle_ids)
        spent[0] += time.thread_time() - started
        spent[1] += len(vehicle_ids)

    readings_stored.disconnect(dispatch_uid="alerts_readings_stored")
    vehicles_changed.disconnect(dispatch_uid="alerts_vehicles_changed")
    faults = FaultSettings.current()
    faults.latency_ms = args.latency_ms
    faults.save()
    server = _simulator_server(env)
    try:
        print(f"load average before: {_load()}")
        results = {}
        # One fleet of twice the size: its vehicles alternate makes, so each half has the same mix.
        fleet, _ = bench_sync._connect_fleet(args.vehicles * 2, seed=11)
        every = list(Vehicle.objects.filter(fleet=fleet).order_by("pk").values_list("pk", flat=True))
        if args.nudge:
            _nudge(share=args.nudge)
        halves = {"with alerts": every[0::2], "without alerts": every[1::2]}
        order = [("with alerts", True), ("without alerts", False)]
        for label, connected in reversed(order) if args.without_first else order:
            if connected:
                readings_stored.connect(timed, dispatch_uid="bench_alerts")
            ids = halves[label]
            cpu0, wall0 = time.process_time(), time.monotonic()
            report = bench_sync._round(ids)
            cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
            readings_stored.disconnect(dispatch_uid="bench_alerts")
            results[label] = cpu / len(ids) * 1000
            print(
                f"{label}: {report.synced} vehicles synced in {wall:.1f} s; CPU {cpu / len(ids) * 1000:.2f} ms/vehicle"
            )
        from alerts.models import Alert, AlertEvent

        share = spent[0] / (results["with alerts"] * args.vehicles / 1000) * 100
        print(
            f"alerts receiver: {spent[1]} vehicles judged, {spent[0] * 1000 / max(spent[1], 1):.2f} ms CPU per vehicle "
            f"= {share:.1f} % of the round's CPU with alerts; alerts opened {Alert.objects.count()}, "
            f"transitions {AlertEvent.objects.count()}"
        )
        difference = (results["with alerts"] - results["without alerts"]) / results["without alerts"] * 100
        print(f"difference between the two fleets' rounds: {difference:+.1f} % CPU per vehicle (noisy: other load)")
        print(f"load average after: {_load()}")
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)


def _nudge(share: float) -> None:
    """Puts a share of the simulated vehicles into a condition before the round (low battery or fuel, unlocked),
    so that the round opens alerts as well as judging."""
    from simulator.models import Vehicle as Simulated

    step = max(1, round(1 / share))
    for index, sim in enumerate(Simulated.objects.order_by("pk")):
        if index % step:
            continue
        if "ev" in sim.state:
            sim.state["ev"].update(soc=0.08, plugged=False, charging="NOT_CHARGING")
        elif "fuel" in sim.state:
            sim.state["fuel"]["percent"] = 0.08
        sim.save(update_fields=["state"])


def _simulator_server(env):
    server = subprocess.Popen(
        [
            str(ROOT / ".venv/bin/gunicorn"), "fleet.wsgi", "-k", "gthread", "--threads", "100", "--workers", "1",
            "--bind", f"127.0.0.1:{SIMULATOR_PORT}", "--log-level", "warning",
        ],
        cwd=ROOT,
        env={**os.environ, **env, "DATABASE_POOL_SIZE": "20"},
    )  # fmt: skip
    bench_sync._wait_for(SIMULATOR_PORT)
    return server


# --- fanout ---------------------------------------------------------------------------------------------------------


class Receiver:
    """Checks every signature; answers 503 to a share of deliveries; records when each delivery id was accepted."""

    def __init__(self, fail: float):
        self.fail = fail
        self.accepted: dict[str, int] = {}
        self.received_at: dict[str, float] = {}
        self.alert_at: dict[int, float] = {}
        self.bad_signatures = 0
        self.lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                stamp = self.headers["X-Fleet-Timestamp"]
                expected = (
                    "sha256=" + hmac.new(SECRET.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
                )
                delivery = self.headers["X-Fleet-Delivery"]
                with owner.lock:
                    if not hmac.compare_digest(expected, self.headers["X-Fleet-Signature"]):
                        owner.bad_signatures += 1
                        status = 401
                    elif random.random() < owner.fail:
                        status = 503
                    else:
                        owner.accepted[delivery] = owner.accepted.get(delivery, 0) + 1
                        now = time.monotonic()
                        owner.received_at.setdefault(delivery, now)
                        alert = json.loads(body).get("alert")
                        if alert:
                            owner.alert_at.setdefault(alert["id"], now)
                        status = 204
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", RECEIVER_PORT), Handler)
        self.url = f"http://127.0.0.1:{RECEIVER_PORT}/fleet-alerts"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def fanout(args) -> None:
    bench_sync._environment(db_name=DB_NAME)
    os.environ["ALERT_WEBHOOKS_ALLOW_PRIVATE"] = "true"
    os.environ["EMAIL_BACKEND"] = "django.core.mail.backends.locmem.EmailBackend"
    bench_sync._recreate_database(DB_NAME)
    bench_sync._setup_django()
    from django.conf import settings
    from django.core import mail
    from django.db import connection, transaction
    from django.db.models import Count
    from django.utils import timezone

    from alerts import catalog, delivery
    from alerts.evaluation import vehicles_evaluate
    from alerts.models import AlertEvent, Delivery, DeliveryStatus, Endpoint, EventKind, Mode, Subscription
    from connect import vault
    from fleet.models import User
    from fleet.services import fleet_create
    from tests.dashboard.factories import make_vehicles
    from vehicles.models import VehicleStatus

    settings.CELERY_TASK_ALWAYS_EAGER = False
    mail.outbox = []
    catalog.COOLDOWN_MINUTES = 0
    delivery._enqueue = lambda row: None  # the bench's sender threads play the workers
    receiver = Receiver(args.fail)
    owner = User.objects.create_user(email="bench-alerts@example.com", password="x" * 20)
    fleet = fleet_create(name="Bench alerts", owner=owner)
    Endpoint.objects.create(fleet=fleet, name="Bench", url=receiver.url, secret_encrypted=vault.encrypt(SECRET))
    Subscription.objects.create(fleet=fleet, user=owner, mode=Mode.IMMEDIATE)
    vehicles = make_vehicles(fleet, args.vehicles, battery_percent=80.0)
    ids = [v.pk for v in vehicles]
    print(f"load average before: {_load()}")

    started = time.monotonic()
    for _ in range(args.cycles):
        for percent in (5.0, 80.0):
            VehicleStatus.objects.filter(vehicle_id__in=ids).update(battery_percent=percent)
            for start in range(0, len(ids), 100):
                vehicles_evaluate(vehicle_ids=ids[start : start + 100])
    transitions = AlertEvent.objects.count()
    judged = time.monotonic() - started
    print(f"{transitions} transitions recorded in {judged:.1f} s; deliveries planned: {Delivery.objects.count()}")

    sent_started = time.monotonic()
    clock = [timezone.now()]

    def work(index: int):
        # Each row is one task, which Celery gives to one worker: the threads split the rows between them the same
        # way; a row claimed twice (sweep and task) would still be sent once.
        try:
            while True:
                due = list(
                    Delivery.objects.filter(status=DeliveryStatus.PENDING, due_at__lte=clock[0])
                    .extra(where=["id %% %s = %s"], params=[args.senders, index])
                    .values_list("pk", flat=True)[:200]
                )
                if not due:
                    return
                random.shuffle(due)
                for pk in due:
                    delivery.delivery_send(delivery_id=pk, now=clock[0])
        finally:
            connection.close()

    rounds = 0
    while Delivery.objects.filter(status__in=[DeliveryStatus.PENDING, DeliveryStatus.SENDING]).exists():
        threads = [threading.Thread(target=work, args=(i,)) for i in range(args.senders)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        rounds += 1
        clock[0] += timedelta(hours=3)  # past every back-off: the sweep's retries
        delivery.deliveries_sweep(now=clock[0])
        if rounds > 20:
            break
    sending = time.monotonic() - sent_started
    webhooks = Delivery.objects.filter(channel="webhook")
    emails = Delivery.objects.filter(channel="email")
    opened = AlertEvent.objects.filter(kind=EventKind.OPENED).count()
    by_status = dict(webhooks.values_list("status").annotate(n=Count("pk")).order_by())
    duplicates = sum(n - 1 for n in receiver.accepted.values() if n > 1)
    missing = webhooks.count() - len(receiver.accepted)
    print(f"sent in {sending:.1f} s over {rounds} sweeps with {args.senders} sender threads")
    print(
        f"webhook deliveries {webhooks.count()} (by status {by_status}); received once each: {len(receiver.accepted)}"
    )
    print(f"  duplicates at the receiver: {duplicates}; missing: {missing}; bad signatures: {receiver.bad_signatures}")
    print(f"  failed attempts answered 503 and retried: {sum(d.attempts - 1 for d in webhooks.filter(attempts__gt=1))}")
    print(f"e-mails: {len(mail.outbox)} sent for {opened} alerts opened × 1 subscriber; deliveries {emails.count()}")
    assert webhooks.count() == transitions and len(receiver.accepted) == transitions and duplicates == 0
    assert len(mail.outbox) == opened == emails.count()

    # Latency: a condition stored (the status row written) → the webhook received, on loopback, no broker hop.
    catalog.COOLDOWN_MINUTES = 30
    delivery._enqueue = lambda row: transaction.on_commit(lambda: delivery.delivery_send(delivery_id=row.pk))
    receiver.fail = 0.0
    samples = []
    sample = make_vehicles(fleet, args.latency_samples, battery_percent=80.0, start=args.vehicles)
    for vehicle in sample:
        t0 = time.monotonic()
        VehicleStatus.objects.filter(vehicle=vehicle).update(battery_percent=4.0)
        vehicles_evaluate(vehicle_ids=[vehicle.pk])
        alert_ids = list(vehicle.alerts.values_list("pk", flat=True))
        arrived = receiver.alert_at.get(alert_ids[0]) if alert_ids else None
        if arrived is not None:
            samples.append((arrived - t0) * 1000)
    if samples:
        samples.sort()
        p95 = samples[int(len(samples) * 0.95) - 1]
        print(
            f"condition stored → webhook received ({len(samples)} of {len(sample)} samples): median "
            f"{statistics.median(samples):.1f} ms, p95 {p95:.1f} ms"
        )
    print(f"load average after: {_load()}")


# --- due -----------------------------------------------------------------------------------------------------------


def due(args) -> None:
    bench_sync._environment(db_name=DUE_DB_NAME)
    bench_sync._recreate_database(DUE_DB_NAME)
    bench_sync._setup_django()
    from datetime import time as time_of_day

    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from alerts.evaluation import due_check
    from alerts.models import ACTIVE, Alert, AlertRule
    from fleet.models import User
    from fleet.services import fleet_create
    from tests.dashboard.factories import make_vehicles

    owner = User.objects.create_user(email="bench-due@example.com", password="x" * 20)
    old = timezone.now() - timedelta(hours=5)
    big = fleet_create(name="Bench due", owner=owner)
    big.charge_by = time_of_day(0, 0)  # plug-in time always past
    big.save()
    share = int(args.vehicles * args.stale)
    make_vehicles(big, args.vehicles - 2 * share)
    make_vehicles(big, share, start=args.vehicles, data_age=old, last_success_at=old)
    make_vehicles(big, share, start=2 * args.vehicles, battery_percent=30.0)
    for index in range(args.fleets):
        make_vehicles(fleet_create(name=f"Bench due {index}", owner=owner), 5)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    print(
        f"{args.vehicles} vehicles in one fleet ({share} stale, {share} unplugged past the plug-in time), "
        f"{args.fleets} fleets of 5; load average before: {_load()}"
    )

    def check() -> tuple[int, int, float]:
        connection.queries_log.clear()
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            transitions = due_check()
            elapsed = time.perf_counter() - started
        return transitions, len(queries), elapsed * 1000

    transitions, queries, ms = check()
    print(f"first check: {transitions} transitions, {queries} queries, {ms:.0f} ms")

    def steady(label: str) -> None:
        runs = [check() for _ in range(args.rounds)]
        times = sorted(ms for _, _, ms in runs)
        print(
            f"{label}: {sum(t for t, _, _ in runs)} transitions, {runs[-1][1]} queries a check, "
            f"median {statistics.median(times):.0f} ms, max {times[-1]:.0f} ms ({args.rounds} checks)"
        )

    steady("steady state")
    AlertRule.objects.create(fleet=big, condition="stale", enabled=False)
    Alert.objects.filter(condition="stale", state__in=ACTIVE).delete()  # as if it had been off all along
    steady("stale turned off for the big fleet")
    print(f"load average after: {_load()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    o = sub.add_parser("overhead")
    o.add_argument("--vehicles", type=int, default=500)
    o.add_argument("--latency-ms", type=int, default=200)
    o.add_argument("--concurrency", type=int, default=100)
    o.add_argument("--without-first", action="store_true", help="sync the half without alerts first")
    o.add_argument("--nudge", type=float, default=0.1, help="share of vehicles put into a condition first (0: none)")
    f = sub.add_parser("fanout")
    f.add_argument("--vehicles", type=int, default=2500)
    f.add_argument("--cycles", type=int, default=2)
    f.add_argument("--senders", type=int, default=8)
    f.add_argument("--fail", type=float, default=0.05)
    f.add_argument("--latency-samples", type=int, default=200)
    d = sub.add_parser("due")
    d.add_argument("--vehicles", type=int, default=50000)
    d.add_argument("--stale", type=float, default=0.1)
    d.add_argument("--fleets", type=int, default=2000)
    d.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    {"overhead": overhead, "fanout": fanout, "due": due}[args.command](args)


if __name__ == "__main__":
    main()
