"""What each answer does to its endpoint and its vehicle (vehicles/sync/answers.py), error by error.

Each error is built from its documented body (smartcar-api/api-errors.md) the way the client builds it.
"""

import pytest

from connect.errors import MalformedResponseError, TransportError, error_from_body
from vehicles.sync.answers import Effect, ForEndpoint, ForVehicle, effect_of

RETRY, PARK, DROP, AS_USUAL = ForEndpoint.RETRY, ForEndpoint.PARK, ForEndpoint.DROP, ForEndpoint.AS_USUAL


def documented(status: int, type_: str, code: str | None, resolution: str | None):
    body = {"type": type_, "code": code, "description": "…", "statusCode": status, "requestId": "r-1"}
    if resolution:
        body["resolution"] = {"type": resolution}
    return error_from_body(status, {"retry-after": "30"} if status == 429 else None, body)


# (status, type, code, resolution, the whole request failed?) → effect
TABLE = [
    # Server trouble: the endpoint is asked again after a wait that doubles.
    ((500, "SERVER", "INTERNAL", "RETRY_LATER", False), Effect(RETRY)),
    ((502, "UPSTREAM", "UNKNOWN_ISSUE", "RETRY_LATER", False), Effect(RETRY)),
    ((502, "UPSTREAM", "NO_RESPONSE", "RETRY_LATER", True), Effect(RETRY)),
    ((400, "VALIDATION", "PARAMETER", "CONTACT_SUPPORT", False), Effect(RETRY)),
    # The vehicle cannot be reached: the whole vehicle backs off; its endpoints keep their cadence.
    ((409, "VEHICLE_STATE", "ASLEEP", "RETRY_LATER", True), Effect(AS_USUAL, ForVehicle.BACK_OFF)),
    ((409, "VEHICLE_STATE", "UNREACHABLE", "RETRY_LATER", False), Effect(AS_USUAL, ForVehicle.BACK_OFF)),
    ((409, "VEHICLE_STATE", "VEHICLE_OFFLINE_FOR_SERVICE", None, False), Effect(AS_USUAL, ForVehicle.BACK_OFF)),
    ((429, "RATE_LIMIT", "VEHICLE", "RETRY_LATER", True), Effect(AS_USUAL, ForVehicle.RATE_LIMITED)),
    ((429, "RATE_LIMIT", "SMARTCAR_API", "RETRY_LATER", False), Effect(AS_USUAL, ForVehicle.RATE_LIMITED)),
    # The car maker's calls of the day are spent (Hyundai, Kia): the vehicle waits for the next day.
    ((502, "UPSTREAM", "RATE_LIMIT", "RETRY_LATER", False), Effect(AS_USUAL, ForVehicle.QUOTA_SPENT)),
    ((502, "UPSTREAM", "RATE_LIMIT", "RETRY_LATER", True), Effect(AS_USUAL, ForVehicle.QUOTA_SPENT)),
    # A normal answer in the vehicle's state.
    ((409, "VEHICLE_STATE", "CHARGING_PLUG_NOT_CONNECTED", None, False), Effect(AS_USUAL)),
    ((409, "VEHICLE_STATE", "NOT_CHARGING", None, False), Effect(AS_USUAL)),
    # The grant is gone: the account needs reconnect.
    ((401, "AUTHENTICATION", None, "REAUTHENTICATE", True), Effect(AS_USUAL, ForVehicle.RECONNECT)),
    ((401, "AUTHENTICATION", None, "REAUTHENTICATE", False), Effect(AS_USUAL, ForVehicle.RECONNECT)),
    (
        (400, "CONNECTED_SERVICES_ACCOUNT", "AUTHENTICATION_FAILED", "REAUTHENTICATE", True),
        Effect(AS_USUAL, ForVehicle.RECONNECT),
    ),
    # One path refused with REAUTHENTICATE while the others answered: that feature only.
    ((400, "CONNECTED_SERVICES_ACCOUNT", "VEHICLE_MISSING", "REAUTHENTICATE", False), Effect(PARK, owner_words=True)),
    # One path not granted: dropped until the permissions change. Every read refused: the vehicle's access is gone.
    ((403, "PERMISSION", None, "REAUTHENTICATE", False), Effect(DROP)),
    ((403, "PERMISSION", None, "REAUTHENTICATE", True), Effect(AS_USUAL, ForVehicle.ACCESS_LOST)),
    # The vehicle or the platform cannot serve it: parked for days.
    ((501, "COMPATIBILITY", "VEHICLE_NOT_CAPABLE", None, False), Effect(PARK)),
    ((501, "COMPATIBILITY", "MAKE_NOT_COMPATIBLE", None, False), Effect(PARK)),
    ((404, "RESOURCE_NOT_FOUND", "PATH", "CONTACT_SUPPORT", False), Effect(PARK)),
    # The plan does not cover it: the fleet pauses.
    ((430, "BILLING", "VEHICLE_REQUEST_LIMIT", "CONTACT_SUPPORT", False), Effect(AS_USUAL, ForVehicle.PAUSE_FLEET)),
    ((430, "BILLING", "ACCOUNT_SUSPENDED", None, True), Effect(AS_USUAL, ForVehicle.PAUSE_FLEET)),
]


@pytest.mark.parametrize(("answer", "effect"), TABLE, ids=[":".join(map(str, row[0][:3])) for row in TABLE])
def test_what_each_documented_error_does(answer, effect):
    status, type_, code, resolution, whole_request = answer
    assert effect_of(documented(status, type_, code, resolution), whole_request=whole_request) == effect


@pytest.mark.parametrize(
    "error",
    [
        TransportError("timed out", type="TRANSPORT", code="TIMEOUT", resolution="RETRY_LATER"),
        MalformedResponseError("not JSON", type="MALFORMED", resolution="RETRY_LATER"),
    ],
    ids=["timeout", "malformed"],
)
def test_no_answer_or_an_unreadable_one_is_asked_again_later(error):
    assert effect_of(error, whole_request=True) == Effect(RETRY)


def test_every_read_refused_is_lost_access_and_one_refusal_is_one_feature():
    from vehicles.sync.answers import every_read_refused

    refused = documented(403, "PERMISSION", None, None)
    signed_out = documented(401, "AUTHENTICATION", None, "REAUTHENTICATE")
    server = documented(500, "SERVER", "INTERNAL", "RETRY_LATER")
    assert every_read_refused([refused, refused, signed_out])
    assert not every_read_refused([refused])  # a single path refused: more likely that feature alone
    assert not every_read_refused([refused, server])
    assert not every_read_refused([refused, None])
