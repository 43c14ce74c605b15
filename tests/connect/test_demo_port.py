"""`make run PORT=…`: the simulated Connect sends the browser back to the port the app serves on, and the demo prints
its address with that port."""

import io
import os
import subprocess
import sys
from pathlib import Path

from django.core.management import call_command

ROOT = Path(__file__).resolve().parents[2]


def test_the_simulated_connect_redirects_to_the_port_the_app_serves_on(tmp_path):
    script = "from fleet import settings as s; print(s.SMARTCAR_REDIRECT_URI)"
    env = {"PATH": os.environ["PATH"], "DEBUG": "true", "FLEET_VAR_DIR": str(tmp_path)}
    for port, expected in [
        ("8131", "http://127.0.0.1:8131/connect/callback/"),
        (None, "http://127.0.0.1:8000/connect/callback/"),
    ]:
        result = subprocess.run(
            [sys.executable, "-c", script],
            cwd=ROOT,
            env={**env, **({"PORT": port} if port else {})},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == expected


def test_make_run_hands_its_port_to_the_demo_and_the_web_server():
    makefile = (ROOT / "Makefile").read_text()
    assert "run: export PORT := $(PORT)" in makefile


def test_the_demo_prints_its_address_with_the_port(transactional_db, settings):
    settings.CSRF_COOKIE_SECURE = False
    settings.SMARTCAR_REDIRECT_URI = "http://127.0.0.1:8131/connect/callback/"
    out = io.StringIO()
    call_command("demo", "--smartcar-account", "1-vehicles@demo.fleet", stdout=out)

    assert "http://127.0.0.1:8131/fleets/demo/" in out.getvalue()
