"""VIN validation before any call to Smartcar: length, characters, the North American check digit."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connect.vin import InvalidVin, vin_check_digit, vin_region, vin_validate

ALLOWED = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"


@pytest.mark.parametrize(
    "vin",
    [
        "1HGCM82633A004352",  # a Honda Accord: the textbook example of the check digit
        "1M8GDM9AXKP042788",  # check digit X (remainder 10), also a textbook example
    ],
)
def test_valid_north_american_vins_pass(vin):
    assert vin_validate(vin) == vin


def test_it_normalises_what_people_type():
    assert vin_validate(" 1hgcm8-2633a004352 ") == "1HGCM82633A004352"


@pytest.mark.parametrize(
    ("vin", "words"),
    [
        ("1HGCM82633A00435", "17 characters; this one has 16"),
        ("1HGCM82633A0043521", "this one has 18"),
        ("1HGCM82633A0O4352", "I, O or Q"),
        ("1HGCM82633A00435!", "only digits and capital letters"),
        ("1HGCM82643A004352", "check digit"),
    ],
)
def test_invalid_vins_are_refused_with_the_reason(vin, words):
    with pytest.raises(InvalidVin, match=words):
        vin_validate(vin)


def test_the_check_digit_is_not_required_outside_north_america():
    # A European VIN (W: Germany) whose 9th character is not the computed check digit is still valid.
    vin = "WVWZZZ1JZXW000001"
    assert vin_check_digit(vin) != vin[8]
    assert vin_validate(vin) == vin


@given(st.sampled_from("12345"), st.text(alphabet=ALLOWED, min_size=16, max_size=16))
def test_a_north_american_vin_with_its_check_digit_passes_and_any_other_digit_fails(first, rest):
    draft = first + rest
    vin = draft[:8] + vin_check_digit(draft) + draft[9:]
    assert vin_validate(vin) == vin
    wrong = "0" if vin[8] != "0" else "1"
    with pytest.raises(InvalidVin):
        vin_validate(vin[:8] + wrong + vin[9:])


@pytest.mark.parametrize(
    ("vin", "region"),
    [("WVWZZZ1KZAW000001", "Europe"), ("1HGCM82633A004352", "North America"), ("JTDKB20U093123456", "Asia"), ("", "")],
)
def test_the_first_character_names_the_region_the_vehicle_was_built_for(vin, region):
    assert vin_region(vin) == region
