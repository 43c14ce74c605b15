"""The referee: Smartcar's official Python SDK, pointed at the simulator through its origin variables.

Everything here goes over real HTTP to pytest-django's live server, through the SDK's own requests code.
"""

import gc
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
    monkeypatch.setenv("SMARTCAR_VEHICLE_API_V3_ORIGIN", f"{origin}/simulator/vehicle")
    monkeypatch.setenv("SMARTCAR_CLIENT_ID", settings.SMARTCAR_CLIENT_ID)
    monkeypatch.setenv("SMARTCAR_CLIENT_SECRET", settings.SMARTCAR_CLIENT_SECRET)
    importlib.reload(smartcar.config)
    default_application()
    yield smartcar.AuthClient(redirect_uri=settings.SMARTCAR_REDIRECT_URI, mode="test")
    # Exceptions the SDK raised sit in reference cycles that keep their HTTP connections open; each open
    # connection holds a live-server thread and its database session, which would block dropping the test
    # database. Collecting them closes the sockets, and the threads end.
    gc.collect()
    monkeypatch.undo()
    importlib.reload(smartcar.config)


def connect_through_pages(auth_url: str, email: str, pick=lambda vehicle_ids: vehicle_ids) -> dict:
    """Drive the Connect pages as a program would: GET, sign in, approve; return the redirect's parameters."""
    # Closed at the end: a kept-alive connection would hold a live-server thread and its database session.
    with requests.Session() as browser:
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


# --- the vehicle API, through the SDK ---------------------------------------------------------------------------

# Core methods of smartcar.Vehicle that read, each with a check of what it returned.
READS = {
    "vin": lambda vehicle, answer: answer.vin == vehicle.vin,
    # get-vehicle-info.md's example gives the year as a string ("2014").
    "attributes": lambda vehicle, answer: (
        (answer.id, answer.make, answer.model, answer.year)
        == (vehicle.vehicle_id, vehicle.make, vehicle.model, str(vehicle.year))
    ),
    "odometer": lambda vehicle, answer: answer.distance > 0,
    "location": lambda vehicle, answer: -90 <= answer.latitude <= 90 and -180 <= answer.longitude <= 180,
    "tire_pressure": lambda vehicle, answer: answer.front_left > 0,
    "engine_oil": lambda vehicle, answer: 0 <= answer.life_remaining <= 1,
    "fuel": lambda vehicle, answer: answer.range is None or answer.range >= 0,
    "battery": lambda vehicle, answer: 0 <= answer.percent_remaining <= 1,
    "battery_capacity": lambda vehicle, answer: answer.capacity > 0,
    "nominal_capacity": lambda vehicle, answer: answer.capacity is None or answer.capacity["nominal"] > 0,
    "charge": lambda vehicle, answer: answer.state in ("CHARGING", "FULLY_CHARGED", "NOT_CHARGING"),
    "get_charge_limit": lambda vehicle, answer: 0.5 <= answer.limit <= 1,
    "lock_status": lambda vehicle, answer: isinstance(answer.is_locked, bool),
    "service_history": lambda vehicle, answer: isinstance(answer.items, list),
    "diagnostic_system_status": lambda vehicle, answer: all(s.status in ("OK", "ALERT") for s in answer.systems),
    "diagnostic_trouble_codes": lambda vehicle, answer: isinstance(answer.active_codes, list),
    "permissions": lambda vehicle, answer: "read_vehicle_info" in answer.permissions,
}
COMMANDS = {
    "lock": (),
    "unlock": (),
    "set_charge_limit": (0.8,),
    "send_destination": (37.7749, -122.4194),
    "start_charge": (),
    "stop_charge": (),
}
# A method may meet a vehicle that cannot serve it (501) or a state that refuses it (409), as documented; a
# permission that Connect did not grant because the vehicle cannot serve it is a 403 PERMISSION.
EXPECTED_REFUSALS = {"COMPATIBILITY", "VEHICLE_STATE"}
METHOD_PERMISSIONS = {
    "vin": "read_vin",
    "attributes": "read_vehicle_info",
    "odometer": "read_odometer",
    "location": "read_location",
    "tire_pressure": "read_tires",
    "engine_oil": "read_engine_oil",
    "fuel": "read_fuel",
    "battery": "read_battery",
    "battery_capacity": "read_battery",
    "nominal_capacity": "read_battery",
    "charge": "read_charge",
    "get_charge_limit": "read_charge",
    "lock_status": "read_security",
    "service_history": "read_service_history",
    "diagnostic_system_status": "read_diagnostics",
    "diagnostic_trouble_codes": "read_diagnostics",
    "permissions": None,
    "lock": "control_security",
    "unlock": "control_security",
    "set_charge_limit": "control_charge",
    "send_destination": "control_navigation",
    "start_charge": "control_charge",
    "stop_charge": "control_charge",
}


def refusal_is_documented(error, row, method) -> bool:
    if error.type in EXPECTED_REFUSALS:
        return True
    granted = Connection.objects.get(vehicle=row).permissions
    return error.type == "PERMISSION" and METHOD_PERMISSIONS[method] not in granted


# Makes that answer about 20 requests a day are left out of the "every method on every vehicle" sweep.
SWEPT_MAKES = {"TESLA", "FORD", "NISSAN", "CHEVROLET", "TOYOTA", "JEEP"}


@pytest.fixture
def fleet_access(sdk):
    """A user who connected twelve vehicles of mixed makes, and the SDK's Access for them."""
    params = connect_through_pages(sdk.get_auth_url(SCOPE, {"state": "fleet"}), "12-vehicles@example.com")
    return sdk.exchange_code(params["code"])


def sdk_vehicles(access) -> list[tuple[smartcar.Vehicle, object]]:
    from simulator.models import Vehicle

    ids = smartcar.get_vehicles(access.access_token, {"limit": 50}).vehicles
    rows = {row.vehicle_id: row for row in Vehicle.objects.filter(vehicle_id__in=ids)}
    return [(smartcar.Vehicle(vehicle_id, access.access_token), rows[vehicle_id]) for vehicle_id in ids]


def test_user_vehicles_and_every_core_method(fleet_access):
    from simulator.models import SmartcarUser

    user = smartcar.get_user(fleet_access.access_token)
    assert user.id == SmartcarUser.objects.get(email="12-vehicles@example.com").user_id
    listed = smartcar.get_vehicles(fleet_access.access_token, {"limit": 5, "offset": 10})
    assert len(listed.vehicles) == 2
    assert listed.paging.count == 12
    assert listed.paging.offset == 10

    succeeded: dict[str, int] = {}
    refusals = []
    for sdk_vehicle, row in sdk_vehicles(fleet_access):
        if row.make not in SWEPT_MAKES:
            continue
        for method, check in READS.items():
            try:
                answer = getattr(sdk_vehicle, method)()
            except smartcar.SmartcarException as error:
                assert refusal_is_documented(error, row, method), (
                    row.make,
                    method,
                    error.type,
                    error.code,
                    error.message,
                )
                refusals.append((row.make, method, error.code))
                continue
            assert check(row, answer), (row.make, method, answer)
            assert answer.meta.request_id
            succeeded[method] = succeeded.get(method, 0) + 1
        for method, arguments in COMMANDS.items():
            try:
                answer = getattr(sdk_vehicle, method)(*arguments)
            except smartcar.SmartcarException as error:
                assert refusal_is_documented(error, row, method), (
                    row.make,
                    method,
                    error.type,
                    error.code,
                    error.message,
                )
                refusals.append((row.make, method, error.code))
                continue
            assert answer.status == "success", (row.make, method, answer)
            succeeded[method] = succeeded.get(method, 0) + 1

    # Charging commands depend on the moment (plugged in, charge level, make rules): a documented refusal is an
    # answer too. Every other method must have worked on at least one vehicle.
    must_succeed = (set(READS) | set(COMMANDS)) - {"start_charge", "stop_charge"}
    assert must_succeed <= set(succeeded), f"never succeeded: {must_succeed - set(succeeded)}"
    assert refusals, "a mixed fleet meets at least one documented refusal"


def test_batch_and_make_specific_requests(fleet_access):
    tesla_sdk = next(sdk_vehicle for sdk_vehicle, row in sdk_vehicles(fleet_access) if row.make == "TESLA")

    batch = tesla_sdk.batch(["/odometer", "/location", "/battery", "/charge", "/", "/fuel"])
    assert batch.odometer().distance > 0
    assert batch.location().latitude
    assert 0 <= batch.battery().percent_remaining <= 1
    assert batch.attributes().make == "TESLA"
    with pytest.raises(smartcar.SmartcarException) as no_tank:
        batch.fuel()
    # Connect did not grant read_fuel for a Tesla ("Tesla does not support fuel", permissions.md).
    assert (no_tank.value.status_code, no_tank.value.type) == (403, "PERMISSION")

    for path in [
        "tesla/compass",
        "tesla/speedometer",
        "tesla/alerts",
        "tesla/attributes",
        "tesla/battery",
        "tesla/charge",
        "tesla/charge/schedule",
        "tesla/charge/voltmeter",
        "tesla/climate/cabin",
        "tesla/climate/defroster",
        "tesla/climate/steering_wheel",
        "tesla/thermometer/exterior",
        "tesla/thermometer/interior",
        "tesla/migration",
        "tesla/status",
        "tesla/user/access",
        "tesla/user/info",
        "tesla/virtual_key",
        "tesla/charge/records/billing",
    ]:
        answer = tesla_sdk.request("GET", path, headers={})
        assert isinstance(answer.body, dict), path
        assert answer.meta.request_id, path

    assert tesla_sdk.request("POST", "tesla/security/frunk", {"action": "OPEN"}, headers={}).body["status"] == "success"
    assert tesla_sdk.request("POST", "tesla/pin", {"pin": "1234"}, headers={}).body["status"] == "success"
    assert tesla_sdk.request("DELETE", "tesla/pin", headers={}).body["status"] == "success"
    with pytest.raises(smartcar.SmartcarException) as bad_pin:
        tesla_sdk.request("POST", "tesla/pin", {"pin": "12a"}, headers={})
    assert (bad_pin.value.status_code, bad_pin.value.type) == (400, "VALIDATION")
    with pytest.raises(smartcar.SmartcarException) as upper_case:
        tesla_sdk.request("GET", "TESLA/compass", headers={})
    assert upper_case.value.type == "PERMISSION"
    with pytest.raises(smartcar.SmartcarException) as other_make:
        tesla_sdk.request("GET", "nissan/charge/schedule", headers={})
    assert (other_make.value.status_code, other_make.value.type) == (501, "COMPATIBILITY")


def test_compatibility_webhook_subscription_and_disconnect(fleet_access, sdk):
    sdk_vehicle, row = sdk_vehicles(fleet_access)[0]
    credentials = {"client_id": settings.SMARTCAR_CLIENT_ID, "client_secret": settings.SMARTCAR_CLIENT_SECRET}

    compatibility = smartcar.get_compatibility(row.vin, ["read_odometer", "read_vin"], "US", options=credentials)
    assert compatibility.compatible is True
    assert {c.permission for c in compatibility.capabilities} == {"read_odometer", "read_vin"}
    matrix = smartcar.smartcar.get_compatibility_matrix("US", "TESLA", options=credentials)
    assert matrix["TESLA"]
    assert all(model.type in ("BEV", "PHEV", "ICE", "HEV") for model in matrix["TESLA"])

    webhook = Webhook.objects.create(application=default_application(), callback_url="/hooks/smartcar")
    subscribed = sdk_vehicle.subscribe(webhook.webhook_id)
    assert (subscribed.webhook_id, subscribed.vehicle_id) == (webhook.webhook_id, row.vehicle_id)
    assert Subscription.objects.filter(webhook=webhook, vehicle=row).exists()
    assert sdk_vehicle.unsubscribe(settings.SMARTCAR_MANAGEMENT_TOKEN, webhook.webhook_id).status == "success"
    assert not Subscription.objects.exists()

    assert sdk_vehicle.disconnect().status == "success"
    assert not Connection.objects.filter(vehicle=row).exists()
    with pytest.raises(smartcar.SmartcarException) as gone:
        sdk_vehicle.odometer()
    assert gone.value.status_code in (403, 404)


def test_v3_get_vehicle_signals_and_one_signal(fleet_access):
    """The SDK's API v3 helpers (smartcar.smartcar.get_vehicle, Vehicle.get_signals, Vehicle.get_signal) against the v3
    simulator: they send the user's access token and no sc-user-id (see simulator/v3/vehicle_api.py)."""
    tesla_sdk, row = next((v, r) for v, r in sdk_vehicles(fleet_access) if r.make == "TESLA")

    vehicle = smartcar.smartcar.get_vehicle(fleet_access.access_token, row.vehicle_id)
    assert vehicle["body"]["data"]["attributes"]["make"] == "TESLA"
    assert vehicle["body"]["data"]["attributes"]["powertrainType"] == row.engine_type
    assert vehicle["headers"]["SC-Request-Id"]

    listed = tesla_sdk.get_signals()["body"]
    codes = {item["attributes"]["code"]: item for item in listed["data"]}
    assert codes["vehicleidentification-vin"]["attributes"]["body"] == {"value": row.vin}
    assert listed["meta"]["totalCount"] == len(codes)

    one = tesla_sdk.get_signal("tractionbattery-stateofcharge")["body"]
    assert one["attributes"]["body"]["unit"] == "percent"
    assert 0 <= one["attributes"]["body"]["value"] <= 100

    with pytest.raises(smartcar.SmartcarException) as unknown:
        tesla_sdk.get_signal("no-such-signal")
    assert unknown.value.status_code == 404
