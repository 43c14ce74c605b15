"""Smartcar tokens at rest: encrypted with Fernet, under keys that can rotate.

``settings.TOKEN_ENCRYPTION_KEYS`` lists Fernet keys newest first. MultiFernet encrypts with the first and
decrypts with any, so an operator rotates by prepending a new key, running ``manage.py rotate_token_keys``
(which re-encrypts every stored token with the newest key) and then dropping the old key.
Plain tokens exist only in memory, for the length of one call; they are never logged.
"""

from __future__ import annotations

from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.views.decorators.debug import sensitive_variables


class VaultError(Exception):
    """A stored token cannot be decrypted with any configured key (a key was dropped too early)."""


@lru_cache(maxsize=4)
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(key) for key in keys])


def _current() -> MultiFernet:
    return _fernet(tuple(settings.TOKEN_ENCRYPTION_KEYS))


@sensitive_variables()
def encrypt(token: str) -> str:
    return _current().encrypt(token.encode()).decode()


@sensitive_variables()
def decrypt(ciphertext: str) -> str:
    try:
        return _current().decrypt(ciphertext.encode()).decode()
    except InvalidToken:
        raise VaultError("A stored Smartcar token cannot be decrypted with the configured keys") from None


@sensitive_variables()
def reencrypt(ciphertext: str) -> str:
    """The same token encrypted with the newest key (MultiFernet.rotate)."""
    try:
        return _current().rotate(ciphertext.encode()).decode()
    except InvalidToken:
        raise VaultError("A stored Smartcar token cannot be decrypted with the configured keys") from None
