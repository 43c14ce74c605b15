"""Deliveries through gunicorn as deployed (``gunicorn fleet.wsgi``).

- Sent with ``Transfer-Encoding: chunked`` (no Content-Length): read whole, verified, stored; over the size limit,
  413 (issue 12, item 9).
- Served by the webhook handler (fleet/wsgi.py): the request id, the security headers and the Host check kept, the
  pages' middleware (sessions, CSP, frame options) skipped; pages of the same server keep all of it.
"""

import json
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest
from django.conf import settings
from django.db import connection

from connect.models import WebhookEvent
from tests.conftest import require_service
from tests.webhooks.conftest import charging_event, sign

ROOT = Path(__file__).resolve().parents[2]
WEBHOOK_ID = str(uuid.uuid4())
MANAGEMENT_TOKEN = "chunked-deliveries-management-token"
MAX_BODY = 4096


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def gunicorn(transactional_db, tmp_path):
    """gunicorn serving the app on the test database, with the repository's gunicorn.conf.py."""
    require_service(connection.vendor == "postgresql", "PostgreSQL (gunicorn shares the test database)")
    db = settings.DATABASES["default"]
    port = _free_port()
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "PYTHONUNBUFFERED": "1",
        "DEBUG": "false",
        "SECRET_KEY": "chunked-" + "s" * 60,
        "TOKEN_ENCRYPTION_KEYS": "r6Y1Ah1Z7lqiVqRuw0l4GVeWtbG2fR7n9n9n1i3Yq0o=",
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "false",
        "SMARTCAR_MODE": "simulated",
        "SMARTCAR_CLIENT_SECRET": "chunked-deliveries-client-secret",
        "SMARTCAR_MANAGEMENT_TOKEN": MANAGEMENT_TOKEN,
        "SMARTCAR_WEBHOOK_ID": WEBHOOK_ID,
        "WEBHOOK_MAX_BODY_BYTES": str(MAX_BODY),
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        # No broker here: a stored event waits in the outbox (fleet/outbox.py), the delivery is answered all the same.
        "CELERY_BROKER_URL": "redis://127.0.0.1:1/0",
        "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
        "FLEET_VAR_DIR": str(tmp_path / "var"),
        "STATIC_ROOT": str(tmp_path / "static"),
        "WEB_CONCURRENCY": "1",
        "PORT": str(port),
    }
    log = tmp_path / "gunicorn.log"
    with log.open("w") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "fleet.wsgi"], cwd=ROOT, env=env, stdout=out, stderr=out
        )
    url = f"http://127.0.0.1:{port}/webhooks/{WEBHOOK_ID}/"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(url, timeout=2)
                break
            except httpx.TransportError:
                assert server.poll() is None and time.monotonic() < deadline, log.read_text()
                time.sleep(0.2)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)


def _chunked(body: bytes, size: int = 100):
    for start in range(0, len(body), size):
        yield body[start : start + size]


def _deliver_chunked(url: str, body: bytes, signature: str) -> httpx.Response:
    # A generator body is sent chunked by httpx: no Content-Length, as some senders (and proxies) do.
    headers = {"Content-Type": "application/json", "SC-Signature": signature}
    return httpx.post(url, content=_chunked(body), headers=headers, timeout=10)


def test_a_chunked_signed_delivery_is_read_whole_and_stored(gunicorn):
    body = json.dumps(charging_event(WEBHOOK_ID, "vehicle-1")).encode()
    response = _deliver_chunked(gunicorn, body, sign(body, MANAGEMENT_TOKEN))
    assert response.request.headers.get("transfer-encoding") == "chunked"
    assert "content-length" not in response.request.headers
    assert response.status_code == 200, response.text
    assert response.json() == {"status": "received"}
    assert WebhookEvent.objects.get().event_id == json.loads(body)["payload"]["eventId"]


def test_a_chunked_delivery_with_a_wrong_signature_is_refused(gunicorn):
    body = json.dumps(charging_event(WEBHOOK_ID, "vehicle-1")).encode()
    assert _deliver_chunked(gunicorn, body, sign(body, "another key")).status_code == 401
    assert not WebhookEvent.objects.exists()


def test_a_chunked_delivery_over_the_size_limit_is_refused(gunicorn):
    event = charging_event(WEBHOOK_ID, "vehicle-1", padding="x" * (MAX_BODY * 4))
    body = json.dumps(event).encode()
    assert _deliver_chunked(gunicorn, body, sign(body, MANAGEMENT_TOKEN)).status_code == 413
    assert not WebhookEvent.objects.exists()


def test_a_delivery_keeps_the_security_middleware_and_skips_the_pages(gunicorn):
    body = json.dumps(charging_event(WEBHOOK_ID, "vehicle-1")).encode()
    headers = {"Content-Type": "application/json", "SC-Signature": sign(body, MANAGEMENT_TOKEN)}
    answer = httpx.post(gunicorn, content=body, headers=headers, timeout=10)
    assert answer.status_code == 200 and answer.json() == {"status": "received"}
    assert WebhookEvent.objects.get().event_id == json.loads(body)["payload"]["eventId"]
    assert answer.headers["X-Request-ID"] and answer.headers["X-Content-Type-Options"] == "nosniff"
    assert "Content-Security-Policy" not in answer.headers and "X-Frame-Options" not in answer.headers
    assert "Set-Cookie" not in answer.headers
    other = httpx.get(gunicorn.split("/webhooks/")[0] + "/healthz", timeout=10)  # 503 here: no broker
    assert "Content-Security-Policy" in other.headers and other.headers["X-Frame-Options"] == "DENY"


def test_a_delivery_for_a_host_not_allowed_is_refused(gunicorn):
    body = json.dumps(charging_event(WEBHOOK_ID, "vehicle-1")).encode()
    headers = {"Content-Type": "application/json", "SC-Signature": sign(body, MANAGEMENT_TOKEN), "Host": "evil.example"}
    # 400 in production; here the error page has no collected static files to render with (a 500 then).
    assert httpx.post(gunicorn, content=body, headers=headers, timeout=10).status_code >= 400
    assert not WebhookEvent.objects.exists()
