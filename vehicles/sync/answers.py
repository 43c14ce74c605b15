"""What each answer does to its endpoint and to its vehicle: a pure function of the error, tested by a table.

Reference: smartcar-api/api-errors.md (types, codes and the resolution each carries).
"""

from dataclasses import dataclass
from enum import StrEnum

from connect.errors import (
    AuthenticationError,
    BillingError,
    CompatibilityError,
    PermissionDeniedError,
    RateLimitError,
    ResourceNotFoundError,
    SmartcarError,
    UpstreamError,
    ValidationError,
    VehicleStateError,
)

# VEHICLE_STATE codes that mean "the vehicle cannot be reached now": back off the whole vehicle.
UNAVAILABLE_CODES = frozenset({"ASLEEP", "UNREACHABLE", "VEHICLE_OFFLINE_FOR_SERVICE"})


class ForEndpoint(StrEnum):
    """What happens to the endpoint that got the answer."""

    AS_USUAL = "as usual"  # read again at its usual cadence (or when the vehicle's back-off ends)
    RETRY = "retry"  # server trouble: read again after a wait that doubles with each failure
    PARK = "park"  # this vehicle cannot serve it: read again in days, once
    DROP = "drop"  # not granted: not read until the vehicle's permissions change


class ForVehicle(StrEnum):
    """What happens to the whole vehicle (and beyond it) because of the answer."""

    NOTHING = "nothing"
    BACK_OFF = "back off"  # asleep or unreachable: no request before a wait that doubles with each answer
    RATE_LIMITED = "rate limited"  # 429: no request before its Retry-After
    QUOTA_SPENT = "quota spent"  # the car maker's calls of the day are spent: no request before the next day
    RECONNECT = "reconnect"  # the grant is gone: the account waits for its owner to reconnect
    # This vehicle's connection is gone (deleted at Smartcar, or its owner withdrew it), not the account's grant: it
    # needs reconnect, and is asked again after a wait that doubles with each refusal.
    ACCESS_LOST = "access lost"
    PAUSE_FLEET = "pause fleet"  # 430 BILLING: the fleet's polling pauses and its owners are told


@dataclass(frozen=True)
class Effect:
    endpoint: ForEndpoint
    vehicle: ForVehicle = ForVehicle.NOTHING
    # The endpoint's error is shown in the owner's words (error.user_message) rather than Smartcar's description.
    owner_words: bool = False


def effect_of(error: SmartcarError, *, whole_request: bool) -> Effect:
    """What ``error`` does; ``whole_request``: the request as a whole failed, rather than one path of it (or every
    path of it was refused alike: ``every_read_refused``)."""
    if isinstance(error, RateLimitError):
        return Effect(ForEndpoint.AS_USUAL, ForVehicle.RATE_LIMITED)
    if isinstance(error, UpstreamError) and error.code == "RATE_LIMIT":
        # The car maker's own limit on the vehicle (changelog__2022.md, May 5, 2022): Hyundai and Kia answer it once
        # their calls of the day are spent. Every path would get it until they renew.
        return Effect(ForEndpoint.AS_USUAL, ForVehicle.QUOTA_SPENT)
    if isinstance(error, VehicleStateError) and error.code in UNAVAILABLE_CODES:
        return Effect(ForEndpoint.AS_USUAL, ForVehicle.BACK_OFF)
    if isinstance(error, AuthenticationError) or (
        error.needs_reconnect and whole_request and not isinstance(error, PermissionDeniedError)
    ):
        # 401, or the whole request refused with REAUTHENTICATE: the grant is gone, only Connect helps.
        return Effect(ForEndpoint.AS_USUAL, ForVehicle.RECONNECT)
    if isinstance(error, PermissionDeniedError):
        if whole_request:
            # Every read of the vehicle refused: its access is gone, not one permission. Its endpoints are kept, so
            # that a reconnect restores every reading.
            return Effect(ForEndpoint.AS_USUAL, ForVehicle.ACCESS_LOST)
        return Effect(ForEndpoint.DROP)
    if isinstance(error, BillingError):
        return Effect(ForEndpoint.AS_USUAL, ForVehicle.PAUSE_FLEET)
    if isinstance(error, CompatibilityError | ResourceNotFoundError):
        # 501: this vehicle cannot serve it (yet); 404: the platform does not know the path for it. Either way asking
        # again soon only spends budget.
        return Effect(ForEndpoint.PARK)
    if isinstance(error, VehicleStateError):
        # e.g. CHARGING_PLUG_NOT_CONNECTED: a normal answer in this state.
        return Effect(ForEndpoint.AS_USUAL)
    if error.needs_reconnect:
        # One path refused with REAUTHENTICATE (e.g. /tesla/virtual_key answering CONNECTED_SERVICES_ACCOUNT:
        # VEHICLE_MISSING to a driver's account) concerns that feature of that vehicle, not the account's grant: the
        # other paths answered. Parked like an unsupported endpoint, with the owner's message.
        return Effect(ForEndpoint.PARK, owner_words=True)
    return Effect(ForEndpoint.RETRY)


def every_read_refused(answers: list) -> bool:
    """Every path asked was refused as unauthorised, and two or more were asked: the vehicle's access is gone rather
    than one feature of it (a single path refused is more likely that feature alone)."""
    return len(answers) >= 2 and all(isinstance(a, AuthenticationError | PermissionDeniedError) for a in answers)


def refused_by_batch(error: SmartcarError) -> bool:
    """Whether a make-specific path's error inside a batch may be the batch refusing the path rather than the
    vehicle answering: the path is then asked with a call of its own, whose answer decides.

    batch.md says the batch returns "responses from multiple Smartcar GET endpoints" and names no exception, and
    about-brand-specific.md only that make-specific paths take the make in lower case; an implementation that routes
    only core paths inside a batch answers them as an unknown path, an invalid request, an incompatible make or a
    PERMISSION error. Reading directly costs one call, once; parking the path would hide its data for days.
    """
    return isinstance(error, ResourceNotFoundError | ValidationError | CompatibilityError | PermissionDeniedError)
