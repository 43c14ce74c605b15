"""Production mode is safe by construction: no public secret serves it, no one-time link reaches its logs."""

import io
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from fleet.redaction import REDACTED, RedactSecrets

ROOT = Path(__file__).resolve().parents[2]
SIMULATED_PRODUCTION = {
    "PATH": os.environ["PATH"],
    "DEBUG": "false",
    "SECRET_KEY": "p" * 60 + "-production-like-secret-with-enough-entropy",
    "ALLOWED_HOSTS": "fleet.example.com",
    "TOKEN_ENCRYPTION_KEYS": "r6Y1Ah1Z7lqiVqRuw0l4GVeWtbG2fR7n9n9n1i3Yq0o=",
    "SMARTCAR_MODE": "simulated",
    "SMARTCAR_CLIENT_SECRET": "an-installation-s-own-client-secret",
    "SMARTCAR_MANAGEMENT_TOKEN": "an-installation-s-own-management-token",
}


def _load_settings(env: dict, tmp_path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", "import fleet.settings"],
        cwd=ROOT,
        env={**env, "FLEET_VAR_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
    )


def _refused(result: subprocess.CompletedProcess) -> str:
    assert result.returncode != 0, "started"
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert lines[0].startswith("Fleet cannot start, configuration error: ")
    return lines[0]


def test_simulated_production_with_its_own_secrets_starts(tmp_path):
    result = _load_settings(SIMULATED_PRODUCTION, tmp_path)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("name", ["SMARTCAR_MANAGEMENT_TOKEN", "SMARTCAR_CLIENT_SECRET"])
def test_simulated_production_requires_every_smartcar_secret(tmp_path, name):
    env = {k: v for k, v in SIMULATED_PRODUCTION.items() if k != name}
    assert name in _refused(_load_settings(env, tmp_path))


@pytest.mark.parametrize(
    ("name", "value", "mode"),
    [
        ("SMARTCAR_MANAGEMENT_TOKEN", "fleet-demo-management-token", "simulated"),
        ("SMARTCAR_CLIENT_SECRET", "fleet-demo-secret", "simulated"),
        ("SMARTCAR_MANAGEMENT_TOKEN", "fleet-demo-management-token", "live"),
        ("SECRET_KEY", "django-insecure-" + "x" * 50, "simulated"),
    ],
)
def test_production_refuses_the_public_demo_values(tmp_path, name, value, mode):
    env = SIMULATED_PRODUCTION | {
        name: value,
        "SMARTCAR_MODE": mode,
        "SMARTCAR_CLIENT_ID": "client-id",
        "SMARTCAR_REDIRECT_URI": "https://fleet.example.com/connect/callback/",
    }
    line = _refused(_load_settings(env, tmp_path))
    assert name in line and "public" in line
    assert value not in line


def test_production_refuses_the_console_mail_backend(tmp_path):
    env = SIMULATED_PRODUCTION | {"EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend"}
    assert "EMAIL_BACKEND" in _refused(_load_settings(env, tmp_path))


@pytest.mark.parametrize("url", ["locmem://", "memcached://cache:11211", "db://"])
def test_production_refuses_a_cache_its_processes_would_not_share(tmp_path, url):
    assert "CACHE_URL" in _refused(_load_settings(SIMULATED_PRODUCTION | {"CACHE_URL": url}, tmp_path))


def test_the_cache_is_shared_by_default_and_redis_when_named(tmp_path):
    script = "from fleet import settings as s; print(s.CACHES['default']['BACKEND'])"
    backends = []
    for url in (None, "redis://redis:6379/1"):
        env = SIMULATED_PRODUCTION | ({"CACHE_URL": url} if url else {}) | {"FLEET_VAR_DIR": str(tmp_path)}
        result = subprocess.run(
            [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
        )
        backends.append(result.stdout.strip())
    assert backends == ["django.core.cache.backends.db.DatabaseCache", "django.core.cache.backends.redis.RedisCache"]


def test_the_demo_keeps_its_defaults_and_the_console_backend(tmp_path):
    script = "from fleet import settings as s; print(s.SMARTCAR_MANAGEMENT_TOKEN, s.EMAIL_BACKEND)"
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env={"PATH": os.environ["PATH"], "DEBUG": "true", "FLEET_VAR_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["fleet-demo-management-token", "django.core.mail.backends.console.EmailBackend"]


# --- Nothing secret in the logs ------------------------------------------------------------------------------------


@pytest.fixture
def log_output():
    """What the configured stdout handler (LOGGING in fleet/settings.py) writes, captured."""
    handler = next(h for h in logging.getLogger().handlers if any(isinstance(f, RedactSecrets) for f in h.filters))
    stream = io.StringIO()
    previous = handler.setStream(stream)
    try:
        yield stream
    finally:
        handler.setStream(previous)


SECRETS = {
    "invitation": "/invitations/Kq3vYt8wZ1pQ0rX7uLm4nB2cD5eF6gH9/",
    "reset": "/accounts/password/reset/key/1-cf5ns2-3b8c5f0e0e3c4b7d9a1f/",
    "code": "/connect/callback/?code=9f8e7d6c-5b4a-3c2d-1e0f-a9b8c7d6e5f4&state=abc",
    "bearer": "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.c2VjcmV0.sig",
    "basic": "Authorization: Basic ZmxlZXQtZGVtby1jbGllbnQ6c2VjcmV0",
    "json": '{"access_token": "at-1234567890", "refresh_token": "rt-0987654321"}',
}
SECRET_PARTS = [
    "Kq3vYt8wZ1pQ0rX7uLm4nB2cD5eF6gH9",
    "cf5ns2-3b8c5f0e0e3c4b7d9a1f",
    "9f8e7d6c-5b4a-3c2d-1e0f-a9b8c7d6e5f4",
    "eyJhbGciOiJIUzI1NiJ9",
    "ZmxlZXQtZGVtby1jbGllbnQ6c2VjcmV0",
    "at-1234567890",
    "rt-0987654321",
]


def test_secrets_are_redacted_in_messages_arguments_and_tracebacks(log_output):
    logger = logging.getLogger("fleet.test")
    for what, text in SECRETS.items():
        logger.warning("in the message (%s): " + text.replace("%", "%%"), what)
        logger.warning("as an argument (%s): %s", what, text)
    try:
        raise ValueError(f"failed on {SECRETS['invitation']} with {SECRETS['bearer']}")
    except ValueError:
        logger.exception("a traceback")
    written = log_output.getvalue()
    for part in SECRET_PARTS:
        assert part not in written
    assert written.count(REDACTED) >= 2 * len(SECRETS) + 2
    # What is not secret stays readable.
    assert "/invitations/[redacted]/" in written and "state=abc" in written and "ValueError" in written


def test_a_request_for_an_unknown_invitation_logs_no_token(client, db, log_output):
    token = "Zz9Yy8Xx7Ww6Vv5Uu4Tt3Ss2Rr1Qq0Pp"
    client.get(f"/invitations/{token}/")
    client.get(f"/accounts/password/reset/key/1-{token}/")
    client.get(f"/connect/callback/?code={token}")
    client.get(f"/no-such-page/?code={token}")
    written = log_output.getvalue()
    assert "Not Found" in written
    assert token not in written


# --- Nothing of a signed-in person's in a shared cache ---------------------------------------------------------------


def test_pages_and_exports_of_a_signed_in_person_are_never_stored(owner_client, fleet):
    from django.urls import reverse

    for url in (
        reverse("home"),
        reverse("fleet_settings", args=[fleet.slug]),
        reverse("fleet_overview_csv", args=[fleet.slug]),
        reverse("charging_fleet_csv", args=[fleet.slug]),
    ):
        response = owner_client.get(url)
        assert response.status_code in (200, 302), url
        directives = {d.strip() for d in response["Cache-Control"].split(",")}
        assert {"private", "no-store"} <= directives, url
        assert "public" not in directives and not any(d.startswith("max-age") for d in directives), url


def test_the_in_process_simulator_is_answered_in_production(tmp_path):
    script = "from fleet import settings as s; print(','.join(s.ALLOWED_HOSTS))"
    hosts = []
    for origin in ("", "http://simulator.internal:8001"):
        env = SIMULATED_PRODUCTION | {"SMARTCAR_SIMULATOR_ORIGIN": origin, "FLEET_VAR_DIR": str(tmp_path)}
        result = subprocess.run(
            [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
        )
        hosts.append(result.stdout.strip())
    # In-process, the simulator is addressed as localhost; served elsewhere, nothing is added.
    assert hosts == ["fleet.example.com,localhost", "fleet.example.com"]


def test_a_refused_request_is_logged_in_one_line_with_its_reason(viewer_client, fleet, log_output):
    from django.urls import reverse

    response = viewer_client.post(reverse("fleet_settings", args=[fleet.slug]), {"name": "Renamed"})
    assert response.status_code == 403
    lines = log_output.getvalue().strip().splitlines()
    assert len(lines) == 1, log_output.getvalue()
    assert "Forbidden" in lines[0] and "Only the fleet's owners can do this." in lines[0]
