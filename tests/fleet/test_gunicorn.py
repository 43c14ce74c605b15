"""The web server as deployed: `gunicorn fleet.wsgi` with the repository's gunicorn.conf.py, in production mode."""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.fleet.test_production_settings import SIMULATED_PRODUCTION

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _environment(tmp_path: Path, **overrides: str) -> dict:
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    (tmp_path / "static").mkdir(exist_ok=True)
    return {
        **SIMULATED_PRODUCTION,
        "HOME": str(home),
        "FLEET_VAR_DIR": str(tmp_path / "var"),
        "STATIC_ROOT": str(tmp_path / "static"),
        "ALLOWED_HOSTS": "127.0.0.1",
        "WEB_CONCURRENCY": "1",
        "WEB_THREADS": "2",
        "PYTHONUNBUFFERED": "1",
        **overrides,
    }


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"SMARTCAR_MANAGEMENT_TOKEN": ""}, "SMARTCAR_MANAGEMENT_TOKEN"),
        ({"DATABASE_URL": "postgres://fleet:s3cret@db:notaport/fleet"}, "DATABASE_URL"),
        ({"DATABASE_URL": "nonsense://somewhere"}, "DATABASE_URL"),
    ],
)
def test_a_configuration_error_stops_gunicorn_once_with_one_line(tmp_path, overrides, named):
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "fleet.wsgi"],
        cwd=ROOT,
        env=_environment(tmp_path, PORT=str(port), **overrides),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        stdout, stderr = server.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        server.kill()
        stdout, stderr = server.communicate()
        pytest.fail(f"gunicorn kept running with a configuration error:\n{stderr[-2000:]}")
    assert server.returncode != 0
    lines = (stdout + stderr).strip().splitlines()
    assert len(lines) == 1, stdout + stderr
    assert lines[0].startswith("Fleet cannot start, configuration error: ") and named in lines[0]
    assert "s3cret" not in lines[0]


class Server:
    def __init__(self, tmp_path: Path, **overrides: str):
        self.port = _free_port()
        self.log = tmp_path / f"gunicorn-{self.port}.log"
        self.env = _environment(tmp_path, PORT=str(self.port), **overrides)
        with self.log.open("w") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "fleet.wsgi"], cwd=ROOT, env=self.env, stdout=log, stderr=log
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                httpx.get(self.url("/healthz"), timeout=2)
                return
            except httpx.TransportError:
                assert self.process.poll() is None, self.log.read_text()
                time.sleep(0.2)
        self.stop()
        pytest.fail(f"gunicorn did not answer:\n{self.log.read_text()}")

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def raw(self, request_line: str, headers: str = "") -> bytes:
        """Sends a request exactly as written (httpx would normalise the path)."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=10) as connection:
            connection.sendall(f"{request_line}\r\nHost: 127.0.0.1\r\n{headers}Connection: close\r\n\r\n".encode())
            answer = b""
            while chunk := connection.recv(65536):
                answer += chunk
        return answer

    def stop(self) -> str:
        self.process.terminate()
        self.process.wait(timeout=30)
        return self.log.read_text()


@pytest.fixture
def server(tmp_path):
    started = Server(tmp_path)
    yield started
    if started.process.poll() is None:
        started.stop()


def test_access_lines_cannot_be_forged_and_carry_no_secret(server):
    forged = '127.0.0.1 [30/Nov/2026:00:00:00 +0000] "GET /admin/" 200 0 0.001s'
    server.raw("GET /x%0a" + forged.replace(" ", "%20").replace('"', "%22") + " HTTP/1.1")
    server.raw("GET /nul%00byte%0d%1b[31mred HTTP/1.1")
    server.raw("GET /invitations/Kq3vYt8wZ1pQ0rX7uLm4nB2cD5eF6gH9/ HTTP/1.1")
    # One server for what production's defaults promise besides: no shared control socket in the home directory, and
    # a forged X-Forwarded-Proto from a peer nobody named does not pass for https (production redirects to it).
    assert not (Path(server.env["HOME"]) / ".gunicorn").exists()
    answer = httpx.get(server.url("/accounts/login/"), headers={"X-Forwarded-Proto": "https"})
    assert answer.status_code == 301 and answer.headers["location"].startswith("https://")
    log = server.stop()
    access = [line for line in log.splitlines() if line.startswith("127.0.0.1 ")]
    assert not [line for line in access if line.startswith(forged[:30])], log
    assert len([line for line in access if '"GET /' in line and "/healthz" not in line]) == 4, log
    assert "/x\\x0a127.0.0.1" in log
    assert "/nul\\x00byte\\x0d\\x1b[31mred" in log
    assert "\x00" not in log and "\x1b" not in log
    assert "Kq3vYt8wZ1pQ0rX7uLm4nB2cD5eF6gH9" not in log and "/invitations/[redacted]/" in log


def test_forwarded_headers_are_trusted_from_a_named_proxy(tmp_path):
    trusted = Server(tmp_path, FORWARDED_ALLOW_IPS="127.0.0.1")
    try:
        answer = httpx.get(trusted.url("/accounts/login/"), headers={"X-Forwarded-Proto": "https"})
        assert answer.status_code != 301
    finally:
        trusted.stop()


def test_procfile_runs_gunicorn_with_this_configuration():
    web = next(line for line in (ROOT / "Procfile").read_text().splitlines() if line.startswith("web:"))
    assert web.split() == ["web:", ".venv/bin/gunicorn", "fleet.wsgi"]
    assert os.path.exists(ROOT / "gunicorn.conf.py")
