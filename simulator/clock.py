"""The simulator's clock: simulated time runs ``speed`` times faster than real time.

simulated now = anchor.simulated + (real now − anchor.real) × speed

The speed comes from the setting ``SIMULATOR_CLOCK_SPEED`` when it is set (an installation that
wants real time sets it to 1), else from ``FaultSettings.clock_speed`` (editable in admin). The
anchor is kept in a small file under ``VAR_DIR`` so that the web, worker and beat processes share
one simulated "now"; when the speed changes the clock is re-anchored at the current simulated time,
so changing the speed never makes time jump. Real time is read through ``django.utils.timezone``,
so ``time_machine`` moves the simulated clock too.

Tests pin it: ``clock.pin(moment)``, ``clock.advance(timedelta(hours=1))``, ``clock.unpin()``.
"""

import json
import os
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.utils import timezone

_lock = threading.Lock()
_pinned: datetime | None = None
_ANCHOR_FILE = "simulator-clock.json"


def pin(moment: datetime) -> datetime:
    """Freeze simulated time at ``moment`` (aware) until ``unpin()``."""
    global _pinned
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment, timezone.UTC)
    _pinned = moment
    return moment


def unpin() -> None:
    global _pinned
    _pinned = None


def advance(delta: timedelta) -> datetime:
    """Move a pinned clock forward (pins it at the current simulated time first)."""
    return pin((_pinned or now()) + delta)


def is_pinned() -> bool:
    return _pinned is not None


def speed(fault_settings=None) -> float:
    """Simulated seconds per real second; pass the FaultSettings row when already loaded."""
    configured = getattr(settings, "SIMULATOR_CLOCK_SPEED", None)
    if configured is not None:
        return float(configured)
    if fault_settings is None:
        from simulator import faults

        fault_settings = faults.fault_settings()
    return float(fault_settings.clock_speed)


def now(*, clock_speed: float | None = None) -> datetime:
    """The simulated current time. Pass ``clock_speed`` when already known (saves a query)."""
    if _pinned is not None:
        return _pinned
    real = timezone.now()
    current_speed = speed() if clock_speed is None else clock_speed
    if current_speed == 1:
        return real
    anchor_real, anchor_simulated, anchor_speed = _anchor(real, current_speed)
    return anchor_simulated + (real - anchor_real) * anchor_speed


def _anchor_path() -> Path:
    return Path(getattr(settings, "VAR_DIR", ".")) / _ANCHOR_FILE


# The anchor as last read, and when: re-read every few seconds, so a speed change made by another
# process is seen quickly without a file read on every request.
_cached: tuple[float, tuple[datetime, datetime, float]] | None = None
_CACHE_SECONDS = 2.0


def _anchor(real: datetime, current_speed: float) -> tuple[datetime, datetime, float]:
    global _cached
    tick = time.monotonic()
    cached = _cached
    if cached and tick - cached[0] < _CACHE_SECONDS and cached[1][2] == current_speed and real >= cached[1][0]:
        return cached[1]
    anchor = _read_anchor(real, current_speed)
    _cached = (tick, anchor)
    return anchor


def _read_anchor(real: datetime, current_speed: float) -> tuple[datetime, datetime, float]:
    path = _anchor_path()
    with _lock:
        try:
            data = json.loads(path.read_text())
            anchor_real = datetime.fromisoformat(data["real"])
            anchor_simulated = datetime.fromisoformat(data["simulated"])
            anchor_speed = float(data["speed"])
        except (OSError, ValueError, KeyError):
            anchor_real = anchor_simulated = real
            anchor_speed = current_speed
            _write(path, anchor_real, anchor_simulated, anchor_speed)
        if anchor_speed != current_speed or real < anchor_real:
            # Re-anchor where the old speed had brought us; a real clock that went backwards
            # (time_machine in a test) restarts the simulated clock from real time.
            simulated = anchor_simulated + (real - anchor_real) * anchor_speed if real >= anchor_real else real
            anchor_real, anchor_simulated, anchor_speed = real, simulated, current_speed
            _write(path, anchor_real, anchor_simulated, anchor_speed)
    return anchor_real, anchor_simulated, anchor_speed


def _write(path: Path, real: datetime, simulated: datetime, current_speed: float) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        tmp.write_text(
            json.dumps({"real": real.isoformat(), "simulated": simulated.isoformat(), "speed": current_speed})
        )
        tmp.replace(path)
    except OSError:
        # A read-only disk still gets a working clock, anchored in this process only.
        pass
