"""Set-up for tests that talk to the simulated Smartcar platform through the real HTTP stack.

The client carries simulator calls in-process on a thread of their own (connect/transport.py), with their own
database connection, so these tests use committed data: ``transactional_db``.
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from connect import client, tokens
from connect.models import SmartcarAccount


@pytest.fixture
def simulator_app(transactional_db):
    from simulator.platform import ensure_default_application

    return ensure_default_application()


def simulator_refresh_count() -> int:
    from simulator.oauth import refresh_count

    return refresh_count()


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
    """A connected account holding the simulator's pair, encrypted."""
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
