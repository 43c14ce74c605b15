"""A fleet connected to the simulated Smartcar platform, for the sync engine's tests.

The simulator side (user, vehicles, connections, a real token pair) is set up through the simulator's models and
its OAuth service; the app side (SmartcarAccount with the pair encrypted by the vault, Vehicle rows) mirrors what
Connect stores. Every sync call then goes through the real client and the real HTTP stack to the simulator.
"""

from dataclasses import dataclass, field

import pytest
from django.conf import settings
from django.db import connection

from connect import vault
from connect.models import SmartcarAccount
from simulator import world
from simulator.models import Connection, FaultSettings, SmartcarUser
from simulator.oauth import authorization_code_issue, token_exchange_code
from simulator.platform import ensure_default_application
from tests.conftest import require_service
from vehicles.models import Vehicle

ALL_READ = [
    "read_alerts", "read_battery", "read_charge", "read_charge_locations", "read_charge_records",
    "read_climate", "read_compass", "read_diagnostics", "read_engine_oil", "read_extended_vehicle_info",
    "read_fuel", "read_location", "read_odometer", "read_security", "read_service_history",
    "read_speedometer", "read_thermometer", "read_tires", "read_user_profile", "read_vehicle_info", "read_vin",
]  # fmt: skip


@dataclass
class Connected:
    account: SmartcarAccount
    vehicles: list[Vehicle] = field(default_factory=list)
    sim_vehicles: list = field(default_factory=list)


def connect_simulated(fleet, *, count=0, makes=(), email="owner@sim.example", permissions=ALL_READ, seed=7):
    """Connect ``count`` mixed-make vehicles (or one per make in ``makes``) of a new simulated user to ``fleet``."""
    application = ensure_default_application()
    user = SmartcarUser.objects.create(email=email)
    sim_vehicles = world.create_vehicles(user, count, seed=seed) if count else []
    sim_vehicles += [world.create_vehicle(user, make=make, seed=seed + i) for i, make in enumerate(makes)]
    for sim in sim_vehicles:
        Connection.objects.create(application=application, user=user, vehicle=sim, permissions=list(permissions))
    code = authorization_code_issue(application=application, user=user, redirect_uri=settings.SMARTCAR_REDIRECT_URI)
    token = token_exchange_code(application=application, code=code.code, redirect_uri=settings.SMARTCAR_REDIRECT_URI)
    account = SmartcarAccount.objects.create(
        fleet=fleet,
        smartcar_user_id=user.user_id,
        access_token_encrypted=vault.encrypt(token.access_token),
        refresh_token_encrypted=vault.encrypt(token.refresh_token),
        access_expires_at=token.access_expires_at,
        refresh_expires_at=token.refresh_expires_at,
    )
    vehicles = [
        Vehicle.objects.create(
            fleet=fleet,
            account=account,
            smartcar_id=sim.vehicle_id,
            make=sim.make,
            model=sim.model,
            year=sim.year,
            vin=sim.vin,
            permissions=list(permissions),
        )
        for sim in sim_vehicles
    ]
    return Connected(account=account, vehicles=vehicles, sim_vehicles=sim_vehicles)


@pytest.fixture
def faults(transactional_db):
    return FaultSettings.current()


@pytest.fixture
def postgres(transactional_db):
    require_service(connection.vendor == "postgresql", "PostgreSQL")
