"""The Compatibility API, by VIN and by region and make, authenticated with the client credentials."""

import base64
import json

import pytest

from simulator.catalogue import vin_build

from .test_vehicle_api import assert_error


@pytest.fixture
def basic(sim_app):
    credentials = base64.b64encode(f"{sim_app.client_id}:{sim_app.client_secret}".encode()).decode()
    return {"HTTP_AUTHORIZATION": f"Basic {credentials}"}


def _json(response):
    assert response.status_code == 200, response.content
    return json.loads(response.content)


def test_compatibility_by_vin_of_a_simulated_vehicle(api, sim_vehicle, basic):
    tesla = sim_vehicle("TESLA", model="Model 3")
    query = f"vin={tesla.vin}&scope=read_battery read_fuel read_vin&country=US"
    body = _json(api.get("/compatibility", headers=basic, QUERY_STRING=query))
    assert body["compatible"] is True and body["reason"] is None
    capabilities = {(c["endpoint"], c["permission"]): c for c in body["capabilities"]}
    assert capabilities[("/battery", "read_battery")] == {
        "capable": True,
        "endpoint": "/battery",
        "permission": "read_battery",
        "reason": None,
    }
    assert capabilities[("/fuel", "read_fuel")]["capable"] is False
    assert capabilities[("/fuel", "read_fuel")]["reason"] == "VEHICLE_NOT_CAPABLE"
    assert capabilities[("/vin", "read_vin")]["capable"] is True


def test_compatibility_by_vin_of_an_unknown_make_and_outside_the_us(api, basic):
    unknown = vin_build("ZZZ", "ABCDE", 2022, "A", "123456")
    body = _json(api.get("/compatibility", headers=basic, QUERY_STRING=f"vin={unknown}&scope=read_vin"))
    assert body == {"compatible": False, "reason": "MAKE_NOT_COMPATIBLE", "capabilities": []}
    ford = vin_build("1FM", "ABCDE", 2022, "A", "123456")
    body = _json(api.get("/compatibility", headers=basic, QUERY_STRING=f"vin={ford}&scope=read_vin&country=CA"))
    # "It does not support checking capabilities for VINs in Canada and Europe."
    assert body == {"compatible": True, "reason": None, "capabilities": []}


def test_compatibility_needs_client_credentials_and_valid_input(api, basic):
    ford = vin_build("1FM", "ABCDE", 2022, "A", "123456")
    assert_error(api.get("/compatibility", QUERY_STRING=f"vin={ford}&scope=read_vin"), 401, "AUTHENTICATION", None)
    wrong = {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(b"nobody:nothing").decode()}
    assert_error(api.get("/compatibility", headers=wrong, QUERY_STRING=f"vin={ford}&scope=read_vin"), 401,
                 "AUTHENTICATION", None)  # fmt: skip
    assert_error(api.get("/compatibility", headers=basic, QUERY_STRING="vin=123&scope=read_vin"), 400, "VALIDATION",
                 "PARAMETER")  # fmt: skip
    assert_error(api.get("/compatibility", headers=basic, QUERY_STRING=f"vin={ford}&scope=read_minds"), 400,
                 "VALIDATION", "PARAMETER")  # fmt: skip


def test_compatibility_matrix_by_region_and_make(api, basic):
    body = _json(api.get("/compatibility/matrix", headers=basic, QUERY_STRING="region=US&make=NISSAN TESLA"))
    assert set(body) == {"NISSAN", "TESLA"}
    leaf = next(model for model in body["NISSAN"] if model["model"] == "LEAF")
    assert set(leaf) == {"model", "startYear", "endYear", "type", "endpoints", "permissions"}
    assert leaf["type"] == "BEV" and "EV battery" in leaf["endpoints"] and "read_battery" in leaf["permissions"]
    assert "read_fuel" not in leaf["permissions"]
    rogue = next(model for model in body["NISSAN"] if model["model"] == "Rogue")
    assert "read_fuel" in rogue["permissions"] and "read_battery" not in rogue["permissions"]


def test_compatibility_matrix_filters(api, basic):
    query = "region=EUROPE&type=BEV&scope=read_battery"
    body = _json(api.get("/compatibility/matrix", headers=basic, QUERY_STRING=query))
    assert "CHEVROLET" not in body and "TESLA" in body
    for models in body.values():
        for model in models:
            assert model["type"] == "BEV" and model["permissions"] == ["read_battery"]
    assert_error(api.get("/compatibility/matrix", headers=basic, QUERY_STRING="region=MARS"), 400, "VALIDATION",
                 "PARAMETER")  # fmt: skip
    assert_error(api.get("/compatibility/matrix", headers=basic, QUERY_STRING="region=CA&make=NISSAN"), 400,
                 "VALIDATION", "PARAMETER")  # fmt: skip
