"""The referee: Smartcar's official Python SDK, pointed at the simulator through its origin variables.

Everything here goes over real HTTP to pytest-django's live server, through the SDK's own requests code.
"""

import importlib
import json
import re
from html import unescape
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import smartcar
import smartcar.config
from django.conf import settings

from simulator import webhooks
from simulator.models import Connection, Delivery, Subscription, Webhook
from simulator.oauth import refresh_count
from tests.simulator.platform_fixtures import CallbackServer, default_application

SCOPE = [
    "read_vehicle_info",
    "read_vin",
    "read_odometer",
    "read_location",
    "read_tires",
    "read_engine_oil",
    "read_fuel",
    "read_battery",
    "read_charge",
    "read_security",
    "read_diagnostics",
    "read_service_history",
    "control_security",
    "control_charge",
    "control_navigation",
    "read_alerts",
    "read_climate",
    "control_climate",
    "read_compass",
    "read_extended_vehicle_info",
    "read_speedometer",
    "read_thermometer",
    "read_user_profile",
    "control_pin",
    "control_trunk",
    "read_charge_locations",
    "read_charge_records",
]


@pytest.fixture
def sdk(live_server, monkeypatch, settings):
    """The SDK's origins, set the documented way (environment variables read when smartcar.config loads)."""
    # The live server speaks plain HTTP; a Secure CSRF cookie would never come back from the Connect forms.
    settings.CSRF_COOKIE_SECURE = False
    origin = live_server.url
    monkeypatch.setenv("SMARTCAR_API_ORIGIN", f"{origin}/simulator/api")
    monkeypatch.setenv("SMARTCAR_AUTH_ORIGIN", f"{origin}/simulator/oauth/token")
    monkeypatch.setenv("SMARTCAR_CONNECT_ORIGIN", f"{origin}/simulator/connect")
    monkeypatch.setenv("SMARTCAR_MANAGEMENT_API_ORIGIN", f"{origin}/simulator/management")
    monkeypatch.setenv("SMARTCAR_CLIENT_ID", settings.SMARTCAR_CLIENT_ID)
    monkeypatch.setenv("SMARTCAR_CLIENT_SECRET", settings.SMARTCAR_CLIENT_SECRET)
    importlib.reload(smartcar.config)
    default_application()
    yield smartcar.AuthClient(redirect_uri=settings.SMARTCAR_REDIRECT_URI, mode="test")
    monkeypatch.undo()
    importlib.reload(smartcar.config)


def connect_through_pages(auth_url: str, email: str, pick=lambda vehicle_ids: vehicle_ids) -> dict:
    """Drive the Connect pages as a program would: GET, sign in, approve; return the redirect's parameters."""
    browser = requests.Session()
    page = browser.get(auth_url, timeout=10)
    assert page.status_code == 200, page.text
    fields = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', page.text))
    consent = browser.post(
        page.url.split("/oauth/")[0] + "/oauth/sign-in",
        data={**{k: unescape(v) for k, v in fields.items()}, "email": email, "password": "x", "action": "sign_in"},
        timeout=30,
    )
    assert consent.status_code == 200, consent.text
    fields = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', consent.text))
    vehicle_ids = re.findall(r'name="vehicle" value="([^"]+)"(?![^>]*disabled)', consent.text)
    granted = browser.post(
        page.url.split("/oauth/")[0] + "/oauth/grant",
        data={**{k: unescape(v) for k, v in fields.items()}, "vehicle": pick(vehicle_ids), "action": "approve"},
        allow_redirects=False,
        timeout=30,
    )
    assert granted.status_code == 302, granted.text
    return {name: values[0] for name, values in parse_qs(urlsplit(granted.headers["Location"]).query).items()}


def test_auth_url_connect_code_exchange_refresh_and_oauth_errors(sdk, live_server):
    url = sdk.get_auth_url(SCOPE, {"state": "s-2", "force_prompt": True})
    assert url.startswith(f"{live_server.url}/simulator/connect/oauth/authorize?")

    params = connect_through_pages(url, "2-vehicles@example.com")
    assert params["state"] == "s-2"

    access = sdk.exchange_code(params["code"])
    assert access.token_type == "Bearer"
    assert access.expires_in == 7200
    assert access.access_token and access.refresh_token

    refreshed = sdk.exchange_refresh_token(access.refresh_token)
    assert refreshed.refresh_token != access.refresh_token
    assert refresh_count() == 1

    with pytest.raises(smartcar.SmartcarException) as reused_code:
        sdk.exchange_code(params["code"])
    assert reused_code.value.type == "invalid_grant"
    assert reused_code.value.status_code == 400

    wrong = smartcar.AuthClient(
        client_id=settings.SMARTCAR_CLIENT_ID, client_secret="wrong", redirect_uri=settings.SMARTCAR_REDIRECT_URI
    )
    with pytest.raises(smartcar.SmartcarException) as bad_client:
        wrong.exchange_refresh_token(refreshed.refresh_token)
    assert bad_client.value.type == "invalid_client"
    assert bad_client.value.status_code == 401


def test_management_connections_get_and_delete(sdk):
    connect_through_pages(sdk.get_auth_url(SCOPE), "3-vehicles@example.com")
    amt = settings.SMARTCAR_MANAGEMENT_TOKEN

    listed = smartcar.get_connections(amt, paging={"limit": 2})
    assert len(listed.connections) == 2
    assert listed.paging.cursor
    rest = smartcar.get_connections(amt, paging={"limit": 2, "cursor": listed.paging.cursor})
    assert len(rest.connections) == 1
    assert rest.paging.cursor is None
    everyone = listed.connections + rest.connections
    assert {c.vehicle_id for c in everyone} == set(Connection.objects.values_list("vehicle__vehicle_id", flat=True))

    target = everyone[0]
    deleted = smartcar.delete_connections(amt, filter={"vehicle_id": target.vehicle_id})
    assert [(c.vehicle_id, c.user_id) for c in deleted.connections] == [(target.vehicle_id, target.user_id)]
    assert len(smartcar.get_connections(amt, filter={"user_id": target.user_id}).connections) == 2

    with pytest.raises(smartcar.SmartcarException) as error:
        smartcar.get_connections("wrong-token")
    assert error.value.status_code == 401
    assert error.value.type == "AUTHENTICATION"


def test_hash_challenge_and_verify_payload_agree_with_the_simulators_signatures(sdk, settings):
    settings.SMARTCAR_SIMULATOR_ORIGIN = "http://simulator.example"  # reach the receiver over a real socket
    amt = settings.SMARTCAR_MANAGEMENT_TOKEN

    def answer(body):
        message = json.loads(body)
        if message["eventName"] == "verify":
            return 200, json.dumps(
                {"challenge": smartcar.hash_challenge(amt, message["payload"]["challenge"])}
            ).encode()
        return 200, b"{}"

    params = connect_through_pages(sdk.get_auth_url(SCOPE), "1-vehicle@example.com")
    assert params["code"]
    vehicle = Connection.objects.get().vehicle
    with CallbackServer(answer=answer) as receiver:
        webhook = Webhook.objects.create(application=default_application(), callback_url=receiver.url)
        assert webhooks.webhook_verify(webhook)
        Subscription.objects.create(webhook=webhook, vehicle=vehicle)
        webhooks.queue_event(vehicle, "CHARGING_STARTED")  # autocommit here: the delivery goes out at once

    delivery = receiver.requests[-1]
    assert smartcar.verify_payload(amt, delivery["headers"]["SC-Signature"], delivery["body"].decode())
    assert not smartcar.verify_payload("another-token", delivery["headers"]["SC-Signature"], delivery["body"].decode())
    assert Delivery.objects.get().delivered_at is not None
