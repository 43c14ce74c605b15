"""Settings, health check, logging, the demo command and the beat schedule."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.staticfiles import finders
from django.db import connection
from django.urls import reverse

from fleet.schedule import beat_schedule
from tests.conftest import require_service

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION_ENV = {
    "PATH": os.environ["PATH"],
    "DJANGO_SETTINGS_MODULE": "fleet.settings",
    "DEBUG": "false",
    "SECRET_KEY": "p" * 60 + "-production-like-secret-with-enough-entropy",
    "ALLOWED_HOSTS": "fleet.example.com",
    "TOKEN_ENCRYPTION_KEYS": "r6Y1Ah1Z7lqiVqRuw0l4GVeWtbG2fR7n9n9n1i3Yq0o=",
    "SMARTCAR_MODE": "live",
    "SMARTCAR_CLIENT_ID": "client-id",
    "SMARTCAR_CLIENT_SECRET": "client-secret",
    "SMARTCAR_REDIRECT_URI": "https://fleet.example.com/connect/callback/",
    "SMARTCAR_MANAGEMENT_TOKEN": "management-token",
}


def _manage(*args, env):
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )


def test_check_deploy_is_clean_with_production_settings(tmp_path):
    result = _manage(
        "check", "--deploy", "--fail-level", "WARNING", env={**PRODUCTION_ENV, "FLEET_VAR_DIR": str(tmp_path)}
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize(
    ("missing", "named"),
    [
        ("SECRET_KEY", "SECRET_KEY"),
        ("TOKEN_ENCRYPTION_KEYS", "TOKEN_ENCRYPTION_KEYS"),
        ("SMARTCAR_CLIENT_ID", "SMARTCAR_CLIENT_ID"),
    ],
)
def test_production_refuses_to_start_without_a_variable(tmp_path, missing, named):
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != missing} | {"FLEET_VAR_DIR": str(tmp_path)}
    result = _manage("check", env=env)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert named in lines[0] and "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("name", "value"), [("DEBUG", "maybe"), ("SMARTCAR_MODE", "sandbox"), ("TOKEN_ENCRYPTION_KEYS", "too-short")]
)
def test_a_malformed_variable_is_named(tmp_path, name, value):
    result = _manage("check", env={**PRODUCTION_ENV, name: value, "FLEET_VAR_DIR": str(tmp_path)})
    assert result.returncode != 0
    assert name in result.stderr and "Traceback" not in result.stderr


def test_live_mode_has_no_simulator(tmp_path):
    script = (
        "import django; django.setup(); from django.conf import settings; print('simulator' in settings.INSTALLED_APPS)"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env={**PRODUCTION_ENV, "FLEET_VAR_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.stdout.strip() == "False", result.stderr


@pytest.fixture
def postgres_url():
    require_service(connection.vendor == "postgresql", "PostgreSQL")
    return "postgres://postgres@{HOST}:{PORT}/postgres".format(**connection.settings_dict)


def test_a_pooled_process_shares_a_bounded_set_of_postgresql_connections(tmp_path, postgres_url):
    # Eight threads, each making a query and closing its connection the way a request's end does, on a pool of two.
    script = """
import threading, django
django.setup()
from django.contrib.staticfiles import finders
from django.db import connection

def query():
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pids.append(cursor.fetchone()[0])
    connection.close()

pids = []
threads = [threading.Thread(target=query) for _ in range(8)]
[t.start() for t in threads]
[t.join() for t in threads]
print(len(pids), len(set(pids)))
"""
    env = {**PRODUCTION_ENV, "FLEET_VAR_DIR": str(tmp_path), "DATABASE_URL": postgres_url, "DATABASE_POOL_SIZE": "2"}
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    answered, backends = map(int, result.stdout.split())
    assert answered == 8
    assert backends <= 2


def test_healthz_answers_200_when_database_and_broker_answer(client, db):
    response = client.get(reverse("healthz"))
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "broker": "ok"}


def test_healthz_answers_503_when_the_broker_is_down(client, db):
    from fleet.celery import app

    original = app.conf.broker_url
    app.conf.broker_url = "redis://127.0.0.1:1/0"
    try:
        response = client.get(reverse("healthz"))
    finally:
        app.conf.broker_url = original
    assert response.status_code == 503
    assert response.json()["broker"] == "unreachable"


def test_every_response_carries_a_request_id_that_the_logs_carry_too(client, db, caplog):
    response = client.get(reverse("healthz"))
    request_id = response.headers["X-Request-ID"]
    assert len(request_id) >= 16


def test_every_beat_entry_names_a_task_and_expires_before_its_next_run():
    from fleet.celery import app

    app.loader.import_default_modules()
    for name, entry in beat_schedule().items():
        assert entry["task"] in app.tasks, name
        interval = entry["schedule"] if isinstance(entry["schedule"], float) else None
        expires = entry["options"]["expires"]
        assert expires > 0
        if interval:
            assert expires < interval, name


def test_favicon_ico_is_the_icon_file(client):
    answer = client.get("/favicon.ico")

    assert answer.status_code == 301
    assert answer["Location"].endswith(".ico")
    icon = finders.find("img/favicon.ico")
    with open(icon, "rb") as file:
        assert file.read(4) == b"\x00\x00\x01\x00"  # an ICO file's signature
