import pytest

from vehicles.readings import UnreadableBody, read


def test_fractions_become_percentages_and_units_stay_metric():
    assert read("/battery", {"percentRemaining": 0.3, "range": 40.5}) == {"battery_percent": 30.0, "range_km": 40.5}
    assert read("/charge/limit", {"limit": 0.8}) == {"charge_limit_percent": 80.0}
    assert read("/engine/oil", {"lifeRemaining": 0.35}) == {"oil_life_percent": 35.0}


def test_european_nulls_leave_fields_out():
    assert read("/fuel", {"amountRemaining": None, "percentRemaining": 0.5, "range": 300}) == {
        "fuel_percent": 50.0,
        "fuel_range_km": 300.0,
    }


def test_lock_status_lists_what_is_open():
    body = {
        "isLocked": False,
        "doors": [{"type": "frontLeft", "status": "CLOSED"}, {"type": "frontRight", "status": "OPEN"}],
        "windows": [{"type": "backRight", "status": "UNKNOWN"}],
        "sunroof": [],
        "storage": [],
        "chargingPort": [],
    }
    values = read("/security", body)
    assert values["is_locked"] is False
    assert values["doors_open"] == ["frontRight"]
    assert values["windows_open"] == []


def test_tesla_charge_gives_state_plug_limit_and_power():
    values = read("/{make}/charge", {"state": "CHARGING", "isPluggedIn": True, "socLimit": 0.9, "wattage": 11})
    assert values == {
        "charging_state": "CHARGING",
        "is_plugged_in": True,
        "charge_limit_percent": 90.0,
        "charge_power_kw": 11.0,
    }


def test_diagnostics_count_active_codes_and_alerts():
    assert read("/diagnostics/dtcs", {"activeCodes": [{"code": "P302D", "timestamp": None}]}) == {"active_dtc_count": 1}
    systems = {"systems": [{"systemId": "SYSTEM_TPMS", "status": "ALERT"}, {"systemId": "SYSTEM_MIL", "status": "OK"}]}
    assert read("/diagnostics/system_status", systems) == {"system_alert_count": 1}


@pytest.mark.parametrize(
    ("path", "body"),
    [("/battery", [1, 2]), ("/battery", {"percentRemaining": "full"}), ("/location", "nowhere"), ("/tesla/x", 3)],
)
def test_a_body_of_the_wrong_shape_is_refused(path, body):
    with pytest.raises(UnreadableBody):
        read("/{make}/attributes" if path == "/tesla/x" else path, body)
