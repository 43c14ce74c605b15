"""Fetching: the HTTP part of a round, on a pool of threads that touch no database.

One batch per vehicle — or one call per path when the fleet turned batch off — with many vehicles in flight at once
(settings.SYNC_WORKER_CONCURRENCY). The threads do no parsing beyond the client's, so they stay free for the network
(httpx's sync client in a thread pool was the cheapest client side measured). A vehicle's answers come back whole:
the ``Fetcher`` hands over a vehicle once every call made for it has answered.
"""

import os
import queue
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from django.conf import settings
from django.db import connection

from connect import transports
from connect.client import ApiResponse
from connect.errors import SmartcarError
from vehicles.sync.answers import refused_by_batch
from vehicles.sync.planning import Plan

Answer = ApiResponse | SmartcarError


@dataclass
class Outcome:
    """What a vehicle's calls of this round brought back."""

    results: dict[str, Answer] = field(default_factory=dict)  # by path
    requests: int = 0
    whole_failed: set[str] = field(default_factory=set)  # paths answered by the failure of their whole batch
    read_directly: set[str] = field(default_factory=set)  # paths the batch refused, read with a call of their own

    def answer(self, path: str) -> Answer | None:
        return self.results.get(path)

    def add(self, other: "Outcome") -> None:
        self.results.update(other.results)
        self.requests += other.requests
        self.whole_failed |= other.whole_failed
        self.read_directly |= other.read_directly


def interleaves_writes() -> bool:
    """Whether the database lets the round write while its fetches are being answered.

    PostgreSQL does. SQLite has one writer at a time: when the simulator answers in-process, its request threads
    write too (billing counters, vehicle state). A file database with WAL waits for the lock (busy timeout), but
    the shared in-memory database of the SQLite test run answers "table is locked" at once. On SQLite the round
    therefore plans everything, then fetches, then stores — never writing while a request is in flight.
    """
    return connection.vendor != "sqlite"


_pool_lock = threading.Lock()
_pool: tuple[int, int, ThreadPoolExecutor] | None = None  # (process id, size, pool)


def fetch_pool() -> ThreadPoolExecutor:
    """One pool per process, sized by the per-worker concurrency setting (a fork gets its own pool)."""
    global _pool
    with _pool_lock:
        size = settings.SYNC_WORKER_CONCURRENCY
        if connection.vendor == "sqlite" and "memory" in str(connection.settings_dict["NAME"]):
            size = 1  # see interleaves_writes: the simulator's own writes cannot overlap there either
        if _pool is None or _pool[:2] != (os.getpid(), size):
            _pool = (os.getpid(), size, ThreadPoolExecutor(max_workers=size, thread_name_prefix="sync-fetch"))
        return _pool[2]


def _fetch_batch(transport, smartcar_id: str, access_token: str, paths: list[str], make_specific: set[str]) -> Outcome:
    # Reference: smartcar-api/batch.md — "Each endpoint in the batch counts against your request limit". On API v3 the
    # one path is /signals: every signal in one call (connect/transports.py).
    try:
        outcome = Outcome(results=dict(transport.fetch(smartcar_id, access_token, paths)), requests=1)
    except SmartcarError as exc:
        return Outcome(results=dict.fromkeys(paths, exc), requests=1, whole_failed=set(paths))
    for path in sorted(make_specific):
        answer = outcome.results.get(path)
        if isinstance(answer, SmartcarError) and refused_by_batch(answer):
            outcome.add(_fetch_one(transport, smartcar_id, access_token, path))
            outcome.read_directly.add(path)
    return outcome


def _fetch_one(transport, smartcar_id: str, access_token: str, path: str) -> Outcome:
    # Reference: smartcar-api/README.md — each GET endpoint under /vehicles/{id}; "/" is the vehicle itself.
    try:
        answer: Answer = transport.fetch_one(smartcar_id, access_token, path)
    except SmartcarError as exc:
        answer = exc
    return Outcome(results={path: answer}, requests=1)


class Fetcher:
    """Submits each planned vehicle's calls to the pool and hands back vehicles whose calls have all answered.

    ``start_at_once=False`` (SQLite) holds the calls back until ``start()``.
    """

    def __init__(self, *, start_at_once: bool):
        self.pool = fetch_pool()
        # Resolved here, on the round's thread: the pool's threads touch no database (connect/transports.py reads the
        # API switch a migration recorded from it).
        self.transport = transports.current()
        self.start_at_once = start_at_once
        self.held: list[tuple[Plan, object, tuple]] = []
        self.plans: dict[Future, Plan] = {}
        self.outcomes: dict[int, Outcome] = {}  # by vehicle id, while its calls come in
        self.waiting: dict[int, int] = {}  # calls of a vehicle still out
        # Finished calls, in the order they finish (a future's callback puts it here): O(1) per answer, where
        # concurrent.futures.wait walks every pending future on each call.
        self.finished: queue.SimpleQueue[Future] = queue.SimpleQueue()
        self.pending = 0  # calls submitted and not yet collected

    def submit(self, plan: Plan) -> None:
        """One batch for the vehicle's paths and a call of its own for each path read directly; or, when the fleet
        turned batch off (a paid-plan feature), a call for each path — all in flight at once."""
        vehicle = plan.vehicle
        direct = [p for p in plan.paths if not plan.use_batch or plan.states[p].read_directly]
        batched = [p for p in plan.paths if p not in direct]
        self.outcomes[vehicle.pk] = Outcome()
        self.waiting[vehicle.pk] = len(direct) + bool(batched)
        if batched:
            make_specific = {p for p in batched if plan.endpoints[p].is_make_specific}
            self._call(
                plan, _fetch_batch, (self.transport, vehicle.smartcar_id, plan.access_token, batched, make_specific)
            )
        for path in direct:
            self._call(plan, _fetch_one, (self.transport, vehicle.smartcar_id, plan.access_token, path))

    def start(self) -> None:
        for plan, function, arguments in self.held:
            self._launch(plan, function, arguments)
        self.held = []

    def collect(self, timeout: float | None) -> list[tuple[Plan, Outcome]]:
        """Vehicles whose calls have all answered, waiting up to ``timeout`` for the first call to finish."""
        if not self.pending:
            return []
        answered = []
        for future in self._finished(timeout):
            self.pending -= 1
            plan = self.plans.pop(future)
            vehicle_id = plan.vehicle.pk
            self.outcomes[vehicle_id].add(future.result())
            self.waiting[vehicle_id] -= 1
            if not self.waiting[vehicle_id]:
                del self.waiting[vehicle_id]
                answered.append((plan, self.outcomes.pop(vehicle_id)))
        return answered

    def in_flight(self) -> set[int]:
        """Ids of the vehicles with a call still out."""
        return {plan.vehicle.pk for plan in self.plans.values()}

    def _call(self, plan: Plan, function, arguments: tuple) -> None:
        self.pending += 1
        if self.start_at_once:
            self._launch(plan, function, arguments)
        else:
            self.held.append((plan, function, arguments))

    def _launch(self, plan: Plan, function, arguments: tuple) -> None:
        future = self.pool.submit(function, *arguments)
        self.plans[future] = plan
        future.add_done_callback(self.finished.put)

    def _finished(self, timeout: float | None) -> list[Future]:
        try:
            done = [self.finished.get(timeout=timeout)]
        except queue.Empty:
            return []
        while True:
            try:
                done.append(self.finished.get_nowait())
            except queue.Empty:
                return done
