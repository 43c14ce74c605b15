"""Follows the sync engine: after each stored group of vehicles, their new readings become trips, and their fleets'
charging sessions that are new or changed get their cost."""

from django.dispatch import receiver

from vehicles.signals import readings_stored


@receiver(readings_stored, dispatch_uid="trips_derive_after_sync")
def derive_after_sync(sender, vehicle_ids, **kwargs):
    from fleet.models import Fleet
    from trips.costs import sessions_cost
    from trips.derive import vehicles_trips_derive

    vehicles_trips_derive(vehicle_ids=list(vehicle_ids))
    for fleet in Fleet.objects.filter(vehicles__in=vehicle_ids).distinct():
        sessions_cost(fleet=fleet)
