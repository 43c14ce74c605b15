"""The token vault: encrypted at rest, keys rotate, refreshed once however many workers ask."""

import io
import threading
from datetime import timedelta

import pytest
from cryptography.fernet import Fernet, InvalidToken
from django.core.management import call_command
from django.db import connection, connections
from django.test import override_settings
from django.utils import timezone
from django.views.debug import ExceptionReporter

from connect import client, tokens, vault
from connect.errors import MalformedResponseError, TransportError
from connect.models import AccountStatus, SmartcarAccount
from connect.tasks import accounts_refresh_ending
from tests.conftest import require_service
from tests.connect.conftest import simulator_refresh_count


def _expire_access(account: SmartcarAccount) -> None:
    SmartcarAccount.objects.filter(pk=account.pk).update(access_expires_at=timezone.now() + timedelta(minutes=1))
    account.refresh_from_db()


@pytest.fixture
def stored(fleet):
    """An account whose pair never reaches Smartcar: for what happens at rest."""
    pair = client.TokenPair(
        access_token="access-" + "a" * 40,
        refresh_token="refresh-" + "r" * 40,
        access_expires_at=timezone.now() + timedelta(hours=2),
        refresh_expires_at=timezone.now() + timedelta(days=60),
    )
    account = SmartcarAccount(fleet=fleet, smartcar_user_id="e0514ef4-5226-11e8-8c13-8f6e8f02e27e")
    tokens.account_store_tokens(account=account, pair=pair)
    account.save()
    return account, pair


def test_tokens_in_the_database_are_not_readable_without_the_key(stored):
    account, pair = stored
    row = SmartcarAccount.objects.filter(pk=account.pk).values().get()
    at_rest = " ".join(str(value) for value in row.values())
    assert pair.access_token not in at_rest
    assert pair.refresh_token not in at_rest
    assert "a" * 40 not in at_rest
    with pytest.raises(InvalidToken):
        Fernet(Fernet.generate_key()).decrypt(row["access_token_encrypted"].encode())
    assert vault.decrypt(row["refresh_token_encrypted"]) == pair.refresh_token
    assert pair.access_token not in repr(pair)


def test_rotating_keys_reencrypts_every_token_with_the_newest(stored, settings):
    account, simulated_grant = stored
    old_key = settings.TOKEN_ENCRYPTION_KEYS[0]
    new_key = Fernet.generate_key().decode()
    before = SmartcarAccount.objects.values_list("access_token_encrypted", flat=True).get(pk=account.pk)
    with override_settings(TOKEN_ENCRYPTION_KEYS=[new_key, old_key]):
        out = io.StringIO()
        call_command("rotate_token_keys", stdout=out)
    assert "1 Smartcar account" in out.getvalue()
    account.refresh_from_db()
    assert account.access_token_encrypted != before
    with override_settings(TOKEN_ENCRYPTION_KEYS=[new_key]):
        assert vault.decrypt(account.access_token_encrypted) == simulated_grant.access_token
        assert vault.decrypt(account.refresh_token_encrypted) == simulated_grant.refresh_token
    with override_settings(TOKEN_ENCRYPTION_KEYS=[old_key]), pytest.raises(vault.VaultError):
        vault.decrypt(account.access_token_encrypted)


def test_a_fresh_access_token_is_used_without_calling_smartcar(account, simulated_grant):
    assert tokens.account_access_token(account=account) == simulated_grant.access_token
    assert simulator_refresh_count() == 0


def test_a_token_about_to_expire_is_refreshed_and_the_rotated_refresh_token_saved(account, simulated_grant):
    _expire_access(account)
    access = tokens.account_access_token(account=account)
    assert access != simulated_grant.access_token
    assert simulator_refresh_count() == 1
    stored = SmartcarAccount.objects.get(pk=account.pk)
    assert vault.decrypt(stored.access_token_encrypted) == access
    assert vault.decrypt(stored.refresh_token_encrypted) != simulated_grant.refresh_token
    assert stored.access_expires_at > timezone.now() + timedelta(hours=1)
    # The rotated refresh token works for the next refresh, long after the old one stopped working.
    _expire_access(stored)
    with_new_pair = tokens.account_access_token(account=stored)
    assert with_new_pair not in (access, simulated_grant.access_token)
    assert simulator_refresh_count() == 2


def test_concurrent_workers_cause_exactly_one_refresh_and_share_the_new_pair(account):
    # Row locks are what this proves; SQLite has none (its claim-based path serialises differently).
    require_service(connection.vendor == "postgresql", "PostgreSQL")
    _expire_access(account)
    workers = 8
    start = threading.Barrier(workers)
    results: list[str] = []
    failures: list[BaseException] = []

    def worker():
        try:
            mine = SmartcarAccount.objects.get(pk=account.pk)
            start.wait()
            results.append(tokens.account_access_token(account=mine))
        except BaseException as exc:
            failures.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert failures == []
    assert len(results) == workers
    assert simulator_refresh_count() == 1
    assert len(set(results)) == 1
    assert vault.decrypt(SmartcarAccount.objects.get(pk=account.pk).access_token_encrypted) == results[0]


def test_a_refused_refresh_token_marks_the_account_needs_reconnect(account, simulated_grant):
    simulated_grant.delete()  # revoked at Smartcar: the refresh token is unknown now
    _expire_access(account)
    with pytest.raises(tokens.ReconnectRequired):
        tokens.account_access_token(account=account)
    stored = SmartcarAccount.objects.get(pk=account.pk)
    assert stored.status == AccountStatus.NEEDS_RECONNECT
    assert "invalid_grant" in stored.last_error
    assert simulated_grant.refresh_token not in stored.last_error
    # Its vehicles' workers stop asking Smartcar at all.
    with pytest.raises(tokens.ReconnectRequired):
        tokens.account_access_token(account=stored)


def test_a_broken_token_endpoint_keeps_the_account_as_it_was(account, simulated_grant, caplog):
    _expire_access(account)
    before = SmartcarAccount.objects.values().get(pk=account.pk)
    for auth_url, expected in (
        ("http://127.0.0.1:9/oauth/token", TransportError),  # nothing listens: the token endpoint is down
        ("http://localhost/healthz", MalformedResponseError),  # answers, but not an OAuth token body
    ):
        with override_settings(SMARTCAR_AUTH_URL=auth_url), pytest.raises(expected) as failure:
            tokens.account_access_token(account=account)
        # An error report (the DEBUG page, the e-mail to admins) shows every frame's locals: never the tokens.
        report = ExceptionReporter(None, failure.type, failure.value, failure.tb).get_traceback_html()
        assert "_refresh_under" in report
        assert simulated_grant.refresh_token not in report
        assert simulated_grant.access_token not in report
        after = SmartcarAccount.objects.values().get(pk=account.pk)
        assert after["status"] == AccountStatus.ACTIVE
        assert after["refresh_token_encrypted"] == before["refresh_token_encrypted"]
    assert simulated_grant.refresh_token not in caplog.text
    # Once it is back, the same refresh token still works.
    assert tokens.account_access_token(account=account) != simulated_grant.access_token


def test_the_periodic_task_renews_refresh_tokens_nearing_their_60_day_end(account, fleet):
    ending = timezone.now() + timedelta(days=3)
    SmartcarAccount.objects.filter(pk=account.pk).update(refresh_expires_at=ending)
    assert accounts_refresh_ending() == 1
    stored = SmartcarAccount.objects.get(pk=account.pk)
    assert stored.refresh_expires_at > timezone.now() + timedelta(days=59)
    assert simulator_refresh_count() == 1
    # A second run finds nothing to do.
    assert accounts_refresh_ending() == 0
    assert simulator_refresh_count() == 1
