"""Who had which vehicle when: assignments that never overlap for one vehicle, and the trips they name."""

from __future__ import annotations

from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from trips.models import Assignment, Driver, Trip
from vehicles.models import Vehicle


def _overlapping(vehicle: Vehicle, starts_at: datetime, ends_at: datetime | None, exclude: int | None = None):
    """Assignments of the vehicle sharing a moment with [starts_at, ends_at) (None: open-ended)."""
    rows = Assignment.objects.filter(vehicle=vehicle).filter(Q(ends_at__isnull=True) | Q(ends_at__gt=starts_at))
    if ends_at is not None:
        rows = rows.filter(starts_at__lt=ends_at)
    if exclude is not None:
        rows = rows.exclude(pk=exclude)
    return rows.select_related("driver")


def _local(moment: datetime, zone) -> str:
    local = timezone.localtime(moment, zone)
    return f"{local.day} {local:%b %Y %H:%M}"


def _overlap_message(other: Assignment, zone) -> str:
    start = _local(other.starts_at, zone)
    until = f"until {_local(other.ends_at, zone)}" if other.ends_at else "with no end"
    return f"{other.driver.name} has this vehicle from {start} {until}. End that assignment first, or pick other dates."


def assignment_create(
    *, driver: Driver, vehicle: Vehicle, starts_at: datetime, ends_at: datetime | None = None, user=None
) -> Assignment:
    """Gives the vehicle to the driver for the period; refuses (ValidationError) a period that overlaps another
    driver's (or the same driver's) time with the vehicle. The trips of the period are named after the driver."""
    if driver.fleet_id != vehicle.fleet_id:
        raise ValidationError({"vehicle": "Choose one of this fleet's vehicles."})
    if ends_at is not None and ends_at <= starts_at:
        raise ValidationError({"ends_at": "The end must come after the start."})
    with transaction.atomic():
        # One assignment written at a time per vehicle: two managers cannot both pass the overlap check.
        Vehicle.objects.select_for_update().filter(pk=vehicle.pk).values_list("pk", flat=True).first()
        other = _overlapping(vehicle, starts_at, ends_at).first()
        if other is not None:
            raise ValidationError({"starts_at": _overlap_message(other, vehicle.fleet.zone)})
        assignment = Assignment.objects.create(
            driver=driver, vehicle=vehicle, starts_at=starts_at, ends_at=ends_at, created_by=user
        )
        trips_name_driver(vehicle=vehicle, starts_at=starts_at, ends_at=ends_at, driver=driver)
    return assignment


def assignment_end(*, assignment: Assignment, ends_at: datetime | None = None) -> Assignment:
    """The driver gave the vehicle back at ``ends_at`` (default now); trips after it no longer carry their name."""
    ends_at = ends_at or timezone.now()
    if ends_at <= assignment.starts_at:
        raise ValidationError({"ends_at": "The end must come after the start."})
    with transaction.atomic():
        previous_end = assignment.ends_at
        assignment.ends_at = ends_at
        assignment.save(update_fields=["ends_at"])
        trips_name_driver(vehicle=assignment.vehicle, starts_at=ends_at, ends_at=previous_end, driver=None)
    return assignment


def trips_name_driver(*, vehicle: Vehicle, starts_at: datetime, ends_at: datetime | None, driver: Driver | None):
    trips = Trip.objects.filter(vehicle=vehicle, started_at__gte=starts_at)
    if ends_at is not None:
        trips = trips.filter(started_at__lt=ends_at)
    trips.update(driver=driver)


def driver_at(assignments: list[Assignment], moment: datetime) -> Driver | None:
    """The driver among ``assignments`` (one vehicle's) who had the vehicle at ``moment``."""
    for assignment in assignments:
        if assignment.covers(moment):
            return assignment.driver
    return None


def current_assignment(vehicle: Vehicle) -> Assignment | None:
    now = timezone.now()
    return (
        Assignment.objects.filter(vehicle=vehicle, starts_at__lte=now)
        .filter(Q(ends_at__isnull=True) | Q(ends_at__gt=now))
        .select_related("driver")
        .first()
    )
