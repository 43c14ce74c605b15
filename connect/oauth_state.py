"""The OAuth ``state`` of a Connect attempt: random, bound to the session, single use, valid 10 minutes.

The state travels to Smartcar Connect and back; what it stands for (which fleet, which signed-in user, which
account is being reconnected, where to land afterwards) stays in the session and never leaves the server.
Several pending attempts may coexist (two tabs); each is consumed by the first callback that presents it.
"""

from __future__ import annotations

import hmac
import secrets
import time
from dataclasses import dataclass

from fleet.errors import ApplicationError

SESSION_KEY = "connect_states"
STATE_LIFETIME_SECONDS = 10 * 60
MAX_PENDING = 5


class StateError(ApplicationError):
    """The callback's state is missing, unknown (forged, replayed, another session's) or expired."""

    def __init__(self, reason: str, user_message: str):
        self.reason = reason
        super().__init__(user_message)

    def __str__(self) -> str:
        return self.reason


@dataclass(frozen=True)
class PendingConnect:
    fleet_id: int
    user_id: int
    account_id: int | None
    next_url: str | None


def state_issue(session, *, fleet_id: int, user_id: int, account_id: int | None = None, next_url: str | None = None):
    """A new state for ``session``; older pending states beyond the last few are dropped."""
    state = secrets.token_urlsafe(32)
    now = time.time()
    pending = [entry for entry in session.get(SESSION_KEY, []) if entry["expires"] > now][-(MAX_PENDING - 1) :]
    pending.append(
        {
            "state": state,
            "expires": now + STATE_LIFETIME_SECONDS,
            "fleet_id": fleet_id,
            "user_id": user_id,
            "account_id": account_id,
            "next": next_url,
        }
    )
    session[SESSION_KEY] = pending
    return state


def state_consume(session, state: str | None, *, user_id: int) -> PendingConnect:
    """The pending attempt ``state`` stands for, removed from the session so it cannot be used again."""
    if not state:
        raise StateError("missing state", "The answer from Smartcar was incomplete. Please start again.")
    pending = session.get(SESSION_KEY, [])
    match = None
    for entry in pending:
        # Constant-time comparison with every pending state: timing must not reveal how much of a guess is right.
        if hmac.compare_digest(str(entry["state"]).encode(), state.encode()):
            match = entry
    if match is None:
        raise StateError(
            "unknown state",
            "This Connect answer does not belong to a connection started here, or was already used. "
            "Please start again from “Connect vehicles”.",
        )
    session[SESSION_KEY] = [entry for entry in pending if entry is not match]
    if match["expires"] <= time.time():
        raise StateError("expired state", "The connection took longer than 10 minutes. Please start again.")
    if match["user_id"] != user_id:
        raise StateError("state of another user", "This Connect answer belongs to another user. Please start again.")
    return PendingConnect(
        fleet_id=match["fleet_id"], user_id=match["user_id"], account_id=match["account_id"], next_url=match["next"]
    )
