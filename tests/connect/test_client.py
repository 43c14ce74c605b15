"""The Smartcar client against the simulated platform, through the real HTTP stack."""

import http.server
import socket
import threading

import httpx
import pytest
from django.conf import settings
from django.test import override_settings

from connect import client, vault
from connect.client import ApiResponse, SmartcarClient
from connect.errors import SmartcarError, TransportError
from connect.models import SmartcarAccount
from connect.transport import ThreadedWSGITransport
from tests.connect.browser import connect
from vehicles.models import Vehicle


@pytest.fixture
def five(owner_client, fleet, transactional_db):
    """A Smartcar user with five vehicles of mixed makes, connected through Connect."""
    from simulator.platform import ensure_default_application

    ensure_default_application()
    connect(owner_client, fleet, "5-vehicles@example.com")
    account = SmartcarAccount.objects.get(fleet=fleet)
    return SmartcarClient(vault.decrypt(account.access_token_encrypted)), account


def test_the_client_reads_pages_meta_headers_make_specific_paths_and_batches(five, monkeypatch):
    smartcar, account = five
    vehicles = {v.smartcar_id: v for v in Vehicle.objects.all()}
    monkeypatch.setattr(client, "PAGE_SIZE_VEHICLES", 2)
    monkeypatch.setattr(client, "PAGE_SIZE_CONNECTIONS", 2)

    # Every page of vehicles, permissions and management connections.
    assert sorted(smartcar.vehicles()) == sorted(vehicles)
    some_id = next(iter(vehicles))
    assert sorted(smartcar.permissions(some_id)) == vehicles[some_id].permissions
    connections = client.connections_list(user_id=account.smartcar_user_id)
    assert sorted(c["vehicleId"] for c in connections) == sorted(vehicles)

    # Meta headers, in metric.
    odometer = smartcar.odometer(some_id)
    assert isinstance(odometer, ApiResponse)
    assert odometer.unit_system == "metric"
    assert odometer.request_id
    assert odometer.data_age is not None
    assert odometer.body["distance"] >= 0
    # With production's SECURE_SSL_REDIRECT, the in-process simulator is not redirected to https.
    with override_settings(SECURE_SSL_REDIRECT=True), httpx.Client(transport=ThreadedWSGITransport()) as http:
        url = f"{settings.SMARTCAR_API_URL}/vehicles/{some_id}/odometer"
        assert http.get(url, headers={"Authorization": f"Bearer {smartcar._access_token}"}).status_code == 200

    # Make-specific endpoints take the make as stored (upper case) and send it in lower case.
    tesla = next(v for v in vehicles.values() if v.make == "TESLA")
    assert smartcar.make_battery(tesla.smartcar_id, tesla.make).status == 200
    with pytest.raises(SmartcarError) as upper_case:
        smartcar.request("GET", f"/vehicles/{tesla.smartcar_id}/TESLA/battery")
    assert upper_case.value.status in (400, 403, 404)

    # A batch answers each path on its own: data where it could, a typed error where it could not.
    results = smartcar.batch(tesla.smartcar_id, ["/odometer", "/location", "/fuel"])
    assert isinstance(results["/odometer"], ApiResponse) and isinstance(results["/location"], ApiResponse)
    assert isinstance(results["/fuel"], SmartcarError)  # a Tesla has no fuel tank
    alone = smartcar.odometer(tesla.smartcar_id).body["distance"]
    assert results["/odometer"].body["distance"] == pytest.approx(alone, rel=0.05)

    # Compatibility API, with the application's client credentials.
    by_vin = client.compatibility_by_vin(vin=tesla.vin, scope=["read_odometer", "read_battery"])
    assert by_vin.body["compatible"] is True
    assert {c["permission"] for c in by_vin.body["capabilities"]} <= {"read_odometer", "read_battery"}
    assert "TESLA" in client.compatibility_matrix(region="US", makes=["TESLA"]).body

    # Webhooks: subscribe with the vehicle's token, unsubscribe with the management token.
    from simulator.models import Application, Subscription, Webhook

    webhook = Webhook.objects.create(application=Application.objects.get(), callback_url="http://localhost/hooks/")
    answer = smartcar.webhook_subscribe(tesla.smartcar_id, webhook.webhook_id)
    assert answer.body == {"vehicleId": tesla.smartcar_id, "webhookId": webhook.webhook_id}
    assert Subscription.objects.filter(webhook=webhook).count() == 1
    assert smartcar.webhook_unsubscribe(tesla.smartcar_id, webhook.webhook_id).body == {"status": "success"}
    assert not Subscription.objects.filter(webhook=webhook).exists()


def test_reads_are_retried_after_a_connection_failure_and_commands_never(caplog):
    smartcar = SmartcarClient("token-never-logged")
    with override_settings(SMARTCAR_API_URL="http://127.0.0.1:9/v2.0"):
        with pytest.raises(TransportError) as read:
            smartcar.odometer("v1")
        assert f"attempt {client.READ_ATTEMPTS - 1} of {client.READ_ATTEMPTS}" in caplog.text
        caplog.clear()
        with pytest.raises(TransportError) as command:
            smartcar.lock("v1")
        assert "attempt" not in caplog.text
    assert read.value.code == command.value.code == "CONNECTION"
    assert read.value.should_retry_later
    assert "token-never-logged" not in caplog.text
    assert "token-never-logged" not in str(read.value)


def test_a_vehicle_that_does_not_answer_in_time_is_a_timeout(five, settings):
    from simulator.models import FaultSettings

    smartcar, _ = five
    vehicle = Vehicle.objects.first()
    FaultSettings.objects.update_or_create(pk=1, defaults={"latency_ms": 1500})
    settings.SMARTCAR_VEHICLE_TIMEOUT_SECONDS = 0.3
    with pytest.raises(TransportError) as timeout:
        smartcar.odometer(vehicle.smartcar_id)
    assert timeout.value.code == "TIMEOUT"


class DropsIdleConnections:
    """A real HTTP/1.1 server on loopback that answers one request per connection, keeps the connection open as
    keep-alive, then closes it without answering the next request on it — what a server whose keep-alive timer
    ran out does to a client that reuses a pooled connection a moment too late."""

    BODY = b'{"distance": 1234.5}'

    def __init__(self):
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.requests: list[bytes] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(connection,), daemon=True).start()

    def _handle(self, connection):
        with connection:
            for answered in (True, False):
                request = connection.recv(65536)
                if not request:
                    return
                self.requests.append(request.split(b"\r\n", 1)[0])
                if not answered:
                    return  # closed without a response
                connection.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    + f"Content-Length: {len(self.BODY)}\r\nConnection: keep-alive\r\n\r\n".encode()
                    + self.BODY
                )

    def close(self):
        self.listener.close()


def test_a_read_on_a_pooled_connection_the_server_just_closed_is_sent_again_and_a_command_is_not():
    server = DropsIdleConnections()
    smartcar = SmartcarClient("token")
    try:
        with override_settings(SMARTCAR_API_URL=f"http://127.0.0.1:{server.port}/v2.0"):
            assert smartcar.odometer("v1").body == {"distance": 1234.5}
            # The pooled connection is reused and dropped: the read goes out again on a new connection.
            assert smartcar.odometer("v1").body == {"distance": 1234.5}
            assert server.requests == [b"GET /v2.0/vehicles/v1/odometer HTTP/1.1"] * 3
            # A command may have reached the vehicle before the connection dropped: it is never repeated.
            server.requests.clear()
            with pytest.raises(TransportError) as command:
                smartcar.lock("v1")
            assert command.value.code == "CONNECTION"
            assert [line.split(b" ")[0] for line in server.requests] == [b"POST"]
    finally:
        server.close()


class SetsACookie(http.server.ThreadingHTTPServer):
    """A real HTTP server on loopback whose every answer sets a cookie (as a load balancer in front of an API may),
    and which keeps the Cookie header each request brought."""

    def __init__(self):
        self.cookies_sent: list[str | None] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                server.cookies_sent.append(self.headers.get("Cookie"))
                body = b'{"distance": 1234.5}'
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Set-Cookie", "balancer=node-7; Path=/")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        self.port = self.server_address[1]
        threading.Thread(target=self.serve_forever, daemon=True).start()


def test_a_cookie_one_account_was_given_is_never_sent_with_another_accounts_calls():
    server = SetsACookie()
    try:
        with override_settings(SMARTCAR_API_URL=f"http://127.0.0.1:{server.port}/v2.0"):
            SmartcarClient("first-account-token").odometer("v1")
            SmartcarClient("second-account-token").odometer("v2")
        assert server.cookies_sent == [None, None]
    finally:
        server.shutdown()
        server.server_close()
