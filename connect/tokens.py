"""The token vault's services: a valid access token on demand, refreshed exactly once however many ask.

Smartcar access tokens live 2 hours and refresh tokens 60 days; every refresh spends the refresh token and
issues a new pair (authorization__token-refresh.md). Two workers refreshing the same account at once would
therefore lock the account out: the second presents a spent refresh token and gets ``invalid_grant``.
So a refresh happens under a row lock (``select_for_update``): the first worker calls the token endpoint and
saves the new pair in the same transaction; the others wait for the lock, see a fresh access token, and use it.

SQLite has no row locks and allows one writer at a time, so holding a transaction open across the token call
would block the simulator's own writes (and everyone else's). There a conditional UPDATE claims the refresh
instead (``refresh_claimed_until``), the call happens outside any transaction, and the new pair is saved in one
short transaction; the other workers poll the row until the pair changes.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import timedelta

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from connect import client, vault
from connect.errors import OAuthError, SmartcarError, TransportError
from connect.models import AccountStatus, SmartcarAccount
from fleet.errors import ApplicationError
from vehicles.signals import vehicles_changed_send

logger = logging.getLogger(__name__)

# Refresh this long before the access token expires: covers clock skew between us and Smartcar and the time a
# long vehicle call takes after the token was read.
ACCESS_MARGIN = timedelta(minutes=5)
# The periodic task renews refresh tokens this long before their 60-day end, so an account whose vehicles were
# not read for weeks (a paused fleet) does not silently expire.
REFRESH_TOKEN_RENEW_BEFORE = timedelta(days=7)
# How long a claimed refresh may take on SQLite before another worker may try (token call timeout + slack).
CLAIM_FOR = timedelta(seconds=45)
CLAIM_POLL_SECONDS = 0.1


class ReconnectRequired(ApplicationError):
    """The account's grant is gone (refresh token spent, expired or revoked): only running Connect again helps."""

    user_message = "Smartcar no longer accepts this connection; the owner must reconnect it."
    resolution = "Ask the vehicle's owner to reconnect it on the Connections page."

    def __init__(self, account: SmartcarAccount):
        self.account = account
        super().__init__()

    def __str__(self) -> str:
        return f"Smartcar account {self.account.pk} needs reconnect"


@sensitive_variables()
def account_store_tokens(*, account: SmartcarAccount, pair: client.TokenPair) -> None:
    """Puts a new pair on the instance, encrypted (the caller saves it)."""
    account.access_token_encrypted = vault.encrypt(pair.access_token)
    account.refresh_token_encrypted = vault.encrypt(pair.refresh_token)
    account.access_expires_at = pair.access_expires_at
    account.refresh_expires_at = pair.refresh_expires_at
    account.last_refreshed_at = timezone.now()


def account_without_tokens(*, account: SmartcarAccount) -> None:
    """An account of API v3, which has no token pair (one application token serves every user): no secret is stored,
    and the expiry times say nothing is due (connect/transports.py)."""
    now = timezone.now()
    account.access_token_encrypted = account.refresh_token_encrypted = ""
    account.access_expires_at = account.refresh_expires_at = now
    account.last_refreshed_at = None


def account_mark_needs_reconnect(*, account: SmartcarAccount, reason: str) -> None:
    """Stops the account's vehicles from syncing until the owner runs Connect again.

    Callers that get a REAUTHENTICATE resolution from any Smartcar call use this too.
    """
    SmartcarAccount.objects.filter(pk=account.pk).update(
        status=AccountStatus.NEEDS_RECONNECT, last_error=reason[:500], updated_at=timezone.now()
    )
    account.status = AccountStatus.NEEDS_RECONNECT
    account.last_error = reason[:500]
    vehicles_changed_send(vehicle_ids=account.vehicles.values_list("pk", flat=True), source="connection")
    logger.warning("smartcar account %s needs reconnect: %s", account.pk, reason)


def _access_is_fresh(account: SmartcarAccount) -> bool:
    return account.access_expires_at > timezone.now() + ACCESS_MARGIN


def _refresh_token_is_ending(account: SmartcarAccount) -> bool:
    return account.refresh_expires_at <= timezone.now() + REFRESH_TOKEN_RENEW_BEFORE


@sensitive_variables()
def account_access_token(*, account: SmartcarAccount) -> str:
    """A valid access token for the account, refreshing it first when it is about to expire.

    Raises ReconnectRequired when the grant is gone, and the client's errors (TransportError, ServerError…) when
    the token endpoint cannot be reached — then the old state is kept and a later call tries again.
    """
    if account.status != AccountStatus.ACTIVE:
        raise ReconnectRequired(account)
    if _access_is_fresh(account):
        return vault.decrypt(account.access_token_encrypted)
    return account_refresh(account=account, needed=lambda a: not _access_is_fresh(a))


def account_refresh_if_ending(*, account: SmartcarAccount) -> bool:
    """Refreshes an account whose refresh token nears its 60-day end; True if it refreshed (periodic task)."""
    if account.status != AccountStatus.ACTIVE or not _refresh_token_is_ending(account):
        return False
    before = account.refresh_token_encrypted
    account_refresh(account=account, needed=_refresh_token_is_ending)
    return account.refresh_token_encrypted != before


@sensitive_variables()
def account_refresh(*, account: SmartcarAccount, needed: Callable[[SmartcarAccount], bool] = lambda a: True) -> str:
    """Refreshes the pair unless, once the account is held exclusively, ``needed`` says it no longer is.

    ``account`` is updated in place with the stored state; the access token is returned.
    """
    if connection.features.has_select_for_update:
        return _refresh_under_row_lock(account, needed)
    return _refresh_under_claim(account, needed)


@sensitive_variables()
def _refresh_under_row_lock(account: SmartcarAccount, needed) -> str:
    lost_grant: OAuthError | SmartcarError | None = None
    with transaction.atomic():
        locked = SmartcarAccount.objects.select_for_update().get(pk=account.pk)
        _copy_state(locked, account)
        if locked.status != AccountStatus.ACTIVE:
            raise ReconnectRequired(account)
        if not needed(locked):
            # Another worker refreshed while this one waited for the lock: use its pair.
            return vault.decrypt(locked.access_token_encrypted)
        try:
            pair = client.refresh_tokens(vault.decrypt(locked.refresh_token_encrypted))
        except SmartcarError as exc:
            if not exc.needs_reconnect:
                raise
            lost_grant = exc
        else:
            account_store_tokens(account=locked, pair=pair)
            locked.last_error = ""
            # The rotated refresh token is saved in this same transaction: the old one is already spent.
            locked.save()
            _copy_state(locked, account)
            logger.info("smartcar account %s: token pair refreshed", account.pk)
            return pair.access_token
    # Outside the atomic block, so that recording the lost grant is committed, not rolled back with the raise.
    account_mark_needs_reconnect(account=account, reason=_reason(lost_grant))
    raise ReconnectRequired(account) from lost_grant


@sensitive_variables()
def _refresh_under_claim(account: SmartcarAccount, needed) -> str:
    deadline = time.monotonic() + CLAIM_FOR.total_seconds()
    while True:
        now = timezone.now()
        claimed = (
            SmartcarAccount.objects.filter(pk=account.pk)
            .filter(Q(refresh_claimed_until__isnull=True) | Q(refresh_claimed_until__lt=now))
            .update(refresh_claimed_until=now + CLAIM_FOR)
        )
        current = SmartcarAccount.objects.get(pk=account.pk)
        _copy_state(current, account)
        if current.status != AccountStatus.ACTIVE:
            _release_claim(account, claimed)
            raise ReconnectRequired(account)
        if not needed(current):
            _release_claim(account, claimed)
            return vault.decrypt(current.access_token_encrypted)
        if claimed:
            break
        if time.monotonic() > deadline:
            raise TransportError("Another worker's token refresh did not finish in time", type="TRANSPORT")
        time.sleep(CLAIM_POLL_SECONDS)
    try:
        pair = client.refresh_tokens(vault.decrypt(current.refresh_token_encrypted))
    except SmartcarError as exc:
        _release_claim(account, True)
        if not exc.needs_reconnect:
            raise
        account_mark_needs_reconnect(account=account, reason=_reason(exc))
        raise ReconnectRequired(account) from exc
    with transaction.atomic():
        account_store_tokens(account=current, pair=pair)
        current.last_error = ""
        current.refresh_claimed_until = None
        current.save()
    _copy_state(current, account)
    logger.info("smartcar account %s: token pair refreshed", account.pk)
    return pair.access_token


def _release_claim(account: SmartcarAccount, claimed) -> None:
    if claimed:
        SmartcarAccount.objects.filter(pk=account.pk).update(refresh_claimed_until=None)


def _copy_state(source: SmartcarAccount, target: SmartcarAccount) -> None:
    if source is target:
        return
    for name in (
        "access_token_encrypted",
        "refresh_token_encrypted",
        "access_expires_at",
        "refresh_expires_at",
        "status",
        "last_error",
        "last_refreshed_at",
        "refresh_claimed_until",
    ):
        setattr(target, name, getattr(source, name))


def _reason(error: SmartcarError | None) -> str:
    if error is None:
        return "Smartcar refused the token refresh."
    # The description comes from Smartcar and never contains the token; the code says what kind of refusal.
    label = error.code or error.type or "refused"
    return f"Token refresh refused ({label}): {error.description}"[:500]
