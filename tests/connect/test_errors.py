import json

import pytest

from connect import errors
from connect.errors import error_from_response


def body(**fields) -> bytes:
    return json.dumps(fields).encode()


def v3_envelope(*, type, code, description, statusCode, **rest) -> bytes:
    """The same error in API v3's envelope (smartcar-api-v3/errors.md)."""
    item = {"status": str(statusCode), "type": type, "code": code, "title": "T", "detail": description, **rest}
    return json.dumps({"errors": [item]}).encode()


@pytest.fixture(params=["2.0", "3"])
def error_body(request):
    """An error body as each API version writes it."""
    return body if request.param == "2.0" else v3_envelope


@pytest.mark.parametrize(
    ("status", "error_type", "code", "expected"),
    [
        (400, "CONNECTED_SERVICES_ACCOUNT", "SUBSCRIPTION", errors.ConnectedServicesAccountError),
        (400, "VALIDATION", "PARAMETER", errors.ValidationError),
        (401, "AUTHENTICATION", None, errors.AuthenticationError),
        (403, "PERMISSION", None, errors.PermissionDeniedError),
        (404, "RESOURCE_NOT_FOUND", "PATH", errors.ResourceNotFoundError),
        (409, "VEHICLE_STATE", "ASLEEP", errors.VehicleStateError),
        (429, "RATE_LIMIT", "VEHICLE", errors.RateLimitError),
        (430, "BILLING", "VEHICLE_REQUEST_LIMIT", errors.BillingError),
        (500, "SERVER", "INTERNAL", errors.ServerError),
        (500, "MULTIPLE_RECORDS_FOUND", "INTERNAL", errors.ServerError),
        (501, "COMPATIBILITY", "VEHICLE_NOT_CAPABLE", errors.CompatibilityError),
        (502, "UPSTREAM", "NO_RESPONSE", errors.UpstreamError),
    ],
)
def test_each_documented_type_becomes_its_own_exception(status, error_type, code, expected, error_body):
    error = error_from_response(status, {}, error_body(type=error_type, code=code, description="d", statusCode=status))
    assert type(error) is expected
    assert (error.type, error.code, error.status) == (error_type, code, status)


def test_every_documented_field_is_carried():
    error = error_from_response(
        429,
        {"Retry-After": "30", "SC-Request-Id": "from-header"},
        body(
            type="RATE_LIMIT",
            code="VEHICLE",
            description="Too many requests",
            docURL="https://smartcar.com/docs/errors/api-errors/rate-limit-errors#vehicle",
            statusCode=429,
            requestId="5dea93a1-3f79-4246-90bb-64ce8b9c8c22",
            resolution={"type": "RETRY_LATER"},
        ),
    )
    assert error.retry_after == 30
    assert error.request_id == "5dea93a1-3f79-4246-90bb-64ce8b9c8c22"
    assert error.resolution == errors.RETRY_LATER and error.should_retry_later
    assert error.doc_url.endswith("#vehicle")
    assert error.description == "Too many requests"


def test_validation_detail_is_kept():
    detail = [{"field": "limit", "message": "must be at least 0.5"}]
    error = error_from_response(400, {}, body(type="VALIDATION", code="PARAMETER", description="bad", detail=detail))
    assert error.detail == detail


def test_reauthenticate_resolution_asks_for_reconnect():
    error = error_from_response(
        401, {}, body(type="AUTHENTICATION", code=None, description="expired", resolution={"type": "REAUTHENTICATE"})
    )
    assert error.needs_reconnect


def test_smartcars_suggested_message_is_shown_to_people_when_given():
    error = error_from_response(
        409, {}, body(type="VEHICLE_STATE", code="DOOR_OPEN", description="d", suggestedUserMessage="Close the door.")
    )
    assert error.user_message == "Close the door."


def test_a_known_code_gets_plain_words():
    error = error_from_response(409, {}, body(type="VEHICLE_STATE", code="ASLEEP", description="Vehicle asleep"))
    assert "asleep" in error.user_message
    assert "VEHICLE_STATE" not in error.user_message


def test_oauth_invalid_grant_means_reconnect():
    error = error_from_response(400, {}, body(error="invalid_grant", error_description="Refresh token expired"))
    assert isinstance(error, errors.OAuthError)
    assert error.error == "invalid_grant"
    assert error.needs_reconnect
    assert error.description == "Refresh token expired"


def test_other_oauth_errors_are_for_support():
    error = error_from_response(401, {}, body(error="invalid_client"))
    assert isinstance(error, errors.OAuthError)
    assert not error.needs_reconnect
    assert error.resolution == errors.CONTACT_SUPPORT


@pytest.mark.parametrize("raw", [b"<html>Bad gateway</html>", b"", b"\xff\xfe", b"[1, 2"])
def test_a_body_that_is_not_json_is_a_malformed_response(raw):
    error = error_from_response(502, {}, raw)
    assert isinstance(error, errors.MalformedResponseError)
    assert error.status == 502
    assert error.should_retry_later


def test_unknown_type_falls_back_on_the_status():
    assert isinstance(error_from_response(409, {}, body(type="NEW_THING", code="X")), errors.VehicleStateError)
    assert isinstance(error_from_response(503, {}, body(type="NEW_THING", code="X")), errors.ServerError)


def test_a_v3_envelope_carries_its_resolution_link_and_user_message():
    item = {
        "status": "409",
        "type": "VEHICLE_STATE",
        "code": "ASLEEP",
        "title": "Asleep",
        "detail": "The vehicle is asleep.",
        "links": {"about": "https://smartcar.com/docs/errors/api-errors/v3/vehicle-state-errors"},
        "resolution": {"type": "RETRY_LATER"},
        "suggestedUserMessage": "Start the car.",
    }
    error = error_from_response(409, {"SC-Request-Id": "r-1"}, json.dumps({"errors": [item]}).encode())
    assert isinstance(error, errors.VehicleStateError)
    assert (error.description, error.doc_url, error.request_id) == (
        "The vehicle is asleep.",
        item["links"]["about"],
        "r-1",
    )
    assert error.should_retry_later and error.user_message == "Start the car."


def test_an_empty_v3_envelope_falls_back_on_the_status():
    error = error_from_response(401, {}, json.dumps({"errors": []}).encode())
    assert isinstance(error, errors.AuthenticationError) and error.needs_reconnect
