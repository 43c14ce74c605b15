"""The one place where a request's fleet and the user's role in it are resolved.

Fleet pages live under ``/fleets/<fleet_slug>/``. ``fleet_view`` looks up the signed-in user's
membership of that fleet and puts ``request.fleet`` and ``request.membership`` on the request.
A fleet the user does not belong to answers 404, exactly like one that does not exist, so ids
and slugs of other tenants are never confirmed. Write actions are refused to viewers on the
server (403), whatever the page showed them.
"""

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django_htmx.middleware import HtmxDetails

from fleet.models import Fleet, Membership, Role, User


class FleetRequest(HttpRequest):
    fleet: Fleet
    membership: Membership
    user: User  # fleet views are behind login_required
    htmx: HtmxDetails  # django_htmx.middleware.HtmxMiddleware


def membership_for(user, fleet_slug: str) -> Membership:
    try:
        return Membership.objects.select_related("fleet").get(user=user, fleet__slug=fleet_slug)
    except Membership.DoesNotExist:
        raise Http404("No such fleet") from None


def fleet_view(view=None, *, write: bool = False, owner: bool = False):
    """Decorates a view that takes ``fleet_slug``: resolves the tenant and checks the role.

    ``write=True``: managers and owners only. ``owner=True``: owners only.
    """

    def decorate(func):
        @login_required
        @wraps(func)
        def wrapper(request, fleet_slug, *args, **kwargs):
            membership = membership_for(request.user, fleet_slug)
            if owner and membership.role != Role.OWNER:
                raise PermissionDenied("Only the fleet's owners can do this.")
            if write and not membership.can_write:
                raise PermissionDenied("Viewers can look but not change anything.")
            request.membership = membership
            request.fleet = membership.fleet
            # Every time on a fleet's pages is in the fleet's zone: templates render inside this block (a lazy
            # TemplateResponse is rendered here, not later outside it).
            with timezone.override(membership.fleet.zone):
                response = func(request, *args, **kwargs)
                if hasattr(response, "render") and not getattr(response, "is_rendered", True):
                    response.render()
            return response

        return wrapper

    return decorate(view) if view is not None else decorate


def get_fleet_object_or_404(request: FleetRequest, queryset, **lookup):
    """An object of the request's fleet, or 404 — never another tenant's row."""
    return get_object_or_404(queryset.filter(fleet=request.fleet), **lookup)
