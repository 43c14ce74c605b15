"""The simulated Smartcar API v3: application tokens, connections, vehicles, signals, commands, schedules, faults.

Written against ../shared/smartcar-api-v3/ (the page each test follows is named in it), through the full Django
stack with the test client.
"""

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from simulator import clock, world
from simulator.models import AppToken, BillingCounter, Connection, SmartcarUser, Vehicle
from simulator.v3 import iam

from .conftest import make_token

V3 = "/simulator/vehicle/v3"


def _json(response):
    assert response["Content-Type"].startswith("application/json"), response.content[:200]
    return json.loads(response.content)


def assert_v3_error(response, status, type_, code):
    """smartcar-api-v3/errors.md: {"errors": [{status (a string), type, code, title, detail, links, resolution}]}."""
    body = _json(response)
    assert response.status_code == status, body
    (error,) = body["errors"]
    assert (error["status"], error["type"], error["code"]) == (str(status), type_, code), error
    assert error["title"] and error["detail"] and error["links"]["about"].startswith("https://smartcar.com/docs/")
    assert "resolution" in error
    return error


@pytest.fixture
def app_token(sim_app):
    return AppToken.objects.create(application=sim_app, expires_at=timezone.now() + timedelta(hours=1))


@pytest.fixture
def v3(client, app_token, sim_user):
    """GET/POST/DELETE on the Vehicle API v3 with the application token and sim_user's sc-user-id."""

    class V3Api:
        headers = {"HTTP_AUTHORIZATION": f"Bearer {app_token.access_token}", "HTTP_SC_USER_ID": sim_user.user_id}

        def get(self, path, headers=None):
            return client.get(V3 + path, **(self.headers if headers is None else headers))

        def post(self, path, body=None, headers=None):
            data = json.dumps(body) if body is not None else ""
            return client.post(
                V3 + path, data=data, content_type="application/json", **(self.headers if headers is None else headers)
            )

        def delete(self, path, headers=None):
            return client.delete(V3 + path, **(self.headers if headers is None else headers))

    return V3Api()


def _signals(response) -> dict:
    return {item["attributes"]["code"]: item for item in _json(response)["data"]}


# --- Application token (auth__request-access-token.md) -------------------------------------------------------------


def test_the_token_endpoint_issues_an_application_token_for_an_hour(client, sim_app):
    form = {"grant_type": "client_credentials", "client_id": sim_app.client_id, "client_secret": sim_app.client_secret}
    response = client.post("/simulator/iam/oauth2/token", form)
    body = _json(response)
    assert response.status_code == 200
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600
    assert AppToken.objects.get(access_token=body["access_token"]).application == sim_app
    assert iam.issued_count(application=sim_app) == 1


def test_the_token_endpoint_takes_a_json_body_too(client, sim_app):
    form = {"grant_type": "client_credentials", "client_id": sim_app.client_id, "client_secret": sim_app.client_secret}
    response = client.post("/simulator/iam/oauth2/token", json.dumps(form), content_type="application/json")
    assert response.status_code == 200, response.content


@pytest.mark.parametrize(
    ("form", "status", "error"),
    [
        ({"client_id": "x", "client_secret": "y"}, 400, "invalid_request"),
        ({"grant_type": "client_credentials", "client_id": "unknown", "client_secret": "y"}, 401, "invalid_client"),
    ],
)
def test_the_token_endpoint_refuses_with_oauth_errors(client, sim_app, form, status, error):
    response = client.post("/simulator/iam/oauth2/token", form)
    assert response.status_code == status
    assert _json(response)["error"] == error
    assert not AppToken.objects.exists()


def test_a_wrong_secret_is_invalid_client(client, sim_app):
    form = {"grant_type": "client_credentials", "client_id": sim_app.client_id, "client_secret": "wrong"}
    assert _json(client.post("/simulator/iam/oauth2/token", form))["error"] == "invalid_client"


# --- Authentication of the Vehicle API ------------------------------------------------------------------------------


def test_an_expired_application_token_is_refused_in_the_v3_envelope(v3, sim_vehicle, app_token):
    vehicle = sim_vehicle()
    AppToken.objects.filter(pk=app_token.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert_v3_error(v3.get(f"/vehicles/{vehicle.vehicle_id}/signals"), 401, "AUTHENTICATION", None)


def test_signals_need_sc_user_id(v3, sim_vehicle, app_token):
    vehicle = sim_vehicle()
    headers = {"HTTP_AUTHORIZATION": f"Bearer {app_token.access_token}"}
    assert_v3_error(v3.get(f"/vehicles/{vehicle.vehicle_id}/signals", headers=headers), 400, "VALIDATION", None)


def test_another_users_vehicle_is_refused(v3, sim_vehicle):
    stranger = SmartcarUser.objects.create(email="stranger@example.com")
    theirs = sim_vehicle(user=stranger)
    assert_v3_error(v3.get(f"/vehicles/{theirs.vehicle_id}/signals"), 403, "PERMISSION", None)


def test_a_v2_user_token_reads_signals_without_sc_user_id(client, sim_vehicle, sim_token):
    # The official SDK's v3 reads send the user's access token and no sc-user-id (see simulator/v3/vehicle_api.py).
    vehicle = sim_vehicle()
    response = client.get(
        f"{V3}/vehicles/{vehicle.vehicle_id}/signals/odometer-traveleddistance",
        HTTP_AUTHORIZATION=f"Bearer {sim_token.access_token}",
    )
    assert response.status_code == 200, response.content
    assert _json(response)["attributes"]["body"]["unit"] == "kilometers"


# --- Vehicles and signals (vehicles__get.md, signals__list.md, signals__get.md, signal group pages) ----------------


def test_get_vehicle_gives_make_model_year_and_powertrain(v3, sim_vehicle):
    vehicle = sim_vehicle("FORD", model="Mustang Mach-E")
    data = _json(v3.get(f"/vehicles/{vehicle.vehicle_id}"))["data"]
    assert data["id"] == vehicle.vehicle_id and data["type"] == "vehicle"
    assert data["attributes"] == {
        "make": "FORD",
        "model": "Mustang Mach-E",
        "year": vehicle.year,
        "powertrainType": "BEV",
        "mode": "live",
    }


def test_signals_report_percent_and_metric_units_with_timestamps_in_milliseconds(v3, sim_vehicle):
    vehicle = sim_vehicle("TESLA")
    response = v3.get(f"/vehicles/{vehicle.vehicle_id}/signals")
    assert response.status_code == 200, response.content
    signals = _signals(response)
    state = Vehicle.objects.get(pk=vehicle.pk).state
    soc = signals["tractionbattery-stateofcharge"]
    assert soc["attributes"]["body"] == {"unit": "percent", "value": round(state["ev"]["soc"] * 100, 1)}
    assert soc["attributes"]["status"] == {"value": "SUCCESS"}
    assert soc["meta"]["retrievedAt"] == int(clock.now().timestamp() * 1000)
    assert signals["odometer-traveleddistance"]["attributes"]["body"]["unit"] == "kilometers"
    assert signals["charge-detailedchargingstatus"]["attributes"]["body"]["value"] in (
        "CHARGING",
        "NOT_CHARGING",
        "FULLY_CHARGED",
    )
    assert "internalcombustionengine-fuellevel" not in signals  # a Tesla has no tank
    included = _json(response)["included"]["vehicle"]["attributes"]
    assert (included["make"], included["model"]) == ("TESLA", vehicle.model)


def test_doors_windows_and_tires_are_a_row_column_grid(v3, sim_vehicle):
    vehicle = sim_vehicle("TESLA")
    state = vehicle.state
    state["doors"]["backRight"] = "OPEN"
    Vehicle.objects.filter(pk=vehicle.pk).update(state=state)
    signals = _signals(v3.get(f"/vehicles/{vehicle.vehicle_id}/signals"))
    doors = signals["closure-doors"]["attributes"]["body"]
    assert (doors["rowCount"], doors["columnCount"]) == (2, 2)
    assert [(d["row"], d["column"]) for d in doors["values"] if d["isOpen"]] == [(1, 1)]
    tires = signals["wheel-tires"]["attributes"]["body"]
    assert {(t["row"], t["column"]) for t in tires["values"]} == {(0, 0), (0, 1), (1, 0), (1, 1)}
    assert "unit" not in tires  # signals__wheel.md documents none


def test_signals_follow_the_granted_permissions(v3, sim_vehicle):
    vehicle = sim_vehicle("TESLA", permissions=["read_odometer"])
    assert set(_signals(v3.get(f"/vehicles/{vehicle.vehicle_id}/signals"))) == {"odometer-traveleddistance"}
    assert_v3_error(
        v3.get(f"/vehicles/{vehicle.vehicle_id}/signals/tractionbattery-stateofcharge"), 403, "PERMISSION", None
    )


def test_one_signal_is_the_bare_resource(v3, sim_vehicle):
    vehicle = sim_vehicle("TESLA")
    body = _json(v3.get(f"/vehicles/{vehicle.vehicle_id}/signals/location-preciselocation"))
    assert body["type"] == "signal" and body["attributes"]["code"] == "location-preciselocation"
    location = body["attributes"]["body"]
    assert [location["latitude"], location["longitude"]] == Vehicle.objects.get(pk=vehicle.pk).state["location"]
    assert location["locationType"] in ("CURRENT", "LAST_PARKED")


def test_an_unknown_signal_is_404_and_an_unsupported_one_501(v3, sim_vehicle):
    petrol = sim_vehicle("TOYOTA", model="Camry")
    assert_v3_error(v3.get(f"/vehicles/{petrol.vehicle_id}/signals/no-such-signal"), 404, "RESOURCE_NOT_FOUND", "PATH")
    assert_v3_error(
        v3.get(f"/vehicles/{petrol.vehicle_id}/signals/tractionbattery-stateofcharge"),
        501,
        "COMPATIBILITY",
        "VEHICLE_NOT_CAPABLE",
    )


def test_signals_page_with_both_spellings_of_the_parameters(v3, sim_vehicle):
    vehicle = sim_vehicle("TESLA")
    every = _signals(v3.get(f"/vehicles/{vehicle.vehicle_id}/signals"))
    first = _json(v3.get(f"/vehicles/{vehicle.vehicle_id}/signals?page=1&pageSize=5"))
    assert len(first["data"]) == 5 and first["meta"]["totalCount"] == len(every)
    assert first["links"]["next"].endswith("page=2&pageSize=5")
    second = _json(v3.get(f"/vehicles/{vehicle.vehicle_id}/signals?page[number]=2&page[size]=5"))
    assert {i["id"] for i in second["data"]}.isdisjoint({i["id"] for i in first["data"]})


def test_every_read_is_billed_one_call(v3, sim_vehicle):
    vehicle = sim_vehicle("TESLA")
    v3.get(f"/vehicles/{vehicle.vehicle_id}/signals")
    v3.get(f"/vehicles/{vehicle.vehicle_id}/signals/odometer-traveleddistance")
    assert BillingCounter.objects.get(vehicle=vehicle).calls == 2


def test_an_asleep_vehicle_still_gives_its_last_known_signals(v3, sim_vehicle):
    vehicle = sim_vehicle("CHEVROLET", model="Bolt EV")
    state = vehicle.state
    state["deep_sleep"] = True
    Vehicle.objects.filter(pk=vehicle.pk).update(state=state)
    assert v3.get(f"/vehicles/{vehicle.vehicle_id}/signals").status_code == 200


# --- Faults, the same as v2's (simulator/faults.py) -----------------------------------------------------------------


def test_a_forced_error_comes_in_the_v3_envelope(v3, sim_vehicle):
    vehicle = sim_vehicle("TESLA")
    state = vehicle.state
    state["force_error"] = "UPSTREAM:NO_RESPONSE"
    Vehicle.objects.filter(pk=vehicle.pk).update(state=state)
    error = assert_v3_error(v3.get(f"/vehicles/{vehicle.vehicle_id}/signals"), 502, "UPSTREAM", "NO_RESPONSE")
    assert error["resolution"] == {"type": "RETRY_LATER"}


def test_the_rate_limit_answers_429_with_retry_after(v3, sim_vehicle):
    vehicle = sim_vehicle("TESLA")
    Vehicle.objects.filter(pk=vehicle.pk).update(requests_per_minute=1)
    assert v3.get(f"/vehicles/{vehicle.vehicle_id}/signals").status_code == 200
    response = v3.get(f"/vehicles/{vehicle.vehicle_id}/signals")
    assert_v3_error(response, 429, "RATE_LIMIT", "VEHICLE")
    assert int(response["Retry-After"]) >= 1


def test_injected_faults_apply_to_v3(v3, sim_vehicle, sim_faults):
    vehicle = sim_vehicle("TESLA")
    sim_faults.upstream_rate = 1.0
    sim_faults.save()
    assert _json(v3.get(f"/vehicles/{vehicle.vehicle_id}/signals"))["errors"][0]["type"] == "UPSTREAM"


# --- Commands (commands__overview.md, command__*.md) ----------------------------------------------------------------


def test_lock_answers_a_command_execution_and_locks(v3, sim_vehicle):
    vehicle = sim_vehicle("TESLA")
    state = vehicle.state
    state["locked"], state["asleep"] = False, False
    Vehicle.objects.filter(pk=vehicle.pk).update(state=state)
    response = v3.post(f"/vehicles/{vehicle.vehicle_id}/commands/security/lock")
    data = _json(response)["data"]
    assert response.status_code == 200
    assert data["type"] == "command-execution"
    assert data["attributes"]["commandType"] == "security-lock"
    assert data["attributes"]["status"] == {"value": "SUCCESS"}
    assert Vehicle.objects.get(pk=vehicle.pk).state["locked"] is True


def test_a_command_to_a_sleeping_vehicle_is_long_running(v3, sim_vehicle):
    vehicle = sim_vehicle("TESLA")
    state = vehicle.state
    state["locked"], state["asleep"] = True, True
    state["ev"].update(plugged=False, charging="NOT_CHARGING", charger=None)  # nothing keeps it awake
    Vehicle.objects.filter(pk=vehicle.pk).update(state=state)
    response = v3.post(f"/vehicles/{vehicle.vehicle_id}/commands/security/unlock")
    assert response.status_code == 202
    assert _json(response)["data"]["attributes"]["status"] == {"value": "PENDING"}


def test_set_limit_takes_a_percent(v3, sim_vehicle):
    vehicle = sim_vehicle("TESLA")
    body = {"data": {"attributes": {"percent": 80}}}
    response = v3.post(f"/vehicles/{vehicle.vehicle_id}/commands/charge/set-limit", body)
    assert response.status_code in (200, 202), response.content
    assert _json(response)["data"]["attributes"]["parameters"] == {"percent": 80}
    assert Vehicle.objects.get(pk=vehicle.pk).state["ev"]["limit"] == 0.8
    bad = v3.post(
        f"/vehicles/{vehicle.vehicle_id}/commands/charge/set-limit", {"data": {"attributes": {"percent": 0.8}}}
    )
    assert_v3_error(bad, 400, "VALIDATION", None)


def test_commands_need_their_permission(v3, sim_vehicle):
    vehicle = sim_vehicle("TESLA", permissions=["read_security"])
    assert_v3_error(v3.post(f"/vehicles/{vehicle.vehicle_id}/commands/security/lock"), 403, "PERMISSION", None)


def test_a_command_to_an_unreachable_vehicle_is_a_vehicle_state_error(v3, sim_vehicle):
    vehicle = sim_vehicle("TESLA")
    state = vehicle.state
    state["aux_v"] = 11.0
    Vehicle.objects.filter(pk=vehicle.pk).update(state=state)
    assert_v3_error(
        v3.post(f"/vehicles/{vehicle.vehicle_id}/commands/security/lock"), 409, "VEHICLE_STATE", "UNREACHABLE"
    )


def test_a_daily_charge_schedule_shows_in_the_charge_timers_and_can_be_deleted(v3, sim_vehicle):
    vehicle = sim_vehicle("TESLA")
    body = {"data": {"attributes": {"location": {"latitude": 37.77, "longitude": -122.41}, "startTime": "01:00",
                                    "stopTime": "05:30"}}}  # fmt: skip
    response = v3.post(f"/vehicles/{vehicle.vehicle_id}/charge-schedules/daily", body)
    execution = _json(response)["data"]
    assert execution["type"] == "charge-schedule-execution", execution
    schedule_id = execution["attributes"]["scheduleId"]
    timers = _json(v3.get(f"/vehicles/{vehicle.vehicle_id}/signals/charge-chargetimers"))["attributes"]["body"]
    (timer,) = timers["values"]
    assert (timer["type"], timer["scheduleType"], timer["scheduleId"]) == ("LOCATION", "daily", schedule_id)
    assert timer["schedules"][0]["start"] == "01:00:00"
    assert v3.delete(f"/vehicles/{vehicle.vehicle_id}/charge-schedules/{schedule_id}").status_code == 200
    timers = _json(v3.get(f"/vehicles/{vehicle.vehicle_id}/signals/charge-chargetimers"))["attributes"]["body"]
    assert timers["values"] == []


def test_charge_schedules_are_for_tesla_and_volvo_only(v3, sim_vehicle):
    vehicle = sim_vehicle("FORD", model="Mustang Mach-E")
    body = {"data": {"attributes": {"location": {"latitude": 1, "longitude": 2}, "startTime": "01:00",
                                    "stopTime": "02:00"}}}  # fmt: skip
    assert_v3_error(
        v3.post(f"/vehicles/{vehicle.vehicle_id}/charge-schedules/daily", body),
        501,
        "COMPATIBILITY",
        "VEHICLE_NOT_CAPABLE",
    )


# --- Connections and users (connections__*.md, users__remove.md) ---------------------------------------------------


def test_connections_list_with_filters_and_pages(v3, sim_vehicle, sim_user):
    stranger = SmartcarUser.objects.create(email="other@example.com")
    mine = [sim_vehicle("TESLA"), sim_vehicle("FORD")]
    sim_vehicle("NISSAN", user=stranger)
    everyone = _json(v3.get("/connections", headers={"HTTP_AUTHORIZATION": v3.headers["HTTP_AUTHORIZATION"]}))
    assert everyone["meta"]["totalCount"] == 3
    filtered = _json(v3.get(f"/connections?filter[userId]={sim_user.user_id}&page[size]=1"))
    assert filtered["meta"]["totalCount"] == 2 and len(filtered["data"]) == 1
    item = filtered["data"][0]
    assert item["type"] == "connection"
    assert item["relationships"]["user"]["data"]["id"] == sim_user.user_id
    assert item["relationships"]["vehicle"]["data"]["id"] == mine[0].vehicle_id
    assert "read_odometer" in item["attributes"]["permissions"]
    assert filtered["links"]["next"]


def test_get_connection_by_its_id_or_by_the_vehicle_id(v3, sim_vehicle):
    vehicle = sim_vehicle("TESLA")
    connection = Connection.objects.get(vehicle=vehicle)
    by_id = _json(v3.get(f"/connections/{connection.connection_id}"))["data"]
    by_vehicle = _json(v3.get(f"/connections/{vehicle.vehicle_id}"))["data"]
    assert by_id == by_vehicle and by_id["id"] == connection.connection_id


def test_removing_a_connection_and_a_user(v3, sim_vehicle, sim_user):
    first, second = sim_vehicle("TESLA"), sim_vehicle("FORD")
    connection = Connection.objects.get(vehicle=first)
    assert v3.delete(f"/connections/{connection.connection_id}").status_code == 204
    assert not Connection.objects.filter(vehicle=first).exists()
    assert v3.delete(f"/users/{sim_user.user_id}").status_code == 204
    assert not Connection.objects.filter(vehicle=second).exists()
    assert_v3_error(v3.delete(f"/users/{sim_user.user_id}"), 404, "RESOURCE_NOT_FOUND", "PATH")


def test_unknown_paths_answer_in_the_v3_envelope(v3):
    assert_v3_error(v3.get("/no/such/path"), 404, "RESOURCE_NOT_FOUND", "PATH")


def test_a_user_token_of_another_user_is_refused_with_a_different_sc_user_id(client, sim_vehicle, sim_app, sim_user):
    vehicle = sim_vehicle()
    stranger = SmartcarUser.objects.create(email="stranger@example.com")
    token = make_token(sim_app, stranger)
    response = client.get(
        f"{V3}/vehicles/{vehicle.vehicle_id}/signals",
        HTTP_AUTHORIZATION=f"Bearer {token.access_token}",
        HTTP_SC_USER_ID=sim_user.user_id,
    )
    assert_v3_error(response, 403, "PERMISSION", None)


def test_charging_advances_in_simulated_time_for_v3_readers(v3, sim_vehicle, sim_clock):
    vehicle = sim_vehicle("TESLA")
    state = vehicle.state
    state["ev"].update(soc=0.4, limit=0.9, plugged=True, charging="NOT_CHARGING")
    state["ev"]["charger"] = world._charger(vehicle, "home")
    Vehicle.objects.filter(pk=vehicle.pk).update(state=state)
    before = _signals(v3.get(f"/vehicles/{vehicle.vehicle_id}/signals"))["tractionbattery-stateofcharge"]
    sim_clock.advance(timedelta(hours=1))
    after = _signals(v3.get(f"/vehicles/{vehicle.vehicle_id}/signals"))["tractionbattery-stateofcharge"]
    assert after["attributes"]["body"]["value"] > before["attributes"]["body"]["value"]
