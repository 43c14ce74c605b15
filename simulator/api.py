"""The simulated vehicle API under /simulator/api/v2.0/ — one entry point that routes every path.

Reference: smartcar-api/README.md (every vehicle path), api-errors.md (error bodies), headers.md

Every request is authenticated by its bearer access token (401 AUTHENTICATION when unknown or
expired), finds the vehicle through the token's user and application (``Connection``), checks the
endpoint's permission (403 PERMISSION) and the vehicle's capability (501 COMPATIBILITY), meets the
configured limits and faults (simulator/faults.py), then advances the vehicle to the simulated now
and answers from its state — all under a row lock on the vehicle, so concurrent commands do not
overwrite each other. Anything unexpected is answered with the documented SERVER:INTERNAL body,
never a debug page.

The API authenticates with bearer tokens and sets no cookies, so it is exempt from CSRF (which
protects cookie-authenticated forms); it never reads the session.
"""

import base64
import binascii
import hmac
import json
import logging
import uuid

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from simulator import access, clock, compatibility, endpoints, faults, world
from simulator.errors import ApiError, parameter, parse, validation
from simulator.models import Application, Connection, Subscription, Token, Vehicle, Webhook
from simulator.units import Units, for_request

logger = logging.getLogger(__name__)

VEHICLES_DEFAULT_LIMIT = 10
VEHICLES_MAX_LIMIT = 50  # all-vehicles.md: "Max: 50"


@csrf_exempt
def entry(request: HttpRequest, path: str = "") -> HttpResponse:
    request_id = str(uuid.uuid4())
    units = for_request(request.headers.get("SC-Unit-System"))
    try:
        response = _route(request, path.strip("/"), request_id, units)
    except ApiError as error:
        response = error.response(request_id)
    except Exception:
        logger.exception("Simulated API failed on %s /%s (request %s)", request.method, path, request_id)
        response = ApiError("SERVER", "INTERNAL").response(request_id)
    response["SC-Request-Id"] = request_id
    if "SC-Unit-System" not in response:
        response["SC-Unit-System"] = units.system
    return response


@csrf_exempt
def unknown_version(request: HttpRequest, version: str = "", path: str = "") -> HttpResponse:
    """Any API version but 2.0: the documented RESOURCE_NOT_FOUND:VERSION (mount under api/<version>/)."""
    request_id = str(uuid.uuid4())
    response = ApiError("RESOURCE_NOT_FOUND", "VERSION").response(request_id)
    response["SC-Request-Id"] = request_id
    return response


def _route(request: HttpRequest, path: str, request_id: str, units: Units) -> HttpResponse:
    method = request.method
    parts = path.split("/") if path else []
    if path == "user":
        _only(method, "GET", path)
        return _user(request)
    if path == "vehicles":
        _only(method, "GET", path)
        return _vehicles(request)
    if path == "compatibility":
        _only(method, "GET", path)
        return JsonResponse(compatibility.by_vin(_application(request), request.GET))
    if path == "compatibility/matrix":
        _only(method, "GET", path)
        return JsonResponse(compatibility.matrix(_application(request), request.GET))
    if len(parts) >= 2 and parts[0] == "vehicles" and parts[1]:
        vehicle_id, rest = parts[1], "/".join(parts[2:])
        if len(parts) == 4 and parts[2] == "webhooks":
            return _webhook(request, vehicle_id, parts[3])
        if rest == "batch":
            _only(method, "POST", path)
            return _batch(request, vehicle_id, request_id, units)
        if rest == "permissions":
            _only(method, "GET", path)
            return _permissions(request, vehicle_id)
        if rest == "application" and method == "DELETE":
            return _disconnect(request, vehicle_id)
        return _vehicle_request(request, vehicle_id, rest, units)
    raise ApiError("RESOURCE_NOT_FOUND", "PATH")


def _only(method: str, allowed: str, path: str) -> None:
    if method != allowed:
        raise ApiError("RESOURCE_NOT_FOUND", "PATH", f"{method} is not supported on /{path}.")


# --- authentication -----------------------------------------------------------------------------


def _bearer(request: HttpRequest) -> str:
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise ApiError("AUTHENTICATION", None, "Missing or malformed Authorization header: use 'Bearer <token>'.")
    return value.strip()


def _token(request: HttpRequest) -> Token:
    value = _bearer(request)
    token = (
        Token.objects.select_related("user", "application")
        .filter(access_token=value, access_expires_at__gt=timezone.now())
        .first()
    )
    if token is None:
        raise ApiError("AUTHENTICATION")
    return token


def _application(request: HttpRequest) -> Application:
    """The application authenticated by HTTP Basic client_id:client_secret (compatibility API)."""
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    try:
        client_id, _, secret = base64.b64decode(value.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        client_id = secret = ""
    application = Application.objects.filter(client_id=client_id).first() if scheme.lower() == "basic" else None
    if application is None or not hmac.compare_digest(secret.encode(), application.client_secret.encode()):
        raise ApiError("AUTHENTICATION", None, "Invalid client credentials (HTTP Basic client_id:client_secret).")
    return application


def _connection(token: Token, vehicle_id: str) -> Connection:
    connection = (
        Connection.objects.select_related("vehicle")
        .filter(application_id=token.application_id, user_id=token.user_id, vehicle__vehicle_id=vehicle_id)
        .first()
    )
    if connection is None:
        # A vehicle this token was not granted (or that does not exist) is refused alike, so ids
        # cannot be probed.
        raise ApiError("PERMISSION", None, "This access token does not grant access to this vehicle.")
    return connection


# --- account endpoints --------------------------------------------------------------------------


def _user(request: HttpRequest) -> HttpResponse:
    # Reference: smartcar-api/user.md
    return JsonResponse({"id": _token(request).user.user_id})


def _paging(request: HttpRequest, default_limit: int) -> tuple[int, int]:
    limit, offset = request.GET.get("limit", str(default_limit)), request.GET.get("offset", "0")
    if not limit.isdigit() or not 1 <= int(limit) <= VEHICLES_MAX_LIMIT:
        raise parameter("limit", f"limit must be an integer from 1 to {VEHICLES_MAX_LIMIT}")
    if not offset.isdigit():
        raise parameter("offset", "offset must be a non-negative integer")
    return int(limit), int(offset)


def _vehicles(request: HttpRequest) -> HttpResponse:
    # Reference: smartcar-api/all-vehicles.md — paged, limit at most 50.
    token = _token(request)
    limit, offset = _paging(request, VEHICLES_DEFAULT_LIMIT)
    connections = Connection.objects.filter(application_id=token.application_id, user_id=token.user_id)
    ids = list(connections.order_by("created_at", "pk").values_list("vehicle__vehicle_id", flat=True))
    return JsonResponse({"paging": {"count": len(ids), "offset": offset}, "vehicles": ids[offset : offset + limit]})


def _permissions(request: HttpRequest, vehicle_id: str) -> HttpResponse:
    # Reference: smartcar-api/application-permissions.md — paged like /vehicles.
    connection = _connection(_token(request), vehicle_id)
    limit, offset = _paging(request, VEHICLES_MAX_LIMIT)
    permissions = list(connection.permissions)
    return JsonResponse(
        {"paging": {"count": len(permissions), "offset": offset}, "permissions": permissions[offset : offset + limit]}
    )


def _disconnect(request: HttpRequest, vehicle_id: str) -> HttpResponse:
    # The SDKs' Vehicle.disconnect(): DELETE /vehicles/{id}/application revokes this application's access.
    _connection(_token(request), vehicle_id).delete()
    return JsonResponse({"status": "success"})


def _webhook(request: HttpRequest, vehicle_id: str, webhook_id: str) -> HttpResponse:
    if request.method == "POST":
        # Reference: smartcar-api/webhooks__subscribe-webhook.md
        token = _token(request)
        connection = _connection(token, vehicle_id)
        webhook = Webhook.objects.filter(webhook_id=webhook_id, application_id=token.application_id).first()
        if webhook is None:
            raise ApiError("RESOURCE_NOT_FOUND", "PATH", "No webhook with this id for your application.")
        Subscription.objects.get_or_create(webhook=webhook, vehicle=connection.vehicle)
        return JsonResponse({"vehicleId": vehicle_id, "webhookId": webhook_id})
    if request.method == "DELETE":
        # Reference: smartcar-api/webhooks__unsubscribe-webhook.md — "Bearer {application_management_token}"
        management_token = _bearer(request)
        webhook = Webhook.objects.select_related("application").filter(webhook_id=webhook_id).first()
        expected = webhook.application.management_token if webhook else ""
        if not webhook or not hmac.compare_digest(management_token.encode(), expected.encode()):
            raise ApiError("AUTHENTICATION", None, "Invalid application management token for this webhook.")
        Subscription.objects.filter(webhook=webhook, vehicle__vehicle_id=vehicle_id).delete()
        return JsonResponse({"status": "success"})
    raise ApiError("RESOURCE_NOT_FOUND", "PATH")


# --- vehicle endpoints --------------------------------------------------------------------------


def _json_body(request: HttpRequest) -> dict:
    if not request.body:
        return {}
    try:
        body = json.loads(request.body)
    except (ValueError, UnicodeDecodeError):
        raise validation("body", "The request body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise validation("body", "The request body must be a JSON object.")
    return body


def _check_access(permissions: list, vehicle: Vehicle, endpoint: endpoints.Endpoint) -> None:
    if endpoint.permission and endpoint.permission not in permissions:
        raise ApiError(
            "PERMISSION", None, f"Your application has not been granted {endpoint.permission} for this vehicle."
        )
    error = endpoint.supports(vehicle)
    if error:
        raise error
    if endpoint.path in vehicle.state.get("conditional_not_capable", ()):
        # Reference: smartcar-api/permissions.md — "In Europe, permissions can be conditional": granted in
        # Connect, the vehicle turns out unable to serve it when asked.
        raise ApiError("COMPATIBILITY", "VEHICLE_NOT_CAPABLE")


def _load(request: HttpRequest, vehicle_id: str) -> access.Access:
    status, found = access.load(_bearer(request), vehicle_id, faults.billing_day())
    if status == "no-token":
        raise ApiError("AUTHENTICATION")
    if status == "no-vehicle":
        # A vehicle this token was not granted (or that does not exist) is refused alike, so ids
        # cannot be probed.
        raise ApiError("PERMISSION", None, "This access token does not grant access to this vehicle.")
    return found


def _apply_faults(vehicle: Vehicle, settings) -> faults.Injected | None:
    """Rate limit, latency and injected faults; returns the fault to apply later, if any."""
    faults.check_rate_limit(vehicle, settings)
    faults.wait(faults.latency_seconds(vehicle, settings))
    injected = faults.draw_fault(vehicle, settings) if faults.may_inject(vehicle, settings) else None
    if injected and injected.kind == "timeout":
        faults.wait(faults.timeout_seconds())
        raise ApiError("UPSTREAM", "NO_RESPONSE")
    if injected and injected.kind == "error":
        raise injected.error
    return injected


def _gate(vehicle: Vehicle, path: str, *, in_batch: bool = False) -> None:
    """States in which the vehicle, or its OEM, does not answer at all (or not on this path)."""
    state = vehicle.state
    forced = state.get("force_error")
    if isinstance(forced, dict):
        path = path.strip("/")
        forced = (in_batch and forced.get(f"batch:{path}")) or forced.get(path)
    if forced:
        raise _forced(forced)
    if state.get("deep_sleep"):
        # GM vehicles idle for 3–4 days sleep deeply until driven.
        raise ApiError("VEHICLE_STATE", "ASLEEP")
    if world.is_unreachable(state):
        raise ApiError("VEHICLE_STATE", "UNREACHABLE")


def _forced(spec: str) -> ApiError:
    try:
        return parse(spec)
    except ValueError:
        return ApiError("SERVER", "INTERNAL", f"Unknown forced error {spec!r} in the vehicle's state.")


def _now(settings):
    return clock.now(clock_speed=clock.speed(settings))


def _headers(response: HttpResponse, vehicle: Vehicle, now, units: Units) -> HttpResponse:
    response["SC-Data-Age"] = vehicle.state.get("recorded_at") or world.iso(now)
    response["SC-Fetched-At"] = world.iso(now)
    response["SC-Unit-System"] = units.system
    return response


def _prepare(found: access.Access, settings) -> tuple[Vehicle, object, list]:
    """Bring the vehicle to the simulated now; returns (vehicle, now, events so far)."""
    vehicle = found.vehicle
    now = _now(settings)
    world.advance(vehicle, now)
    events: list = []
    # A plugged-in car below its limit charges now, not at the next step (e.g. after an admin edit).
    world.charge_tick(vehicle, now, events)
    return vehicle, now, events


def _quota_reached(vehicle: Vehicle, calls_today: int) -> bool:
    return vehicle.make in faults.DAILY_QUOTA_MAKES and calls_today >= faults.DAILY_QUOTA


# An answer cut short: not JSON as a whole response, a string instead of an object as a batch member's body.
MALFORMED_BODY = '{"status": "succ'
# A request that loses the optimistic race reads the vehicle again and redoes its work.
ATTEMPTS = 5


def _vehicle_request(request: HttpRequest, vehicle_id: str, rest: str, units: Units) -> HttpResponse:
    found = _load(request, vehicle_id)
    endpoint = endpoints.resolve(found.vehicle, request.method, rest)
    _check_access(found.permissions, found.vehicle, endpoint)
    body = _json_body(request) if request.method in ("POST", "PUT") else None
    settings = found.faults
    injected = _apply_faults(found.vehicle, settings)
    for attempt in range(ATTEMPTS):
        if attempt:
            # Another request saved the vehicle since we read it (during our latency, say): read it again.
            found = _load(request, vehicle_id)
        vehicle, now, events = _prepare(found, settings)
        try:
            _gate(vehicle, rest)
            if _quota_reached(vehicle, found.calls_today):
                raise ApiError("UPSTREAM", "RATE_LIMIT")
            if endpoint.wakes:
                world.wake(vehicle, now)
            ctx = endpoints.Ctx(
                vehicle=vehicle,
                units=units,
                now=now,
                body=body,
                query=request.GET,
                user_email=found.user_email,
                events=events,
            )
            answer = endpoint.handler(ctx)
        except ApiError:
            # Keep how far the vehicle got, or every later request would replay the same time again.
            if access.store(vehicle, found.read_simulated_at):
                world.announce(vehicle, events)
            raise
        if access.store(vehicle, found.read_simulated_at, day=faults.billing_day(), calls=1):
            break
    else:
        raise ApiError("SERVER", "INTERNAL", "The vehicle is busy with other requests; please retry.")
    world.announce(vehicle, events)
    if injected and injected.kind == "malformed":
        return _headers(HttpResponse(MALFORMED_BODY, content_type="application/json"), vehicle, now, units)
    return _headers(JsonResponse(answer, safe=False), vehicle, now, units)


def _batch_paths(request: HttpRequest) -> list[str]:
    requests = _json_body(request).get("requests")
    if not isinstance(requests, list) or not requests:
        raise validation("requests", 'requests must be a non-empty list of {"path": ...} objects')
    paths = []
    for index, item in enumerate(requests):
        if not isinstance(item, dict) or not isinstance(item.get("path"), str) or not item["path"].startswith("/"):
            raise validation(f"requests[{index}].path", "each request needs a path starting with /")
        paths.append(item["path"])
    return paths


def _batch(request: HttpRequest, vehicle_id: str, request_id: str, units: Units) -> HttpResponse:
    # Reference: smartcar-api/batch.md — GET endpoints only; each path counts as a request.
    found = _load(request, vehicle_id)
    paths = _batch_paths(request)
    settings = found.faults
    faults.check_rate_limit(found.vehicle, settings)
    faults.wait(faults.latency_seconds(found.vehicle, settings))
    for attempt in range(ATTEMPTS):
        if attempt:
            # Another request saved the vehicle since we read it (during our latency, say): read it again.
            found = _load(request, vehicle_id)
        vehicle, now, events = _prepare(found, settings)
        responses, billed = _batch_answers(vehicle, found, paths, now, events, units, settings, request_id)
        if access.store(vehicle, found.read_simulated_at, day=faults.billing_day(), calls=billed):
            break
    else:
        raise ApiError("SERVER", "INTERNAL", "The vehicle is busy with other requests; please retry.")
    world.announce(vehicle, events)
    body = json.dumps({"responses": responses})
    return _headers(HttpResponse(body, content_type="application/json"), vehicle, now, units)


def _batch_answers(vehicle, found, paths, now, events, units, settings, request_id) -> tuple[list, int]:
    responses = []
    billed = 0
    fetched_at = world.iso(now)
    awake = False
    may_fault = faults.may_inject(vehicle, settings)
    # A timeout is drawn once per batch, like once per single call: one member's car maker does not answer, and
    # the whole batch waits for it (batch.md answers all members at once) until the client gives up first.
    hanging = faults.draw_fault(vehicle, settings) if may_fault else None
    hanging_path = faults.pick(paths) if hanging and hanging.kind == "timeout" else None
    for path in paths:
        try:
            endpoint = endpoints.resolve(vehicle, "GET", path)
            _check_access(found.permissions, vehicle, endpoint)
            if path == hanging_path:
                faults.wait(faults.timeout_seconds())
                raise ApiError("UPSTREAM", "NO_RESPONSE")
            injected = faults.draw_fault(vehicle, settings) if may_fault else None
            if injected and injected.error:
                raise injected.error
            _gate(vehicle, path, in_batch=True)
            if _quota_reached(vehicle, found.calls_today + billed):
                raise ApiError("UPSTREAM", "RATE_LIMIT")
            if endpoint.wakes and not awake:
                world.wake(vehicle, now)
                awake = True
            ctx = endpoints.Ctx(
                vehicle=vehicle, units=units, now=now, query={}, user_email=found.user_email, events=events
            )
            answer = endpoint.handler(ctx)
        except ApiError as error:
            responses.append({"path": path, "body": error.body(request_id), "code": error.status, "headers": {}})
            continue
        billed += 1
        headers = {
            "sc-data-age": vehicle.state.get("recorded_at"),
            "sc-fetched-at": fetched_at,
            "sc-unit-system": units.system,
        }
        if injected and injected.kind == "malformed":
            answer = MALFORMED_BODY  # inside a JSON batch answer, a member's body of the wrong shape
        responses.append({"path": path, "body": answer, "code": 200, "headers": headers})
    return responses, billed
