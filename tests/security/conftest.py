"""Two fleets, A and B, each with an owner, a manager, a viewer and one of every object a URL can name.

Objects are made when a URL first needs them (``Side``'s cached properties), so a pattern added by a new app costs
nothing until its factory in tests/security/patterns.py asks for its object.
"""

import collections
import hashlib
from datetime import timedelta
from functools import cached_property

import pytest
from django.apps import apps
from django.db import connection
from django.test import Client
from django.utils import timezone

from connect import tokens
from connect.client import TokenPair
from connect.models import SmartcarAccount
from fleet.models import Fleet, Invitation, Membership, Role
from fleet.services import fleet_create
from tests.conftest import make_user

qn = connection.ops.quote_name

# How many requests each check made in this run (printed at the end of the run, quoted in docs/security.md).
PROBES: collections.Counter = collections.Counter()


class Side:
    """One fleet and its people; its objects are created on first use."""

    def __init__(self, letter: str):
        self.letter = letter
        self.owner = make_user(f"owner-{letter}@example.com")
        self.fleet: Fleet = fleet_create(name=f"Fleet {letter.upper()}", owner=self.owner)
        self.manager = make_user(f"manager-{letter}@example.com")
        self.viewer = make_user(f"viewer-{letter}@example.com")
        Membership.objects.create(user=self.manager, fleet=self.fleet, role=Role.MANAGER)
        Membership.objects.create(user=self.viewer, fleet=self.fleet, role=Role.VIEWER)

    @cached_property
    def membership_of_manager(self) -> Membership:
        return Membership.objects.get(fleet=self.fleet, user=self.manager)

    @cached_property
    def invitation(self) -> Invitation:
        return Invitation.objects.create(
            fleet=self.fleet, email=f"invited-{self.letter}@example.com", role=Role.VIEWER, invited_by=self.owner
        )

    @cached_property
    def account(self) -> SmartcarAccount:
        now = timezone.now()
        account = SmartcarAccount(fleet=self.fleet, smartcar_user_id=f"smartcar-user-{self.letter}")
        pair = TokenPair(
            access_token=f"access-{self.letter}",
            refresh_token=f"refresh-{self.letter}",
            access_expires_at=now + timedelta(hours=2),
            refresh_expires_at=now + timedelta(days=60),
        )
        tokens.account_store_tokens(account=account, pair=pair)
        account.save()
        return account

    @cached_property
    def vehicle(self):
        from vehicles.models import Vehicle

        return Vehicle.objects.create(
            fleet=self.fleet,
            account=self.account,
            smartcar_id=f"vehicle-{self.letter}",
            make="TESLA",
            model="Model 3",
            vin=f"5YJ3E1EA7KF31770{self.letter.upper()}"[:17],
        )

    @cached_property
    def vehicle_group(self):
        from vehicles.models import VehicleGroup

        group = VehicleGroup.objects.create(fleet=self.fleet, name=f"Vans {self.letter}")
        group.vehicles.add(self.vehicle)
        return group

    @cached_property
    def command(self):
        from vehicles.models import Command

        return Command.objects.create(vehicle=self.vehicle, user=self.manager, kind="lock", status="done")

    @cached_property
    def bulk_run(self):
        from charging.models import BulkScheduleRun

        return BulkScheduleRun.objects.create(
            fleet=self.fleet, kind="tesla", make="TESLA", payload={}, summary="", created_by=self.manager, status="done"
        )

    # alerts/
    @cached_property
    def alert_rule(self):
        from alerts.models import AlertRule

        return AlertRule.objects.create(fleet=self.fleet, condition="low", vehicle=self.vehicle, threshold=15)

    @cached_property
    def alert(self):
        from alerts.models import Alert

        now = timezone.now()
        return Alert.objects.create(
            fleet=self.fleet,
            vehicle=self.vehicle,
            condition="low",
            state="open",
            summary="Low battery",
            since=now,
            opened_at=now,
            changed_at=now,
        )

    @cached_property
    def alert_endpoint(self):
        from alerts.models import Endpoint

        return Endpoint.objects.create(
            fleet=self.fleet, name=f"Pager {self.letter}", url="https://hooks.example.com/fleet", secret_encrypted=""
        )

    # trips/
    @cached_property
    def driver(self):
        from trips.models import Driver

        return Driver.objects.create(fleet=self.fleet, name=f"Driver {self.letter}")

    @cached_property
    def assignment(self):
        from trips.models import Assignment

        return Assignment.objects.create(driver=self.driver, vehicle=self.vehicle, starts_at=timezone.now())

    @cached_property
    def place(self):
        from trips.models import Place

        return Place.objects.create(fleet=self.fleet, name=f"Depot {self.letter}", latitude=52.5, longitude=13.4)

    @cached_property
    def trip(self):
        from trips.models import Trip

        now = timezone.now()
        return Trip.objects.create(vehicle=self.vehicle, start_after=now - timedelta(hours=1), started_at=now)

    # maintenance/
    @cached_property
    def service_task(self):
        from maintenance.models import ServiceTask

        return ServiceTask.objects.create(fleet=self.fleet, name=f"Inspection {self.letter}", every_months=12)

    @cached_property
    def work_order(self):
        from maintenance.models import WorkOrder

        return WorkOrder.objects.create(fleet=self.fleet, vehicle=self.vehicle, title=f"Brakes {self.letter}")


class World:
    def __init__(self):
        self.a = Side("a")
        self.b = Side("b")

    def client(self, user=None, *, csrf: bool = False) -> Client:
        client = Client(enforce_csrf_checks=csrf)
        if user is not None:
            client.force_login(user)
        return client


@pytest.fixture
def world(db) -> World:
    return World()


# Rows that change on any request (sessions), or never (permissions, content types).
_NOT_COMPARED = {"sessions.session", "auth.permission", "contenttypes.contenttype"}


def _compared_models():
    return [m for m in apps.get_models() if m._meta.managed and m._meta.label_lower not in _NOT_COMPARED]


def database_fingerprint() -> dict[str, str]:
    """A digest of every table's rows: equal before and after a request that changed nothing (a difference names
    the tables that changed)."""
    models = _compared_models()
    if connection.vendor == "postgresql":
        # One round trip for every table: the suite takes two fingerprints per probe. Table names come from the
        # models, quoted.
        digest = "md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), ''))"
        sql = " UNION ALL ".join(f"SELECT %s, {digest} FROM {qn(m._meta.db_table)} t" for m in models)  # noqa: S608
        with connection.cursor() as cursor:
            cursor.execute(sql, [m._meta.label_lower for m in models])
            return dict(cursor.fetchall())
    fingerprint = {}
    for model in models:
        rows = sorted(map(repr, model._default_manager.all().values_list()))
        fingerprint[model._meta.label_lower] = hashlib.sha256("\n".join(rows).encode()).hexdigest()
    return fingerprint


def changed_tables(before: dict[str, str]) -> list[str]:
    after = database_fingerprint()
    return sorted(label for label in before.keys() | after.keys() if before.get(label) != after.get(label))


def pytest_terminal_summary(terminalreporter):
    if PROBES:
        total = sum(PROBES.values())
        parts = ", ".join(f"{check} {count}" for check, count in sorted(PROBES.items()))
        terminalreporter.write_line(f"security suite: {total} probes ({parts})")
