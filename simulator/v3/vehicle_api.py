"""The Vehicle API v3 under /simulator/vehicle/v3/: connections, users, vehicles, signals, commands, schedules.

Reference: smartcar-api-v3/README.md (the index of pages) and each page named at its handler.

Authentication (smartcar-api-v3/auth__overview.md): ``Authorization: Bearer <application token>`` and, on signals
and commands, ``sc-user-id`` naming whose connection to act for. The official SDK's v3 reads
(``smartcar.get_vehicle``, ``Vehicle.get_signals``/``get_signal``) send a v2 per-user access token instead and no
``sc-user-id``; the migration guide and FAQ say such tokens "continue to work" (migration__v2-to-v3.md,
auth__faq.md), so a user token is accepted too and stands for its own user.

Every request goes through the v2 simulator's limits and injected faults (simulator/faults.py) and is billed one
call; errors use the v3 envelope (simulator/v3/errors.py). Signal values are last-known values
(vehicles-api-intro.md): reading them neither wakes the vehicle nor fails when it sleeps; commands do.
"""

import json
import logging
import math
import uuid
from dataclasses import dataclass

from django.core.paginator import Paginator
from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from simulator import access, api, endpoints, faults, world
from simulator.errors import ApiError, parameter, validation
from simulator.models import Application, AppToken, Connection, FaultSettings, Subscription, Token, Vehicle
from simulator.units import for_request
from simulator.v3 import errors, signals

logger = logging.getLogger(__name__)

DEFAULT_PAGE_SIZE = 10  # connections__list.md (unofficial default)
MAX_PAGE_SIZE = 100
# signals__list.md: the paging parameters were cut off the page; a vehicle's signals fit in one page by default.
SIGNALS_PAGE_SIZE = 100


@dataclass
class Caller:
    application: Application
    user_id: str | None  # the Smartcar user the request acts for, when known


@csrf_exempt
def entry(request: HttpRequest, path: str = "") -> HttpResponse:
    request_id = str(uuid.uuid4())
    try:
        response = _route(request, [part for part in path.strip("/").split("/") if part])
    except ApiError as error:
        return errors.response(error, request_id)
    except Exception:
        logger.exception("Simulated API v3 failed on %s /%s (request %s)", request.method, path, request_id)
        return errors.response(ApiError("SERVER", "INTERNAL"), request_id)
    response["SC-Request-Id"] = request_id
    return response


def _route(request: HttpRequest, parts: list[str]) -> HttpResponse:
    method = request.method
    if parts == ["connections"] and method == "GET":
        return _connections_list(request)
    if len(parts) == 2 and parts[0] == "connections":
        if method == "GET":
            return _connection_get(request, parts[1])
        if method == "DELETE":
            return _connection_delete(request, parts[1])
    if len(parts) == 2 and parts[0] == "users" and method == "DELETE":
        return _user_delete(request, parts[1])
    if len(parts) >= 2 and parts[0] == "vehicles":
        vehicle_id, rest = parts[1], parts[2:]
        if not rest and method == "GET":
            return _vehicle_get(request, vehicle_id)
        if rest == ["signals"] and method == "GET":
            return _signals_list(request, vehicle_id)
        if len(rest) == 2 and rest[0] == "signals" and method == "GET":
            return _signal_get(request, vehicle_id, rest[1])
        if len(rest) == 3 and rest[0] == "commands" and method == "POST":
            return _command(request, vehicle_id, f"{rest[1]}/{rest[2]}")
        if len(rest) == 2 and rest[0] == "charge-schedules":
            if method == "POST":
                return _schedule_create(request, vehicle_id, rest[1])
            if method == "DELETE":
                return _schedule_delete(request, vehicle_id, rest[1])
    raise ApiError("RESOURCE_NOT_FOUND", "PATH")


# --- Authentication ---------------------------------------------------------------------------------------------


def caller(request: HttpRequest) -> Caller:
    """The application (and user) a bearer token stands for; 401 AUTHENTICATION for anything else."""
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    value = value.strip()
    if scheme.lower() != "bearer" or not value:
        raise ApiError("AUTHENTICATION", None, "Missing or malformed Authorization header: use 'Bearer <token>'.")
    now = timezone.now()
    app_token = AppToken.objects.select_related("application").filter(access_token=value, expires_at__gt=now).first()
    if app_token is not None:
        return Caller(app_token.application, request.headers.get("sc-user-id") or None)
    user_token = Token.objects.select_related("application", "user").filter(access_token=value).first()
    if user_token is not None and user_token.access_expires_at > now:
        given = request.headers.get("sc-user-id")
        if given and given != user_token.user.user_id:
            raise ApiError("PERMISSION", None, "sc-user-id is not the user of this access token.")
        return Caller(user_token.application, user_token.user.user_id)
    raise ApiError("AUTHENTICATION")


def _require_user(who: Caller) -> str:
    if not who.user_id:
        # signals__list.md, command__security-lock.md: "sc-user-id (required)".
        raise validation("sc-user-id", "The sc-user-id header is required on signal reads and commands.")
    return who.user_id


def _connection(who: Caller, vehicle_id: str, *, user_needed: bool = True) -> Connection:
    rows = Connection.objects.select_related("vehicle", "user").filter(
        application=who.application, vehicle__vehicle_id=vehicle_id
    )
    if user_needed or who.user_id:
        rows = rows.filter(user__user_id=_require_user(who))
    connection = rows.first()
    if connection is None:
        # A vehicle this user did not connect (or that does not exist) is refused alike, so ids cannot be probed.
        raise ApiError("PERMISSION", None, "This user has not granted your application access to this vehicle.")
    return connection


# --- Vehicle requests: limits, faults, billing, optimistic save ---------------------------------------------------


def _vehicle_call(connection: Connection, answer, *, path: str, command: bool = False):
    """Runs ``answer(vehicle, now)`` on the vehicle brought to the simulated now, with the v2 simulator's limits,
    faults and billing; saves the vehicle if nobody saved it meanwhile (else reads it again and redoes the work)."""
    settings = FaultSettings.current()
    vehicle = connection.vehicle
    injected = api._apply_faults(vehicle, settings)
    for _ in range(api.ATTEMPTS):
        vehicle = Vehicle.objects.get(pk=vehicle.pk)
        read_at = vehicle.simulated_at
        found = access.Access(
            user_id=connection.user_id,
            user_email=connection.user.email,
            application_id=connection.application_id,
            permissions=list(connection.permissions),
            vehicle=vehicle,
            calls_today=faults.calls_today(vehicle),
            read_simulated_at=read_at,
            faults=settings,
        )
        vehicle, now, events = api._prepare(found, settings)
        try:
            _refuse_unanswerable(vehicle, path, command=command)
            if api._quota_reached(vehicle, found.calls_today):
                raise ApiError("UPSTREAM", "RATE_LIMIT")
            result = answer(vehicle, now, events)
        except ApiError:
            if access.store(vehicle, read_at):
                world.announce(vehicle, events)
            raise
        if access.store(vehicle, read_at, day=faults.billing_day(), calls=1):
            break
    else:
        raise ApiError("SERVER", "INTERNAL", "The vehicle is busy with other requests; please retry.")
    world.announce(vehicle, events)
    if injected and injected.kind == "malformed":
        return HttpResponse('{"data": {"ty', content_type="application/json")
    return result


def _refuse_unanswerable(vehicle: Vehicle, path: str, *, command: bool) -> None:
    """A command meets every state the v2 simulator refuses in (``api._gate``: asleep, out of reach, a forced error).
    Signals are last-known values: a sleeping or unreachable vehicle still has them; only a forced error (admin, for
    the whole vehicle or for this path) stops the read."""
    if command:
        api._gate(vehicle, path)
        return
    forced = vehicle.state.get("force_error")
    if isinstance(forced, dict):
        forced = forced.get(path.strip("/"))
    if forced:
        raise api._forced(forced)


def _millis(moment) -> int:
    return int(moment.timestamp() * 1000)


def signal_resource(signal: signals.Signal, reading: signals.Reading) -> dict:
    """One signal as signals__get.md documents it; timestamps in epoch milliseconds (webhooks__event-vehicle-state.md
    says ms; the REST example's ten digits look like seconds — the README's open question 3)."""
    recorded = world.parse_time(reading.state.get("recorded_at") or world.iso(reading.now))
    vehicle_id = reading.vehicle.vehicle_id
    return {
        "id": signal.code,
        "type": "signal",
        "attributes": {
            "code": signal.code,
            "name": signal.name,
            "group": signal.group,
            "status": {"value": "SUCCESS"},
            "body": signal.body(reading),
        },
        "meta": {"retrievedAt": _millis(reading.now), "oemUpdatedAt": _millis(min(recorded, reading.now))},
        "links": {
            "self": f"/vehicles/{vehicle_id}/signals/{signal.code}",
            "values": f"/vehicles/{vehicle_id}/signals/{signal.code}",
            "vehicle": f"/vehicles/{vehicle_id}",
        },
    }


def _vehicle_attributes(vehicle: Vehicle, mode: str = "live") -> dict:
    return {
        "make": vehicle.make,
        "model": vehicle.model,
        "year": vehicle.year,
        "powertrainType": vehicle.engine_type,
        "mode": mode,
    }


def _vehicle_resource(vehicle: Vehicle, mode: str) -> dict:
    return {
        "id": vehicle.vehicle_id,
        "type": "vehicle",
        "attributes": _vehicle_attributes(vehicle, mode),
        "links": {"self": f"/vehicles/{vehicle.vehicle_id}"},
    }


# --- Vehicles and signals -----------------------------------------------------------------------------------------


def _vehicle_get(request: HttpRequest, vehicle_id: str) -> HttpResponse:
    # Reference: smartcar-api-v3/vehicles__get.md — sc-user-id is not listed for this operation.
    connection = _connection(caller(request), vehicle_id, user_needed=False)
    vehicle = connection.vehicle
    return JsonResponse({"data": _vehicle_resource(vehicle, connection.mode)})


def _page_numbers(request: HttpRequest, default_size: int) -> tuple[int, int]:
    """``page[number]``/``page[size]`` (every v3 collection), or ``page``/``pageSize`` (the signals example's links)."""
    number = request.GET.get("page[number]") or request.GET.get("page") or "1"
    size = request.GET.get("page[size]") or request.GET.get("pageSize") or str(default_size)
    if not number.isdigit() or int(number) < 1:
        raise parameter("page[number]", "page[number] must be a whole number from 1")
    if not size.isdigit() or not 1 <= int(size) <= MAX_PAGE_SIZE:
        raise parameter("page[size]", f"page[size] must be a whole number from 1 to {MAX_PAGE_SIZE}")
    return int(number), int(size)


def _signals_list(request: HttpRequest, vehicle_id: str) -> HttpResponse:
    # Reference: smartcar-api-v3/signals__list.md
    connection = _connection(caller(request), vehicle_id)
    number, size = _page_numbers(request, SIGNALS_PAGE_SIZE)
    units = for_request(request.headers.get("SC-Unit-System"))

    def answer(vehicle, now, events):
        reading = signals.Reading(vehicle, units, now)
        items = [signal_resource(s, reading) for s in signals.served(vehicle, connection.permissions)]
        pages = max(1, math.ceil(len(items) / size))
        base = f"/vehicles/{vehicle_id}/signals"

        def link(page: int) -> str | None:
            return f"{base}?page={page}&pageSize={size}" if 1 <= page <= pages else None

        return JsonResponse(
            {
                "data": items[(number - 1) * size : number * size],
                "meta": {"page": number, "pageSize": size, "totalCount": len(items)},
                "links": {
                    "self": link(number) or f"{base}?page={number}&pageSize={size}",
                    "first": link(1),
                    "previous": link(number - 1),
                    "next": link(number + 1),
                    "last": link(pages),
                },
                "included": {"vehicle": _vehicle_resource(vehicle, connection.mode)},
            }
        )

    return _vehicle_call(connection, answer, path="signals")


def _signal_get(request: HttpRequest, vehicle_id: str, code: str) -> HttpResponse:
    # Reference: smartcar-api-v3/signals__get.md — the documented example is the bare resource (no "data" wrapper).
    signal = signals.BY_CODE.get(code)
    if signal is None:
        raise ApiError("RESOURCE_NOT_FOUND", "PATH", f"No signal with the code {code!r}.")
    connection = _connection(caller(request), vehicle_id)
    if signal.permission not in connection.permissions:
        raise ApiError("PERMISSION", None, f"Your application has not been granted {signal.permission}.")
    if not signal.serves(connection.vehicle):
        raise ApiError("COMPATIBILITY", "VEHICLE_NOT_CAPABLE")
    units = for_request(request.headers.get("SC-Unit-System"))

    def answer(vehicle, now, events):
        return JsonResponse(signal_resource(signal, signals.Reading(vehicle, units, now)))

    return _vehicle_call(connection, answer, path=f"signals/{code}")


# --- Commands (commands__overview.md) ------------------------------------------------------------------------------


def json_attributes(request: HttpRequest, *, optional: bool = False) -> dict:
    """``data.attributes`` of a JSON:API request body (empty when there is no body and it is ``optional``)."""
    if optional and not request.body:
        return {}
    try:
        body = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError):
        raise validation("body", "The request body is not valid JSON.") from None
    data = body.get("data") if isinstance(body, dict) else None
    attributes = data.get("attributes") if isinstance(data, dict) else None
    if not isinstance(attributes, dict):
        raise validation("data.attributes", 'The body must be {"data": {"attributes": {...}}}.')
    return attributes


def _percent_limit(attributes: dict) -> dict:
    # command__charge-set-limit.md: data.attributes.percent, an integer percent (50–100 per a reading of the spec).
    percent = attributes.get("percent")
    if isinstance(percent, bool) or not isinstance(percent, int | float) or not 50 <= percent <= 100:
        raise validation("data.attributes.percent", "percent must be a number from 50 to 100")
    return {"limit": percent / 100}


def _destination(attributes: dict) -> dict:
    return {"latitude": attributes.get("latitude"), "longitude": attributes.get("longitude")}


# command path → (v2 endpoint it acts like, its v2 body from the v3 attributes, commandType)
COMMANDS = {
    "security/lock": (("POST", "security"), lambda a: {"action": "LOCK"}, "security-lock"),
    "security/unlock": (("POST", "security"), lambda a: {"action": "UNLOCK"}, "security-unlock"),
    "charge/start": (("POST", "charge"), lambda a: {"action": "START"}, "charge-start"),
    "charge/stop": (("POST", "charge"), lambda a: {"action": "STOP"}, "charge-stop"),
    "charge/set-limit": (("POST", "charge/limit"), _percent_limit, "charge-set-limit"),
    "navigation/set-destination": (("POST", "navigation/destination"), _destination, "navigation-set-destination"),
}


def _execution(kind: str, execution_type: str, parameters: dict, *, pending: bool, extra: dict | None = None) -> dict:
    started = timezone.now()
    return {
        "data": {
            "id": f"exec_{uuid.uuid4().hex[:12]}",
            "type": execution_type,
            "attributes": {
                **({"commandType": kind} if execution_type == "command-execution" else {}),
                "status": {"value": "PENDING" if pending else "SUCCESS"},
                "executionMode": "async" if pending else "sync",
                "parameters": parameters,
                **(extra or {}),
            },
            "meta": {
                "executedAt": world.iso(started),
                "completedAt": None if pending else world.iso(timezone.now()),
                "durationInSeconds": 0 if pending else 1,
            },
        }
    }


def _command(request: HttpRequest, vehicle_id: str, name: str) -> HttpResponse:
    if name not in COMMANDS:
        raise ApiError("RESOURCE_NOT_FOUND", "PATH")
    (method, v2_path), to_v2_body, kind = COMMANDS[name]
    connection = _connection(caller(request), vehicle_id)
    endpoint = endpoints.CORE_INDEX[(method, v2_path)]
    api._check_access(connection.permissions, connection.vehicle, endpoint)
    attributes = json_attributes(request, optional=True)
    body = to_v2_body(attributes)

    def answer(vehicle, now, events):
        # A sleeping vehicle takes long to wake: the command is accepted as long-running (202, commands__overview.md).
        was_asleep = bool(vehicle.state["asleep"])
        world.wake(vehicle, now)
        ctx = endpoints.Ctx(vehicle=vehicle, units=for_request("metric"), now=now, body=body, events=events)
        endpoint.handler(ctx)
        return JsonResponse(
            _execution(kind, "command-execution", attributes, pending=was_asleep), status=202 if was_asleep else 200
        )

    return _vehicle_call(connection, answer, path=f"commands/{name}", command=True)


# --- Charge schedules (command__charge-schedules.md: Tesla daily/weekly/workweek, Volvo daily) ------------------------

SCHEDULE_MAKES = {"daily": {"TESLA", "VOLVO"}}


def _hh_mm(attributes: dict, name: str) -> str:
    value = attributes.get(name)
    if not isinstance(value, str) or not endpoints.HH_MM.match(value):
        raise validation(f"data.attributes.{name}", f"{name} must be a time HH:mm")
    return value


def _schedule_create(request: HttpRequest, vehicle_id: str, schedule_type: str) -> HttpResponse:
    # Only the daily body is documented (weekly and workweek pages were not retrieved): those answer 404 PATH here.
    if schedule_type not in SCHEDULE_MAKES:
        raise ApiError("RESOURCE_NOT_FOUND", "PATH")
    connection = _connection(caller(request), vehicle_id)
    if "control_charge" not in connection.permissions:
        raise ApiError("PERMISSION", None, "Your application has not been granted control_charge.")
    if connection.vehicle.make not in SCHEDULE_MAKES[schedule_type] or not world.is_electric(connection.vehicle):
        raise ApiError("COMPATIBILITY", "VEHICLE_NOT_CAPABLE")
    attributes = json_attributes(request, optional=True)
    location = attributes.get("location")
    if not isinstance(location, dict) or not all(
        isinstance(location.get(k), int | float) and not isinstance(location.get(k), bool)
        for k in ("latitude", "longitude")
    ):
        raise validation("data.attributes.location", "location needs a latitude and a longitude")
    schedule = {
        "scheduleId": f"sched_{uuid.uuid4().hex[:12]}",
        "scheduleType": schedule_type,
        "location": {"latitude": location["latitude"], "longitude": location["longitude"]},
        "startTime": _hh_mm(attributes, "startTime"),
        "stopTime": _hh_mm(attributes, "stopTime"),
    }

    def answer(vehicle, now, events):
        vehicle.state["v3_schedules"] = [*vehicle.state.get("v3_schedules", []), schedule]
        execution = _execution(
            "", "charge-schedule-execution", attributes, pending=False,
            extra={"action": "create", "scheduleType": schedule_type, "scheduleId": schedule["scheduleId"]},
        )  # fmt: skip
        execution["data"]["links"] = {"schedule": f"/vehicles/{vehicle_id}/charge-schedules/{schedule['scheduleId']}"}
        return JsonResponse(execution)

    return _vehicle_call(connection, answer, path=f"charge-schedules/{schedule_type}", command=True)


def _schedule_delete(request: HttpRequest, vehicle_id: str, schedule_id: str) -> HttpResponse:
    connection = _connection(caller(request), vehicle_id)
    if "control_charge" not in connection.permissions:
        raise ApiError("PERMISSION", None, "Your application has not been granted control_charge.")

    def answer(vehicle, now, events):
        kept = [s for s in vehicle.state.get("v3_schedules", []) if s["scheduleId"] != schedule_id]
        if len(kept) == len(vehicle.state.get("v3_schedules", [])):
            raise ApiError("RESOURCE_NOT_FOUND", "PATH", "No charge schedule with this id on the vehicle.")
        vehicle.state["v3_schedules"] = kept
        return JsonResponse(
            _execution("", "charge-schedule-execution", {}, pending=False,
                       extra={"action": "delete", "scheduleId": schedule_id})
        )  # fmt: skip

    return _vehicle_call(connection, answer, path=f"charge-schedules/{schedule_id}", command=True)


# --- Connections and users (connections__*.md, users__remove.md) ---------------------------------------------------


def connection_resource(connection: Connection) -> dict:
    vehicle = connection.vehicle
    return {
        "id": connection.connection_id,
        "type": "connection",
        "attributes": {
            "permissions": list(connection.permissions),
            "vehicle": _vehicle_attributes(vehicle, connection.mode),
        },
        "relationships": {
            "vehicle": {
                "data": {"id": vehicle.vehicle_id, "type": "vehicle"},
                "links": {"related": f"/vehicles/{vehicle.vehicle_id}"},
            },
            "user": {"data": {"id": connection.user.user_id, "type": "user"}},
        },
        "meta": {"createdAt": world.iso(connection.created_at), "updatedAt": world.iso(connection.created_at)},
        "links": {"self": f"/connections/{connection.connection_id}"},
    }


def paged(request: HttpRequest, rows, base: str, resource) -> JsonResponse:
    number, size = _page_numbers(request, DEFAULT_PAGE_SIZE)
    paginator = Paginator(rows, size)
    pages = max(paginator.num_pages, 1)
    items = [resource(row) for row in paginator.page(number).object_list] if number <= pages else []

    def link(page: int) -> str | None:
        return f"{base}?page[number]={page}&page[size]={size}" if 1 <= page <= pages else None

    return JsonResponse(
        {
            "data": items,
            "meta": {"pageNumber": number, "pageSize": size, "totalCount": paginator.count},
            "links": {
                "self": f"{base}?page[number]={number}&page[size]={size}",
                "first": link(1),
                "prev": link(number - 1),
                "next": link(number + 1),
                "last": link(pages),
            },
        }
    )


def _connections_list(request: HttpRequest) -> HttpResponse:
    who = caller(request)
    rows = Connection.objects.filter(application=who.application).select_related("vehicle", "user")
    user_id = request.GET.get("filter[userId]") or request.headers.get("sc-user-id")
    if user_id:
        rows = rows.filter(user__user_id=user_id)
    if request.GET.get("filter[vehicleId]"):
        rows = rows.filter(vehicle__vehicle_id=request.GET["filter[vehicleId]"])
    if request.GET.get("filter[vehicle.mode]"):
        rows = rows.filter(mode=request.GET["filter[vehicle.mode]"])
    # "sorted by connection date" (blog__introducing-v3.md)
    return paged(request, rows.order_by("created_at", "pk"), "/connections", connection_resource)


def _connection_for(who: Caller, connection_or_vehicle_id: str) -> Connection:
    # connections__get.md names the parameter connectionId; the launch blog says :vehicleId. Both are accepted.
    rows = Connection.objects.filter(application=who.application).select_related("vehicle", "user")
    connection = (
        rows.filter(connection_id=connection_or_vehicle_id).first()
        or rows.filter(vehicle__vehicle_id=connection_or_vehicle_id).first()
    )
    if connection is None:
        raise ApiError("RESOURCE_NOT_FOUND", "PATH", "No connection with this id.")
    return connection


def _connection_get(request: HttpRequest, connection_id: str) -> HttpResponse:
    return JsonResponse({"data": connection_resource(_connection_for(caller(request), connection_id))})


def connections_remove(connections: list[Connection]) -> None:
    """Disconnects these connections with their webhook subscriptions."""
    with transaction.atomic():
        for connection in connections:
            Subscription.objects.filter(
                webhook__application_id=connection.application_id, vehicle_id=connection.vehicle_id
            ).delete()
            connection.delete()


def _connection_delete(request: HttpRequest, connection_id: str) -> HttpResponse:
    # connections__remove.md: the response was not retrieved; 204 by analogy with Remove user.
    connections_remove([_connection_for(caller(request), connection_id)])
    return HttpResponse(status=204)


def _user_delete(request: HttpRequest, user_id: str) -> HttpResponse:
    who = caller(request)
    rows = list(Connection.objects.filter(application=who.application, user__user_id=user_id))
    if not rows:
        raise ApiError("RESOURCE_NOT_FOUND", "PATH", "No user with this id has connections to your application.")
    connections_remove(rows)
    return HttpResponse(status=204)
