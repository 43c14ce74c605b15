"""One round: the leased vehicles are planned, fetched and stored. The engine's main procedure.

``vehicles_sync`` (run by the ``vehicles.tasks.sync_vehicles`` task) takes these steps:

1. Hold: renew the lease on the vehicles; those another round took since are left to it (leasing.py).
2. Plan a chunk of vehicles at a time (planning.py) and submit each vehicle's calls as soon as it is planned
   (fetching.py): the first requests are on the wire after one chunk's queries, and the rest of the planning overlaps
   with their round trips. A vehicle with nothing to ask is ready to store at once.
3. Collect the vehicles whose calls have all answered, and apply each one's answers to its rows in memory
   (storing.vehicle_write); renew the lease of the vehicles not yet stored every quarter of a lease.
4. Store the ready vehicles in groups, one transaction each (storing.group_store): a commit per vehicle would make
   the database the pace of the round. A vehicle waits at most STORE_WAIT for others to share its group. On SQLite
   every answer is in before the first write (fetching.interleaves_writes).
5. Report the round in one log line, and a database outage in one ERROR line.

A database outage loses no answer that was fetched (and billed): the ready vehicles stay in memory — at most the
round's own vehicles, SYNC_TASK_VEHICLES — and are stored again every few seconds until the database answers, the
lease renewed first, or until the round's time limit (settings.SYNC_ROUND_SECONDS). Planning stops at the outage:
vehicles not planned yet asked nothing, and their leases run out for the next dispatch.
"""

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.utils import timezone

from vehicles.signals import readings_stored
from vehicles.sync.fetching import Fetcher, Outcome, interleaves_writes
from vehicles.sync.leasing import leases_renew
from vehicles.sync.outage import DATABASE_DOWN, Outage
from vehicles.sync.planning import Plan, Planner
from vehicles.sync.storing import VehicleWrite, follow_ups_run, group_store, vehicle_write

logger = logging.getLogger(__name__)

# Vehicles whose answers are stored in one transaction, and how long (seconds) an answer may wait for a group.
STORE_GROUP = 50
STORE_WAIT = 0.5
# Vehicles whose rows are read, and plans made, before their requests are submitted.
PLAN_CHUNK = 50
# How long (seconds) collecting waits for an answer before it looks at the lease and the groups again.
COLLECT_WAIT = 0.1
# After a database failure, storing is tried again after this wait (seconds), doubled per failure up to the cap.
RETRY_FIRST, RETRY_CAP = 0.5, 2.0


@dataclass
class RoundReport:
    leased: int = 0
    synced: int = 0
    skipped: int = 0
    paths: int = 0
    errors: int = 0
    seconds: float = 0.0
    store_seconds: float = 0.0
    dropped: int = 0  # vehicles whose answers the round could not store before its time limit


def vehicles_sync(*, vehicle_ids: Iterable[int], lease_token: str) -> RoundReport:
    """Run one round for the leased vehicles: plan, fetch concurrently, store each as it arrives."""
    return Round(lease_token).run(list(vehicle_ids))


class Round:
    def __init__(self, lease_token: str):
        self.token = lease_token
        self.started = time.monotonic()
        # Never past the task's soft time limit, which would end the round without its report.
        limit = min(settings.SYNC_ROUND_SECONDS, settings.CELERY_TASK_SOFT_TIME_LIMIT - 30)
        self.deadline = self.started + limit
        self.report = RoundReport()
        self.outage = Outage()
        self.interleave = interleaves_writes()
        self.fetcher = Fetcher(start_at_once=self.interleave)
        self.ready: list[VehicleWrite] = []
        self.ready_since: float | None = None  # when the oldest vehicle not yet stored became ready
        self.renew_every = settings.SYNC_LEASE_SECONDS / 4
        self.renew_at = self.started + self.renew_every
        self.store_at = self.started  # no storing before this (a wait after a database failure)

    def run(self, vehicle_ids: list[int]) -> RoundReport:
        held = self.hold(vehicle_ids)  # 1
        self.plan_and_submit(held)  # 2
        self.fetcher.start()
        while self.fetcher.pending or self.ready:
            self.collect()  # 3
            self.renew_if_due()
            self.store_ready()  # 4
            if self.outage.ongoing and time.monotonic() > self.deadline:
                self.drop_ready()
        self.log()  # 5
        return self.report

    def hold(self, vehicle_ids: list[int]) -> list[int]:
        try:
            held = leases_renew(vehicle_ids=vehicle_ids, token=self.token)
        except DATABASE_DOWN as exc:
            self.outage.failed(exc)  # nothing asked yet: the leases run out for the next dispatch
            return []
        self.report.leased = len(held)
        return sorted(held)

    def plan_and_submit(self, vehicle_ids: list[int]) -> None:
        planner = Planner(timezone.now())
        for start in range(0, len(vehicle_ids), PLAN_CHUNK):
            try:
                plans = planner.chunk(vehicle_ids[start : start + PLAN_CHUNK])
            except DATABASE_DOWN as exc:
                self.outage.failed(exc)
                return
            for plan in plans:
                if plan.paths:
                    self.fetcher.submit(plan)
                else:
                    self.report.skipped += 1
                    self.make_ready(plan, None)

    def collect(self) -> None:
        if not self.fetcher.pending:
            if self.ready and time.monotonic() < self.store_at:
                time.sleep(min(COLLECT_WAIT, self.store_at - time.monotonic()))  # waiting for the database
            return
        for plan, outcome in self.fetcher.collect(timeout=COLLECT_WAIT if self.interleave else None):
            self.make_ready(plan, outcome)

    def make_ready(self, plan: Plan, outcome: Outcome | None) -> None:
        try:
            self.ready.append(vehicle_write(plan, outcome, timezone.now()))
        except Exception:
            # A bug in applying one vehicle's answers must not cost the others their round; this one keeps its
            # lease until it expires and is tried again.
            logger.exception("sync of vehicle %s failed while applying its answers", plan.vehicle.pk)
            self.report.errors += 1
            return
        if self.ready_since is None:
            self.ready_since = time.monotonic()

    def renew_if_due(self) -> None:
        """A round can outlast its lease (many calls per vehicle without batch, slow OEMs, a database outage): renew
        it for the vehicles not yet stored, so that no other round takes them meanwhile."""
        if time.monotonic() < self.renew_at or not (self.fetcher.pending or self.ready):
            return
        self.renew()

    def renew(self) -> bool:
        waiting = self.fetcher.in_flight() | {write.vehicle_id for write in self.ready}
        try:
            leases_renew(vehicle_ids=sorted(waiting), token=self.token)
        except DATABASE_DOWN as exc:
            self.database_failed(exc)
            self.renew_at = self.store_at  # tried again with storing, after the same wait
            return False
        self.renew_at = time.monotonic() + self.renew_every
        return True

    def store_ready(self) -> None:
        if not self.interleave and self.fetcher.pending:
            return
        while (
            self.ready
            and time.monotonic() >= self.store_at
            and (
                len(self.ready) >= STORE_GROUP
                or not self.fetcher.pending
                or time.monotonic() - (self.ready_since or 0) >= STORE_WAIT
            )
        ):
            if self.outage.ongoing and not self.renew():
                return  # the first statement after a failure renews the leases: no dispatcher takes them first
            group = self.ready[:STORE_GROUP]
            started = time.monotonic()
            stored = self.store(group)
            self.report.store_seconds += time.monotonic() - started
            if not stored:
                return  # the database is down: the group stays ready for the next try
            self.ready = self.ready[len(group) :]
            self.ready_since = time.monotonic() if self.ready else None

    def store(self, group: list[VehicleWrite]) -> bool:
        """Stores the group; False when the database is down (nothing stored, the group is kept)."""
        try:
            stored = group_store(group, self.token)
        except DATABASE_DOWN as exc:
            self.database_failed(exc)
            return False
        except Exception:
            # One vehicle's unexpected failure must not cost the others their round: store them one by one; the
            # failing one keeps its lease until it expires and is tried again.
            logger.exception("storing a group of %d vehicles failed; storing them one by one", len(group))
            stored = self.store_one_by_one(group)
        self.outage.recovered()
        try:
            follow_ups_run(stored)
        except DATABASE_DOWN as exc:
            self.database_failed(exc)  # the next round meets the same answer and does them again
        self.announce(stored)
        for write in stored:
            if write.plan.paths:
                self.report.synced += 1
                self.report.paths += len(write.plan.paths)
                self.report.errors += write.failed_paths > 0
        return True

    def announce(self, stored: list[VehicleWrite]) -> None:
        """Tells the apps that follow synced data (trips) which vehicles have new readings."""
        if not stored:
            return
        vehicle_ids = [write.vehicle_id for write in stored]
        for receiver, result in readings_stored.send_robust(sender=Round, vehicle_ids=vehicle_ids):
            if isinstance(result, Exception):
                logger.warning("after storing %d vehicles, %s failed: %r", len(vehicle_ids), receiver, result)

    def store_one_by_one(self, group: list[VehicleWrite]) -> list[VehicleWrite]:
        stored = []
        for write in group:
            try:
                stored += group_store([write], self.token)
            except Exception:
                logger.exception("sync of vehicle %s failed while storing", write.vehicle_id)
                self.report.errors += 1
        return stored

    def database_failed(self, exc: BaseException) -> None:
        self.outage.failed(exc)
        self.store_at = time.monotonic() + min(RETRY_CAP, RETRY_FIRST * 2 ** min(self.outage.failures - 1, 8))

    def drop_ready(self) -> None:
        """The round's time limit passed with the database still down: what is not stored is given up."""
        self.report.dropped += len(self.ready)
        self.ready = []
        self.ready_since = None

    def log(self) -> None:
        self.report.seconds = time.monotonic() - self.started
        logger.info(
            "sync round: %d vehicles, %d paths, %d with errors, %.1f s (%.1f s storing)",
            self.report.synced,
            self.report.paths,
            self.report.errors,
            self.report.seconds,
            self.report.store_seconds,
        )
        if self.outage:
            if self.report.dropped:
                outcome = f"{self.report.dropped} vehicles' answers dropped at the round's time limit"
            elif self.outage.ongoing:
                outcome = "its unplanned vehicles wait for their leases to run out"
            else:
                outcome = "nothing lost: every answer was stored after it returned"
            logger.error(
                "sync round: the database failed %d times over %.1f s (first: %s); %s",
                self.outage.failures,
                self.outage.seconds(),
                self.outage.first_cause,
                outcome,
            )
