"""Celery tasks: they take ids and call a service (imported inside each task, so that services can enqueue these
tasks through fleet/outbox.py without an import cycle)."""

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded


@shared_task(acks_late=True)
def bulk_schedule_apply(run_id: int) -> None:
    from charging.bulk import bulk_run_execute
    from charging.models import BulkScheduleRun

    run = BulkScheduleRun.objects.filter(pk=run_id).first()
    if run is None:
        return
    try:
        bulk_run_execute(run=run)
    except SoftTimeLimitExceeded:
        # A long run (vehicle round trips take up to minutes) continues in a new task before the hard limit; the
        # vehicle being changed at that moment is applied again, which is harmless for a schedule.
        bulk_schedule_apply.delay(run_id)


@shared_task
def fleet_sessions_derive(fleet_id: int, whole_history: bool = False) -> None:
    """Settles the charging sessions of every vehicle of the fleet: recent ones, or from the whole history."""
    from charging.sessions import vehicles_sessions_settle, vehicles_sessions_settle_recent
    from vehicles.models import Vehicle

    vehicles = list(Vehicle.objects.filter(fleet_id=fleet_id))
    if whole_history:
        vehicles_sessions_settle(vehicles=vehicles)
    else:
        vehicles_sessions_settle_recent(vehicles=vehicles)


@shared_task
def sessions_derive_all() -> None:
    """Fans out one derivation per fleet, so that charging sessions follow synced data by themselves."""
    from fleet.models import Fleet

    for fleet_id in Fleet.objects.values_list("pk", flat=True):
        fleet_sessions_derive.delay(fleet_id)
