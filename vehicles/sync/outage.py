"""A database outage as a round meets it: counted, its first cause kept, reported in one line.

Only the errors of an unreachable or restarting database count (``DATABASE_DOWN``); anything else is a bug and keeps
its traceback.
"""

import time

from django.db import InterfaceError, OperationalError, connection

DATABASE_DOWN = (OperationalError, InterfaceError)


def cause(exc: BaseException) -> str:
    """The error in one line: its class and the first line of its message."""
    lines = str(exc).strip().splitlines()
    return f"{exc.__class__.__name__}: {lines[0] if lines else ''}".strip()


class Outage:
    """The database failures a round met, and whether the database came back before the round ended."""

    def __init__(self) -> None:
        self.failures = 0
        self.first_cause = ""
        self.began: float | None = None
        self.ended: float | None = None

    def __bool__(self) -> bool:
        return self.failures > 0

    @property
    def ongoing(self) -> bool:
        return self.began is not None and self.ended is None

    def failed(self, exc: BaseException) -> None:
        """Counts a failure; the broken connection is dropped so that the next statement opens a new one."""
        self.failures += 1
        self.first_cause = self.first_cause or cause(exc)
        if not self.ongoing:
            self.began, self.ended = time.monotonic(), None
        connection.close()

    def recovered(self) -> None:
        if self.ongoing:
            self.ended = time.monotonic()

    def seconds(self) -> float:
        if self.began is None:
            return 0.0
        return (self.ended or time.monotonic()) - self.began
