"""Sync vehicles now, in this process: ``manage.py sync --vehicle ID`` or ``manage.py sync --all``.

Every endpoint of each vehicle's poll set is fetched at once, whatever its cadence (back-offs, brand limits and the
monthly budget still apply). Vehicles that a worker is syncing right now are left to it.
"""

import time

from django.core.management.base import BaseCommand, CommandError
from django.db.models import Q
from django.utils import timezone

from vehicles import sync
from vehicles.models import EndpointState, Vehicle, VehicleSync


class Command(BaseCommand):
    help = "Fetch every endpoint of one vehicle (--vehicle, by id or Smartcar id) or of all connected vehicles."

    def add_arguments(self, parser):
        target = parser.add_mutually_exclusive_group(required=True)
        target.add_argument("--vehicle", help="Vehicle id or Smartcar vehicle id")
        target.add_argument("--all", action="store_true", help="Every connected vehicle")
        parser.add_argument("--chunk", type=int, default=1000, help="Vehicles leased per round")

    def handle(self, *args, vehicle=None, all=False, chunk=1000, **options):
        connected = Vehicle.objects.filter(disconnected_at__isnull=True)
        if vehicle:
            lookup = Q(smartcar_id=vehicle) | (Q(pk=int(vehicle)) if vehicle.isdigit() else Q())
            ids = list(connected.filter(lookup).values_list("pk", flat=True))
            if not ids:
                raise CommandError(f"No connected vehicle {vehicle!r}")
        else:
            ids = list(connected.values_list("pk", flat=True))
        sync.vehicles_ensure_sync_rows()
        now = timezone.now()
        # Everything due now: the same effect as "Sync now" on each vehicle, without a task per vehicle.
        EndpointState.objects.filter(vehicle_id__in=ids).update(next_sync_at=now)
        VehicleSync.objects.filter(vehicle_id__in=ids).update(next_sync_at=now, requested_at=now)
        started = time.monotonic()
        totals = sync.RoundReport()
        for start in range(0, len(ids), chunk):
            token, claimed = sync.vehicles_lease(vehicle_ids=ids[start : start + chunk])
            report = sync.vehicles_sync(vehicle_ids=claimed, lease_token=token)
            for name in ("leased", "synced", "skipped", "paths", "errors"):
                setattr(totals, name, getattr(totals, name) + getattr(report, name))
        elapsed = time.monotonic() - started
        self.stdout.write(
            f"{totals.synced} vehicles synced ({totals.paths} paths), {totals.skipped} skipped, "
            f"{totals.errors} with errors, {len(ids) - totals.leased} held elsewhere, in {elapsed:.1f} s"
        )
