"""One round: the leased vehicles are planned, fetched and stored. The engine's main procedure.

``vehicles_sync`` (run by the ``vehicles.tasks.sync_vehicles`` task) takes these steps:

1. Hold: renew the lease on the vehicles; those another round took since are left to it (leasing.py).
2. Plan a chunk of vehicles at a time (planning.py) and submit each vehicle's calls as soon as it is planned
   (fetching.py): the first requests are on the wire after one chunk's queries, and the rest of the planning overlaps
   with their round trips. A vehicle with nothing to ask is ready to store at once.
3. Collect the vehicles whose calls have all answered, and apply each one's answers to its rows in memory
   (storing.vehicle_write); renew the lease of the vehicles not yet stored every third of a lease.
4. Store the ready vehicles in groups, one transaction each (storing.group_store): a commit per vehicle would make
   the database the pace of the round. A vehicle waits at most STORE_WAIT for others to share its group. On SQLite
   every answer is in before the first write (fetching.interleaves_writes).
5. Report the round in one log line.
"""

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.utils import timezone

from vehicles.sync.fetching import Fetcher, interleaves_writes
from vehicles.sync.leasing import leases_renew
from vehicles.sync.planning import Plan, Planner
from vehicles.sync.storing import VehicleWrite, group_store, vehicle_write

logger = logging.getLogger(__name__)

# Vehicles whose answers are stored in one transaction, and how long (seconds) an answer may wait for a group.
STORE_GROUP = 50
STORE_WAIT = 0.5
# Vehicles whose rows are read, and plans made, before their requests are submitted.
PLAN_CHUNK = 50
# How long (seconds) collecting waits for an answer before it looks at the lease and the groups again.
COLLECT_WAIT = 0.1


@dataclass
class RoundReport:
    leased: int = 0
    synced: int = 0
    skipped: int = 0
    paths: int = 0
    errors: int = 0
    seconds: float = 0.0
    store_seconds: float = 0.0


def vehicles_sync(*, vehicle_ids: Iterable[int], lease_token: str) -> RoundReport:
    """Run one round for the leased vehicles: plan, fetch concurrently, store each as it arrives."""
    return Round(lease_token).run(list(vehicle_ids))


class Round:
    def __init__(self, lease_token: str):
        self.token = lease_token
        self.started = time.monotonic()
        self.report = RoundReport()
        self.interleave = interleaves_writes()
        self.fetcher = Fetcher(start_at_once=self.interleave)
        self.ready: list[VehicleWrite] = []
        self.ready_since: float | None = None  # when the oldest vehicle not yet stored became ready
        self.renew_every = settings.SYNC_LEASE_SECONDS / 3
        self.renew_at = self.started + self.renew_every

    def run(self, vehicle_ids: list[int]) -> RoundReport:
        held = self.hold(vehicle_ids)  # 1
        self.plan_and_submit(held)  # 2
        self.fetcher.start()
        while self.fetcher.pending or self.ready:
            self.collect()  # 3
            self.renew_if_due()
            self.store_ready()  # 4
        self.log()  # 5
        return self.report

    def hold(self, vehicle_ids: list[int]) -> list[int]:
        held = leases_renew(vehicle_ids=vehicle_ids, token=self.token)
        self.report.leased = len(held)
        return sorted(held)

    def plan_and_submit(self, vehicle_ids: list[int]) -> None:
        planner = Planner(timezone.now())
        for start in range(0, len(vehicle_ids), PLAN_CHUNK):
            for plan in planner.chunk(vehicle_ids[start : start + PLAN_CHUNK]):
                if plan.paths:
                    self.fetcher.submit(plan)
                else:
                    self.report.skipped += 1
                    self.make_ready(plan, None)

    def collect(self) -> None:
        for plan, outcome in self.fetcher.collect(timeout=COLLECT_WAIT if self.interleave else None):
            self.make_ready(plan, outcome)

    def make_ready(self, plan: Plan, outcome) -> None:
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
        """A round can outlast its lease (many calls per vehicle without batch, slow OEMs): renew it for the vehicles
        not yet stored, so that no other round takes them meanwhile."""
        if time.monotonic() < self.renew_at or not (self.fetcher.pending or self.ready):
            return
        waiting = self.fetcher.in_flight() | {write.vehicle_id for write in self.ready}
        leases_renew(vehicle_ids=sorted(waiting), token=self.token)
        self.renew_at = time.monotonic() + self.renew_every

    def store_ready(self) -> None:
        if not self.interleave and self.fetcher.pending:
            return
        while self.ready and (
            len(self.ready) >= STORE_GROUP
            or not self.fetcher.pending
            or time.monotonic() - (self.ready_since or 0) >= STORE_WAIT
        ):
            group, self.ready = self.ready[:STORE_GROUP], self.ready[STORE_GROUP:]
            self.ready_since = time.monotonic() if self.ready else None
            started = time.monotonic()
            self.store(group)
            self.report.store_seconds += time.monotonic() - started

    def store(self, group: list[VehicleWrite]) -> None:
        try:
            stored = group_store(group, self.token).stored
        except Exception:
            # One vehicle's unexpected failure must not cost the others their round: store them one by one; the
            # failing one keeps its lease until it expires and is tried again.
            logger.exception("storing a group of %d vehicles failed; storing them one by one", len(group))
            stored = []
            for write in group:
                try:
                    stored += group_store([write], self.token).stored
                except Exception:
                    logger.exception("sync of vehicle %s failed while storing", write.vehicle_id)
                    self.report.errors += 1
        for write in stored:
            if write.plan.paths:
                self.report.synced += 1
                self.report.paths += len(write.plan.paths)
                self.report.errors += write.failed_paths > 0

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
