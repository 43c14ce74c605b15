"""Vehicle groups: a fleet's named sets of vehicles, which its owners and managers create, rename, fill and delete.

A change of membership is news for whatever judges vehicles by their group (alerts' thresholds): the vehicles that
joined or left are announced through ``vehicles_changed`` once the change commits.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction

from vehicles.models import Vehicle, VehicleGroup
from vehicles.signals import vehicles_changed_send


def group_create(*, fleet, name: str, vehicles: Iterable[Vehicle] = ()) -> VehicleGroup:
    with transaction.atomic():
        group = VehicleGroup.objects.create(fleet=fleet, name=name)
        group_vehicles_add(group=group, vehicles=vehicles)
    return group


def group_rename(*, group: VehicleGroup, name: str) -> VehicleGroup:
    group.name = name
    group.save(update_fields=["name"])
    return group


def group_delete(*, group: VehicleGroup) -> None:
    with transaction.atomic():
        members = list(group.vehicles.values_list("pk", flat=True))
        group.delete()
        vehicles_changed_send(vehicle_ids=members, source="group")


def group_vehicles_add(*, group: VehicleGroup, vehicles: Iterable[Vehicle]) -> None:
    added = [v for v in vehicles if v.fleet_id == group.fleet_id]
    with transaction.atomic():
        group.vehicles.add(*added)
        vehicles_changed_send(vehicle_ids=[v.pk for v in added], source="group")


def group_vehicle_remove(*, group: VehicleGroup, vehicle: Vehicle) -> None:
    with transaction.atomic():
        group.vehicles.remove(vehicle)
        vehicles_changed_send(vehicle_ids=[vehicle.pk], source="group")


def vehicle_groups_set(*, vehicle: Vehicle, groups: Iterable[VehicleGroup]) -> None:
    """The vehicle is in exactly these groups of its fleet (the vehicle page's choice)."""
    with transaction.atomic():
        vehicle.groups.set([g for g in groups if g.fleet_id == vehicle.fleet_id])
        vehicles_changed_send(vehicle_ids=[vehicle.pk], source="group")
