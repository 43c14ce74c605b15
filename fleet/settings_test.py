"""Settings for the test suite: production settings, with test keys and the real services.

The tests use PostgreSQL when DATABASE_URL is set or a server answers on 127.0.0.1:5432 (as on
CI), else SQLite; the Celery integration tests use Redis on 127.0.0.1:6379 when it answers.
"""

import os
import socket
from pathlib import Path


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


os.environ.setdefault("FLEET_VAR_DIR", str(Path(__file__).resolve().parent.parent / "var" / "test"))
os.environ.setdefault("SECRET_KEY", "test-secret-key-" + "x" * 40)
os.environ.setdefault("TOKEN_ENCRYPTION_KEYS", "r6Y1Ah1Z7lqiVqRuw0l4GVeWtbG2fR7n9n9n1i3Yq0o=")
os.environ.setdefault("ALLOWED_HOSTS", "testserver,localhost,127.0.0.1")
os.environ.setdefault("SECURE_SSL_REDIRECT", "false")
os.environ.setdefault("SMARTCAR_MODE", "simulated")
os.environ.setdefault("SMARTCAR_REDIRECT_URI", "http://testserver/connect/callback/")
os.environ.setdefault("SMARTCAR_CLIENT_SECRET", "test-client-secret-" + "s" * 20)
os.environ.setdefault("SMARTCAR_MANAGEMENT_TOKEN", "test-management-token-" + "m" * 20)
if "DATABASE_URL" not in os.environ and _answers(5432):
    os.environ["DATABASE_URL"] = "postgres://postgres@127.0.0.1:5432/fleet"
REDIS_URL = os.environ.get("TEST_REDIS_URL") or ("redis://127.0.0.1:6379/15" if _answers(6379) else "")

from fleet.settings import *  # noqa: E402, F403

# Each test run gets its own PostgreSQL test database, so that runs started at the same time on
# one machine never drop each other's; subprocesses of a run inherit the name.
os.environ.setdefault("FLEET_TEST_DATABASE", f"test_fleet_{os.getpid()}")
DATABASES["default"].setdefault("TEST", {})["NAME"] = os.environ["FLEET_TEST_DATABASE"]  # noqa: F405
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    DATABASES["default"]["TEST"]["NAME"] = None  # noqa: F405 — in memory

# Celery reads the CELERY_BROKER_URL environment variable before its settings: leave it unset.
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "memory://")
# Tasks run in the calling thread unless a test starts a real worker (tests/fleet/test_celery.py).
CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = True
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# Static files come from the source folders (no collectstatic before the tests).
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
# The fleet page's tiles are cached for seconds in production (dashboard/overview.py); the tests read them live.
DASHBOARD_SUMMARY_SECONDS = 0
