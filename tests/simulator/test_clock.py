"""The simulator's clock: faster than real time, pinnable, and moved by time_machine."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from simulator import clock
from simulator.models import FaultSettings


@pytest.fixture
def free_clock(sim_clock, settings, tmp_path):
    """An unpinned clock with its own anchor file."""
    settings.VAR_DIR = tmp_path
    clock.unpin()
    clock._cached = None
    yield clock
    clock._cached = None


def test_pin_and_advance(sim_clock):
    moment = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
    sim_clock.pin(moment)
    assert sim_clock.now() == moment
    assert sim_clock.advance(timedelta(hours=3)) == moment + timedelta(hours=3)
    assert sim_clock.now() == moment + timedelta(hours=3)


def test_simulated_time_runs_at_the_configured_speed(free_clock, settings):
    settings.SIMULATOR_CLOCK_SPEED = 60
    with time_machine.travel(datetime(2026, 1, 10, 8, 0, tzinfo=UTC), tick=False) as traveller:
        start = free_clock.now()
        assert start == datetime(2026, 1, 10, 8, 0, tzinfo=UTC)
        traveller.shift(timedelta(minutes=1))
        assert free_clock.now() - start == timedelta(hours=1)  # one simulated hour per real minute


def test_speed_comes_from_the_fault_settings_unless_the_setting_overrides_it(free_clock, settings, db):
    del settings.SIMULATOR_CLOCK_SPEED
    FaultSettings.objects.update_or_create(pk=1, defaults={"clock_speed": 10})
    assert free_clock.speed() == 10
    settings.SIMULATOR_CLOCK_SPEED = 1
    assert free_clock.speed() == 1


def test_changing_the_speed_does_not_make_time_jump(free_clock, settings):
    with time_machine.travel(datetime(2026, 1, 10, 8, 0, tzinfo=UTC), tick=False) as traveller:
        settings.SIMULATOR_CLOCK_SPEED = 60
        free_clock.now()
        traveller.shift(timedelta(minutes=2))
        before = free_clock.now()  # two simulated hours later
        settings.SIMULATOR_CLOCK_SPEED = 2
        free_clock._cached = None
        assert free_clock.now() == before
        traveller.shift(timedelta(minutes=1))
        assert free_clock.now() == before + timedelta(minutes=2)


def test_at_speed_one_simulated_time_is_real_time(free_clock, settings):
    settings.SIMULATOR_CLOCK_SPEED = 1
    with time_machine.travel(datetime(2027, 2, 3, 4, 5, tzinfo=UTC), tick=False):
        assert free_clock.now() == datetime(2027, 2, 3, 4, 5, tzinfo=UTC)
