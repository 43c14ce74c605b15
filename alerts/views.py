"""The alerts inbox (everyone in the fleet), an alert's history, and the rules (owners and managers)."""

from django.contrib import messages
from django.core.paginator import Paginator
from django.db import transaction
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from alerts import catalog, services
from alerts.forms import AcknowledgeForm, GroupRuleForm, InboxQuery, RulesForm, ThresholdsForm, VehicleRuleForm
from alerts.models import SHOWN, Alert, AlertRule, AlertState
from alerts.services import (
    AlertError,
    alert_acknowledge,
    group_rule_save,
    rules_effective,
    rules_save,
    threshold_sources,
    vehicle_rule_save,
)
from fleet.tenancy import FleetRequest, fleet_view, get_fleet_object_or_404
from vehicles.models import VehicleGroup

PAGE_SIZE = 50


@require_GET
@fleet_view
def inbox(request: FleetRequest):
    query = InboxQuery(request.GET).values()
    alerts = (
        Alert.objects.filter(fleet=request.fleet, state=query["state"])
        .select_related("vehicle", "acknowledged_by")
        .order_by("-changed_at", "-pk")
    )
    if query["condition"]:
        alerts = alerts.filter(condition=query["condition"])
    page = Paginator(alerts, PAGE_SIZE).get_page(request.GET.get("page"))
    for alert in page.object_list:
        alert.label = catalog.label(alert.condition)
    context = {
        "query": query,
        "page": page,
        "kinds": catalog.KINDS,
        "states": InboxQuery.base_fields["state"].choices,
        "counts": _counts(request.fleet),
    }
    template = "alerts/inbox.html#list" if request.htmx else "alerts/inbox.html"
    return render(request, template, context)


def _counts(fleet) -> dict:
    from django.db.models import Count

    rows = Alert.objects.filter(fleet=fleet, state__in=[AlertState.OPEN, AlertState.ACKNOWLEDGED])
    found = dict(rows.values_list("state").annotate(n=Count("pk")).order_by())
    return {state: found.get(state, 0) for state in (AlertState.OPEN, AlertState.ACKNOWLEDGED)}


@require_GET
@fleet_view
def badge(request: FleetRequest):
    """The navigation's count of open alerts, refreshed by htmx every minute."""
    count = Alert.objects.filter(fleet=request.fleet, state=AlertState.OPEN).count()
    return render(request, "alerts/_badge.html", {"open_count": count})


@require_GET
@fleet_view
def detail(request: FleetRequest, alert_id: int):
    alert = get_fleet_object_or_404(
        request, Alert.objects.filter(state__in=SHOWN).select_related("vehicle"), pk=alert_id
    )
    alert.label = catalog.label(alert.condition)
    context = {"alert": alert, "events": alert.events.all(), "form": AcknowledgeForm()}
    return render(request, "alerts/detail.html", context)


@require_POST
@fleet_view(write=True)
def acknowledge(request: FleetRequest, alert_id: int):
    alert = get_fleet_object_or_404(request, Alert.objects.filter(state__in=SHOWN), pk=alert_id)
    form = AcknowledgeForm(request.POST)
    if not form.is_valid():
        context = {"alert": alert, "events": alert.events.all(), "form": form}
        alert.label = catalog.label(alert.condition)
        return render(request, "alerts/detail.html", context, status=422)
    try:
        alert_acknowledge(alert=alert, user=request.user, note=form.cleaned_data["note"])
    except AlertError as exc:
        messages.info(request, exc.user_message)
    else:
        messages.success(request, "Acknowledged.")
    return redirect("alerts_detail", request.fleet.slug, alert.pk)


@require_http_methods(["GET", "POST"])
@fleet_view(write=True)
def rules(request: FleetRequest):
    fleet = request.fleet
    data = request.POST if request.method == "POST" else None
    thresholds = ThresholdsForm(data, instance=fleet, prefix="t")
    form = RulesForm(data, effective=rules_effective(fleet=fleet), prefix="r")
    if request.method == "POST" and all([thresholds.is_valid(), form.is_valid()]):
        with transaction.atomic():
            thresholds.save()
            rules_save(fleet=fleet, rules=form.rules())
        messages.success(request, "Alert rules saved.")
        return redirect("alerts_rules", fleet.slug)
    return _rules_page(request, thresholds=thresholds, form=form, status=422 if request.method == "POST" else 200)


def _rules_page(request: FleetRequest, *, status: int = 200, **forms):
    fleet = request.fleet
    context = {
        "thresholds": ThresholdsForm(instance=fleet, prefix="t"),
        "form": RulesForm(effective=rules_effective(fleet=fleet), prefix="r"),
        "vehicle_form": VehicleRuleForm(fleet=fleet, prefix="v"),
        "group_form": GroupRuleForm(fleet=fleet, prefix="g"),
        "has_groups": VehicleGroup.objects.filter(fleet=fleet).exists(),
        "vehicle_exceptions": _exceptions(fleet, vehicle__isnull=False),
        "group_exceptions": _exceptions(fleet, group__isnull=False),
        "sources": threshold_sources(fleet=fleet, page=request.GET.get("page")),
        **forms,
    }
    return render(request, "alerts/rules.html", context, status=status)


def _exceptions(fleet, **which):
    rows = list(AlertRule.objects.filter(fleet=fleet, **which).select_related("vehicle", "group"))
    for row in rows:
        row.label = catalog.label(row.condition)
    return sorted(rows, key=lambda row: (str(row.vehicle or row.group).lower(), row.label))


@require_POST
@fleet_view(write=True)
def vehicle_rule_add(request: FleetRequest):
    form = VehicleRuleForm(request.POST, fleet=request.fleet, prefix="v")
    if not form.is_valid():
        return _rules_page(request, vehicle_form=form, status=422)
    vehicle_rule_save(fleet=request.fleet, **form.cleaned_data)
    messages.success(request, "Exception saved.")
    return redirect("alerts_rules", request.fleet.slug)


@require_POST
@fleet_view(write=True)
def group_rule_add(request: FleetRequest):
    form = GroupRuleForm(request.POST, fleet=request.fleet, prefix="g")
    if not form.is_valid():
        return _rules_page(request, group_form=form, status=422)
    group_rule_save(fleet=request.fleet, **form.cleaned_data)
    messages.success(request, "Exception saved.")
    return redirect("alerts_rules", request.fleet.slug)


@require_POST
@fleet_view(write=True)
def exception_delete(request: FleetRequest, rule_id: int):
    queryset = AlertRule.objects.exclude(vehicle__isnull=True, group__isnull=True).select_related("group")
    rule = get_fleet_object_or_404(request, queryset, pk=rule_id)
    services.exception_delete(rule=rule)
    messages.success(request, "Exception removed.")
    return redirect("alerts_rules", request.fleet.slug)
