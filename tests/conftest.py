import os
from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from connect import client, tokens
from connect.models import SmartcarAccount
from fleet.models import Fleet, Membership, Role, User
from fleet.services import fleet_create


def require_service(available: bool, what: str):
    """Skips a test whose real service is absent — except on CI, where its absence is a failure."""
    if available:
        return
    if os.environ.get("CI"):
        pytest.fail(f"{what} must answer on CI")
    pytest.skip(f"{what} does not answer here")


@pytest.fixture(autouse=True)
def _fresh_application_token():
    """The process-wide application token of API v3 must not outlive the test database that issued it."""
    from connect import transports
    from connect.client_v3 import application_token

    application_token.clear()
    transports.switch_forget()
    yield
    application_token.clear()
    transports.switch_forget()


@pytest.fixture(params=["2.0", "3"], ids=["api2", "api3"])
def api_version(request, settings):
    """The Smartcar API the installation speaks (settings.SMARTCAR_API_VERSION): fixtures that connect accounts and
    vehicles depend on it, so the tests built on them run once on each transport. A test of one version's own
    behaviour pins it: ``@pytest.mark.parametrize("api_version", ["2.0"], indirect=True)``."""
    settings.SMARTCAR_API_VERSION = request.param
    return request.param


@pytest.fixture
def redis_url():
    require_service(bool(settings.REDIS_URL), "Redis on 127.0.0.1:6379")
    return settings.REDIS_URL


@pytest.fixture(scope="session", autouse=True)
def _database_is_postgres_on_ci(django_db_setup, django_db_blocker):
    if os.environ.get("CI"):
        with django_db_blocker.unblock():
            assert connection.vendor == "postgresql", "CI runs the suite on PostgreSQL"


def make_user(email: str, password: str = "correct horse battery", *, verified: bool = True) -> User:
    """A user whose address is verified, as every account that can sign in has (ACCOUNT_EMAIL_VERIFICATION)."""
    from allauth.account.models import EmailAddress

    user = User.objects.create_user(email=email, password=password)
    EmailAddress.objects.create(user=user, email=user.email, primary=True, verified=verified)
    return user


@pytest.fixture
def owner(db):
    return make_user("owner@example.com")


@pytest.fixture
def fleet(owner) -> Fleet:
    return fleet_create(name="Acme Logistics", owner=owner, time_zone="Europe/Berlin")


@pytest.fixture
def manager(fleet):
    user = make_user("manager@example.com")
    Membership.objects.create(user=user, fleet=fleet, role=Role.MANAGER)
    return user


@pytest.fixture
def viewer(fleet):
    user = make_user("viewer@example.com")
    Membership.objects.create(user=user, fleet=fleet, role=Role.VIEWER)
    return user


@pytest.fixture
def other_fleet(db) -> Fleet:
    """Another tenant, with its own owner: nothing of it may show through to ``fleet``'s people."""
    return fleet_create(name="Globex Haulage", owner=make_user("globex@example.com"))


@pytest.fixture
def owner_client(client, owner):
    client.force_login(owner)
    return client


@pytest.fixture
def viewer_client(client, viewer):
    client.force_login(viewer)
    return client


@pytest.fixture
def manager_client(client, manager):
    client.force_login(manager)
    return client


# --- A Smartcar account on the simulated platform --------------------------------------------------------------
# The client carries simulator calls in-process on a thread of their own, with their own database connection
# (connect/transport.py), so tests that reach the simulator use committed data: ``transactional_db``.


@pytest.fixture
def simulator_app(transactional_db):
    from simulator.platform import ensure_default_application

    return ensure_default_application()


@pytest.fixture
def simulated_grant(simulator_app):
    """A token pair issued by the simulator to a Smartcar user, as Connect would have left it."""
    from simulator.models import SmartcarUser, Token

    user = SmartcarUser.objects.create(email="driver@example.com")
    now = timezone.now()
    return Token.objects.create(
        application=simulator_app,
        user=user,
        access_expires_at=now + timedelta(hours=2),
        refresh_expires_at=now + timedelta(days=60),
    )


@pytest.fixture
def account(fleet, simulated_grant) -> SmartcarAccount:
    """A connected account of ``fleet`` holding the simulator's pair, encrypted."""
    account = SmartcarAccount(fleet=fleet, smartcar_user_id=simulated_grant.user.user_id)
    tokens.account_store_tokens(
        account=account,
        pair=client.TokenPair(
            access_token=simulated_grant.access_token,
            refresh_token=simulated_grant.refresh_token,
            access_expires_at=simulated_grant.access_expires_at,
            refresh_expires_at=simulated_grant.refresh_expires_at,
        ),
    )
    account.save()
    return account


@pytest.fixture
def broker_down():
    """The broker is unreachable (a closed port) and tasks are sent to it for real, not run eagerly.

    ``broker_down.restore()`` brings the test broker back (tasks run eagerly again), as when the outage ends.
    """
    from celery import current_app

    class Outage:
        def __init__(self):
            self.saved = (current_app.conf.broker_url, current_app.conf.task_always_eager)
            current_app.conf.update(broker_url="redis://127.0.0.1:1/0", task_always_eager=False)
            _forget_connections(current_app)

        def restore(self):
            broker_url, eager = self.saved
            current_app.conf.update(broker_url=broker_url, task_always_eager=eager)
            _forget_connections(current_app)

    outage = Outage()
    try:
        yield outage
    finally:
        outage.restore()


def _forget_connections(app) -> None:
    """Pooled broker connections are opened for the broker URL of their time: drop them when it changes."""
    app._pool = None
    app.amqp._producer_pool = None
