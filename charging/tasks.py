"""Celery tasks: they take ids, load the rows and call a service."""

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded

from charging import bulk, history, services
from charging.models import BulkScheduleRun
from vehicles.models import Command, Vehicle


@shared_task(acks_late=True)
def charging_change(command_id: int) -> None:
    command = Command.objects.select_related("vehicle__account").filter(pk=command_id).first()
    if command is not None:
        services.command_execute(command=command)


@shared_task(acks_late=True)
def bulk_schedule_apply(run_id: int) -> None:
    run = BulkScheduleRun.objects.filter(pk=run_id).first()
    if run is None:
        return
    try:
        bulk.bulk_run_execute(run=run)
    except SoftTimeLimitExceeded:
        # A long run (vehicle round trips take up to minutes) continues in a new task before the hard limit; the
        # vehicle being changed at that moment is applied again, which is harmless for a schedule.
        bulk_schedule_apply.delay(run_id)


@shared_task
def fleet_sessions_derive(fleet_id: int) -> None:
    for vehicle in Vehicle.objects.filter(fleet_id=fleet_id).iterator():
        history.charging_sessions_derive(vehicle=vehicle)


@shared_task
def sessions_derive_all() -> None:
    """Fans out one derivation per fleet, so that charging sessions follow synced data by themselves."""
    from fleet.models import Fleet

    for fleet_id in Fleet.objects.values_list("pk", flat=True):
        fleet_sessions_derive.delay(fleet_id)
