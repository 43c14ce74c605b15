"""Maintenance pages: the service program, a vehicle's maintenance, and work orders."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers

from fleet.tenancy import FleetRequest, fleet_view, get_fleet_object_or_404
from maintenance import program as programs
from maintenance import services
from maintenance.changes import who
from maintenance.forms import ServiceTaskForm, WorkOrderForm, WorkOrderNewForm
from maintenance.models import ChangeAction, ServiceTask, WorkOrder, WorkOrderStatus
from vehicles.models import DiagnosticTroubleCode, SystemStatus, Vehicle


def _vehicle(request: FleetRequest, pk: int) -> Vehicle:
    return get_fleet_object_or_404(request, Vehicle.objects.select_related("fleet"), pk=pk)


def _work_order(request: FleetRequest, pk: int) -> WorkOrder:
    return get_fleet_object_or_404(request, WorkOrder.objects.select_related("vehicle", "service_task"), pk=pk)


# --- The service program -------------------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@fleet_view
def program(request: FleetRequest):
    """The fleet's service tasks, and (for managers) the form that adds one."""
    form = ServiceTaskForm(request.POST or None, fleet=request.fleet)
    if request.method == "POST":
        if not request.membership.can_write:
            return HttpResponse("Viewers can look but not change anything.", status=403)
        if form.is_valid():
            task = programs.service_task_save(form=form, user=request.user)
            messages.success(request, f"“{task.name}” added to the service program.")
            return redirect("maintenance_program", request.fleet.slug)
    tasks = ServiceTask.objects.filter(fleet=request.fleet).prefetch_related("vehicles")
    context = {"tasks": tasks, "form": form, "changes": programs.program_changes(request.fleet)}
    status = 422 if request.method == "POST" else 200
    return render(request, "maintenance/program.html", context, status=status)


@require_http_methods(["GET", "POST"])
@fleet_view
def program_task(request: FleetRequest, pk: int):
    task = get_fleet_object_or_404(request, ServiceTask.objects.all(), pk=pk)
    form = ServiceTaskForm(request.POST or None, instance=task, fleet=request.fleet)
    if request.method == "POST":
        if not request.membership.can_write:
            return HttpResponse("Viewers can look but not change anything.", status=403)
        if request.POST.get("action") == "delete":
            programs.service_task_remove(task=task, user=request.user)
            messages.success(request, f"“{task.name}” removed from the service program.")
            return redirect("maintenance_program", request.fleet.slug)
        if form.is_valid():
            programs.service_task_save(form=form, user=request.user)
            messages.success(request, f"“{task.name}” saved.")
            return redirect("maintenance_program", request.fleet.slug)
        # The form wrote the refused values onto its instance: the page describes the service as stored.
        task = ServiceTask.objects.get(pk=task.pk)
    context = {"task": task, "form": form, "changes": programs.task_changes(task)}
    status = 422 if request.method == "POST" else 200
    return render(request, "maintenance/program_task.html", context, status=status)


# --- One vehicle ----------------------------------------------------------------------------------------------------


@vary_on_headers("HX-Request")
@require_GET
@fleet_view
def vehicle_maintenance(request: FleetRequest, pk: int):
    """What is due on one vehicle and its work orders; ``#section`` is the part the vehicle page shows."""
    vehicle = _vehicle(request, pk)
    due = services.vehicle_due(vehicle=vehicle)
    work_orders = WorkOrder.objects.filter(vehicle=vehicle).select_related("service_task", "fleet")
    context = {
        "vehicle": vehicle,
        "due": due,
        "active_orders": [o for o in work_orders if o.is_active],
        "today": services.fleet_today(request.fleet),
    }
    template = "maintenance/vehicle.html#section" if request.htmx else "maintenance/vehicle.html"
    return render(request, template, context)


# --- Work orders ----------------------------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@fleet_view(write=True)
def work_order_new(request: FleetRequest):
    initial = {"vehicle": request.GET.get("vehicle")} if request.GET.get("vehicle", "").isdigit() else {}
    form = WorkOrderNewForm(request.POST or None, fleet=request.fleet, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        work_order = services.work_order_open(
            fleet=request.fleet,
            vehicle=data.pop("vehicle"),
            user=request.user,
            title=data.pop("title"),
            **data,
        )
        messages.success(request, f"Work order #{work_order.pk} opened.")
        return redirect(work_order)
    status = 422 if request.method == "POST" else 200
    return render(request, "maintenance/work_order_new.html", {"form": form}, status=status)


@require_POST
@fleet_view(write=True)
def work_order_from_service(request: FleetRequest, pk: int, task_id: int):
    vehicle = _vehicle(request, pk)
    task = get_fleet_object_or_404(request, ServiceTask.objects.all(), pk=task_id)
    work_order, opened = services.work_order_for_service(
        fleet=request.fleet, vehicle=vehicle, task=task, user=request.user
    )
    if opened:
        messages.success(request, f"Work order #{work_order.pk} opened for {task.name}.")
    else:
        messages.info(request, f"{task.name} already has work order #{work_order.pk}.")
    return redirect(work_order)


@require_POST
@fleet_view(write=True)
def work_order_from_diagnostic(request: FleetRequest):
    kind = request.POST.get("kind")
    pk = request.POST.get("pk", "")
    if kind not in ("dtc", "system") or not pk.isdigit():
        messages.error(request, "That work order was not understood; please try again.")
        return redirect("fleet_diagnostics", request.fleet.slug)
    try:
        work_order, outcome = services.work_order_for_diagnostic(
            fleet=request.fleet, kind=kind, pk=int(pk), user=request.user
        )
    except (DiagnosticTroubleCode.DoesNotExist, SystemStatus.DoesNotExist):
        messages.info(request, "That code is no longer active, so no work order was opened.")
        return redirect("fleet_diagnostics", request.fleet.slug)
    messages.success(
        request,
        {
            "opened": f"Work order #{work_order.pk} opened.",
            "reopened": f"Work order #{work_order.pk} is open again.",
            "existing": f"This code already has work order #{work_order.pk}.",
        }[outcome],
    )
    return redirect(work_order)


@require_http_methods(["GET", "POST"])
@fleet_view
def work_order_detail(request: FleetRequest, pk: int):
    work_order = _work_order(request, pk)
    form = WorkOrderForm(request.POST or None, instance=work_order)
    if request.method == "POST":
        if not request.membership.can_write:
            return HttpResponse("Viewers can look but not change anything.", status=403)
        # The form validates a copy: a refused edit leaves the order as it was, on the page and in the database.
        form = WorkOrderForm(request.POST, instance=WorkOrder.objects.select_related("fleet").get(pk=work_order.pk))
        if form.is_valid():
            before = WorkOrder.objects.get(pk=work_order.pk)
            services.work_order_update(work_order=before, user=request.user, data=form.cleaned_data)
            messages.success(request, "Work order saved.")
            return redirect(work_order)
    changes = list(work_order.changes.select_related("user", "vehicle"))
    opening = next((c for c in changes if c.action == ChangeAction.OPENED and (c.user or c.user_email)), None)
    context = {
        "work_order": work_order,
        "form": form,
        "changes": changes,
        # Named as the changes below name the member: by their name, their e-mail when they gave none.
        "opened_by": who(opening) if opening else work_order.created_by_email,
        "code_check": services.code_check(work_order),
        "statuses": WorkOrderStatus,
    }
    return render(request, "maintenance/work_order.html", context, status=422 if form.errors else 200)
