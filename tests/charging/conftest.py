"""Connected vehicles of each make, backed by the simulated Smartcar platform through the real HTTP stack.

The client carries simulator calls in-process on a thread of their own with their own database connection, so the
tests that call the simulator use committed data (``transactional_db``).
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from connect import client, tokens
from connect.models import SmartcarAccount
from vehicles.models import Vehicle

ALL_PERMISSIONS = [
    "read_battery", "read_charge", "read_charge_locations", "read_charge_records", "read_location",
    "read_vehicle_info", "read_vin", "control_charge",
]  # fmt: skip


@pytest.fixture
def sim_grant(transactional_db):
    from simulator.models import SmartcarUser, Token
    from simulator.platform import ensure_default_application

    application = ensure_default_application()
    user = SmartcarUser.objects.create(email="charging@example.com")
    now = timezone.now()
    return Token.objects.create(
        application=application,
        user=user,
        access_expires_at=now + timedelta(hours=2),
        refresh_expires_at=now + timedelta(days=60),
    )


@pytest.fixture
def account(fleet, sim_grant) -> SmartcarAccount:
    account = SmartcarAccount(fleet=fleet, smartcar_user_id=sim_grant.user.user_id)
    tokens.account_store_tokens(
        account=account,
        pair=client.TokenPair(
            access_token=sim_grant.access_token,
            refresh_token=sim_grant.refresh_token,
            access_expires_at=sim_grant.access_expires_at,
            refresh_expires_at=sim_grant.refresh_expires_at,
        ),
    )
    account.save()
    return account


@pytest.fixture
def connected(fleet, account, sim_grant):
    """``connected("NISSAN")``: a simulated vehicle of the make, connected to ``fleet`` with charging permissions."""
    from simulator import world
    from simulator.models import Connection

    seeds = iter(range(1, 1000))

    def make(make: str, *, permissions=None, model=None):
        simulated = world.create_vehicle(sim_grant.user, make=make, model=model, region="US", seed=next(seeds))
        granted = ALL_PERMISSIONS if permissions is None else permissions
        Connection.objects.create(
            application=sim_grant.application, user=sim_grant.user, vehicle=simulated, permissions=granted
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
