"""Building blocks for the simulated platform's tests: accounts, vehicles, connections and credentials."""

import base64
import http.server
import itertools
import threading
import time

from django.conf import settings

from simulator.models import Application, AuthorizationCode, Connection, SmartcarUser, Vehicle
from simulator.oauth import authorization_code_issue
from simulator.platform import ensure_default_application

_serial = itertools.count(1)


def default_application() -> Application:
    return ensure_default_application()


def basic_auth(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def client_auth() -> str:
    return basic_auth(settings.SMARTCAR_CLIENT_ID, settings.SMARTCAR_CLIENT_SECRET)


def management_auth(token: str | None = None) -> str:
    return basic_auth("default", token or settings.SMARTCAR_MANAGEMENT_TOKEN)


def make_user(email: str = "driver@example.com") -> SmartcarUser:
    return SmartcarUser.objects.create(email=email)


def make_vehicle(owner: SmartcarUser, make: str = "TESLA", model: str = "Model 3", engine_type: str = "BEV") -> Vehicle:
    serial = next(_serial)
    return Vehicle.objects.create(
        owner=owner,
        make=make,
        model=model,
        year=2022,
        vin=f"TESTVIN{serial:010d}",
        engine_type=engine_type,
        region="US",
        routine="commute",
    )


def make_connection(application: Application, vehicle: Vehicle, mode: str = "live", **fields) -> Connection:
    return Connection.objects.create(
        application=application,
        user=vehicle.owner,
        vehicle=vehicle,
        permissions=fields.pop("permissions", ["read_vehicle_info", "read_odometer"]),
        mode=mode,
        **fields,
    )


def make_code(application: Application, user: SmartcarUser, redirect_uri: str | None = None) -> AuthorizationCode:
    return authorization_code_issue(
        application=application, user=user, redirect_uri=redirect_uri or settings.SMARTCAR_REDIRECT_URI
    )


class CallbackServer:
    """A real HTTP server on 127.0.0.1 standing in for an application's webhook callback URL.

    ``answer(request_body: bytes) -> (status, body_bytes)`` decides each reply; every request is recorded.
    """

    def __init__(self, answer=None, delay: float = 0.0):
        self.requests: list[dict] = []
        self.answer = answer or (lambda body: (200, b"{}"))
        self.delay = delay
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                server.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                time.sleep(server.delay)
                status, reply = server.answer(body)
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args):
                pass

        self._httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}/webhooks/smartcar"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._httpd.shutdown()
        self._httpd.server_close()
