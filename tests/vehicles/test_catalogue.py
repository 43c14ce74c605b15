from vehicles.catalogue import ENDPOINTS, Freshness, endpoint_by_path, endpoints_for

ALL_READ = [
    "read_alerts", "read_battery", "read_charge", "read_charge_locations", "read_charge_records", "read_climate",
    "read_compass", "read_diagnostics", "read_engine_oil", "read_extended_vehicle_info", "read_fuel",
    "read_location", "read_odometer", "read_security", "read_service_history", "read_speedometer",
    "read_thermometer", "read_tires", "read_user_profile", "read_vehicle_info", "read_vin",
]  # fmt: skip


def paths(make, permissions=ALL_READ):
    return {e.path_for(make) for e in endpoints_for(make, permissions)}


def test_every_catalogue_entry_links_an_existing_documentation_page():
    from pathlib import Path

    # The API reference the project follows lies beside the checkout (../shared/smartcar-api/) where it is present.
    docs = Path(__file__).resolve().parents[3] / "shared" / "smartcar-api"
    if docs.exists():
        assert [e.doc for e in ENDPOINTS if not (docs / e.doc).exists()] == []
    assert len({(e.path, e.makes) for e in ENDPOINTS}) == len(ENDPOINTS)


def test_make_specific_paths_are_lower_case_and_only_for_their_make():
    tesla = paths("TESLA")
    assert {"/tesla/charge", "/tesla/battery", "/tesla/speedometer", "/tesla/status"} <= tesla
    assert "/fuel" not in tesla  # "Tesla does not support fuel"
    ford = paths("FORD")
    assert "/ford/charge/schedule_by_location" in ford
    assert not any(p.startswith("/tesla/") for p in ford)
    assert "/fuel" in ford and "/service/history" in ford


def test_diagnostics_follow_the_documented_brand_lists():
    assert {"/diagnostics/dtcs", "/diagnostics/system_status"} <= paths("CHEVROLET")
    assert "/diagnostics/dtcs" not in paths("JEEP")
    assert "/diagnostics/system_status" in paths("JEEP")
    assert not {"/diagnostics/dtcs", "/diagnostics/system_status"} & paths("TOYOTA")


def test_the_poll_set_is_limited_to_granted_permissions():
    granted = paths("TESLA", ["read_battery", "read_location"])
    assert granted == {"/battery", "/tesla/battery", "/location", "/battery/nominal_capacity"}


def test_fast_signals_are_the_ones_that_move_while_driving_or_charging():
    fast = {e.path_for("TESLA") for e in endpoints_for("TESLA", ALL_READ) if e.freshness == Freshness.FAST}
    assert fast == {"/location", "/battery", "/charge", "/tesla/speedometer", "/tesla/charge/wattmeter"}
    assert "/vin" not in fast and "/tesla/charge" not in fast


def test_a_concrete_path_finds_the_page_of_its_make():
    assert endpoint_by_path("TESLA", "/tesla/charge").doc == "tesla__get-charge.md"
    assert endpoint_by_path("AUDI", "/audi/charge").doc == "audi__get-charge.md"
    assert endpoint_by_path("FORD", "/tesla/charge") is None
