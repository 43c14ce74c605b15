"""The diagnostics board: every active DTC and system alert of the fleet, acknowledgements, and cleared codes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.db import IntegrityError, transaction
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers

from dashboard.overview import fleet_makes
from fleet.models import Fleet
from fleet.tenancy import FleetRequest, fleet_view
from maintenance.services import AFTER_WORK_WORDS, code_after_work, open_codes_with_orders
from vehicles import obd
from vehicles.models import DiagnosticAcknowledgement, DiagnosticTroubleCode, SystemStatus, Vehicle

BOARD_PAGE_SIZE = 100


@dataclass
class BoardItem:
    """One line of the board: an active DTC or a system alert of one vehicle."""

    kind: str  # "dtc" or "system"
    pk: int
    vehicle: Vehicle
    code: str
    description: str
    first_seen_at: datetime
    last_seen_at: datetime
    acknowledgement: DiagnosticAcknowledgement | None
    work_order: object = None  # maintenance.models.WorkOrder for this code on this vehicle, when there is one
    after_work: str = ""  # the code against its finished work order, in words


class BoardQuery(forms.Form):
    make = forms.CharField(required=False, max_length=40)
    code = forms.CharField(required=False, max_length=60, strip=True)

    def values(self, makes: list[str]) -> dict[str, str]:
        self.is_valid()
        make = self.cleaned_data.get("make") or ""
        return {"make": make if make in makes else "", "code": (self.cleaned_data.get("code") or "").upper()}


def diagnostics_active(*, fleet: Fleet, make: str = "", code: str = "") -> list[BoardItem]:
    """Every active DTC and system alert of the fleet's connected vehicles, newest first (two queries)."""
    dtcs = DiagnosticTroubleCode.objects.filter(
        vehicle__fleet=fleet, vehicle__disconnected_at__isnull=True, cleared_at__isnull=True
    ).select_related("vehicle", "acknowledgement")
    alerts = SystemStatus.objects.filter(
        vehicle__fleet=fleet, vehicle__disconnected_at__isnull=True, status="ALERT"
    ).select_related("vehicle")
    if make:
        dtcs, alerts = dtcs.filter(vehicle__make=make), alerts.filter(vehicle__make=make)
    if code:
        dtcs, alerts = dtcs.filter(code__icontains=code), alerts.filter(system_id__icontains=code)
    acknowledgements = {
        (a.system_status_id, a.system_changed_at): a
        for a in DiagnosticAcknowledgement.objects.filter(system_status__in=alerts)
    }
    items = [
        BoardItem(
            "dtc",
            d.pk,
            d.vehicle,
            d.code,
            obd.describe(d.code),
            d.first_seen_at,
            d.last_seen_at,
            getattr(d, "acknowledgement", None),
        )
        for d in dtcs[: BOARD_PAGE_SIZE * 10]
    ]
    items += [
        BoardItem(
            "system",
            s.pk,
            s.vehicle,
            s.system_id,
            s.description or obd.describe_system(s.system_id),
            s.changed_at,
            s.last_seen_at,
            acknowledgements.get((s.pk, s.changed_at)),
        )
        for s in alerts[: BOARD_PAGE_SIZE * 10]
    ]
    items.sort(key=lambda item: (item.first_seen_at, item.pk), reverse=True)
    return items


class AcknowledgeForm(forms.Form):
    kind = forms.ChoiceField(choices=[("dtc", "DTC"), ("system", "System alert")])
    pk = forms.IntegerField(min_value=1)
    note = forms.CharField(required=False, max_length=500, widget=forms.Textarea(attrs={"rows": 2}))


def diagnostic_acknowledge(*, fleet: Fleet, kind: str, pk: int, note: str, user) -> DiagnosticAcknowledgement:
    """Records who saw an active DTC or system alert, when, and their note. Acknowledging again updates the note."""
    fields = {"note": note, "acknowledged_by": user, "acknowledged_by_email": user.email}
    if kind == "dtc":
        dtc = DiagnosticTroubleCode.objects.get(pk=pk, vehicle__fleet=fleet, cleared_at__isnull=True)
        lookup = {"dtc": dtc}
    else:
        alert = SystemStatus.objects.get(pk=pk, vehicle__fleet=fleet, status="ALERT")
        lookup = {"system_status": alert, "system_changed_at": alert.changed_at}
    try:
        with transaction.atomic():
            acknowledgement, _ = DiagnosticAcknowledgement.objects.update_or_create(**lookup, defaults=fields)
    except IntegrityError:  # two people at once: the second note wins, as if it came a moment later
        acknowledgement, _ = DiagnosticAcknowledgement.objects.update_or_create(**lookup, defaults=fields)
    return acknowledgement


@vary_on_headers("HX-Request")
@require_GET
@fleet_view
def diagnostics_board(request: FleetRequest):
    fleet = request.fleet
    makes = fleet_makes(fleet)
    query = BoardQuery(request.GET).values(makes)
    items = diagnostics_active(fleet=fleet, **query)
    page = Paginator(items, BOARD_PAGE_SIZE).get_page(request.GET.get("page"))
    orders = open_codes_with_orders(fleet=fleet, vehicle_codes=[(i.vehicle.pk, i.code) for i in page.object_list])
    for item in page.object_list:
        item.work_order = order = orders.get((item.vehicle.pk, item.code))
        state = code_after_work(order, item.first_seen_at, item.last_seen_at) if order else ""
        item.after_work = AFTER_WORK_WORDS.get(state, "")
    context = {"query": query, "makes": makes, "page": page, "filtered": any(query.values())}
    template = "dashboard/diagnostics.html#board" if request.htmx else "dashboard/diagnostics.html"
    return render(request, template, context)


@require_POST
@fleet_view(write=True)
def diagnostics_acknowledge(request: FleetRequest):
    form = AcknowledgeForm(request.POST)
    if not form.is_valid():
        messages.error(request, "That acknowledgement was not understood; please try again.")
        return redirect("fleet_diagnostics", request.fleet.slug)
    try:
        diagnostic_acknowledge(fleet=request.fleet, user=request.user, **form.cleaned_data)
    except (DiagnosticTroubleCode.DoesNotExist, SystemStatus.DoesNotExist):
        # Another fleet's id, or a code that cleared in the meantime: nothing to acknowledge here.
        messages.info(request, "That code is no longer active, so there is nothing to acknowledge.")
    else:
        messages.success(request, "Acknowledged.")
    # Back to the board as it was filtered (the filters travel as hidden fields and are validated again there).
    board = redirect("fleet_diagnostics", request.fleet.slug)
    back = {k: request.POST.get(k, "")[:60] for k in ("make", "code") if request.POST.get(k)}
    if back:
        board["Location"] += "?" + urlencode(back)
    return board


@require_GET
@fleet_view
def diagnostics_history(request: FleetRequest):
    """Cleared DTCs, newest first: what came, how long it stayed, who acknowledged it."""
    fleet = request.fleet
    makes = fleet_makes(fleet)
    query = BoardQuery(request.GET).values(makes)
    cleared = (
        DiagnosticTroubleCode.objects.filter(vehicle__fleet=fleet, cleared_at__isnull=False)
        .select_related("vehicle", "acknowledgement")
        .order_by("-cleared_at", "-pk")
    )
    if query["make"]:
        cleared = cleared.filter(vehicle__make=query["make"])
    if query["code"]:
        cleared = cleared.filter(code__icontains=query["code"])
    page = Paginator(cleared, BOARD_PAGE_SIZE).get_page(request.GET.get("page"))
    for dtc in page.object_list:
        dtc.description = obd.describe(dtc.code)
    context = {"query": query, "makes": makes, "page": page, "filtered": any(query.values())}
    return render(request, "dashboard/diagnostics_history.html", context)
