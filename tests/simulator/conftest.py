"""Fixtures for the simulated Smartcar platform: an application, a user, vehicles, tokens.

Generic on purpose, so every simulator test can use them:

- ``sim_app``, ``sim_user``: an Application and a SmartcarUser.
- ``sim_vehicle(make="TESLA", model=None, region="US", routine="parked", permissions=None)``: a
  vehicle owned by ``sim_user`` and connected to ``sim_app`` with ``permissions`` (default: all).
- ``sim_token``: a valid access token of ``sim_user`` for ``sim_app``; ``bearer``: its header.
- ``api``: ``api.get("/vehicles/{id}/battery")``, ``api.post(path, json_body)`` … against
  /simulator/api/v2.0 through the full Django stack, with ``bearer`` unless ``headers=`` says else.

The simulated clock is pinned for every test here (a Monday, 06:00 UTC) and can be moved with
``sim_clock.advance(timedelta(...))``.
"""

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from simulator import clock, world
from simulator.models import Application, Connection, FaultSettings, SmartcarUser, Token

START = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)
API = "/simulator/api/v2.0"

ALL_PERMISSIONS = [
    "read_alerts", "read_battery", "read_charge", "read_charge_locations", "read_charge_records",
    "read_charge_events", "read_climate", "read_compass", "read_diagnostics", "read_engine_oil",
    "read_extended_vehicle_info", "read_fuel", "read_location", "read_odometer", "read_security",
    "read_service_history", "read_speedometer", "read_thermometer", "read_tires", "read_user_profile",
    "read_vehicle_info", "read_vin", "control_charge", "control_climate", "control_navigation",
    "control_security", "control_pin", "control_trunk",
]  # fmt: skip


@pytest.fixture(autouse=True)
def sim_clock():
    clock.pin(START)
    yield clock
    clock.unpin()


@pytest.fixture
def sim_app(db):
    return Application.objects.create(
        name="Test application", redirect_uris="http://testserver/callback", management_token="mgmt-token-for-tests"
    )


@pytest.fixture
def sim_user(db):
    return SmartcarUser.objects.create(email="driver@example.com")


@pytest.fixture
def sim_faults(db):
    return FaultSettings.current()


@pytest.fixture
def sim_vehicle(sim_app, sim_user):
    seeds = iter(range(1, 10_000))

    def make(make="TESLA", *, model=None, region="US", routine="parked", permissions=None, user=None, seed=None):
        owner = user or sim_user
        vehicle = world.create_vehicle(
            owner, make=make, model=model, region=region, routine=routine, seed=seed or next(seeds)
        )
        Connection.objects.create(
            application=sim_app,
            user=owner,
            vehicle=vehicle,
            permissions=ALL_PERMISSIONS if permissions is None else permissions,
        )
        return vehicle

    return make


def make_token(app, user, *, expires_in=timedelta(hours=2)) -> Token:
    now = timezone.now()
    return Token.objects.create(
        application=app, user=user, access_expires_at=now + expires_in, refresh_expires_at=now + timedelta(days=60)
    )


@pytest.fixture
def sim_token(sim_app, sim_user):
    return make_token(sim_app, sim_user)


@pytest.fixture
def bearer(sim_token):
    return {"HTTP_AUTHORIZATION": f"Bearer {sim_token.access_token}"}


class Api:
    def __init__(self, client, headers):
        self.client = client
        self.headers = headers

    def request(self, method, path, body=None, *, headers=None, raw=None, **extra):
        kwargs = {**(self.headers if headers is None else headers), **extra}
        data = raw if raw is not None else (json.dumps(body) if body is not None else None)
        call = getattr(self.client, method)
        if data is None:
            return call(API + path, **kwargs)
        return call(API + path, data=data, content_type="application/json", **kwargs)

    def get(self, path, **kwargs):
        return self.request("get", path, **kwargs)

    def post(self, path, body=None, **kwargs):
        return self.request("post", path, body, **kwargs)

    def put(self, path, body=None, **kwargs):
        return self.request("put", path, body, **kwargs)

    def delete(self, path, **kwargs):
        return self.request("delete", path, **kwargs)


@pytest.fixture
def api(client, bearer):
    return Api(client, bearer)
