"""Follows the sync engine: after each stored group of vehicles, their new readings become trips, the departures
among them from places that were closed are recorded, their recent charging sessions are settled again
(charging/sessions.py), and their charging sessions that are new or changed get their cost — theirs only: a group's
work grows with its vehicles, not with the sessions of their fleet (trips/costs.py)."""

from django.dispatch import receiver

from vehicles.signals import readings_stored


@receiver(readings_stored, dispatch_uid="trips_derive_after_sync")
def derive_after_sync(sender, vehicle_ids, **kwargs):
    from charging.sessions import vehicles_sessions_settle_recent
    from fleet.models import Fleet
    from trips.costs import sessions_cost
    from trips.derive import vehicles_trips_derive
    from trips.hours import vehicles_departures_judge
    from trips.models import TripProgress
    from vehicles.models import Vehicle

    vehicle_ids = list(vehicle_ids)
    progress = TripProgress.objects.filter(vehicle_id__in=vehicle_ids)
    read_until = dict(progress.values_list("vehicle_id", "derived_until"))  # before this round's trips
    vehicles_trips_derive(vehicle_ids=vehicle_ids)
    vehicles_departures_judge(vehicle_ids=vehicle_ids, read_until=read_until)
    vehicles = list(Vehicle.objects.filter(pk__in=vehicle_ids))
    vehicles_sessions_settle_recent(vehicles=vehicles)
    for fleet in Fleet.objects.filter(pk__in={vehicle.fleet_id for vehicle in vehicles}):
        sessions_cost(fleet=fleet, vehicle_ids=[vehicle.pk for vehicle in vehicles if vehicle.fleet_id == fleet.pk])
