"""Connect vehicles, the Connect callback, and the fleet's connected accounts (reconnect, disconnect)."""

from __future__ import annotations

import logging
from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from connect import accounts as accounts_page
from connect import client, compatibility, oauth_state, reconciliation, services, subscriptions, webhooks
from connect.compatibility_forms import MatrixForm, VinCheckForm
from connect.errors import SmartcarError
from connect.forms import DisconnectForm
from connect.models import SmartcarAccount
from fleet.tenancy import FleetRequest, fleet_view, get_fleet_object_or_404
from vehicles import conditions
from vehicles.models import Vehicle

logger = logging.getLogger(__name__)


def _safe_next(request: HttpRequest, url: str | None) -> str | None:
    """A ``next`` that stays on this site, else None: Connect must never become an open redirect."""
    if url and url_has_allowed_host_and_scheme(
        url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return url
    return None


def _send_to_connect(request: FleetRequest, *, account: SmartcarAccount | None = None, next_url: str | None = None):
    state = oauth_state.state_issue(
        request.session,
        fleet_id=request.fleet.pk,
        user_id=request.user.pk,
        account_id=account.pk if account else None,
        next_url=next_url or _safe_next(request, request.POST.get("next")),
    )
    logger.info(
        "connect: started for fleet %s%s", request.fleet.pk, f" (reconnect account {account.pk})" if account else ""
    )
    return redirect(client.authorize_url(state=state, force_prompt=account is not None))


def _a_visit_goes_to(url_name: str):
    """A page's address opened in the browser (GET) of an action that only a form's button performs (POST): sent on
    to the page with that button rather than answered with a blank 405. Nothing is looked up before the redirect,
    so another fleet's address still ends in its 404."""

    def decorate(view):
        @wraps(view)
        def wrapper(request, fleet_slug, *args, **kwargs):
            if request.method in ("GET", "HEAD"):
                return redirect(url_name, fleet_slug)
            return view(request, fleet_slug, *args, **kwargs)

        return require_http_methods(["GET", "HEAD", "POST"])(wrapper)

    return decorate


@_a_visit_goes_to("connect_accounts")
@fleet_view(write=True)
def connect_start(request: FleetRequest):
    """ "Connect vehicles": off to Smartcar Connect with a fresh state bound to this session."""
    return _send_to_connect(request)


@_a_visit_goes_to("connect_accounts")
@fleet_view(write=True)
def account_reconnect(request: FleetRequest, account_id: int):
    """One-click reconnect of an account that needs it: Connect again, the callback updates the same account."""
    account = get_fleet_object_or_404(request, SmartcarAccount.objects, pk=account_id)
    return _send_to_connect(request, account=account)


@require_POST
@fleet_view(write=True)
def vehicle_reconnect(request: FleetRequest, vehicle_id: int):
    """Reconnect one vehicle from its page: its owner goes through Connect again and comes back to the vehicle."""
    vehicle = get_fleet_object_or_404(request, Vehicle.objects.select_related("account"), pk=vehicle_id)
    return _send_to_connect(request, account=vehicle.account, next_url=vehicle.get_absolute_url())


@never_cache
@require_GET
@login_required
def connect_callback(request: HttpRequest):
    """Where Smartcar Connect sends the browser back, with ``code`` and ``state`` or with ``error``."""
    try:
        result = services.connect_callback(session=request.session, user=request.user, params=request.GET)
    except oauth_state.StateError as exc:
        logger.warning("connect callback refused: %s", exc.reason)
        return render(request, "connect/callback_failed.html", {"message": exc.user_message}, status=400)
    destination = _safe_next(request, result.next_url) or result.fleet.get_absolute_url()
    outcome = result.outcome
    if result.error_message or outcome is None:  # an outcome exactly when there is no error
        messages.error(request, result.error_message or "Connecting failed.")
    elif outcome.refused or outcome.notes:
        messages.warning(request, outcome.summary)
    else:
        messages.success(request, outcome.summary)
    return redirect(destination)


@require_GET
@fleet_view
def accounts(request: FleetRequest):
    """The fleet's Smartcar accounts: status, token expiry (never the tokens), vehicles, reconnect, disconnect."""
    limits = conditions.Limits.for_fleet(request.fleet, timezone.now())
    summaries = accounts_page.fleet_accounts(fleet=request.fleet, limits=limits)
    return render(
        request, "connect/accounts.html", {"accounts": summaries, "reconnect_action": conditions.NEEDS_RECONNECT.action}
    )


@require_http_methods(["GET", "POST"])
@fleet_view(owner=True)
def account_disconnect(request: FleetRequest, account_id: int):
    account = get_fleet_object_or_404(request, SmartcarAccount.objects, pk=account_id)
    vehicles = list(account.vehicles.filter(fleet=request.fleet))
    form = DisconnectForm(request.POST or None, vehicles=len(vehicles))
    if request.method == "POST" and form.is_valid():
        try:
            services.account_disconnect(account=account, delete_history=form.cleaned_data["delete_history"])
        except services.DisconnectError as exc:
            messages.error(request, exc.user_message)
        else:
            messages.success(request, "The account and its vehicles are disconnected; Fleet no longer reads them.")
        return redirect("connect_accounts", request.fleet.slug)
    subject = accounts_page.account_label(account, vehicles)
    context = {"form": form, "account": account, "vehicles": vehicles, "subject": subject}
    return render(request, "connect/disconnect.html", context)


@require_http_methods(["GET", "POST"])
@fleet_view(owner=True)
def vehicle_disconnect(request: FleetRequest, vehicle_id: int):
    vehicle = get_fleet_object_or_404(request, Vehicle.objects, pk=vehicle_id)
    form = DisconnectForm(request.POST or None, vehicles=1)
    if request.method == "POST" and form.is_valid():
        try:
            services.vehicle_disconnect(vehicle=vehicle, delete_history=form.cleaned_data["delete_history"])
        except services.DisconnectError as exc:
            messages.error(request, exc.user_message)
        else:
            messages.success(request, f"{vehicle} is disconnected; Fleet no longer reads it.")
        return redirect("connect_accounts", request.fleet.slug)
    context = {"form": form, "vehicle": vehicle, "vehicles": [vehicle], "subject": str(vehicle)}
    return render(request, "connect/disconnect.html", context)


# --- Webhooks ---------------------------------------------------------------------------------------------------


@csrf_exempt  # Smartcar cannot send a CSRF token; every delivery but the verify challenge is signed instead
@require_POST
def webhook_receive(request: HttpRequest, webhook_id: str):
    """Where Smartcar delivers a webhook's events (connect/webhooks.py checks and stores them)."""
    try:
        content_length = int(request.META.get("CONTENT_LENGTH") or 0) or None
    except ValueError:
        content_length = None
    try:
        receipt = webhooks.delivery_receive(
            webhook_id=webhook_id,
            content_type=request.content_type or "",
            content_length=content_length,
            read_body=_body_reader(request, content_length),
            signature=request.headers.get(webhooks.SIGNATURE_HEADER, ""),
        )
    except webhooks.DeliveryRefused as exc:
        logger.warning("webhook %s: delivery refused with %s: %s", webhook_id, exc.status, exc.reason)
        return JsonResponse({"error": exc.reason}, status=exc.status)
    return JsonResponse(receipt.body)


def _body_reader(request: HttpRequest, content_length: int | None):
    """How to read the delivery's body. Django reads as many bytes as Content-Length says, so a chunked body (which
    announces none) would read as empty and fail its signature; a server that ends the input stream itself (gunicorn
    de-chunks it and says so with ``wsgi.input_terminated``) is read directly instead, up to the caller's limit."""
    if content_length is None and request.META.get("wsgi.input_terminated"):
        return request.META["wsgi.input"].read
    return request.read


@require_POST
@fleet_view(write=True)
def vehicle_webhooks_subscribe(request: FleetRequest, vehicle_id: int):
    vehicle = get_fleet_object_or_404(request, Vehicle.objects.select_related("account"), pk=vehicle_id)
    result = subscriptions.vehicle_webhooks_subscribe(vehicle=vehicle)
    if result.errors:
        messages.error(request, f"Subscribing {vehicle} to webhooks failed: {result.message}")
    else:
        messages.success(request, f"{vehicle} is subscribed to webhooks: its charging events arrive as they happen.")
    return redirect(vehicle)


@require_POST
@fleet_view(write=True)
def vehicle_webhooks_unsubscribe(request: FleetRequest, vehicle_id: int):
    vehicle = get_fleet_object_or_404(request, Vehicle.objects.all(), pk=vehicle_id)
    result = subscriptions.vehicle_webhooks_unsubscribe(vehicle=vehicle)
    if result.errors:
        messages.error(request, f"Unsubscribing {vehicle} failed: {result.message}")
    else:
        messages.success(request, f"{vehicle} is unsubscribed from webhooks; polling alone keeps it up to date.")
    return redirect(vehicle)


# --- Compatibility ----------------------------------------------------------------------------------------------


@require_GET
@fleet_view
def compatibility_check(request: FleetRequest):
    """ "Will this vehicle work?": the VIN is validated before Smartcar is asked."""
    form = VinCheckForm(request.GET or None, initial={"permissions": list(settings.SMARTCAR_SCOPE)})
    report, refusal = None, None
    if form.is_bound and form.is_valid():
        try:
            report = compatibility.vin_compatibility_check(
                vin=form.cleaned_data["vin"],
                permissions=form.cleaned_data["permissions"],
                country=form.cleaned_data["country"],
            )
        except SmartcarError as exc:
            logger.warning("compatibility check failed: %s", exc)
            refusal = compatibility.vin_refusal_in_words(vin=form.cleaned_data["vin"], error=exc)
    return render(request, "connect/compatibility.html", {"form": form, "report": report, "refusal": refusal})


@require_GET
@fleet_view
def compatibility_matrix(request: FleetRequest):
    """The compatibility matrix by region, make and engine type."""
    form = MatrixForm(request.GET or {"region": "US"})
    matrix, problem = None, None
    if form.is_valid():
        try:
            matrix = compatibility.compatibility_matrix_browse(
                region=form.cleaned_data["region"],
                makes=form.cleaned_data["make"],
                engine_types=form.cleaned_data["type"],
                permissions=form.cleaned_data["permissions"],
            )
        except SmartcarError as exc:
            logger.warning("compatibility matrix failed: %s", exc)
            problem = exc.user_message
    context = {"form": form, "matrix": matrix, "problem": problem, "makes_by_region": compatibility.MAKES_BY_REGION}
    return render(request, "connect/compatibility_matrix.html", context)


# --- Management: connections at Smartcar, reconciled ------------------------------------------------------------


@require_GET
@fleet_view(owner=True)
def connections_reconcile(request: FleetRequest):
    """Every connection Smartcar holds for the fleet's Smartcar users, set against the fleet's own vehicles."""
    try:
        result, problem = reconciliation.fleet_connections_reconcile(fleet=request.fleet), None
    except reconciliation.ReconcileError as exc:
        result, problem = None, exc.user_message
    if result is not None:
        _label_accounts([*result.matched, *result.unknown_here])
    return render(request, "connect/reconcile.html", {"result": result, "problem": problem})


def _label_accounts(connections) -> None:
    """Each connection's account by its owner's e-mail or its vehicles, as on the connections page: not an id."""
    accounts = {connection.account.pk: connection.account for connection in connections}
    emails = accounts_page.owner_emails(list(accounts.values()))
    labels = {
        pk: accounts_page.account_label(account, list(account.vehicles.filter(disconnected_at__isnull=True)), emails)
        for pk, account in accounts.items()
    }
    for connection in connections:
        connection.account_label = labels[connection.account.pk]


@require_POST
@fleet_view(owner=True)
def connection_adopt(request: FleetRequest, account_id: int):
    account = get_fleet_object_or_404(request, SmartcarAccount.objects, pk=account_id)
    vehicle_id = request.POST.get("smartcar_vehicle_id", "")[:64]
    try:
        vehicle = reconciliation.connection_adopt(fleet=request.fleet, account=account, smartcar_vehicle_id=vehicle_id)
    except reconciliation.ReconcileError as exc:
        messages.error(request, exc.user_message)
    else:
        messages.success(request, f"{vehicle} is back in the fleet; its first sync follows shortly.")
    return redirect("connect_reconcile", request.fleet.slug)


@require_POST
@fleet_view(owner=True)
def connection_clean_up(request: FleetRequest, vehicle_id: int):
    vehicle = get_fleet_object_or_404(request, Vehicle.objects.select_related("account"), pk=vehicle_id)
    reconciliation.vehicle_gone_clean_up(vehicle=vehicle)
    messages.success(request, f"{vehicle} is marked disconnected; its history is kept.")
    return redirect("connect_reconcile", request.fleet.slug)
