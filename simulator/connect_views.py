"""Simulated Smartcar Connect: GET /simulator/connect/oauth/authorize, then sign-in and consent.

Reference: smartcar-api/permissions.md
Reference: smartcar-api/changelog__2023.md (Connect errors; the ``N-vehicles@…`` test accounts)

The pages are plain HTML forms (CSRF-protected, stable field names: ``flow``, ``email``, ``password``, ``region``,
``vehicle``, ``action``) so a program can drive them as well as a person. The parameters of the Connect URL
travel between the steps in ``flow``, a signed value, so nothing the browser sends back can change them.

Decisions:
- an unknown ``client_id`` or a ``redirect_uri`` not registered for the client gets an error page, never a
  redirect (that would make Connect an open redirector);
- other bad parameters (``response_type``, ``mode``, an unknown permission) get Smartcar's configuration
  error page, whose "Back to application" link returns ``error=configuration_error`` with ``status_code``
  and ``error_message``;
- ``approval_prompt=auto`` still shows the consent page: a simulated account has no memory of earlier
  approvals worth trusting, and a page that sometimes does not appear would make scripted runs flaky.
"""

import hashlib
import re
from urllib.parse import urlencode, urlsplit

from django.core import signing
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_POST

from simulator import world
from simulator.catalogue import CATALOGUE, brand_name
from simulator.consent import PERMISSIONS, ScopeError, candidates_for, connections_grant, scope_parse
from simulator.models import Application, SmartcarUser
from simulator.platform import ensure_default_application

FLOW_SALT = "simulator.connect.flow"
FLOW_MAX_AGE_SECONDS = 3600
MODES = ("live", "simulated", "test")
REGIONS = (("US", "United States"), ("CA", "Canada"), ("EU", "Europe"))
DEFAULT_VEHICLE_COUNT = 3
MAX_VEHICLE_COUNT = 100
_N_VEHICLES = re.compile(r"^(\d{1,3})-vehicles?$")

# Addresses that make Connect end in each documented error, for testers (listed on the sign-in page).
TEST_ADDRESSES = {
    "no-vehicles": ("no_vehicles", "The connected-services account has no vehicles."),
    "invalid-subscription": (
        "invalid_subscription",
        "The vehicle's connected-services subscription is inactive or missing.",
    ),
    "incompatible": ("vehicle_incompatible", "The vehicle is not compatible with this application."),
    "server-error": ("server_error", "Connect ran into an unexpected error."),
    "configuration-error": ("configuration_error", "The connected-services provider rejected the request."),
}


@require_GET
def authorize(request):
    ensure_default_application()
    params = request.GET
    application = Application.objects.filter(client_id=params.get("client_id", "")).first()
    if application is None:
        return _error_page(request, "Unknown application", "No application is registered with this client_id.")
    registered = application.redirect_uri_list
    redirect_uri = params.get("redirect_uri") or (registered[0] if registered else "")
    if redirect_uri not in registered:
        return _error_page(
            request, "Redirect URI not registered", "This redirect_uri is not registered for the application."
        )
    flow = {
        "client_id": application.client_id,
        "redirect_uri": redirect_uri,
        "state": params.get("state", ""),
        "scope": params.get("scope", ""),
        "mode": params.get("mode", "live"),
        "make": params.get("make", "").upper(),
        "single_select": params.get("single_select", "").lower() == "true",
        "single_select_vin": params.get("single_select_vin", "").upper(),
    }
    problem = _configuration_problem(params, flow)
    if problem:
        back = _redirect_url(
            flow, error="configuration_error", error_description=problem, status_code=400, error_message=problem
        )
        return _error_page(request, "This link cannot be used", problem, back_url=back)
    return _sign_in_page(request, flow, application)


def _configuration_problem(params, flow: dict) -> str:
    if params.get("response_type") != "code":
        return "response_type must be code."
    if flow["mode"] not in MODES:
        return "mode must be live, simulated or test."
    try:
        scope_parse(flow["scope"])
    except ScopeError as error:
        return str(error)
    return ""


@require_POST
def sign_in(request):
    flow = _load_flow(request.POST.get("flow", ""))
    if flow is None:
        return _expired_page(request)
    if request.POST.get("action") == "deny":
        return _back_to_app(flow, error="access_denied", error_description="The user cancelled the Connect flow.")
    application = Application.objects.get(client_id=flow["client_id"])
    email = request.POST.get("email", "").strip().lower()
    region = request.POST.get("region", "US")
    try:
        validate_email(email)
    except ValidationError:
        return _sign_in_page(request, flow, application, problem="Enter a valid e-mail address.", status=400)
    if region not in dict(REGIONS):
        region = "US"

    local_part = email.split("@", 1)[0]
    if local_part in TEST_ADDRESSES and local_part != "incompatible":
        error, description = TEST_ADDRESSES[local_part]
        extra = {"status_code": 502, "error_message": description} if error == "configuration_error" else {}
        return _back_to_app(flow, error=error, error_description=description, **extra)

    user = _account(email, local_part, region)
    vehicles = _vehicles_in_scope(user, flow, region)
    if not vehicles:
        return _back_to_app(flow, error="no_vehicles", error_description="No vehicles found for this account.")
    candidates = candidates_for(vehicles, scope_parse(flow["scope"]))
    if local_part == "incompatible" or not any(candidate.compatible for candidate in candidates):
        vehicle = next((c.vehicle for c in candidates if not c.compatible), candidates[0].vehicle)
        return _back_to_app(
            flow,
            error="vehicle_incompatible",
            error_description=TEST_ADDRESSES["incompatible"][1],
            vin=vehicle.vin,
            make=vehicle.make,
            model=vehicle.model,
            year=vehicle.year,
        )
    flow = {**flow, "user_id": user.user_id, "region": region}
    return _consent_page(request, flow, application, candidates)


@require_POST
def grant(request):
    flow = _load_flow(request.POST.get("flow", ""))
    if flow is None or "user_id" not in flow:
        return _expired_page(request)
    if request.POST.get("action") != "approve":
        return _back_to_app(flow, error="access_denied", error_description="The user denied access to the application.")
    application = Application.objects.get(client_id=flow["client_id"])
    user = SmartcarUser.objects.get(user_id=flow["user_id"])
    candidates = candidates_for(_vehicles_in_scope(user, flow, flow["region"]), scope_parse(flow["scope"]))
    compatible = {c.vehicle.vehicle_id: c for c in candidates if c.compatible}
    chosen_ids = set(request.POST.getlist("vehicle"))
    problem = ""
    if not chosen_ids or not chosen_ids <= set(compatible):
        problem = "Choose at least one of the compatible vehicles."
    elif flow["single_select"] and len(chosen_ids) > 1:
        problem = "Choose one vehicle."
    if problem:
        return _consent_page(request, flow, application, candidates, problem=problem, status=400)
    code = connections_grant(
        application=application,
        user=user,
        candidates=[compatible[vehicle_id] for vehicle_id in sorted(chosen_ids)],
        mode=flow["mode"],
        redirect_uri=flow["redirect_uri"],
    )
    # API v3 adds the Smartcar user id "alongside the authorization code" (smartcar-api-v3/auth__connect-redirect-
    # user-id.md); a v2 application ignores the extra parameter.
    return _back_to_app(flow, code=code.code, user_id=user.user_id)


def _account(email: str, local_part: str, region: str) -> SmartcarUser:
    """The person's account; a new one comes with vehicles (``N-vehicles@…`` gets N, as in Smartcar's test mode)."""
    user, created = SmartcarUser.objects.get_or_create(email=email)
    if created:
        match = _N_VEHICLES.match(local_part)
        count = DEFAULT_VEHICLE_COUNT
        if match:
            count = min(int(match.group(1)), MAX_VEHICLE_COUNT)
        elif local_part == "incompatible":
            count = 1
        vehicles = world.create_vehicles(user, count, region=region, seed=_seed(email))
        if email.rpartition("@")[2] == world.DEMO_DOMAIN:
            world.demo_nudge(vehicles)
    return user


def _vehicles_in_scope(user: SmartcarUser, flow: dict, region: str) -> list:
    vehicles = list(user.vehicles.order_by("pk"))
    if flow["make"]:
        vehicles = [vehicle for vehicle in vehicles if vehicle.make == flow["make"]]
        if not vehicles and flow["make"] in CATALOGUE and "user_id" not in flow:
            # Connect with a make bypass signs in to that brand's account: give it a vehicle of that make.
            vehicles = [world.create_vehicle(user, make=flow["make"], region=region, seed=_seed(user.email))]
    if flow["single_select_vin"]:
        vehicles = [vehicle for vehicle in vehicles if vehicle.vin == flow["single_select_vin"]]
    return vehicles


def _seed(email: str) -> int:
    # The same address yields the same vehicles on every installation.
    return int.from_bytes(hashlib.sha256(email.encode()).digest()[:4], "big")


def _load_flow(value: str) -> dict | None:
    try:
        return signing.loads(value, salt=FLOW_SALT, max_age=FLOW_MAX_AGE_SECONDS)
    except signing.BadSignature:
        return None


def _redirect_url(flow: dict, **params) -> str:
    query = {name: value for name, value in params.items() if value not in (None, "")}
    if flow.get("state"):
        query["state"] = flow["state"]
    separator = "&" if "?" in flow["redirect_uri"] else "?"
    return flow["redirect_uri"] + separator + urlencode(query)


def _back_to_app(flow: dict, **params) -> HttpResponseRedirect:
    return HttpResponseRedirect(_redirect_url(flow, **params))


def _allow_form_redirect_to_app(response, flow: dict):
    # The forms' responses redirect to the application, which may live on another origin than this page.
    parts = urlsplit(flow["redirect_uri"])
    if parts.scheme in ("http", "https") and parts.netloc:
        response._csp_update = {"form-action": [f"{parts.scheme}://{parts.netloc}"]}
    return response


def _sign_in_page(request, flow: dict, application: Application, problem: str = "", status: int = 200):
    response = render(
        request,
        "simulator/connect_sign_in.html",
        {
            "application": application,
            "flow_token": signing.dumps(flow, salt=FLOW_SALT),
            "make": brand_name(flow["make"]) if flow["make"] else "",
            "regions": REGIONS,
            "test_addresses": [(f"{local}@example.com", error) for local, (error, _) in TEST_ADDRESSES.items()],
            "problem": problem,
            "email": request.POST.get("email", ""),
            "default_count": DEFAULT_VEHICLE_COUNT,
        },
        status=status,
    )
    return _allow_form_redirect_to_app(response, flow)


def _consent_page(request, flow: dict, application: Application, candidates, problem: str = "", status: int = 200):
    scope = scope_parse(flow["scope"])
    response = render(
        request,
        "simulator/connect_consent.html",
        {
            "application": application,
            "flow_token": signing.dumps(flow, salt=FLOW_SALT),
            "candidates": candidates,
            "single_select": flow["single_select"],
            "permissions": [(name, PERMISSIONS[name], name in scope.required) for name in scope.requested],
            "problem": problem,
        },
        status=status,
    )
    return _allow_form_redirect_to_app(response, flow)


def _error_page(request, title: str, message: str, back_url: str = ""):
    return render(
        request, "simulator/connect_error.html", {"title": title, "message": message, "back_url": back_url}, status=400
    )


def _expired_page(request):
    return _error_page(
        request, "This Connect session is no longer valid", "Start again from the application to connect a vehicle."
    )
