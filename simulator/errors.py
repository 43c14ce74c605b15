"""Smartcar API errors: every (type, code) of the documented table, with its documented body.

Reference: smartcar-api/api-errors.md

The page gives type, code and status; descriptions, the resolution (one of RETRY_LATER,
REAUTHENTICATE, CONTACT_SUPPORT) and suggested user messages (changelog 2024: "Suggested user
messages are now included as part of API error responses") are ours, written for what each error
means to the developer and to the vehicle owner. Where no resolution helps a developer's own
mistake (validation, unknown path) the resolution is CONTACT_SUPPORT.
"""

import json

from django.http import HttpResponse

RETRY_LATER = "RETRY_LATER"
REAUTHENTICATE = "REAUTHENTICATE"
CONTACT_SUPPORT = "CONTACT_SUPPORT"

DOC_BASE = "https://smartcar.com/docs/errors/api-errors"

# (type, code) → (status, resolution, description, suggested user message or None)
ERRORS: dict[tuple[str, str | None], tuple[int, str, str, str | None]] = {
    ("CONNECTED_SERVICES_ACCOUNT", "ACCOUNT_ISSUE"): (
        400, REAUTHENTICATE,
        "Action needed in the user's connected services account. Please prompt the user to log into their "
        "connected services app and complete any outstanding steps.",
        "Please log into your vehicle's connected services app and complete any outstanding steps.",
    ),
    ("CONNECTED_SERVICES_ACCOUNT", "AUTHENTICATION_FAILED"): (
        400, REAUTHENTICATE,
        "Smartcar was unable to authenticate with the user's connected services account. Please prompt the "
        "user to re-authenticate.",
        "Please reconnect your vehicle: the credentials of your connected services account changed.",
    ),
    ("CONNECTED_SERVICES_ACCOUNT", "NO_VEHICLES"): (
        400, REAUTHENTICATE,
        "No vehicles could be found in the user's connected services account.",
        "No vehicles were found in your connected services account.",
    ),
    ("CONNECTED_SERVICES_ACCOUNT", "PERMISSION"): (
        400, REAUTHENTICATE,
        "The user's connected services account does not have the permission to perform this request "
        "(for example a driver account where the owner's is required).",
        "Your connected services account lacks the rights for this action; please ask the vehicle's owner.",
    ),
    ("CONNECTED_SERVICES_ACCOUNT", "SUBSCRIPTION"): (
        400, REAUTHENTICATE,
        "The vehicle's connected services subscription is inactive or does not cover this feature.",
        "Your vehicle's connected services subscription has expired or does not include this feature.",
    ),
    ("CONNECTED_SERVICES_ACCOUNT", "VEHICLE_MISSING"): (
        400, REAUTHENTICATE,
        "The vehicle is no longer associated with the user's connected services account.",
        "This vehicle is no longer in your connected services account.",
    ),
    ("CONNECTED_SERVICES_ACCOUNT", "VIRTUAL_KEY_REQUIRED"): (
        400, REAUTHENTICATE,
        "The vehicle requires a virtual key to be added before it accepts commands.",
        "Please add the virtual key to your vehicle to allow this action.",
    ),
    ("VALIDATION", None): (
        400, CONTACT_SUPPORT, "Request invalid or malformed. Please check for missing parameters, spelling and "
        "casing mistakes or other inconsistencies.", None,
    ),
    ("VALIDATION", "PARAMETER"): (
        400, CONTACT_SUPPORT, "A parameter of the request is invalid. Please check the detail of the error.", None,
    ),
    ("AUTHENTICATION", None): (
        401, REAUTHENTICATE, "The provided token is invalid or expired. Please refresh it or have the user "
        "re-authenticate.", None,
    ),
    ("PERMISSION", None): (
        403, REAUTHENTICATE, "Your application has insufficient permissions to access the requested resource. "
        "Please prompt the user to re-authenticate using Smartcar Connect.", None,
    ),
    ("RESOURCE_NOT_FOUND", "PATH"): (
        404, CONTACT_SUPPORT, "The requested resource does not exist. Please check the URL and try again.", None,
    ),
    ("RESOURCE_NOT_FOUND", "VERSION"): (
        404, CONTACT_SUPPORT, "The requested API version does not exist. Please use version 2.0.", None,
    ),
    ("VEHICLE_STATE", "ASLEEP"): (
        409, RETRY_LATER, "The vehicle is in a sleep state and temporarily unable to perform your request.",
        "Your vehicle is asleep. Please start or drive it, then try again.",
    ),
    ("VEHICLE_STATE", "CHARGING_IN_PROGRESS"): (
        409, RETRY_LATER, "The vehicle is currently charging and cannot perform this request.",
        "Your vehicle is charging; please try again once it is done.",
    ),
    ("VEHICLE_STATE", "CHARGE_FAULT"): (
        409, RETRY_LATER, "The vehicle reported a charging fault and cannot charge.",
        "Your vehicle reported a charging problem. Please check the charger and the cable.",
    ),
    ("VEHICLE_STATE", "NOT_CHARGING"): (
        409, RETRY_LATER, "The vehicle is not charging, so this charging session detail is unavailable.",
        "Your vehicle is not charging right now.",
    ),
    ("VEHICLE_STATE", "CHARGING_PLUG_NOT_CONNECTED"): (
        409, RETRY_LATER, "The charging plug is not connected to the vehicle.",
        "Please plug in your vehicle and try again.",
    ),
    ("VEHICLE_STATE", "CHARGING_PLUG_CONNECTED"): (
        409, RETRY_LATER, "The charging plug is connected, which prevents this request.",
        "Please unplug your vehicle and try again.",
    ),
    ("VEHICLE_STATE", "DOOR_OPEN"): (
        409, RETRY_LATER, "A door of the vehicle is open.", "Please close all doors of your vehicle and try again.",
    ),
    ("VEHICLE_STATE", "FULLY_CHARGED"): (
        409, RETRY_LATER, "The vehicle is fully charged.", "Your vehicle is already fully charged.",
    ),
    ("VEHICLE_STATE", "HOOD_OPEN"): (
        409, RETRY_LATER, "The hood of the vehicle is open.", "Please close the hood of your vehicle and try again.",
    ),
    ("VEHICLE_STATE", "IGNITION_ON"): (
        409, RETRY_LATER, "The vehicle's ignition is on.", "Please turn your vehicle off and try again.",
    ),
    ("VEHICLE_STATE", "IN_MOTION"): (
        409, RETRY_LATER, "The vehicle is in motion and cannot perform this request.",
        "Your vehicle is moving; please try again once it is parked.",
    ),
    ("VEHICLE_STATE", "LOW_BATTERY"): (
        409, RETRY_LATER, "The vehicle's battery is too low to perform this request.",
        "Your vehicle's battery is too low for this action; please charge it first.",
    ),
    ("VEHICLE_STATE", "REMOTE_ACCESS_DISABLED"): (
        409, RETRY_LATER, "Remote access is disabled in the vehicle.",
        "Please enable remote access in your vehicle's settings.",
    ),
    ("VEHICLE_STATE", "TRUNK_OPEN"): (
        409, RETRY_LATER, "The trunk of the vehicle is open.", "Please close the trunk and try again.",
    ),
    ("VEHICLE_STATE", "UNKNOWN"): (
        409, RETRY_LATER, "The vehicle is in a state that prevents this request.", "Please try again later.",
    ),
    ("VEHICLE_STATE", "UNREACHABLE"): (
        409, RETRY_LATER, "The vehicle is currently unreachable (poor connectivity or a low 12 V battery).",
        "Your vehicle cannot be reached right now. Please make sure it has cellular coverage.",
    ),
    ("VEHICLE_STATE", "VEHICLE_OFFLINE_FOR_SERVICE"): (
        409, RETRY_LATER, "The vehicle is offline for service.", "Your vehicle is in service mode.",
    ),
    ("RATE_LIMIT", "VEHICLE"): (
        429, RETRY_LATER, "You have reached the throttling rate limit for this vehicle. Please see the "
        "Retry-After header for when to retry the request.", None,
    ),
    ("RATE_LIMIT", "SMARTCAR_API"): (
        429, RETRY_LATER, "You have reached the throttling rate limit of the Smartcar API. Please retry later.", None,
    ),
    ("BILLING", "INVALID_PLAN"): (
        430, CONTACT_SUPPORT, "This feature is not included in your application's plan.", None,
    ),
    ("BILLING", "VEHICLE_LIMIT"): (
        430, CONTACT_SUPPORT, "Your application has reached the number of vehicles its plan allows.", None,
    ),
    ("BILLING", "VEHICLE_REQUEST_LIMIT"): (
        430, RETRY_LATER, "This vehicle has used the number of requests its plan allows this month.", None,
    ),
    ("BILLING", "ACCOUNT_SUSPENDED"): (
        430, CONTACT_SUPPORT, "Your Smartcar account is suspended. Please contact support.", None,
    ),
    ("SERVER", "INTERNAL"): (
        500, RETRY_LATER, "An internal Smartcar error occurred. Please retry later.", None,
    ),
    ("MULTIPLE_RECORDS_FOUND", "INTERNAL"): (
        500, CONTACT_SUPPORT, "Multiple records were found where only one was expected.", None,
    ),
    ("RECORD_NOT_FOUND", "INTERNAL"): (
        500, CONTACT_SUPPORT, "A record Smartcar expected could not be found.", None,
    ),
    ("COMPATIBILITY", "MAKE_NOT_COMPATIBLE"): (
        501, CONTACT_SUPPORT, "Smartcar does not support this vehicle's make for this request.", None,
    ),
    ("COMPATIBILITY", "SMARTCAR_NOT_CAPABLE"): (
        501, CONTACT_SUPPORT, "Smartcar does not yet support this feature for this vehicle.", None,
    ),
    ("COMPATIBILITY", "VEHICLE_NOT_CAPABLE"): (
        501, CONTACT_SUPPORT, "The vehicle is not capable of performing this request.",
        "Your vehicle does not support this feature.",
    ),
    ("COMPATIBILITY", "PLATFORM_NOT_CAPABLE"): (
        501, CONTACT_SUPPORT, "The vehicle's connected services platform does not support this request.", None,
    ),
    ("UPSTREAM", "INVALID_DATA"): (
        502, RETRY_LATER, "The vehicle manufacturer returned invalid data.", None,
    ),
    ("UPSTREAM", "KNOWN_ISSUE"): (
        502, RETRY_LATER, "The vehicle manufacturer's service has a known issue. Please retry later.", None,
    ),
    ("UPSTREAM", "NO_RESPONSE"): (
        502, RETRY_LATER, "The vehicle manufacturer did not respond in time.", None,
    ),
    ("UPSTREAM", "RATE_LIMIT"): (
        502, RETRY_LATER, "The vehicle manufacturer's rate limit for this vehicle was reached. Please retry later.",
        "Your vehicle's manufacturer limits how often it can be reached. Please try again later.",
    ),
    ("UPSTREAM", "UNKNOWN_ISSUE"): (
        502, RETRY_LATER, "An unknown issue occurred with the vehicle manufacturer's service.", None,
    ),
}  # fmt: skip

_TYPE_PAGES = {
    "CONNECTED_SERVICES_ACCOUNT": "connected-services-account-errors",
    "VALIDATION": "validation-errors",
    "AUTHENTICATION": "authentication-errors",
    "PERMISSION": "permission-errors",
    "RESOURCE_NOT_FOUND": "resource-not-found-errors",
    "VEHICLE_STATE": "vehicle-state-errors",
    "RATE_LIMIT": "rate-limit-errors",
    "BILLING": "billing-errors",
    "SERVER": "server-errors",
    "MULTIPLE_RECORDS_FOUND": "server-errors",
    "RECORD_NOT_FOUND": "server-errors",
    "COMPATIBILITY": "compatibility-errors",
    "UPSTREAM": "upstream-errors",
}


class ApiError(Exception):
    """An error answered with the documented body. ``detail`` only for validation errors."""

    def __init__(
        self,
        type_: str,
        code: str | None = None,
        description: str | None = None,
        *,
        detail: list | None = None,
        retry_after: int | None = None,
    ):
        if (type_, code) not in ERRORS:
            raise ValueError(f"Undocumented error {type_}:{code}")
        self.type = type_
        self.code = code
        self.status, self.resolution, default_description, self.suggested_user_message = ERRORS[(type_, code)]
        self.description = description or default_description
        self.detail = detail
        self.retry_after = retry_after
        super().__init__(f"{type_}:{code} {self.description}")

    def body(self, request_id: str) -> dict:
        anchor = f"#{self.code.lower().replace('_', '-')}" if self.code else ""
        body = {
            "type": self.type,
            "code": self.code,
            "description": self.description,
            "docURL": f"{DOC_BASE}/{_TYPE_PAGES[self.type]}{anchor}",
            "statusCode": self.status,
            "requestId": request_id,
            "resolution": {"type": self.resolution},
        }
        if self.suggested_user_message:
            body["suggestedUserMessage"] = self.suggested_user_message
        if self.type == "VALIDATION":
            body["detail"] = self.detail or []
        return body

    def response(self, request_id: str) -> HttpResponse:
        response = HttpResponse(json.dumps(self.body(request_id)), status=self.status, content_type="application/json")
        response["SC-Request-Id"] = request_id
        if self.retry_after is not None:
            response["Retry-After"] = str(self.retry_after)
        return response


def validation(field: str, message: str) -> ApiError:
    """A VALIDATION error naming the offending field in ``detail``."""
    return ApiError(
        "VALIDATION", None, f"Request invalid or malformed: {message}", detail=[{"field": field, "message": message}]
    )


def parameter(field: str, message: str) -> ApiError:
    return ApiError("VALIDATION", "PARAMETER", message, detail=[{"field": field, "message": message}])


def parse(spec: str) -> ApiError:
    """``"TYPE:CODE"`` (or ``"TYPE"`` for a null code) → ApiError; for injected errors."""
    type_, _, code = spec.strip().partition(":")
    return ApiError(type_.upper(), code.upper() or None)
