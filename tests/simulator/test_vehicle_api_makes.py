"""Every make-specific endpoint: Audi, BMW/MINI, Cadillac/Chevrolet, Ford/Lincoln, Nissan, Tesla."""

import json
from datetime import timedelta

import pytest

from simulator import endpoints
from simulator.models import Vehicle

from .test_vehicle_api import assert_error


def _json(response):
    assert response.status_code == 200, response.content
    return json.loads(response.content)


def _charging(vehicle, *, soc=0.5, limit=0.9):
    vehicle.state["trip_chance"] = 0
    vehicle.state["ev"].update(soc=soc, limit=limit, charging="NOT_CHARGING", user_stopped=False)
    vehicle.save()


def _unplugged(vehicle):
    vehicle.state["trip_chance"] = 0
    vehicle.state["ev"].update(plugged=False, charging="NOT_CHARGING", charger=None)
    vehicle.save()


def test_every_documented_make_specific_endpoint_is_served():
    served = {(e.method, f"/{sorted(e.makes)[0]}/{e.path}") for e in endpoints.MAKE_SPECIFIC}
    assert len(endpoints.MAKE_SPECIFIC) == 39
    assert ("GET", "/audi/charge") in served and ("PUT", "/ford/charge/schedule_by_location") in served
    assert ("DELETE", "/tesla/pin") in served and ("POST", "/tesla/charge/ammeter") in served


# --- Audi ---------------------------------------------------------------------------------------


def test_audi_charge(api, sim_vehicle):
    vehicle = sim_vehicle("AUDI", model="Q4 e-tron")
    _charging(vehicle)
    body = _json(api.get(f"/vehicles/{vehicle.vehicle_id}/audi/charge"))
    assert set(body) == {"chargingStatus", "isPluggedIn", "chargeRate", "chargeType", "chargePortColor",
                         "chargePortLatch", "completionTime", "chargeMode", "socLimit", "externalPowerStatus",
                         "wattage"}  # fmt: skip
    assert body["chargingStatus"] == "CHARGING" and body["chargeMode"] in ("manual", "timer")
    assert body["wattage"] > 0 and body["completionTime"].endswith("Z")


# --- BMW / MINI ---------------------------------------------------------------------------------


@pytest.mark.parametrize("make", ["BMW", "MINI"])
def test_bmw_and_mini_charge_records(api, sim_vehicle, sim_clock, make):
    vehicle = sim_vehicle(make, model="i4" if make == "BMW" else "Cooper SE")
    _charging(vehicle, soc=0.3, limit=0.8)
    sim_clock.advance(timedelta(hours=12))
    records = _json(api.get(f"/vehicles/{vehicle.vehicle_id}/{make.lower()}/charge/records"))["records"]
    assert len(records) == 1
    assert set(records[0]) == {"chargeStart", "chargeEnd", "location", "energy", "isPublic",
                               "startPercentRemaining", "endPercentRemaining", "chargingType"}  # fmt: skip
    assert records[0]["startPercentRemaining"] == 0.3 and records[0]["endPercentRemaining"] == 0.8
    url = f"/vehicles/{vehicle.vehicle_id}/{make.lower()}/charge/records"
    assert _json(api.get(url, QUERY_STRING="startDate=2026-03-05"))["records"] == []
    assert_error(api.get(url, QUERY_STRING="startDate=05/03/2026"), 400, "VALIDATION", "PARAMETER")


# --- Cadillac / Chevrolet -----------------------------------------------------------------------


@pytest.mark.parametrize(("make", "model"), [("CADILLAC", "LYRIQ"), ("CHEVROLET", "Bolt EV")])
def test_gm_charge_completion_and_voltmeter(api, sim_vehicle, make, model):
    vehicle = sim_vehicle(make, model=model)
    base = f"/vehicles/{vehicle.vehicle_id}/{make.lower()}/charge"
    _charging(vehicle)
    assert _json(api.get(f"{base}/completion"))["time"].endswith("Z")
    assert _json(api.get(f"{base}/voltmeter")) == {"voltage": 240}
    _unplugged(vehicle)
    # "When the vehicle is not charging/plugged in, this endpoint results in a vehicle state error."
    assert_error(api.get(f"{base}/completion"), 409, "VEHICLE_STATE", "NOT_CHARGING")
    assert_error(api.get(f"{base}/voltmeter"), 409, "VEHICLE_STATE", "CHARGING_PLUG_NOT_CONNECTED")


# --- Ford / Lincoln -----------------------------------------------------------------------------


@pytest.mark.parametrize(("make", "model"), [("FORD", "Mustang Mach-E"), ("LINCOLN", "Corsair Grand Touring")])
def test_ford_and_lincoln_schedule_by_location(api, sim_vehicle, make, model):
    vehicle = sim_vehicle(make, model=model)
    base = f"/vehicles/{vehicle.vehicle_id}/{make.lower()}/charge/schedule_by_location"
    locations = _json(api.get(base))["chargingLocations"]
    assert len(locations) == 1
    where = locations[0]["location"]
    query = f"latitude={where['latitude']}&longitude={where['longitude']}"
    body = {"chargingLocation": {"chargeLimit": 0.9, "chargingWindows": {
        "weekday": [{"start": "17:00", "end": "06:00"}], "weekend": []}}}  # fmt: skip
    assert _json(api.put(base, body, QUERY_STRING=query))["status"] == "success"
    saved = _json(api.get(base))["chargingLocations"][0]
    assert saved["chargeLimit"] == 0.9
    assert saved["chargingSchedules"] == {"weekday": [{"end": "06:00", "start": "17:00"}], "weekend": []}
    # Only saved locations, coordinates in the query, limits and HH:00 windows are checked.
    assert_error(api.put(base, body, QUERY_STRING="latitude=1&longitude=1"), 400, "VALIDATION", "PARAMETER")
    assert_error(api.put(base, body), 400, "VALIDATION", "PARAMETER")
    too_low = {"chargingLocation": {"chargeLimit": 0.4, "chargingWindows": {"weekday": [], "weekend": []}}}
    assert_error(api.put(base, too_low, QUERY_STRING=query), 400, "VALIDATION", None)
    half_hour = {"chargingLocation": {"chargeLimit": 0.8, "chargingWindows": {
        "weekday": [{"start": "17:30", "end": "06:00"}], "weekend": []}}}  # fmt: skip
    detail = assert_error(api.put(base, half_hour, QUERY_STRING=query), 400, "VALIDATION", None)["detail"]
    assert detail[0]["field"] == "chargingWindows.weekday[0].start"


def test_ford_start_charge_with_a_schedule_in_place_charges_to_full(api, sim_vehicle):
    vehicle = sim_vehicle("FORD", model="Mustang Mach-E")
    location = vehicle.state["ford_locations"][0]
    location["weekday"] = [{"start": "01:00", "end": "02:00"}]
    vehicle.state["ev"].update(soc=0.5, limit=0.8, charging="NOT_CHARGING", user_stopped=True)
    vehicle.save()
    base = f"/vehicles/{vehicle.vehicle_id}"
    assert api.post(f"{base}/charge", {"action": "START"}).status_code == 200
    assert _json(api.get(f"{base}/charge/limit")) == {"limit": 1.0}


# --- Nissan -------------------------------------------------------------------------------------


def test_nissan_charge_schedule(api, sim_vehicle):
    vehicle = sim_vehicle("NISSAN", model="LEAF")
    base = f"/vehicles/{vehicle.vehicle_id}/nissan/charge/schedule"
    assert _json(api.get(base)) == {"chargeSchedules": []}
    schedules = [{"start": "08:00", "end": "12:00", "days": ["MONDAY", "WEDNESDAY", "FRIDAY"]},
                 {"start": "14:00", "end": "18:00", "days": ["TUESDAY", "THURSDAY", "SATURDAY"]}]  # fmt: skip
    assert _json(api.put(base, {"chargeSchedules": schedules}))["status"] == "success"
    assert _json(api.get(base))["chargeSchedules"][0] == {
        "end": "2020-01-01T12:00:00.000Z",
        "start": "2020-01-01T08:00:00.000Z",
        "days": ["MONDAY", "WEDNESDAY", "FRIDAY"],
    }
    assert_error(api.put(base, {"chargeSchedules": schedules * 2}), 400, "VALIDATION", None)
    bad_time = [{"start": "8:00", "end": "12:00", "days": ["MONDAY"]}]
    assert_error(api.put(base, {"chargeSchedules": bad_time}), 400, "VALIDATION", None)
    bad_day = [{"start": "08:00", "end": "12:00", "days": ["MONDAYS"]}]
    assert_error(api.put(base, {"chargeSchedules": bad_day}), 400, "VALIDATION", None)


def test_nissan_schedules_are_us_only(api, sim_vehicle):
    vehicle = sim_vehicle("NISSAN", model="LEAF", region="EU")
    assert_error(api.get(f"/vehicles/{vehicle.vehicle_id}/nissan/charge/schedule"), 501, "COMPATIBILITY",
                 "SMARTCAR_NOT_CAPABLE")  # fmt: skip


# --- Tesla --------------------------------------------------------------------------------------


@pytest.fixture
def tesla(sim_vehicle):
    vehicle = sim_vehicle("TESLA", model="Model S")
    vehicle.state["trip_chance"] = 0
    vehicle.save()
    return vehicle


def _t(vehicle, path):
    return f"/vehicles/{vehicle.vehicle_id}/tesla/{path}"


def test_tesla_reads(api, tesla):
    v = tesla
    assert set(_json(api.get(_t(v, "alerts")))) == {"alerts"}
    attributes = _json(api.get(_t(v, "attributes")))
    assert attributes["id"] == v.vehicle_id and attributes["make"] == "TESLA" and attributes["year"] == v.year
    assert {"driveUnit", "sentryMode", "style", "wheel", "atHome", "firmwareVersion"} <= set(attributes)
    assert set(_json(api.get(_t(v, "battery")))) == {"heaterOn", "maxRangeChargeCounter", "notEnoughPowerToHeat",
                                                    "percentRemaining", "percentRemainingUsable", "range",
                                                    "rangeEstimated", "rangeIdeal"}  # fmt: skip
    charge = _json(api.get(_t(v, "charge")))
    assert {"amperage", "wattage", "voltage", "isPluggedIn", "state", "socLimit", "amperageMaxCharger",
            "chargePortLatch", "chargerPhases", "energyAdded", "rangeAddedRated"} <= set(charge)  # fmt: skip
    compass = _json(api.get(_t(v, "compass")))
    assert 0 <= compass["heading"] < 360 and compass["direction"] in ("N", "NE", "E", "SE", "S", "SW", "W", "NW")
    assert _json(api.get(_t(v, "migration"))) == {"requiresMigration": False}
    assert _json(api.get(_t(v, "speedometer"))) == {"speed": 0.0}
    assert set(_json(api.get(_t(v, "thermometer/exterior")))) == {"temperature"}
    assert set(_json(api.get(_t(v, "thermometer/interior")))) == {"temperature"}
    assert _json(api.get(_t(v, "user/info"))) == {"email": "driver@example.com"}
    access = _json(api.get(_t(v, "user/access")))
    assert access["accessType"] in ("OWNER", "DRIVER") and isinstance(access["permissions"], list)


def test_tesla_status_does_not_wake_a_sleeping_car(api, tesla):
    tesla.state["asleep"] = True
    tesla.state["ev"].update(soc=0.8, limit=0.8, charging="FULLY_CHARGED")  # a charging car is awake
    tesla.save()
    assert _json(api.get(_t(tesla, "status"))) == {"status": "ASLEEP", "inService": False, "gear": "PARK"}
    assert Vehicle.objects.get(pk=tesla.pk).state["asleep"] is True
    api.get(_t(tesla, "compass"))  # any other request wakes it
    assert _json(api.get(_t(tesla, "status")))["status"] == "ONLINE"


def test_tesla_virtual_key(api, tesla):
    assert set(_json(api.get(_t(tesla, "virtual_key")))) == {"isPaired"}
    tesla.state["access_type"] = "DRIVER"
    tesla.save()
    assert_error(api.get(_t(tesla, "virtual_key")), 400, "CONNECTED_SERVICES_ACCOUNT", "VEHICLE_MISSING")
    tesla.state["legacy_integration"] = True
    tesla.save()
    assert_error(api.get(_t(tesla, "virtual_key")), 501, "COMPATIBILITY", "PLATFORM_NOT_CAPABLE")


def test_tesla_charge_readings_while_charging_and_not(api, tesla):
    _charging(tesla, soc=0.5, limit=0.9)
    assert _json(api.get(_t(tesla, "charge/completion")))["time"].endswith("Z")
    assert _json(api.get(_t(tesla, "charge/wattmeter")))["wattage"] > 0
    assert _json(api.get(_t(tesla, "charge/voltmeter")))["voltage"] == 240
    _unplugged(tesla)
    assert_error(api.get(_t(tesla, "charge/completion")), 409, "VEHICLE_STATE", "NOT_CHARGING")
    assert_error(api.get(_t(tesla, "charge/wattmeter")), 409, "VEHICLE_STATE", "NOT_CHARGING")
    assert_error(api.get(_t(tesla, "charge/voltmeter")), 409, "VEHICLE_STATE", "CHARGING_PLUG_NOT_CONNECTED")


def test_tesla_billing_records_list_public_sessions(api, tesla):
    tesla.state["charge_records"] = [
        {"chargeStart": "2026-03-01T10:00:00.000Z", "chargeEnd": "2026-03-01T10:40:00.000Z", "location":
         "Supercharger Detroit", "energy": 40.5, "isPublic": True, "startPercentRemaining": 0.1,
         "endPercentRemaining": 0.7, "chargingType": "DC", "recordId": "X-1"},
        {"chargeStart": "2026-03-01T20:00:00.000Z", "chargeEnd": "2026-03-01T23:00:00.000Z", "location": "Detroit",
         "energy": 20.0, "isPublic": False, "startPercentRemaining": 0.5, "endPercentRemaining": 0.8,
         "chargingType": "AC", "recordId": "X-2"},
    ]  # fmt: skip
    tesla.save()
    body = _json(api.get(_t(tesla, "charge/records/billing"), QUERY_STRING="page=1&startDate=2026-02-20"))
    assert body["hasMoreData"] is False
    assert [r["recordId"] for r in body["records"]] == ["X-1"]
    assert set(body["records"][0]) == {"chargeEnd", "chargeStart", "energyConsumed", "cost", "location", "recordId"}
    assert set(body["records"][0]["cost"]) == {"currency", "energy", "other"}
    assert_error(api.get(_t(tesla, "charge/records/billing"), QUERY_STRING="page=0"), 400, "VALIDATION", "PARAMETER")


def test_tesla_charge_records_are_not_served_without_a_page(api, tesla):
    # CAPABILITIES.md ambiguity 1: /charge/records is documented for bmw and mini only.
    assert_error(api.get(_t(tesla, "charge/records")), 501, "COMPATIBILITY", "MAKE_NOT_COMPATIBLE")


def test_tesla_charge_schedule_keeps_one_type_enabled(api, tesla):
    assert _json(api.get(_t(tesla, "charge/schedule"))) == {
        "departureTime": {"enabled": False, "time": None},
        "startTime": {"enabled": False, "time": None},
    }
    answer = _json(api.post(_t(tesla, "charge/schedule"), {"type": "START_TIME", "enable": True, "time": "23:30"}))
    assert answer["startTime"] == {"enabled": True, "time": "23:30"}
    answer = _json(api.post(_t(tesla, "charge/schedule"), {"type": "DEPARTURE_TIME", "enable": True, "time": "07:15"}))
    assert answer == {"departureTime": {"enabled": True, "time": "07:15"}, "startTime": {"enabled": False,
                                                                                         "time": "23:30"}}  # fmt: skip
    bad = {"type": "START_TIME", "enable": True, "time": "25:00"}
    assert_error(api.post(_t(tesla, "charge/schedule"), bad), 400, "VALIDATION", None)
    assert_error(api.post(_t(tesla, "charge/schedule"), {"type": "LATER", "enable": True}), 400, "VALIDATION", None)


def test_tesla_charge_schedule_takes_time_as_hh_mm_or_not_at_all(api, tesla):
    # tesla__set-charge-schedule.md: "time" is "HH:mm"; the page does not say it may be left out, nor that it may not.
    url = _t(tesla, "charge/schedule")
    no_time_yet = {"type": "START_TIME", "enable": True}
    assert_error(api.post(url, no_time_yet), 400, "VALIDATION", None)  # nothing to go by
    assert_error(api.post(url, {"type": "START_TIME", "enable": False, "time": None}), 400, "VALIDATION", None)
    api.post(url, {"type": "START_TIME", "enable": True, "time": "23:30"})
    answer = _json(api.post(url, {"type": "START_TIME", "enable": False}))
    assert answer["startTime"] == {"enabled": False, "time": "23:30"}  # off, keeping its time
    assert _json(api.post(url, no_time_yet))["startTime"] == {"enabled": True, "time": "23:30"}


def test_tesla_start_time_schedule_delays_charging(api, tesla, sim_clock):
    # 06:00 UTC is 01:00 in Detroit (UTC-5); a start time of 03:00 local holds charging back until then.
    tesla.state["tz"] = -5
    tesla.state["tesla_schedule"]["startTime"] = {"enabled": True, "time": "03:00"}
    tesla.save()
    _charging(tesla, soc=0.5, limit=0.9)
    sim_clock.advance(timedelta(hours=1))
    assert _json(api.get(f"/vehicles/{tesla.vehicle_id}/charge"))["state"] == "NOT_CHARGING"
    sim_clock.advance(timedelta(hours=1, minutes=10))
    assert _json(api.get(f"/vehicles/{tesla.vehicle_id}/charge"))["state"] == "CHARGING"


def test_tesla_climate(api, tesla):
    assert _json(api.post(_t(tesla, "climate/cabin"), {"action": "SET", "temperature": 22})) == {
        "status": "OFF",
        "temperature": 22.0,
    }
    assert _json(api.post(_t(tesla, "climate/cabin"), {"action": "START"}))["status"] == "ON"
    assert _json(api.get(_t(tesla, "climate/cabin"))) == {"status": "ON", "temperature": 22.0}
    body = assert_error(api.post(_t(tesla, "climate/cabin"), {"action": "SET", "temperature": 40}), 400,
                        "VALIDATION", None)  # fmt: skip
    assert "15.0" in body["description"] and "28.0" in body["description"]
    fahrenheit = {"action": "SET", "temperature": 70}
    imperial = api.post(_t(tesla, "climate/cabin"), fahrenheit, HTTP_SC_UNIT_SYSTEM="imperial")
    assert _json(imperial)["temperature"] == 69.98  # 70 °F kept as 21.1 °C
    assert _json(api.post(_t(tesla, "climate/defroster"), {"action": "START"})) == {"status": "START"}
    assert _json(api.get(_t(tesla, "climate/defroster"))) == {"frontStatus": "ON", "rearStatus": "ON"}
    tesla.refresh_from_db()
    if tesla.state["steering_heater"] == "UNAVAILABLE":
        assert _json(api.post(_t(tesla, "climate/steering_wheel"), {"action": "START"})) == {"status": "UNAVAILABLE"}
    else:
        assert _json(api.post(_t(tesla, "climate/steering_wheel"), {"action": "START"})) == {"status": "START"}
        assert _json(api.get(_t(tesla, "climate/steering_wheel"))) == {"status": "ON"}
    assert_error(api.post(_t(tesla, "climate/defroster"), {"action": "ON"}), 400, "VALIDATION", None)


def test_tesla_pin_to_drive(api, tesla):
    assert _json(api.post(_t(tesla, "pin"), {"pin": "1234"}))["status"] == "success"
    assert Vehicle.objects.get(pk=tesla.pk).state["pin"] == "1234"
    for bad in ("123", "12345", "abcd", 1234):
        assert_error(api.post(_t(tesla, "pin"), {"pin": bad}), 400, "VALIDATION", None)
    assert _json(api.delete(_t(tesla, "pin")))["status"] == "success"
    assert Vehicle.objects.get(pk=tesla.pk).state["pin"] is None


def test_tesla_frunk_trunk_and_charge_port(api, tesla):
    assert _json(api.post(_t(tesla, "security/frunk"), {"action": "OPEN"}))["status"] == "success"
    assert _json(api.post(_t(tesla, "security/trunk"), {"action": "OPEN"}))["status"] == "success"
    storage = _json(api.get(f"/vehicles/{tesla.vehicle_id}/security"))["storage"]
    assert {"type": "front", "status": "OPEN"} in storage and {"type": "rear", "status": "OPEN"} in storage
    # Plugged in, the charge port cannot close.
    assert_error(api.post(_t(tesla, "charge/charge_port_door"), {"action": "CLOSE"}), 409, "VEHICLE_STATE",
                 "CHARGING_PLUG_CONNECTED")  # fmt: skip
    _unplugged(tesla)
    assert _json(api.post(_t(tesla, "charge/charge_port_door"), {"action": "OPEN"}))["status"] == "success"
    tesla.refresh_from_db()
    tesla.state.update(activity="driving", trip={"from": [0, 0], "to": [1, 1], "to_place": None, "steps": 99,
                                                 "done": 1})  # fmt: skip
    tesla.save()
    assert_error(api.post(_t(tesla, "security/trunk"), {"action": "CLOSE"}), 409, "VEHICLE_STATE", "IN_MOTION")


def test_tesla_amperage_is_capped_at_the_chargers_maximum(api, tesla):
    _charging(tesla)
    answer = _json(api.post(_t(tesla, "charge/ammeter"), {"amperage": 80}))
    assert answer == {"message": "Successfully sent the following amperage: 32", "status": "success"}
    assert _json(api.post(_t(tesla, "charge/ammeter"), {"amperage": 16}))["message"].endswith(": 16")
    assert _json(api.get(_t(tesla, "charge")))["amperageRequested"] == 16
    assert_error(api.post(_t(tesla, "charge/ammeter"), {"amperage": "max"}), 400, "VALIDATION", None)
    _unplugged(tesla)
    assert_error(api.post(_t(tesla, "charge/ammeter"), {"amperage": 16}), 409, "VEHICLE_STATE",
                 "CHARGING_PLUG_NOT_CONNECTED")  # fmt: skip
