"""Handing work to Celery workers: ``enqueue``, the one way services send a task, and the outbox behind it.

Work that must happen (a command, a webhook event, a bulk schedule run) is written to the database first; the service
then calls ``enqueue(task, row.pk, row=row)`` in the same transaction. Once the transaction commits, the task goes to
the broker and the row records when (``enqueued_at``). When the broker is down, ``enqueue`` logs one warning and returns
as usual — the click answers "queued", the webhook receiver 200 — and the row stays pending and unqueued. The beat task
``outbox_sweep`` (fleet/schedule.py) hands such rows to workers as soon as the broker answers again, and rows handed
over so long ago that their message must have been lost (a broker that lost its data) once more, and rows a worker
claimed and then died on (their work is one transaction, so nothing of it was kept). Workers claim each row with a
conditional UPDATE, so a row handed over twice is still worked on once.

Each kind of row registers an ``OutboxSource`` (from its app's ``ready``): its model, which rows are still to be
worked on, and the task that works on one. A "Sync now" needs no source of its own: its row is the vehicle's due time,
and the sync dispatcher (beat, every few seconds) is its sweep.

Rows that arrive many a second (webhook events) are handed over in groups instead: ``Handover.add`` after commit
collects row ids in the process, and a background thread sends each group as one message (a task that takes a list
of ids) and records it with one UPDATE. The rows are the outbox all the same: ids a process had collected but not
sent (broker down, the process stopped) are still unqueued rows, and the sweep hands them over.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.apps import apps
from django.db import close_old_connections, models, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.module_loading import import_string
from kombu.exceptions import OperationalError

logger = logging.getLogger(__name__)

# After its transaction commits, a row is handed over at once; one still unqueued this much later was not.
HANDOVER_GRACE = timedelta(seconds=5)
# Rows handed over per source and sweep (the rest follow at the next sweep).
SWEEP_LIMIT = 500
# A failing broker is given this one quick second try within a click, not Celery's default of several.
RETRY_POLICY = {"max_retries": 1, "interval_start": 0.2, "interval_step": 0.2, "interval_max": 0.5}


@dataclass(frozen=True)
class OutboxSource:
    model: str  # "app_label.Model", with an ``enqueued_at`` column
    task: str  # the import path of the task that works on one row, called with the row's id
    pending: Q  # rows whose work is still to be done
    created_field: str  # when the row was written
    # A row handed over this long ago and still pending lost its message: hand it over again (None: never).
    lost_after: timedelta | None = None
    # Rows a worker claimed and died on (given the sweep's now), with the fields that make them pending again.
    abandoned: Callable[[datetime], Q] | None = None
    release: dict = field(default_factory=dict)

    @property
    def rows(self):
        return apps.get_model(self.model).objects


SOURCES: dict[str, OutboxSource] = {}


def outbox_register(source: OutboxSource) -> None:
    SOURCES[source.model.lower()] = source


def enqueue(task, *args, row: models.Model | None = None) -> None:
    """Sends ``task(*args)`` to a worker once the current transaction commits; never raises for a broker outage.

    ``row``: the outbox row the task works on; it records when it was handed over, and ``outbox_sweep`` hands it
    over later if the broker did not take it now.
    """
    row_ref = (row._meta.label_lower, row.pk) if row is not None else None
    transaction.on_commit(lambda: _send(task, args, row_ref))


def send_now(task, *args) -> OperationalError | None:
    """Sends ``task(*args)`` at once, for a task that hands work on (no transaction to wait for); returns the broker's
    error when it did not take it, for the caller to say what waits."""
    try:
        task.apply_async(args=args, retry=True, retry_policy=RETRY_POLICY)
    except OperationalError as exc:
        return exc
    return None


def _send(task, args: tuple, row_ref: tuple[str, int] | None, now: datetime | None = None) -> bool:
    error = send_now(task, *args)
    if error is not None:
        logger.warning("broker unreachable (%s): %s waits for the outbox sweep", error.__class__.__name__, task.name)
        return False
    if row_ref is not None:
        label, pk = row_ref
        apps.get_model(label).objects.filter(pk=pk).update(enqueued_at=now or timezone.now())
    return True


class Handover:
    """Committed rows of one outbox source, handed to workers in groups of up to ``max_rows``.

    ``add(pk)`` (call it after commit) only appends to a list; a daemon thread of the process sends what was
    collected at most ``max_wait`` seconds later, as ``task([pk, …])``, and marks those rows handed over with one
    UPDATE. A broker that is down loses nothing: the rows stay unqueued and ``outbox_sweep`` hands them over. With
    Celery's eager mode (the tests) or ``background=False`` each id is sent at once, in the caller's thread.
    """

    # A quarter of a second: a message costs more CPU than receiving a delivery, so groups should be large (at 100
    # deliveries/s, 20 ms groups cost ~1 ms of CPU per delivery, 250 ms groups ~0.2 ms: docs/benchmarks.md), and a
    # worker is rarely that close behind a burst anyway.
    def __init__(self, task: str, model: str, *, max_rows: int = 200, max_wait: float = 0.25, background=None):
        self.task, self.model = task, model
        self.max_rows, self.max_wait = max_rows, max_wait
        self.background = background
        self._ids: list[int] = []
        self._lock = threading.Condition()
        self._thread: threading.Thread | None = None
        self._pid = 0

    def _in_background(self) -> bool:
        if self.background is not None:
            return self.background
        from celery import current_app

        return not current_app.conf.task_always_eager

    def add(self, pk: int) -> None:
        if not self._in_background():
            self.send([pk])
            return
        with self._lock:
            if self._thread is None or self._pid != os.getpid():
                # First use in this process (gunicorn forks its workers after import: a thread is per process).
                self._ids, self._pid = [], os.getpid()
                self._thread = threading.Thread(target=self._run, name=f"handover {self.model}", daemon=True)
                self._thread.start()
                atexit.register(self.flush)
            self._ids.append(pk)
            if len(self._ids) == 1 or len(self._ids) >= self.max_rows:
                self._lock.notify()

    def _take(self) -> list[int]:
        with self._lock:
            ids, self._ids = self._ids[: self.max_rows], self._ids[self.max_rows :]
            return ids

    def flush(self) -> int:
        """Sends everything collected now; returns how many rows were handed over."""
        handed = 0
        while ids := self._take():
            if not self.send(ids):
                break
            handed += len(ids)
        return handed

    def send(self, ids: list[int]) -> bool:
        """One message for these rows and one UPDATE recording it; False (the rows wait for the sweep) when the
        broker did not take it."""
        task = import_string(self.task)
        error = send_now(task, ids)
        if error is not None:
            logger.warning(
                "broker unreachable (%s): %d of %s wait for the outbox sweep", error.__class__.__name__, len(ids),
                self.model,
            )  # fmt: skip
            return False
        apps.get_model(self.model).objects.filter(pk__in=ids).update(enqueued_at=timezone.now())
        return True

    def _run(self) -> None:
        while True:
            with self._lock:
                while not self._ids:
                    self._lock.wait()
                # Rows arriving within max_wait travel in the same message (unless the group is full).
                if len(self._ids) < self.max_rows:
                    self._lock.wait(self.max_wait)
            close_old_connections()  # this thread's own connection, renewed as a request's would be
            try:
                self.flush()
            except Exception:
                # A database error here leaves the rows unqueued: the sweep hands them over.
                logger.exception("handover of %s failed; the outbox sweep hands the rows over", self.model)


def outbox_sweep(*, now: datetime | None = None) -> int:
    """Hands every pending row that no worker was given (or whose message was lost) to a worker; returns how many.

    Stops at the first broker failure: one warning line for the whole sweep, and the next sweep tries again.
    """
    now = now or timezone.now()
    handed = 0
    for label, source in SOURCES.items():
        if source.abandoned is not None:
            released = source.rows.filter(source.abandoned(now)).update(**source.release)
            if released:
                logger.warning("outbox: %d of %s claimed by a worker that died, pending again", released, label)
        waiting = Q(enqueued_at__isnull=True, **{f"{source.created_field}__lt": now - HANDOVER_GRACE})
        if source.lost_after is not None:
            waiting |= Q(enqueued_at__lt=now - source.lost_after)
        ids = list(
            source.rows.filter(source.pending)
            .filter(waiting)
            .order_by(source.created_field)
            .values_list("pk", flat=True)[:SWEEP_LIMIT]
        )
        task = import_string(source.task)
        for pk in ids:
            if not _send(task, (pk,), (label, pk), now):
                return handed
            handed += 1
        if ids:
            logger.warning("outbox: %d of %s handed to workers late (broker unreachable before?)", len(ids), label)
    return handed
