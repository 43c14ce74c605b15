"""The Management API v3 under /simulator/management-api/v3/: webhooks (read only) and subscriptions.

Reference: smartcar-api-v3/management__webhooks.md, smartcar-api-v3/management__subscriptions.md — Bearer
application token; ``POST /subscriptions`` with ``{"data": {"attributes": {webhookId, userId, vehicleId}}}`` answers
202 without an id (the first VEHICLE_STATE, with the FIRST_DELIVERY trigger, follows); 409 when already subscribed;
``DELETE /subscriptions/{id}`` answers 204 (community reading; the page was not retrieved). The launch blog's
webhook-scoped paths (``/webhooks/{id}/subscriptions``) are not served: the reference pages use the flat resource.
"""

import uuid

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from simulator import world
from simulator.errors import ApiError, validation
from simulator.models import Connection, Subscription, Webhook
from simulator.platform import ensure_default_application
from simulator.v3 import errors
from simulator.v3.vehicle_api import caller, json_attributes, paged
from simulator.v3.webhooks import queue_state


@csrf_exempt
def entry(request: HttpRequest, path: str = "") -> HttpResponse:
    request_id = str(uuid.uuid4())
    ensure_default_application()
    try:
        response = _route(request, [part for part in path.strip("/").split("/") if part])
    except ApiError as error:
        return errors.response(error, request_id)
    response["SC-Request-Id"] = request_id
    return response


def _route(request: HttpRequest, parts: list[str]) -> HttpResponse:
    who = caller(request)
    method = request.method
    if parts == ["webhooks"] and method == "GET":
        rows = Webhook.objects.filter(application=who.application).order_by("created_at", "pk")
        return paged(request, rows, "/webhooks", _webhook_resource)
    if len(parts) == 2 and parts[0] == "webhooks" and method == "GET":
        webhook = Webhook.objects.filter(application=who.application, webhook_id=parts[1]).first()
        if webhook is None:
            raise ApiError("RESOURCE_NOT_FOUND", "PATH", "No webhook with this id.")
        return JsonResponse({"data": _webhook_resource(webhook)})
    if parts == ["subscriptions"] and method == "POST":
        return _subscribe(request, who)
    if parts == ["subscriptions"] and method == "GET":
        return _subscriptions_list(request, who)
    if len(parts) == 2 and parts[0] == "subscriptions":
        return _subscription(request, who, parts[1])
    raise ApiError("RESOURCE_NOT_FOUND", "PATH")


def _subscriptions_list(request: HttpRequest, who) -> HttpResponse:
    rows = Subscription.objects.filter(webhook__application=who.application).select_related("webhook", "vehicle")
    for name, lookup in (("webhookId", "webhook__webhook_id"), ("vehicleId", "vehicle__vehicle_id")):
        if request.GET.get(f"filter[{name}]"):
            rows = rows.filter(**{lookup: request.GET[f"filter[{name}]"]})
    if request.GET.get("filter[userId]"):
        rows = rows.filter(
            vehicle__connections__user__user_id=request.GET["filter[userId]"],
            vehicle__connections__application=who.application,
        )
    return paged(request, rows.order_by("created_at", "pk"), "/subscriptions", _subscription_resource)


def _subscription(request: HttpRequest, who, subscription_id: str) -> HttpResponse:
    """GET reads one subscription, DELETE ends it; no other method is served."""
    row = (
        Subscription.objects.filter(webhook__application=who.application, subscription_id=subscription_id)
        .select_related("webhook", "vehicle")
        .first()
    )
    if row is None:
        raise ApiError("RESOURCE_NOT_FOUND", "PATH", "No subscription with this id.")
    if request.method == "GET":
        return JsonResponse({"data": _subscription_resource(row)})
    if request.method == "DELETE":
        row.delete()
        return HttpResponse(status=204)
    raise ApiError("RESOURCE_NOT_FOUND", "PATH")


def _signal_refs(codes) -> list[dict]:
    from simulator.v3.signals import BY_CODE

    return [{"group": BY_CODE[code].group, "name": BY_CODE[code].name, "code": code} for code in codes]


def _webhook_resource(webhook: Webhook) -> dict:
    from simulator.v3.webhooks import CHARGING_TRIGGER, DATA_SIGNALS

    return {
        "id": webhook.webhook_id,
        "type": "webhook",
        "attributes": {
            "name": webhook.name,
            "callbackUri": webhook.callback_url,
            "isEnabled": True,
            "triggers": _signal_refs([CHARGING_TRIGGER]),
            "data": _signal_refs(DATA_SIGNALS),
            "errorCallbackUri": None,
            "autoSubscribe": False,
        },
        "links": {"self": f"/webhooks/{webhook.webhook_id}"},
        "meta": {"createdAt": world.iso(webhook.created_at)},
    }


def _subscription_resource(row: Subscription) -> dict:
    vehicle = row.vehicle
    connection = Connection.objects.filter(application=row.webhook.application, vehicle=vehicle).select_related("user")
    user = connection.first()
    return {
        "type": "subscription",
        "id": row.subscription_id,
        "attributes": {
            "vehicle": {
                "make": vehicle.make,
                "model": vehicle.model,
                "year": vehicle.year,
                "mode": user.mode if user else "live",
                "powertrainType": vehicle.engine_type,
            }
        },
        "meta": {"createdAt": world.iso(row.created_at), "updatedAt": world.iso(row.created_at)},
        "relationships": {
            "webhook": {"data": {"type": "webhook", "id": row.webhook.webhook_id}},
            "user": {"data": {"type": "user", "id": user.user.user_id if user else None}},
            "vehicle": {"data": {"type": "vehicle", "id": vehicle.vehicle_id}},
        },
        "links": {"self": f"/subscriptions/{row.subscription_id}"},
    }


def _subscribe(request: HttpRequest, who) -> HttpResponse:
    attributes = json_attributes(request)
    for name in ("webhookId", "userId", "vehicleId"):
        if not isinstance(attributes.get(name), str) or not attributes[name]:
            raise validation(f"data.attributes.{name}", f"{name} is required")
    webhook = Webhook.objects.filter(application=who.application, webhook_id=attributes["webhookId"]).first()
    if webhook is None:
        raise ApiError("RESOURCE_NOT_FOUND", "PATH", "No webhook with this id.")
    connection = (
        Connection.objects.filter(
            application=who.application,
            user__user_id=attributes["userId"],
            vehicle__vehicle_id=attributes["vehicleId"],
        )
        .select_related("vehicle")
        .first()
    )
    if connection is None:
        raise ApiError("RESOURCE_NOT_FOUND", "PATH", "This user has no connection to this vehicle.")
    _, created = Subscription.objects.get_or_create(webhook=webhook, vehicle=connection.vehicle)
    if not created:
        return errors.response(_conflict())
    if webhook.payload_version == "4.0":
        # webhooks__event-vehicle-state.md: a new subscription gets every signal at its current value.
        queue_state(connection.vehicle, ["FIRST_DELIVERY"], webhooks=[webhook])
    return JsonResponse({"meta": {"message": "subscription creation in progress"}}, status=202)


def _conflict() -> ApiError:
    # 409 Conflict "already subscribed" (management__subscriptions.md): the v2 table has no such (type, code); the
    # closest documented 409 is VEHICLE_STATE, so the envelope is built by hand.
    error = ApiError("VEHICLE_STATE", "UNKNOWN", "The vehicle is already subscribed to this webhook.")
    error.type, error.code, error.resolution = "CONFLICT", "ALREADY_SUBSCRIBED", None
    return error
