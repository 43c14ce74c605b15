"""The simulated vehicle API: authentication, core endpoints, commands, units, batch and paging."""

import json
from datetime import timedelta

import pytest

from simulator import world
from simulator.models import BillingCounter, Connection, Vehicle

from .conftest import make_token


def _json(response):
    assert response["Content-Type"].startswith("application/json"), response.content[:200]
    return json.loads(response.content)


def assert_error(response, status, type_, code):
    body = _json(response)
    assert response.status_code == status, body
    assert body["type"] == type_ and body["code"] == code, body
    assert body["statusCode"] == status
    assert body["requestId"] == response["SC-Request-Id"]
    assert body["resolution"]["type"] in ("RETRY_LATER", "REAUTHENTICATE", "CONTACT_SUPPORT")
    assert body["docURL"].startswith("https://smartcar.com/docs/errors/api-errors/")
    assert body["description"]
    return body


# --- authentication and access ------------------------------------------------------------------


def test_it_refuses_a_request_without_a_token(api, sim_vehicle):
    vehicle = sim_vehicle()
    assert_error(api.get(f"/vehicles/{vehicle.vehicle_id}/odometer", headers={}), 401, "AUTHENTICATION", None)


def test_it_refuses_an_expired_token(api, sim_vehicle, sim_app, sim_user):
    vehicle = sim_vehicle()
    expired = make_token(sim_app, sim_user, expires_in=timedelta(seconds=-1))
    headers = {"HTTP_AUTHORIZATION": f"Bearer {expired.access_token}"}
    assert_error(api.get(f"/vehicles/{vehicle.vehicle_id}/odometer", headers=headers), 401, "AUTHENTICATION", None)


def test_another_users_vehicle_is_refused_like_an_unknown_one(api, sim_vehicle, sim_app):
    from simulator.models import SmartcarUser

    stranger = SmartcarUser.objects.create(email="stranger@example.com")
    theirs = sim_vehicle(user=stranger)
    assert_error(api.get(f"/vehicles/{theirs.vehicle_id}/odometer"), 403, "PERMISSION", None)
    assert_error(api.get("/vehicles/no-such-vehicle/odometer"), 403, "PERMISSION", None)


def test_a_missing_permission_is_a_403(api, sim_vehicle):
    vehicle = sim_vehicle(permissions=["read_vehicle_info"])
    assert api.get(f"/vehicles/{vehicle.vehicle_id}").status_code == 200
    assert_error(api.get(f"/vehicles/{vehicle.vehicle_id}/odometer"), 403, "PERMISSION", None)


def test_user_and_vehicles_with_paging(api, sim_vehicle, sim_user):
    vehicles = [sim_vehicle(make) for make in ("TESLA", "FORD", "NISSAN")]
    assert _json(api.get("/user")) == {"id": sim_user.user_id}
    page = _json(api.get("/vehicles", QUERY_STRING="limit=2&offset=1"))
    assert page == {"paging": {"count": 3, "offset": 1}, "vehicles": [v.vehicle_id for v in vehicles[1:]]}
    assert _json(api.get("/vehicles"))["vehicles"] == [v.vehicle_id for v in vehicles]
    assert_error(api.get("/vehicles", QUERY_STRING="limit=51"), 400, "VALIDATION", "PARAMETER")
    assert_error(api.get("/vehicles", QUERY_STRING="offset=-1"), 400, "VALIDATION", "PARAMETER")


def test_permissions_are_listed_and_paged(api, sim_vehicle):
    vehicle = sim_vehicle(permissions=["read_battery", "read_odometer", "read_vin"])
    body = _json(api.get(f"/vehicles/{vehicle.vehicle_id}/permissions", QUERY_STRING="limit=2"))
    assert body == {"paging": {"count": 3, "offset": 0}, "permissions": ["read_battery", "read_odometer"]}


# --- reads --------------------------------------------------------------------------------------


def test_core_reads_of_an_electric_vehicle_have_the_documented_shapes(api, sim_vehicle):
    vehicle = sim_vehicle("TESLA", model="Model 3")
    base = f"/vehicles/{vehicle.vehicle_id}"
    attributes = _json(api.get(base))
    assert attributes == {"id": vehicle.vehicle_id, "make": "TESLA", "model": "Model 3", "year": str(vehicle.year)}
    assert _json(api.get(f"{base}/vin")) == {"vin": vehicle.vin}
    assert set(_json(api.get(f"{base}/odometer"))) == {"distance"}
    assert set(_json(api.get(f"{base}/location"))) == {"latitude", "longitude"}
    assert set(_json(api.get(f"{base}/battery"))) == {"percentRemaining", "range"}
    assert set(_json(api.get(f"{base}/charge"))) == {"isPluggedIn", "state"}
    assert set(_json(api.get(f"{base}/charge/limit"))) == {"limit"}
    assert set(_json(api.get(f"{base}/tires/pressure"))) == {"backLeft", "backRight", "frontLeft", "frontRight"}
    assert set(_json(api.get(f"{base}/battery/nominal_capacity"))) == {"availableCapacities", "capacity", "url"}
    lock = _json(api.get(f"{base}/security"))
    assert set(lock) == {"isLocked", "doors", "windows", "sunroof", "storage", "chargingPort"}
    assert {door["type"] for door in lock["doors"]} == {"frontLeft", "frontRight", "backLeft", "backRight"}
    # Tesla has no tank and no engine oil (permissions.md: "Tesla does not support fuel").
    assert_error(api.get(f"{base}/fuel"), 501, "COMPATIBILITY", "VEHICLE_NOT_CAPABLE")
    assert_error(api.get(f"{base}/engine/oil"), 501, "COMPATIBILITY", "VEHICLE_NOT_CAPABLE")
    # DTCs are for GM brands only.
    assert_error(api.get(f"{base}/diagnostics/dtcs"), 501, "COMPATIBILITY", "SMARTCAR_NOT_CAPABLE")


def test_core_reads_of_a_combustion_vehicle(api, sim_vehicle):
    vehicle = sim_vehicle("FORD", model="Explorer")
    base = f"/vehicles/{vehicle.vehicle_id}"
    fuel = _json(api.get(f"{base}/fuel"))
    assert set(fuel) == {"amountRemaining", "percentRemaining", "range"}
    assert 0 < fuel["percentRemaining"] <= 1
    assert 0 <= _json(api.get(f"{base}/engine/oil"))["lifeRemaining"] <= 1
    assert_error(api.get(f"{base}/battery"), 501, "COMPATIBILITY", "VEHICLE_NOT_CAPABLE")
    assert isinstance(_json(api.get(f"{base}/service/history")), list)


def test_european_fuel_readings_leave_out_what_the_make_does_not_report(api, sim_vehicle):
    vehicle = sim_vehicle("AUDI", model="A4", region="EU")
    fuel = _json(api.get(f"/vehicles/{vehicle.vehicle_id}/fuel"))
    assert fuel["amountRemaining"] is None
    assert fuel["range"] is not None and fuel["percentRemaining"] is not None


def test_a_conditional_permission_in_europe_is_vehicle_not_capable(api, sim_vehicle):
    vehicle = sim_vehicle("VOLKSWAGEN", model="ID.4", region="EU")
    vehicle.state["conditional_not_capable"] = ["tires/pressure"]
    vehicle.save()
    assert_error(api.get(f"/vehicles/{vehicle.vehicle_id}/tires/pressure"), 501, "COMPATIBILITY",
                 "VEHICLE_NOT_CAPABLE")  # fmt: skip
    assert api.get(f"/vehicles/{vehicle.vehicle_id}/odometer").status_code == 200


def test_lock_status_is_only_served_for_the_documented_makes(api, sim_vehicle):
    nissan = sim_vehicle("NISSAN")
    assert_error(api.get(f"/vehicles/{nissan.vehicle_id}/security"), 501, "COMPATIBILITY", "SMARTCAR_NOT_CAPABLE")
    toyota = sim_vehicle("TOYOTA")
    partial = _json(api.get(f"/vehicles/{toyota.vehicle_id}/security"))
    assert partial["doors"] == [] and isinstance(partial["isLocked"], bool)


def test_responses_carry_the_documented_headers(api, sim_vehicle, sim_clock):
    vehicle = sim_vehicle("TESLA")
    response = api.get(f"/vehicles/{vehicle.vehicle_id}/odometer")
    assert response.status_code == 200
    assert response["SC-Unit-System"] == "metric"
    assert response["SC-Fetched-At"] == "2026-03-02T06:00:00.000Z"
    assert response["SC-Data-Age"].endswith("Z")
    assert len(response["SC-Request-Id"]) == 36
    assert response["SC-Request-Id"] != api.get(f"/vehicles/{vehicle.vehicle_id}/odometer")["SC-Request-Id"]


def test_imperial_units_convert_distance_pressure_temperature_and_volume(api, sim_vehicle):
    tesla = sim_vehicle("TESLA")
    base = f"/vehicles/{tesla.vehicle_id}"
    imperial = {"HTTP_SC_UNIT_SYSTEM": "imperial"}
    km = _json(api.get(f"{base}/odometer"))["distance"]
    response = api.get(f"{base}/odometer", **imperial)
    assert response["SC-Unit-System"] == "imperial"
    assert _json(response)["distance"] == pytest.approx(km / 1.609344, abs=0.01)
    kpa = _json(api.get(f"{base}/tires/pressure"))["frontLeft"]
    assert _json(api.get(f"{base}/tires/pressure", **imperial))["frontLeft"] == pytest.approx(kpa / 6.894757, abs=0.01)
    celsius = _json(api.get(f"{base}/tesla/climate/cabin"))["temperature"]
    assert _json(api.get(f"{base}/tesla/climate/cabin", **imperial))["temperature"] == pytest.approx(celsius * 1.8 + 32)
    tesla.state.update(activity="driving", speed=100.0, trip={"from": [0, 0], "to": [1, 1], "to_place": None,
                                                              "steps": 99, "done": 1})  # fmt: skip
    tesla.save()
    assert _json(api.get(f"{base}/tesla/speedometer", **imperial)) == {"speed": 62.14}
    ford = sim_vehicle("FORD", model="Explorer")
    litres = _json(api.get(f"/vehicles/{ford.vehicle_id}/fuel"))["amountRemaining"]
    gallons = _json(api.get(f"/vehicles/{ford.vehicle_id}/fuel", **imperial))["amountRemaining"]
    assert gallons == pytest.approx(litres / 3.785411784, abs=0.01)


# --- commands -----------------------------------------------------------------------------------


def test_lock_and_unlock_change_the_lock_status(api, sim_vehicle):
    vehicle = sim_vehicle("FORD")
    base = f"/vehicles/{vehicle.vehicle_id}"
    assert _json(api.post(f"{base}/security", {"action": "UNLOCK"})) == {
        "message": "Successfully sent request to vehicle",
        "status": "success",
    }
    assert _json(api.get(f"{base}/security"))["isLocked"] is False
    api.post(f"{base}/security", {"action": "LOCK"})
    assert _json(api.get(f"{base}/security"))["isLocked"] is True
    assert Vehicle.objects.get(pk=vehicle.pk).state["locked"] is True
    assert_error(api.post(f"{base}/security", {"action": "OPEN"}), 400, "VALIDATION", None)


def test_a_moving_vehicle_refuses_to_unlock(api, sim_vehicle):
    vehicle = sim_vehicle("TESLA")
    vehicle.state.update(activity="driving", trip={"from": [0, 0], "to": [0.1, 0.1], "to_place": None,
                                                   "steps": 100, "done": 1})  # fmt: skip
    vehicle.save()
    assert_error(api.post(f"/vehicles/{vehicle.vehicle_id}/security", {"action": "UNLOCK"}), 409, "VEHICLE_STATE",
                 "IN_MOTION")  # fmt: skip


def _unplug(vehicle):
    vehicle.state["ev"].update(plugged=False, charging="NOT_CHARGING", charger=None)
    vehicle.save()


def test_start_and_stop_charge(api, sim_vehicle):
    vehicle = sim_vehicle("TESLA")
    vehicle.state["ev"].update(soc=0.4, limit=0.9, charging="NOT_CHARGING", user_stopped=True)
    vehicle.save()
    base = f"/vehicles/{vehicle.vehicle_id}"
    assert api.post(f"{base}/charge", {"action": "START"}).status_code == 200
    assert _json(api.get(f"{base}/charge")) == {"isPluggedIn": True, "state": "CHARGING"}
    assert_error(api.post(f"{base}/charge", {"action": "START"}), 409, "VEHICLE_STATE", "CHARGING_IN_PROGRESS")
    assert api.post(f"{base}/charge", {"action": "STOP"}).status_code == 200
    assert _json(api.get(f"{base}/charge"))["state"] == "NOT_CHARGING"
    assert_error(api.post(f"{base}/charge", {"action": "STOP"}), 409, "VEHICLE_STATE", "NOT_CHARGING")
    _unplug(vehicle)
    assert_error(api.post(f"{base}/charge", {"action": "START"}), 409, "VEHICLE_STATE", "CHARGING_PLUG_NOT_CONNECTED")


def test_a_full_battery_does_not_start_charging(api, sim_vehicle):
    vehicle = sim_vehicle("TESLA")
    vehicle.state["ev"].update(soc=0.8, limit=0.8, charging="FULLY_CHARGED")
    vehicle.save()
    assert_error(api.post(f"/vehicles/{vehicle.vehicle_id}/charge", {"action": "START"}), 409, "VEHICLE_STATE",
                 "FULLY_CHARGED")  # fmt: skip


def test_nissan_takes_only_start_in_the_us(api, sim_vehicle):
    vehicle = sim_vehicle("NISSAN", model="LEAF")
    vehicle.state["ev"].update(soc=0.5, limit=0.9, charging="CHARGING")
    vehicle.save()
    assert_error(api.post(f"/vehicles/{vehicle.vehicle_id}/charge", {"action": "STOP"}), 501, "COMPATIBILITY",
                 "SMARTCAR_NOT_CAPABLE")  # fmt: skip


def test_gm_needs_half_a_battery_to_start_or_stop_charging(api, sim_vehicle):
    vehicle = sim_vehicle("CHEVROLET", model="Bolt EV")
    vehicle.state["ev"].update(soc=0.3, limit=0.9)
    vehicle.save()
    base = f"/vehicles/{vehicle.vehicle_id}"
    assert_error(api.post(f"{base}/charge", {"action": "START"}), 409, "VEHICLE_STATE", "LOW_BATTERY")
    vehicle.state["ev"].update(soc=0.6, user_stopped=True, charging="NOT_CHARGING")
    vehicle.save()
    assert api.post(f"{base}/charge", {"action": "START"}).status_code == 200


def test_charge_limit_must_be_between_a_half_and_one(api, sim_vehicle):
    vehicle = sim_vehicle("TESLA")
    base = f"/vehicles/{vehicle.vehicle_id}"
    assert api.post(f"{base}/charge/limit", {"limit": 0.7}).status_code == 200
    assert _json(api.get(f"{base}/charge/limit")) == {"limit": 0.7}
    for bad in (0.49, 1.01, "0.8", None, True):
        body = assert_error(api.post(f"{base}/charge/limit", {"limit": bad}), 400, "VALIDATION", None)
        assert body["detail"][0]["field"] == "limit"


def test_send_destination(api, sim_vehicle):
    vehicle = sim_vehicle("BMW")
    base = f"/vehicles/{vehicle.vehicle_id}/navigation/destination"
    assert api.post(base, {"latitude": 48.1, "longitude": 11.6}).status_code == 200
    assert Vehicle.objects.get(pk=vehicle.pk).state["nav_destination"] == [48.1, 11.6]
    assert_error(api.post(base, {"latitude": 91, "longitude": 0}), 400, "VALIDATION", None)


# --- bad input ----------------------------------------------------------------------------------


def test_malformed_json_wrong_types_and_unknown_paths_get_documented_errors(api, sim_vehicle):
    vehicle = sim_vehicle("TESLA")
    base = f"/vehicles/{vehicle.vehicle_id}"
    assert_error(api.post(f"{base}/security", raw="{not json"), 400, "VALIDATION", None)
    assert_error(api.post(f"{base}/security", raw="[1, 2]"), 400, "VALIDATION", None)
    assert_error(api.post(f"{base}/security", {}), 400, "VALIDATION", None)
    assert_error(api.get(f"{base}/warp-drive"), 404, "RESOURCE_NOT_FOUND", "PATH")
    assert_error(api.delete(f"{base}/odometer"), 404, "RESOURCE_NOT_FOUND", "PATH")
    assert_error(api.put(f"{base}/security", {"action": "LOCK"}), 404, "RESOURCE_NOT_FOUND", "PATH")
    assert_error(api.get("/nothing/here"), 404, "RESOURCE_NOT_FOUND", "PATH")
    assert_error(api.post("/user"), 404, "RESOURCE_NOT_FOUND", "PATH")


def test_make_specific_paths_want_the_make_in_lower_case(api, sim_vehicle):
    vehicle = sim_vehicle("TESLA")
    assert api.get(f"/vehicles/{vehicle.vehicle_id}/tesla/compass").status_code == 200
    assert_error(api.get(f"/vehicles/{vehicle.vehicle_id}/TESLA/compass"), 403, "PERMISSION", None)
    assert_error(api.get(f"/vehicles/{vehicle.vehicle_id}/Tesla/compass"), 403, "PERMISSION", None)


def test_another_makes_endpoint_is_not_compatible(api, sim_vehicle):
    vehicle = sim_vehicle("FORD")
    assert_error(api.get(f"/vehicles/{vehicle.vehicle_id}/tesla/compass"), 501, "COMPATIBILITY",
                 "MAKE_NOT_COMPATIBLE")  # fmt: skip
    assert_error(api.get(f"/vehicles/{vehicle.vehicle_id}/ford/compass"), 501, "COMPATIBILITY",
                 "MAKE_NOT_COMPATIBLE")  # fmt: skip


# --- batch --------------------------------------------------------------------------------------


def test_batch_answers_each_path_and_bills_each_one(api, sim_vehicle):
    vehicle = sim_vehicle("TESLA", permissions=["read_odometer", "read_battery", "read_compass", "read_vehicle_info"])
    paths = ["/odometer", "/battery", "/tesla/compass", "/", "/location", "/no-such-thing"]
    response = api.post(f"/vehicles/{vehicle.vehicle_id}/batch", {"requests": [{"path": p} for p in paths]})
    assert response.status_code == 200
    answers = {item["path"]: item for item in _json(response)["responses"]}
    assert set(answers) == set(paths)
    assert answers["/odometer"]["code"] == 200 and set(answers["/odometer"]["body"]) == {"distance"}
    assert answers["/odometer"]["headers"]["sc-unit-system"] == "metric"
    assert answers["/odometer"]["headers"]["sc-data-age"]
    assert answers["/tesla/compass"]["body"]["direction"] in ("N", "NE", "E", "SE", "S", "SW", "W", "NW")
    assert answers["/"]["body"]["id"] == vehicle.vehicle_id
    assert answers["/location"]["code"] == 403 and answers["/location"]["body"]["type"] == "PERMISSION"
    assert answers["/no-such-thing"]["code"] == 404
    assert answers["/no-such-thing"]["body"]["requestId"] == response["SC-Request-Id"]
    assert BillingCounter.objects.get(vehicle=vehicle).calls == 4


def test_batch_body_is_validated(api, sim_vehicle):
    vehicle = sim_vehicle("TESLA")
    url = f"/vehicles/{vehicle.vehicle_id}/batch"
    assert_error(api.post(url, {"requests": []}), 400, "VALIDATION", None)
    assert_error(api.post(url, {"requests": [{"path": 3}]}), 400, "VALIDATION", None)
    assert_error(api.post(url, raw="nope"), 400, "VALIDATION", None)
    assert_error(api.get(url), 404, "RESOURCE_NOT_FOUND", "PATH")


def test_every_billed_call_is_counted_per_vehicle_and_day(api, sim_vehicle):
    vehicle = sim_vehicle("TESLA")
    for _ in range(3):
        api.get(f"/vehicles/{vehicle.vehicle_id}/odometer")
    api.get(f"/vehicles/{vehicle.vehicle_id}/fuel")  # refused: not billed
    from simulator.faults import billed_calls

    assert billed_calls(vehicle=vehicle) == 3


# --- webhooks subscribe / unsubscribe, disconnect ------------------------------------------------


def test_subscribe_and_unsubscribe_a_webhook(api, sim_vehicle, sim_app):
    from simulator.models import Subscription, Webhook

    webhook = Webhook.objects.create(application=sim_app, callback_url="http://testserver/hooks")
    vehicle = sim_vehicle("TESLA")
    url = f"/vehicles/{vehicle.vehicle_id}/webhooks/{webhook.webhook_id}"
    body = _json(api.post(url))
    assert body == {"vehicleId": vehicle.vehicle_id, "webhookId": webhook.webhook_id}
    assert Subscription.objects.filter(webhook=webhook, vehicle=vehicle).exists()
    # Unsubscribing takes the application management token, not the access token.
    assert_error(api.delete(url), 401, "AUTHENTICATION", None)
    response = api.delete(url, headers={"HTTP_AUTHORIZATION": f"Bearer {sim_app.management_token}"})
    assert _json(response) == {"status": "success"}
    assert not Subscription.objects.filter(webhook=webhook).exists()
    assert_error(api.post(f"/vehicles/{vehicle.vehicle_id}/webhooks/unknown"), 404, "RESOURCE_NOT_FOUND", "PATH")


def test_disconnect_revokes_the_applications_access(api, sim_vehicle):
    vehicle = sim_vehicle("TESLA")
    assert _json(api.delete(f"/vehicles/{vehicle.vehicle_id}/application")) == {"status": "success"}
    assert not Connection.objects.filter(vehicle=vehicle).exists()
    assert_error(api.get(f"/vehicles/{vehicle.vehicle_id}/odometer"), 403, "PERMISSION", None)


# --- the vehicle moves on between requests ------------------------------------------------------


def test_requests_advance_the_vehicle_to_the_simulated_now(api, sim_vehicle, sim_clock):
    vehicle = sim_vehicle("TESLA", routine="delivery")
    base = f"/vehicles/{vehicle.vehicle_id}"
    before = _json(api.get(f"{base}/odometer"))["distance"]
    sim_clock.advance(timedelta(days=2))
    assert _json(api.get(f"{base}/odometer"))["distance"] > before
    stored = Vehicle.objects.get(pk=vehicle.pk)
    assert stored.simulated_at == sim_clock.now()
    assert world.parse_time(stored.state["recorded_at"]) <= sim_clock.now()
