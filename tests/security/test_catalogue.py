"""The suite covers every URL pattern: each one's keyword arguments can be filled, each exemption says why."""

import pytest

from tests.security.patterns import ALL_CHECKS, all_patterns, exemption, factory_for


@pytest.mark.parametrize("pattern", all_patterns(), ids=lambda p: p.label)
def test_every_keyword_argument_of_every_pattern_can_be_filled(pattern):
    if all(exemption(pattern, check) for check in ALL_CHECKS):
        return
    for kwarg in pattern.kwargs:
        factory_for(pattern, kwarg)  # raises with the pattern's name and what to add


def test_the_fleet_pages_are_found():
    """The walk reaches included URLconfs: a resolver change that hid them would make every check vacuous."""
    names = {p.name for p in all_patterns()}
    assert {"fleet_members", "vehicle_detail", "charging_bulk_run", "connect_accounts", "fleet_home"} <= names
