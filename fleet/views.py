import logging

from allauth.account.models import EmailAddress
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from fleet import services
from fleet.adapters import PENDING_INVITATION_KEY, invitation_remember
from fleet.celery import app as celery_app
from fleet.forms import FleetForm, FleetSettingsForm, InvitationForm, MembershipRoleForm
from fleet.models import Invitation, Membership, Role
from fleet.tenancy import FleetRequest, fleet_view, get_fleet_object_or_404

logger = logging.getLogger(__name__)


@login_required
def home(request):
    """Sends a signed-in user to their fleet, or lets them pick or create one."""
    memberships = list(request.user.memberships.select_related("fleet"))
    if len(memberships) == 1:
        return redirect(memberships[0].fleet)
    return render(request, "fleet/home.html", {"memberships": memberships})


@login_required
def fleet_create(request):
    form = FleetForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        fleet = services.fleet_create(owner=request.user, **form.cleaned_data)
        messages.success(request, f"Fleet “{fleet.name}” created. You are its owner.")
        return redirect(fleet)
    return render(request, "fleet/fleet_form.html", {"form": form})


@fleet_view(owner=True)
def fleet_settings(request: FleetRequest):
    form = FleetSettingsForm(request.POST or None, instance=request.fleet)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, "Fleet settings saved.")
        return redirect("fleet_settings", request.fleet.slug)
    return render(request, "fleet/settings.html", {"form": form})


@fleet_view
def members(request: FleetRequest):
    form = InvitationForm(request.POST or None, fleet=request.fleet)
    if request.method == "POST":
        if not request.membership.is_owner:
            raise PermissionDenied("Only the fleet's owners can invite people.")
        if form.is_valid():
            services.invitation_create(
                fleet=request.fleet,
                invited_by=request.user,
                accept_url_for=lambda inv: request.build_absolute_uri(inv.get_absolute_url()),
                **form.cleaned_data,
            )
            messages.success(request, f"Invitation sent to {form.cleaned_data['email']}.")
            return redirect("fleet_members", request.fleet.slug)
    context = {
        "form": form,
        "memberships": _with_verified_emails(request.fleet.memberships.select_related("user")),
        "roles": Role.choices,
        "invitations": [i for i in request.fleet.invitations.filter(accepted_at__isnull=True) if i.is_usable],
    }
    return render(request, "fleet/members.html", context)


def _with_verified_emails(memberships) -> list[Membership]:
    """Each member's address as shown: only one they verified, so nobody appears under an address not theirs."""
    memberships = list(memberships)
    verified = {}
    for address in EmailAddress.objects.filter(user__in=[m.user for m in memberships], verified=True):
        if address.primary or address.user_id not in verified:
            verified[address.user_id] = address.email
    for membership in memberships:
        membership.verified_email = verified.get(membership.user_id)
    return memberships


@require_POST
@fleet_view(owner=True)
def member_role(request: FleetRequest, membership_id: int):
    membership = get_fleet_object_or_404(request, Membership.objects, pk=membership_id)
    form = MembershipRoleForm(request.POST)
    if form.is_valid():
        try:
            services.membership_change_role(membership=membership, role=form.cleaned_data["role"])
            messages.success(request, f"{membership.user} is now {membership.get_role_display().lower()}.")
        except services.FleetError as exc:
            messages.error(request, str(exc))
    else:
        messages.error(request, "Choose one of the listed roles.")
    return redirect("fleet_members", request.fleet.slug)


@require_POST
@fleet_view(owner=True)
def member_remove(request: FleetRequest, membership_id: int):
    membership = get_fleet_object_or_404(request, Membership.objects, pk=membership_id)
    try:
        services.membership_remove(membership=membership)
        messages.success(request, f"{membership.user} no longer has access to {request.fleet}.")
    except services.FleetError as exc:
        messages.error(request, str(exc))
    return redirect("fleet_members", request.fleet.slug)


@require_POST
@fleet_view(owner=True)
def invitation_revoke(request: FleetRequest, invitation_id: int):
    invitation = get_fleet_object_or_404(request, Invitation.objects, pk=invitation_id, accepted_at__isnull=True)
    invitation.delete()
    messages.success(request, f"Invitation for {invitation.email} withdrawn.")
    return redirect("fleet_members", request.fleet.slug)


def invitation_accept(request, token: str):
    """The link in an invitation e-mail: sign in or sign up, then accept with one click."""
    invitation = Invitation.objects.select_related("fleet").filter(token=token).first()
    if invitation is None or not invitation.is_usable:
        return render(request, "fleet/invitation_invalid.html", status=404)
    if not request.user.is_authenticated:
        # Lets the invited person sign up, with the invited address alone, although sign-up is otherwise closed.
        invitation_remember(request, invitation)
        return render(request, "fleet/invitation.html", {"invitation": invitation})
    if request.method == "POST":
        try:
            membership = services.invitation_accept(token=token, user=request.user)
        except services.FleetError as exc:
            messages.error(request, str(exc))
            return redirect("home")
        request.session.pop(PENDING_INVITATION_KEY, None)
        messages.success(request, f"Welcome to {membership.fleet}.")
        return redirect(membership.fleet)
    return render(request, "fleet/invitation.html", {"invitation": invitation})


@require_GET
def favicon(request):
    """Browsers ask for /favicon.ico where a page names no icon (the admin's, a plain error page): the static file."""
    return redirect(static("img/favicon.ico"), permanent=True)


@require_GET
@never_cache
def healthz(request):
    """For load balancers and process runners: 200 when the database and broker answer, else 503."""
    checks = {"database": _check_database(), "broker": _check_broker()}
    healthy = all(value == "ok" for value in checks.values())
    return JsonResponse({"status": "ok" if healthy else "error", **checks}, status=200 if healthy else 503)


def _check_database() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return "ok"
    except Exception as exc:
        logger.warning("healthz: database unreachable: %s", exc.__class__.__name__)
        return "unreachable"


def _check_broker() -> str:
    try:
        with celery_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
        return "ok"
    except Exception as exc:
        logger.warning("healthz: broker unreachable: %s", exc.__class__.__name__)
        return "unreachable"
