"""Where alerts go: each member's own e-mail settings (viewers too), and the fleet's webhooks (owners and managers)
with their delivery log, a test button and resume after a pause."""

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from alerts.delivery import endpoint_resume, endpoint_test
from alerts.forms import EndpointForm, SubscriptionForm
from alerts.models import Delivery, Endpoint
from alerts.services import endpoint_create, subscription_for
from fleet.tenancy import FleetRequest, fleet_view, get_fleet_object_or_404

LOG_SIZE = 50


@require_http_methods(["GET", "POST"])
@fleet_view
def subscription(request: FleetRequest):
    """Every member sets their own alert e-mails: nobody else's are reachable from here."""
    instance = subscription_for(fleet=request.fleet, user=request.user)
    form = SubscriptionForm(request.POST or None, instance=instance, fleet=request.fleet)
    if request.method == "POST":
        if form.is_valid():
            form.save()
            messages.success(request, "Your alert e-mails are saved.")
            return redirect("alerts_subscription", request.fleet.slug)
        return render(request, "alerts/subscription.html", {"form": form}, status=422)
    return render(request, "alerts/subscription.html", {"form": form})


@require_http_methods(["GET", "POST"])
@fleet_view(write=True)
def endpoints(request: FleetRequest):
    form = EndpointForm(request.POST or None)
    context = {"form": form, "endpoints": Endpoint.objects.filter(fleet=request.fleet)}
    if request.method == "POST":
        if not form.is_valid():
            return render(request, "alerts/endpoints.html", context, status=422)
        endpoint, secret = endpoint_create(fleet=request.fleet, **form.cleaned_data)
        # The secret is shown on this one answer and never again (it is stored encrypted).
        return render(request, "alerts/endpoint_created.html", {"endpoint": endpoint, "secret": secret})
    return render(request, "alerts/endpoints.html", context)


@require_GET
@fleet_view(write=True)
def endpoint_detail(request: FleetRequest, endpoint_id: int):
    endpoint = get_fleet_object_or_404(request, Endpoint.objects.all(), pk=endpoint_id)
    log = Delivery.objects.filter(endpoint=endpoint).select_related("event__alert__vehicle").order_by("-created_at")
    return render(request, "alerts/endpoint.html", {"endpoint": endpoint, "log": log[:LOG_SIZE]})


@require_POST
@fleet_view(write=True)
def endpoint_action(request: FleetRequest, endpoint_id: int, action: str):
    endpoint = get_fleet_object_or_404(request, Endpoint.objects.all(), pk=endpoint_id)
    if action == "test":
        endpoint_test(endpoint=endpoint)
        messages.success(request, "Test sent: its result shows in the log below within a few seconds.")
    elif action == "resume":
        endpoint_resume(endpoint=endpoint)
        messages.success(request, "Resumed: new alerts go to this webhook again.")
    elif action in ("off", "on"):
        Endpoint.objects.filter(pk=endpoint.pk).update(enabled=action == "on")
        messages.success(request, "Turned on." if action == "on" else "Turned off: nothing is sent to it.")
    elif action == "delete":
        endpoint.delete()
        messages.success(request, f"Webhook “{endpoint.name}” removed.")
        return redirect("alerts_endpoints", request.fleet.slug)
    else:
        raise Http404("No such action")
    return redirect("alerts_endpoint", request.fleet.slug, endpoint.pk)
