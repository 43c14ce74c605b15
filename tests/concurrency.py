"""Races between two workers made deterministic: another worker's writes held uncommitted while the test's own call
runs (and waits for them where the code under test must)."""

import threading
import time
from contextlib import contextmanager

from django.db import connections, transaction


@contextmanager
def held_by_another_worker(work, *, hold_seconds: float = 1.0):
    """Runs ``work()`` in a transaction of another thread (its own database connection) and keeps that transaction
    open ``hold_seconds`` after it returns; the ``with`` block runs meanwhile. Yields a list that holds what ``work``
    returned; on leaving the block, waits for the other thread and fails if ``work`` raised."""
    done = threading.Event()
    results: list = []
    failures: list[BaseException] = []

    def other_worker():
        try:
            with transaction.atomic():  # its writes are not committed while the block runs
                results.append(work())
                done.set()
                time.sleep(hold_seconds)
        except BaseException as exc:
            failures.append(exc)
        finally:
            done.set()
            connections.close_all()

    thread = threading.Thread(target=other_worker)
    thread.start()
    assert done.wait(10)
    yield results
    thread.join(10)
    assert failures == []
