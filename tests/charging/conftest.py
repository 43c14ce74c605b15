"""Connected vehicles of each make, backed by the simulated Smartcar platform through the real HTTP stack.

The client carries simulator calls in-process on a thread of their own with their own database connection, so the
tests that call the simulator use committed data (``transactional_db``).
"""

import pytest

from vehicles.models import Vehicle

ALL_PERMISSIONS = [
    "read_battery", "read_charge", "read_charge_locations", "read_charge_records", "read_location",
    "read_vehicle_info", "read_vin", "control_charge",
]  # fmt: skip


# Schedules by make, amperage and charge records are make-specific endpoints of API v2 that v3 does not offer
# (connect/transports.py, V3.charging_lacks): their tests run on v2 only.
V2_ONLY = pytest.mark.parametrize("api_version", ["2.0"], indirect=True)


@pytest.fixture
def connected(fleet, account, simulated_grant, api_version):
    """``connected("NISSAN")``: a simulated vehicle of the make, connected to ``fleet`` with charging permissions —
    on each Smartcar API version (``api_version``)."""
    from simulator import world
    from simulator.models import Connection

    seeds = iter(range(1, 1000))

    def make(make: str, *, permissions=None, model=None):
        simulated = world.create_vehicle(simulated_grant.user, make=make, model=model, region="US", seed=next(seeds))
        granted = ALL_PERMISSIONS if permissions is None else permissions
        Connection.objects.create(
            application=simulated_grant.application, user=simulated_grant.user, vehicle=simulated, permissions=granted
        )
        return Vehicle.objects.create(
            fleet=fleet,
            account=account,
            smartcar_id=simulated.vehicle_id,
            make=simulated.make,
            model=simulated.model,
            year=simulated.year,
            vin=simulated.vin,
            permissions=granted,
        )

    return make


def simulated_state(vehicle: Vehicle) -> dict:
    from simulator.models import Vehicle as SimulatedVehicle

    return SimulatedVehicle.objects.get(vehicle_id=vehicle.smartcar_id).state
