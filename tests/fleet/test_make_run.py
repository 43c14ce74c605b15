"""`make run` (honcho and the Procfile) stops cleanly on Ctrl-C."""

import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _procfile_command(name: str) -> list[str]:
    line = next(line for line in (ROOT / "Procfile").read_text().splitlines() if line.startswith(f"{name}:"))
    command = shlex.split(line.partition(":")[2])
    program = Path(command[0]).name
    return [sys.executable, "-m", program, *command[1:]]


def test_the_worker_stops_with_a_warm_shutdown_when_honcho_terminates_it(tmp_path):
    log = tmp_path / "worker.log"
    env = {"PATH": os.environ["PATH"], "DEBUG": "true", "FLEET_VAR_DIR": str(tmp_path), "PYTHONUNBUFFERED": "1"}
    with log.open("w") as out:
        # Its own process group, as honcho starts it; on Ctrl-C honcho sends SIGTERM to the whole group, and SIGKILL
        # to whatever is still running a few seconds later.
        worker = subprocess.Popen(
            _procfile_command("worker"), cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        deadline = time.monotonic() + 60
        while " ready." not in log.read_text():
            assert worker.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(timeout=30)
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()
    output = log.read_text()
    assert "Warm shutdown" in output
    # No task process killed under a running task: the SIGTERM reaches one process, which finishes its tasks.
    assert "exited with 'signal" not in output and "ERROR" not in output, output
