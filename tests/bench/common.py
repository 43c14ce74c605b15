"""What the in-process benchmarks share: the environment of a production-like app on a database of their own, that
database's life, and the figures of repeated calls.

Imported by a benchmark run as a script (``.venv/bin/python tests/bench/bench_x.py``), before Django is set up.
"""

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def environment(database_url: str) -> None:
    """The app as in production (DEBUG off) on ``database_url``; the simulator's secrets given, never the demo's."""
    os.environ.update(
        {
            "DATABASE_URL": database_url,
            "SECRET_KEY": "bench-secret-key-" + "x" * 40,
            "TOKEN_ENCRYPTION_KEYS": "r6Y1Ah1Z7lqiVqRuw0l4GVeWtbG2fR7n9n9n1i3Yq0o=",
            "ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
            "SECURE_SSL_REDIRECT": "false",
            "FLEET_VAR_DIR": str(ROOT / "var" / "bench"),
            "STATIC_ROOT": str(Path(tempfile.gettempdir()) / "fleet-bench-static"),
            "LOG_LEVEL": "WARNING",
            "DJANGO_SETTINGS_MODULE": "fleet.settings",
            "SMARTCAR_CLIENT_SECRET": "bench-client-secret",
            "SMARTCAR_MANAGEMENT_TOKEN": "bench-management-token",
        }
    )
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))


def _server(database_url: str) -> tuple[str, str]:
    """The URL of the server's maintenance database and the benchmark database's name."""
    base, name = database_url.rsplit("/", 1)
    return base + "/postgres", name


def database_create(database_url: str) -> None:
    """A new, empty database at ``database_url`` (the last run's dropped first)."""
    import psycopg

    server, name = _server(database_url)
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def database_drop(database_url: str) -> None:
    """Give the disk back (the machine is shared): the database and every file of it."""
    import psycopg

    server, name = _server(database_url)
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def timed(function, rounds: int) -> tuple[list[float], list[float]]:
    """Wall time and this process's CPU time per call, in ms: on a machine whose load average is many times its
    cores, the wall time is mostly waiting for a core, the CPU time is the work itself (PostgreSQL's own excluded)."""
    wall, cpu = [], []
    for _ in range(rounds):
        started, started_cpu = time.perf_counter(), time.process_time()
        function()
        wall.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - started_cpu) * 1000)
    return wall, cpu


def summary(name: str, timings: tuple[list[float], list[float]]) -> dict:
    wall, cpu = timings
    return {
        f"{name}_median_ms": round(statistics.median(wall), 1),
        f"{name}_p95_ms": round(percentile(wall, 0.95), 1),
        f"{name}_cpu_median_ms": round(statistics.median(cpu), 1),
    }
