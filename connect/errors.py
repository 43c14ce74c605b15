"""Every way a Smartcar call can fail, as one exception hierarchy.

Callers branch on the class or on ``resolution`` (RETRY_LATER, REAUTHENTICATE, CONTACT_SUPPORT), never on
HTTP status numbers. ``user_message`` says what happened, never what Fleet will do next: that depends on the caller
(the sync engine tries again by itself, a command does not). ``error_from_response`` turns any non-2xx answer — a
documented error body, an OAuth error body from the token endpoint, or something that is not JSON at all — into the
right subclass.

Reference: smartcar-api/api-errors.md (the error body and the table of types, codes and statuses).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from connect.json_fields import mapping_at

RETRY_LATER = "RETRY_LATER"
REAUTHENTICATE = "REAUTHENTICATE"
CONTACT_SUPPORT = "CONTACT_SUPPORT"


class SmartcarError(Exception):
    """A failed Smartcar call, with every field of the documented error body."""

    default_user_message = "Smartcar could not complete the request."

    def __init__(
        self,
        description: str = "",
        *,
        type: str = "",  # the documented field name
        code: str | None = None,
        status: int | None = None,
        request_id: str | None = None,
        resolution: str | None = None,
        retry_after: int | None = None,
        detail: list | None = None,
        doc_url: str | None = None,
        suggested_user_message: str | None = None,
    ):
        self.type = type
        self.code = code
        self.status = status
        self.description = description
        self.request_id = request_id
        # A body without a resolution object still implies one for some types (a timeout: retry later).
        self.resolution = resolution or _DEFAULT_RESOLUTION.get(self.__class__)
        self.retry_after = retry_after
        self.detail = detail
        self.doc_url = doc_url
        self.suggested_user_message = suggested_user_message
        super().__init__(self._summary())

    def _summary(self) -> str:
        label = ":".join(part for part in (self.type, self.code) if part) or self.__class__.__name__
        status = f" ({self.status})" if self.status else ""
        request = f" [request {self.request_id}]" if self.request_id else ""
        return f"{label}{status}: {self.description}{request}"

    @property
    def user_message(self) -> str:
        """Plain words for a fleet manager. Smartcar's own suggestion wins when it sends one (changelog 2024)."""
        return self.suggested_user_message or _USER_MESSAGES.get((self.type, self.code)) or self.default_user_message

    @property
    def needs_reconnect(self) -> bool:
        return self.resolution == REAUTHENTICATE

    @property
    def should_retry_later(self) -> bool:
        return self.resolution == RETRY_LATER


# --- Documented error types (smartcar-api/api-errors.md) --------------------------------------------------------


class ConnectedServicesAccountError(SmartcarError):
    """400 CONNECTED_SERVICES_ACCOUNT: a problem with the owner's account at the car maker."""

    default_user_message = "The vehicle owner's connected-services account needs attention in the car maker's app."


class ValidationError(SmartcarError):
    """400 VALIDATION: the request was malformed; ``detail`` lists the offending fields."""

    default_user_message = "The request was not valid."


class AuthenticationError(SmartcarError):
    """401 AUTHENTICATION: the access token (or client credentials) was not accepted."""

    default_user_message = "Smartcar no longer accepts this connection. Reconnect the vehicles."


class PermissionDeniedError(SmartcarError):
    """403 PERMISSION: the grant lacks the permission this endpoint needs."""

    default_user_message = "The vehicle owner did not grant the permission this needs. Reconnect to grant it."


class ResourceNotFoundError(SmartcarError):
    """404 RESOURCE_NOT_FOUND: wrong path or API version."""

    default_user_message = "Smartcar does not know this request."


class VehicleStateError(SmartcarError):
    """409 VEHICLE_STATE: the vehicle cannot do this right now (asleep, unreachable, door open…)."""

    default_user_message = "The vehicle cannot do this in its current state."


class RateLimitError(SmartcarError):
    """429 RATE_LIMIT: too many requests; ``retry_after`` says when to try again."""

    default_user_message = "Too many requests to this vehicle right now."


class BillingError(SmartcarError):
    """430 BILLING: the Smartcar plan does not cover this (plan, vehicle or request limit, suspension)."""

    default_user_message = "The Smartcar subscription does not cover this. Check the plan in Smartcar's dashboard."


class ServerError(SmartcarError):
    """500 SERVER (and its MULTIPLE_RECORDS_FOUND / RECORD_NOT_FOUND variants)."""

    default_user_message = "Smartcar had an internal problem."


class CompatibilityError(SmartcarError):
    """501 COMPATIBILITY: the make, vehicle or platform cannot do this."""

    default_user_message = "This vehicle does not support this feature."


class UpstreamError(SmartcarError):
    """502 UPSTREAM: the car maker's service failed or answered nonsense."""

    default_user_message = "The car maker's service did not answer properly."


# --- Failures outside the documented body ---------------------------------------------------------------------


class OAuthError(SmartcarError):
    """The token endpoint's OAuth error body: ``{"error": …, "error_description": …}``.

    ``invalid_grant`` means the refresh token or code is spent, expired or revoked: only running Connect
    again helps, so it carries the REAUTHENTICATE resolution like the API's own errors.
    """

    default_user_message = "Smartcar refused the sign-in. Connect the vehicles again."

    @property
    def error(self) -> str:
        return self.code or ""


class TransportError(SmartcarError):
    """No answer at all: the connection failed or the call timed out."""

    default_user_message = "Smartcar could not be reached."


class MalformedResponseError(SmartcarError):
    """An answer that is not JSON, or not the documented shape."""

    default_user_message = "Smartcar answered with something Fleet cannot read."


_CLASS_BY_TYPE: dict[str, type[SmartcarError]] = {
    "CONNECTED_SERVICES_ACCOUNT": ConnectedServicesAccountError,
    "VALIDATION": ValidationError,
    "AUTHENTICATION": AuthenticationError,
    "PERMISSION": PermissionDeniedError,
    "RESOURCE_NOT_FOUND": ResourceNotFoundError,
    "VEHICLE_STATE": VehicleStateError,
    "RATE_LIMIT": RateLimitError,
    "BILLING": BillingError,
    "SERVER": ServerError,
    # api-errors.md lists these two as types (code INTERNAL, status 500); they are server-side failures.
    "MULTIPLE_RECORDS_FOUND": ServerError,
    "RECORD_NOT_FOUND": ServerError,
    "COMPATIBILITY": CompatibilityError,
    "UPSTREAM": UpstreamError,
}

# When the body names no type (or one we do not know), the documented status of each type decides.
_CLASS_BY_STATUS: dict[int, type[SmartcarError]] = {
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: ResourceNotFoundError,
    409: VehicleStateError,
    429: RateLimitError,
    430: BillingError,
    501: CompatibilityError,
    502: UpstreamError,
}

# Resolutions implied by the type when a body omits the resolution object.
_DEFAULT_RESOLUTION: dict[type[SmartcarError], str] = {
    AuthenticationError: REAUTHENTICATE,
    RateLimitError: RETRY_LATER,
    ServerError: RETRY_LATER,
    UpstreamError: RETRY_LATER,
    TransportError: RETRY_LATER,
    MalformedResponseError: RETRY_LATER,
}

_USER_MESSAGES: dict[tuple[str, str | None], str] = {
    ("VEHICLE_STATE", "ASLEEP"): "The vehicle is asleep.",
    ("VEHICLE_STATE", "UNREACHABLE"): "The vehicle is out of network coverage right now.",
    ("VEHICLE_STATE", "CHARGING_PLUG_NOT_CONNECTED"): "The vehicle is not plugged in.",
    ("VEHICLE_STATE", "DOOR_OPEN"): "A door of the vehicle is open.",
    ("VEHICLE_STATE", "IN_MOTION"): "The vehicle is moving.",
    ("VEHICLE_STATE", "REMOTE_ACCESS_DISABLED"): "Remote access is turned off in the vehicle.",
    ("CONNECTED_SERVICES_ACCOUNT", "SUBSCRIPTION"): "The car maker's connected-services subscription has lapsed.",
    ("CONNECTED_SERVICES_ACCOUNT", "VIRTUAL_KEY_REQUIRED"): "The owner must add Smartcar's virtual key in the car.",
    ("CONNECTED_SERVICES_ACCOUNT", "VEHICLE_MISSING"): "The vehicle is no longer in the owner's account.",
    ("BILLING", "VEHICLE_REQUEST_LIMIT"): "This vehicle reached its request limit for the billing period.",
    ("COMPATIBILITY", "MAKE_NOT_COMPATIBLE"): "Smartcar does not support this make for this feature.",
}


def _retry_after(headers: Mapping[str, str] | None, body: Mapping[str, Any]) -> int | None:
    raw = (headers or {}).get("retry-after")
    if raw is None and isinstance(body.get("resolution"), Mapping):
        raw = body["resolution"].get("retryAfter")
    try:
        return max(0, int(float(raw))) if raw is not None else None
    except (TypeError, ValueError):
        return None  # An HTTP-date Retry-After is not something Smartcar documents; ignore it.


def _request_id(headers: Mapping[str, str] | None, body: Mapping[str, Any]) -> str | None:
    return body.get("requestId") or (headers or {}).get("sc-request-id")


def _lower(headers: Mapping[str, str] | None) -> dict[str, str]:
    return {str(name).lower(): value for name, value in (headers or {}).items()}


def _flatten_v3(body: Mapping[str, Any]) -> Mapping[str, Any]:
    """API v3's envelope ``{"errors": [{status, type, code, title, detail, links.about, resolution}]}`` as the v2 body.

    Reference: smartcar-api-v3/errors.md — ``status`` is a string, ``detail`` the text (v2's ``description``),
    ``links.about`` the documentation link. The page shows the flat v2 body too, so a body without ``errors`` is read
    as v2's. The first error decides (the pages show one per envelope).
    """
    errors = body.get("errors")
    if not isinstance(errors, list) or not errors or not isinstance(errors[0], Mapping):
        return body
    first = errors[0]
    links = mapping_at(first, "links")
    status = first.get("status")
    detail = first.get("detail")
    return {
        "type": first.get("type"),
        "code": first.get("code"),
        "description": detail if isinstance(detail, str) else str(first.get("title") or ""),
        "docURL": links.get("about"),
        "statusCode": int(status) if isinstance(status, str) and status.isdigit() else status,
        "resolution": first.get("resolution"),
        "suggestedUserMessage": first.get("suggestedUserMessage"),
        "requestId": body.get("requestId"),
    }


def error_from_body(status: int | None, headers: Mapping[str, str] | None, body: Any) -> SmartcarError:
    """The exception for an already-parsed error body (batch responses carry their errors parsed).

    Both documented bodies give the same typed errors: v2's flat object and API v3's ``{"errors": [...]}``.
    """
    headers = _lower(headers)
    if isinstance(body, Mapping) and "errors" in body:
        body = _flatten_v3(body)
    if not isinstance(body, Mapping):
        return MalformedResponseError(
            f"Error body is not a JSON object (HTTP {status})",
            type="MALFORMED",
            status=status,
            request_id=_request_id(headers, {}),
            resolution=RETRY_LATER,
        )
    if "error" in body and "type" not in body:
        # Token endpoint (OAuth 2): {"error": "invalid_grant", "error_description": "..."}.
        code = str(body.get("error") or "")
        return OAuthError(
            str(body.get("error_description") or code),
            type="OAUTH",
            code=code,
            status=status,
            request_id=_request_id(headers, body),
            resolution=REAUTHENTICATE if code in ("invalid_grant", "access_denied") else CONTACT_SUPPORT,
        )
    error_type = str(body.get("type") or "")
    cls = _CLASS_BY_TYPE.get(error_type) or _CLASS_BY_STATUS.get(status or 0)
    if cls is None:
        cls = ServerError if (status or 0) >= 500 else SmartcarError
    resolution = body.get("resolution")
    resolution_type = resolution.get("type") if isinstance(resolution, Mapping) else None
    body_status = body.get("statusCode")
    detail = body.get("detail")
    return cls(
        str(body.get("description") or ""),
        type=error_type,
        code=body.get("code"),
        status=status if status is not None else (body_status if isinstance(body_status, int) else None),
        request_id=_request_id(headers, body),
        resolution=resolution_type or _DEFAULT_RESOLUTION.get(cls),
        retry_after=_retry_after(headers, body),
        detail=detail if isinstance(detail, list) else None,
        doc_url=body.get("docURL"),
        suggested_user_message=body.get("suggestedUserMessage"),
    )


def error_from_response(status: int | None, headers: Mapping[str, str] | None, body_bytes: bytes) -> SmartcarError:
    """The exception for a non-2xx answer; a body that is not JSON becomes MalformedResponseError."""
    headers = _lower(headers)
    try:
        body = json.loads(body_bytes) if body_bytes else None
    except (ValueError, UnicodeDecodeError):
        body = None
    if body is None:
        return MalformedResponseError(
            f"HTTP {status} with a body that is not JSON",
            type="MALFORMED",
            status=status,
            request_id=_request_id(headers, {}),
            resolution=RETRY_LATER,
            retry_after=_retry_after(headers, {}),
        )
    return error_from_body(status, headers, body)
