"""Vehicle groups: everyone in the fleet sees them; owners and managers create, rename, fill and delete them."""

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from fleet.tenancy import FleetRequest, fleet_view, get_fleet_object_or_404
from vehicles import groups
from vehicles.forms import GroupForm, GroupVehiclesForm, VehicleGroupsForm
from vehicles.models import Vehicle, VehicleGroup

PAGE_SIZE = 50


def _group(request: FleetRequest, group_id: int) -> VehicleGroup:
    return get_fleet_object_or_404(request, VehicleGroup.objects.select_related("fleet"), pk=group_id)


def _list_page(request: FleetRequest, form: GroupForm, status: int = 200):
    rows = VehicleGroup.objects.filter(fleet=request.fleet).annotate(
        size=Count("vehicles", filter=Q(vehicles__disconnected_at__isnull=True))
    )
    return render(request, "vehicles/groups.html", {"rows": rows, "form": form}, status=status)


@require_GET
@fleet_view
def group_list(request: FleetRequest):
    return _list_page(request, GroupForm(fleet=request.fleet))


@require_POST
@fleet_view(write=True)
def group_create(request: FleetRequest):
    form = GroupForm(request.POST, fleet=request.fleet)
    if not form.is_valid():
        return _list_page(request, form, status=422)
    group = groups.group_create(fleet=request.fleet, name=form.cleaned_data["name"])
    messages.success(request, f"Group “{group.name}” created. Add its vehicles below.")
    return redirect(group)


def _detail_page(request: FleetRequest, group: VehicleGroup, *, rename=None, add=None, status: int = 200):
    members = group.vehicles.filter(disconnected_at__isnull=True).order_by("make", "model", "vin", "pk")
    context = {
        "group": group,
        "page": Paginator(members, PAGE_SIZE).get_page(request.GET.get("page")),
        "rename_form": rename or GroupForm(instance=group, fleet=request.fleet),
        "add_form": add or GroupVehiclesForm(group=group),
    }
    return render(request, "vehicles/group.html", context, status=status)


@require_GET
@fleet_view
def group_detail(request: FleetRequest, group_id: int):
    return _detail_page(request, _group(request, group_id))


@require_POST
@fleet_view(write=True)
def group_rename(request: FleetRequest, group_id: int):
    group = _group(request, group_id)
    form = GroupForm(request.POST, instance=group, fleet=request.fleet)
    if not form.is_valid():
        group.refresh_from_db(fields=["name"])  # the page's title keeps the saved name
        return _detail_page(request, group, rename=form, status=422)
    groups.group_rename(group=group, name=form.cleaned_data["name"])
    messages.success(request, "Group renamed.")
    return redirect(group)


@require_POST
@fleet_view(write=True)
def group_delete(request: FleetRequest, group_id: int):
    group = _group(request, group_id)
    groups.group_delete(group=group)
    messages.success(request, f"Group “{group.name}” deleted; its vehicles are still in the fleet.")
    return redirect("vehicle_groups", request.fleet.slug)


@require_POST
@fleet_view(write=True)
def group_vehicles_add(request: FleetRequest, group_id: int):
    group = _group(request, group_id)
    form = GroupVehiclesForm(request.POST, group=group)
    if not form.is_valid():
        return _detail_page(request, group, add=form, status=422)
    added = list(form.cleaned_data["vehicles"])
    groups.group_vehicles_add(group=group, vehicles=added)
    messages.success(request, f"{len(added)} vehicle{'s' if len(added) != 1 else ''} added.")
    return redirect(group)


@require_POST
@fleet_view(write=True)
def group_vehicle_remove(request: FleetRequest, group_id: int, vehicle_id: int):
    group = _group(request, group_id)
    vehicle = get_fleet_object_or_404(request, Vehicle.objects.all(), pk=vehicle_id)
    groups.group_vehicle_remove(group=group, vehicle=vehicle)
    messages.success(request, f"{vehicle.display_name} is no longer in “{group.name}”.")
    return redirect(group)


@require_POST
@fleet_view(write=True)
def vehicle_groups(request: FleetRequest, pk: int):
    """The vehicle page's choice of groups."""
    vehicle = get_fleet_object_or_404(request, Vehicle.objects.all(), pk=pk)
    form = VehicleGroupsForm(request.POST, vehicle=vehicle)
    if not form.is_valid():
        messages.error(request, "Choose groups of this fleet.")
    else:
        groups.vehicle_groups_set(vehicle=vehicle, groups=form.cleaned_data["groups"])
        messages.success(request, "Groups saved.")
    return redirect(vehicle)
