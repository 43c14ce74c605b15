"""Handing work to Celery workers: ``enqueue``, the one way services send a task, and the outbox behind it.

Work that must happen (a command, a webhook event) is written to the database first; the service then calls
``enqueue(task, row.pk, row=row)`` in the same transaction. Once the transaction commits, the task goes to the
broker and the row records when (``enqueued_at``). When the broker is down, ``enqueue`` logs one warning and returns
as usual — the click answers "queued", the webhook receiver 200 — and the row stays pending and unqueued. The beat
task ``outbox_sweep`` (fleet/schedule.py) hands such rows to workers as soon as the broker answers again, and rows
handed over so long ago that their message must have been lost (a broker that lost its data) once more, and rows
a worker claimed and then died on (their work is one transaction, so nothing of it was kept). Workers claim each row
with a conditional UPDATE, so a row handed over twice is still worked on once.

Each kind of row registers an ``OutboxSource`` (from its app's ``ready``): its model, which rows are still to be
worked on, and the task that works on one. A "Sync now" needs no source of its own: its row is the vehicle's due time,
and the sync dispatcher (beat, every few seconds) is its sweep.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.apps import apps
from django.db import models, transaction
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
