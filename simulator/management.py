"""The management API: /simulator/management/v2.0/management/connections (GET and DELETE).

Reference: smartcar-api/management__get-vehicle-connections.md
Reference: smartcar-api/management__delete-vehicle-connections.md

Authentication is ``Basic base64(default:{application_management_token})``; the token is compared in constant
time against every application's, so neither timing nor the error tells which tokens exist.
"""

import base64
import binascii
import json
from datetime import datetime

from django.db import transaction
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt

from simulator.models import Application, Connection, Subscription
from simulator.platform import api_error, basic_credentials, ensure_default_application, secrets_equal

DEFAULT_PAGE_SIZE = 10
MAX_PAGE_SIZE = 100
MODES = ("live", "simulated", "test")


@csrf_exempt  # an API for servers, authenticated by the management token, not a browser form
def connections(request):
    ensure_default_application()
    application = _authenticated_application(request)
    if application is None:
        return api_error(401, "AUTHENTICATION", None, "The management token is missing or invalid.")
    if request.method == "GET":
        return _connections_list(request, application)
    if request.method == "DELETE":
        return _connections_delete(request, application)
    return api_error(
        404,
        "RESOURCE_NOT_FOUND",
        "PATH",
        f"{request.method} is not supported on this path.",
        headers={"Allow": "GET, DELETE"},
    )


@csrf_exempt
def unknown_path(request, path: str = ""):
    """Any other path under the management API: the documented RESOURCE_NOT_FOUND body, not an HTML page."""
    return api_error(404, "RESOURCE_NOT_FOUND", "PATH", "No management endpoint at this path.")


def _authenticated_application(request) -> Application | None:
    credentials = basic_credentials(request)
    if credentials is None:
        return None
    user, token = credentials
    found = None
    for application in Application.objects.all():
        if secrets_equal(token, application.management_token) and found is None:
            found = application
    return found if user == "default" else None


def _invalid(field: str, message: str):
    return api_error(400, "VALIDATION", "PARAMETER", message, detail=[{"field": field, "message": message}])


def _connections_list(request, application: Application):
    params = request.GET
    limit_text = params.get("limit", str(DEFAULT_PAGE_SIZE))
    if not limit_text.isdigit() or not 1 <= int(limit_text) <= MAX_PAGE_SIZE:
        return _invalid("limit", f"limit must be a whole number from 1 to {MAX_PAGE_SIZE}.")
    limit = int(limit_text)
    rows = Connection.objects.filter(application=application).select_related("user", "vehicle")
    if params.get("user_id"):
        rows = rows.filter(user__user_id=params["user_id"])
    if params.get("vehicle_id"):
        rows = rows.filter(vehicle__vehicle_id=params["vehicle_id"])
    if params.get("mode"):
        if params["mode"] not in MODES:
            return _invalid("mode", "mode must be one of live, simulated or test.")
        rows = rows.filter(mode=params["mode"])
    if params.get("cursor"):
        position = _decode_cursor(params["cursor"])
        if position is None:
            return _invalid("cursor", "cursor is not one this API returned.")
        created_at, pk = position
        # Keyset paging on (created_at, id), newest first: stable while connections are added or deleted.
        rows = rows.filter(created_at__lte=created_at).exclude(created_at=created_at, pk__gte=pk)
    page = list(rows.order_by("-created_at", "-pk")[: limit + 1])
    more = len(page) > limit
    page = page[:limit]
    body = {
        "connections": [
            {
                "userId": connection.user.user_id,
                "vehicleId": connection.vehicle.vehicle_id,
                "connectedAt": _iso(connection.created_at),
                "mode": connection.mode,
            }
            for connection in page
        ],
        "paging": {"cursor": _encode_cursor(page[-1]) if more else None},
    }
    return _json(body)


def _connections_delete(request, application: Application):
    user_id = request.GET.get("user_id", "")
    vehicle_id = request.GET.get("vehicle_id", "")
    if bool(user_id) == bool(vehicle_id):
        return _invalid("vehicle_id", "Give exactly one of vehicle_id or user_id.")
    deleted = connections_delete(application=application, user_id=user_id, vehicle_id=vehicle_id)
    return _json({"connections": deleted})


def connections_delete(*, application: Application, user_id: str = "", vehicle_id: str = "") -> list[dict]:
    """Disconnect a vehicle (or every vehicle of a user) from the application, with its webhook subscriptions."""
    with transaction.atomic():
        rows = Connection.objects.filter(application=application).select_related("user", "vehicle")
        rows = rows.filter(user__user_id=user_id) if user_id else rows.filter(vehicle__vehicle_id=vehicle_id)
        rows = list(rows.select_for_update(of=("self",)))
        Subscription.objects.filter(
            webhook__application=application, vehicle__in=[connection.vehicle for connection in rows]
        ).delete()
        Connection.objects.filter(pk__in=[connection.pk for connection in rows]).delete()
    return [{"userId": connection.user.user_id, "vehicleId": connection.vehicle.vehicle_id} for connection in rows]


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _encode_cursor(connection: Connection) -> str:
    raw = json.dumps([connection.created_at.isoformat(), connection.pk]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[datetime, int] | None:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        created_at, pk = json.loads(raw)
        moment = datetime.fromisoformat(created_at)
    except (binascii.Error, ValueError, TypeError):
        return None
    if moment.tzinfo is None:
        return None
    try:
        return moment, int(pk)
    except (binascii.Error, ValueError, TypeError):
        return None


def _json(body: dict) -> JsonResponse:
    return JsonResponse(body)
