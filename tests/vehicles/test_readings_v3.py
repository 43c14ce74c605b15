"""API v3 signals onto the typed status, DTC and system records (vehicles/readings_v3.py), and the bad input that
must give no value: an unknown code, a body of an unexpected shape, a missing or unknown unit."""

from datetime import UTC, datetime

import pytest

from vehicles.readings_v3 import position, read_signals, timestamp

NOW = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)
MS = 1772430000000  # 2026-03-02T05:40:00Z in epoch milliseconds


def rest(code: str, body, *, oem=MS, status=None) -> dict:
    """A GET …/signals item (signals__list.md)."""
    return {
        "id": code,
        "type": "signal",
        "attributes": {"code": code, "status": status or {"value": "SUCCESS"}, "body": body},
        "meta": {"retrievedAt": oem + 1000, "oemUpdatedAt": oem},
    }


def hook(code: str, body) -> dict:
    """A VEHICLE_STATE item (webhooks__event-vehicle-state.md)."""
    return {"code": code, "name": "X", "group": "Y", "body": body, "meta": {"oemUpdatedAt": MS, "fetchedAt": MS}}


@pytest.mark.parametrize(
    ("code", "body", "expected"),
    [
        ("tractionbattery-stateofcharge", {"unit": "percent", "value": 75}, {"battery_percent": 75.0}),
        ("tractionbattery-range", {"unit": "miles", "value": 100, "additionalValues": []}, {"range_km": 160.9344}),
        ("charge-detailedchargingstatus", {"value": "FULLY_CHARGED"}, {"charging_state": "FULLY_CHARGED"}),
        ("charge-ischargingcableconnected", {"value": True}, {"is_plugged_in": True}),
        (
            "charge-chargelimits",
            {"values": [{"type": "location", "limit": 90, "condition": {}}, {"type": "global", "limit": 80}],
             "activeLimit": 100, "unit": "percent"},
            {"charge_limit_percent": 80.0},
        ),
        ("charge-wattage", {"unit": "watts", "value": 7200}, {"charge_power_kw": 7.2}),
        (
            "location-preciselocation",
            {"latitude": 37.7749, "longitude": -122.4194, "heading": 45.5, "direction": "NE",
             "locationType": "CURRENT"},
            {"latitude": 37.7749, "longitude": -122.4194, "heading_degrees": 45.5},
        ),
        ("odometer-traveleddistance", {"unit": "kilometers", "value": 50000}, {"odometer_km": 50000.0}),
        ("motion-currentspeed", {"unit": "mph", "value": 10}, {"speed_kph": 16.0934}),
        ("internalcombustionengine-fuellevel", {"unit": "percent", "value": 40}, {"fuel_percent": 40.0}),
        ("internalcombustionengine-amountremaining", {"unit": "liters", "value": 45.5}, {"fuel_amount_liters": 45.5}),
        ("internalcombustionengine-range", {"unit": "kilometers", "value": 450}, {"fuel_range_km": 450.0}),
        ("internalcombustionengine-oillife", {"unit": "percent", "value": 85}, {"oil_life_percent": 85.0}),
        ("closure-islocked", {"value": False}, {"is_locked": False}),
        (
            "closure-doors",
            {"values": [{"row": 0, "column": 0, "isOpen": False, "isLocked": True},
                        {"row": 1, "column": 1, "isOpen": True, "isLocked": False}], "rowCount": 2, "columnCount": 2},
            {"doors_open": ["backRight"]},
        ),
        ("closure-windows", {"values": [{"row": 0, "column": 1, "isOpen": True}]}, {"windows_open": ["frontRight"]}),
        ("closure-sunroof", {"isOpen": True}, {"sunroof_open": ["sunroof"]}),
        ("charge-ischargingportflapopen", {"value": False}, {"charging_port_open": []}),
        (
            "wheel-tires",
            {"values": [{"row": 0, "column": 0, "tirePressure": 35}], "rowCount": 2, "columnCount": 2, "unit": "psi"},
            {"tire_pressure_front_left_kpa": 241.32},
        ),
        ("climate-externaltemperature", {"unit": "fahrenheit", "value": 50}, {"exterior_temperature_c": 10.0}),
        ("climate-internaltemperature", {"unit": "celsius", "value": 21.5}, {"interior_temperature_c": 21.5}),
        ("diagnostics-dtccount", {"unit": "count", "value": 2}, {"active_dtc_count": 2}),
    ],
)  # fmt: skip
def test_each_mapped_signal_gives_its_typed_value(code, body, expected):
    reading = read_signals([rest(code, body)], now=NOW)
    assert reading.values == expected
    assert reading.unparsed == [] and reading.errors == {}
    assert set(reading.recorded.values()) == {datetime(2026, 3, 2, 5, 40, tzinfo=UTC)}


def test_webhook_items_read_like_rest_items():
    items = [hook("tractionbattery-stateofcharge", {"unit": "percent", "value": 78})]
    reading = read_signals(items, now=NOW)
    assert reading.values == {"battery_percent": 78.0}
    assert reading.data_age == reading.fetched_at == datetime(2026, 3, 2, 5, 40, tzinfo=UTC)


def test_dtcs_and_system_statuses_become_their_records():
    reading = read_signals(
        [
            rest("diagnostics-dtclist", {"values": [{"code": "P0300", "timestamp": "2026-03-01T08:00:00Z"}]}),
            rest("diagnostics-abs", {"status": "OK", "description": "fine"}),
            rest("diagnostics-mil", {"status": "ALERT", "description": "Check engine"}),
        ],
        now=NOW,
    )
    assert reading.dtcs == [{"code": "P0300", "timestamp": "2026-03-01T08:00:00Z"}]
    assert reading.values == {"active_dtc_count": 1, "system_alert_count": 1}
    assert reading.systems == [
        {"systemId": "SYSTEM_ABS", "status": "OK", "description": "fine"},
        {"systemId": "SYSTEM_MIL", "status": "ALERT", "description": "Check engine"},
    ]


def test_a_signal_level_error_is_reported_and_gives_no_value():
    failed = {"value": "ERROR", "error": {"code": "VEHICLE_NOT_CAPABLE", "type": "COMPATIBILITY"}}
    reading = read_signals([rest("location-isathome", None, status=failed)], now=NOW)
    assert reading.errors == {"location-isathome": ("COMPATIBILITY", "VEHICLE_NOT_CAPABLE")}
    assert reading.values == {} and reading.unparsed == []
    webhook = {"code": "location-preciselocation", "status": failed}
    assert read_signals([webhook], now=NOW).errors == {
        "location-preciselocation": ("COMPATIBILITY", "VEHICLE_NOT_CAPABLE")
    }


@pytest.mark.parametrize(
    ("code", "body", "reason"),
    [
        ("tractionbattery-stateofcharge", {"value": 75}, "has no unit"),
        ("odometer-traveleddistance", {"unit": "furlongs", "value": 3}, "unknown unit"),
        ("tractionbattery-range", {"unit": "DEFAULT", "value": 300}, "unknown unit"),
        ("tractionbattery-stateofcharge", {"unit": "percent", "value": "75"}, "not a number"),
        ("tractionbattery-stateofcharge", {"unit": "percent", "value": 175}, "not a percentage"),
        ("tractionbattery-stateofcharge", {"percentage": 75}, "has no value"),  # the old 3.0 webhook body
        ("closure-doors", {"values": "all shut"}, "not a list"),
        ("closure-islocked", {"value": "yes"}, "true/false"),
        ("charge-detailedchargingstatus", {"value": "SLOWLY"}, "is not one of"),
        ("wheel-tires", {"values": [{"row": 0, "column": 0, "tirePressure": 240}]}, "has no unit"),
        ("location-preciselocation", [37.7, -122.4], "not a JSON object"),
        ("diagnostics-abs", {"status": "FINE"}, "OK or ALERT"),
        ("charge-newsignalcode", {"value": 1}, "unknown signal code"),
    ],
)
def test_bad_input_is_unparsed_never_a_wrong_value(code, body, reason):
    reading = read_signals([rest(code, body), rest("closure-islocked", {"value": True})], now=NOW)
    (unparsed,) = reading.unparsed
    assert unparsed.code == code and reason in unparsed.reason, unparsed
    assert unparsed.body == body
    assert reading.values == {"is_locked": True}, "the other signals still count"


@pytest.mark.parametrize("items", [None, {"data": []}, "signals", [1, "two"], [{"attributes": {}}]])
def test_a_list_of_the_wrong_shape_never_raises(items):
    reading = read_signals(items, now=NOW)
    assert reading.values == {} and reading.unparsed


def test_documented_signals_without_a_column_are_kept_not_unparsed():
    reading = read_signals([rest("vehicleidentification-vin", {"value": "5YJ3E1EA7KF000001"})], now=NOW)
    assert reading.unparsed == [] and reading.values == {}
    assert reading.bodies == {"vehicleidentification-vin": {"value": "5YJ3E1EA7KF000001"}}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1731940328000, datetime(2024, 11, 18, 14, 32, 8, tzinfo=UTC)),
        (1696156800, datetime(2023, 10, 1, 10, 40, tzinfo=UTC)),
        ("2026-03-02T05:40:00Z", datetime(2026, 3, 2, 5, 40, tzinfo=UTC)),
        ("yesterday", None),
        (True, None),
        (None, None),
    ],
)
def test_timestamps_in_milliseconds_seconds_or_iso(value, expected):
    assert timestamp(value) == expected


@pytest.mark.parametrize(
    ("row", "column", "rows", "columns", "name"),
    [(0, 0, 2, 2, "frontLeft"), (1, 1, 2, 2, "backRight"), (1, 0, 3, 2, "row2Left"), (0, 0, 1, 1, "front")],
)
def test_grid_positions(row, column, rows, columns, name):
    assert position(row, column, rows, columns) == name
