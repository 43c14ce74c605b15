"""Sign-in rate limits hold across web processes: they count in the shared cache (CACHE_URL), not in each process."""

import re
from urllib.parse import quote

import httpx
import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.db import connection

from fleet.models import User
from tests.conftest import require_service
from tests.fleet.test_gunicorn import Server

PASSWORD = "correct horse battery"
LOCKED = "Too many failed login attempts"


@pytest.fixture
def database_url(transactional_db):
    require_service(connection.vendor == "postgresql", "PostgreSQL")
    database = connection.settings_dict
    credentials = quote(database["USER"] or "", safe="")
    if database["PASSWORD"]:
        credentials += ":" + quote(database["PASSWORD"], safe="")
    host, port = database["HOST"] or "127.0.0.1", database["PORT"] or 5432
    return f"postgres://{credentials}@{host}:{port}/{database['NAME']}"


def _sign_in(server: Server, email: str, password: str) -> httpx.Response:
    """One attempt as a new visitor would make it: a fresh connection for the form and another for the post."""
    page = httpx.get(server.url("/accounts/login/"))
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
    assert match, f"{page.status_code} {page.text[:3000]}"
    token = match.group(1)
    return httpx.post(
        server.url("/accounts/login/"),
        data={"login": email, "password": password, "csrfmiddlewaretoken": token},
        # The CSRF cookie is Secure in production; sent by hand over this test's plain http.
        headers={"Cookie": f"csrftoken={page.cookies['csrftoken']}"},
    )


def test_failed_sign_ins_are_limited_across_two_worker_processes(tmp_path, database_url):
    email = "target@example.com"
    User.objects.create(
        email=email, password=PBKDF2PasswordHasher().encode(PASSWORD, "fixedsalt1234567", iterations=1000)
    )
    server = Server(
        tmp_path,
        # The test settings: production's, with static files served from their folders (no collectstatic).
        DJANGO_SETTINGS_MODULE="fleet.settings_test",
        DATABASE_URL=database_url,
        SECURE_SSL_REDIRECT="false",
        WEB_CONCURRENCY="2",
        WEB_THREADS="1",
    )
    try:
        outcomes = []
        for _ in range(8):
            answer = _sign_in(server, email, "a guess")
            assert answer.status_code == 200
            outcomes.append("locked" if LOCKED in answer.text else "refused")
        # allauth's default: five failures per address in five minutes, counted by every process together.
        assert outcomes == ["refused"] * 5 + ["locked"] * 3
        # Even the right password is refused now, with the same clear message.
        answer = _sign_in(server, email, PASSWORD)
        assert answer.status_code == 200 and LOCKED in answer.text
    finally:
        log = server.stop()
    assert len(set(re.findall(r"Booting worker with pid: (\d+)", log))) == 2
