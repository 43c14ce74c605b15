"""Alerts against the simulated platform: vehicles are driven into a condition by changing their simulated state,
synced through the real client and HTTP stack, and the alerts that sync's signal opened are read back."""

import io

import pytest
from django.core.management import call_command
from django.utils import timezone

from simulator import clock
from simulator.models import Vehicle as SimulatedVehicle
from tests.vehicles.conftest import faults  # noqa: F401 — the simulator's fault settings, as a fixture
from tests.webhooks.test_end_to_end import tesla as webhook_tesla  # noqa: F401 — a fixture: a Tesla that may charge


@pytest.fixture(autouse=True)
def pinned_simulator_clock():
    clock.pin(timezone.now())
    yield
    clock.unpin()


def sync_all():
    call_command("sync", "--all", stdout=io.StringIO())


def nudge(vehicle, change):
    """Changes the simulated vehicle's state (``change(state)``), as a car would on its own."""
    sim = SimulatedVehicle.objects.get(vehicle_id=vehicle.smartcar_id)
    change(sim.state)
    sim.save(update_fields=["state"])


@pytest.fixture
def time_passes(time_machine):
    """``time_passes(delta)``: the app's clock and the simulator's move on together, as they would while nothing
    happens (rules' delays run out, readings age). Time ticks on from there."""
    time_machine.move_to(timezone.now(), tick=True)

    def wait(delta):
        time_machine.shift(delta)
        clock.advance(delta)

    return wait
