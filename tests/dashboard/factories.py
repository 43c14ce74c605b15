"""Vehicles with latest status rows as the sync engine writes them, made fast with bulk_create."""

from datetime import timedelta

from django.utils import timezone

from connect.models import SmartcarAccount
from vehicles.models import Activity, SyncState, Vehicle, VehicleStatus

ALL_PERMISSIONS = [
    "read_battery", "read_charge", "read_location", "read_odometer", "read_security", "read_vehicle_info",
    "read_diagnostics", "read_tires", "read_engine_oil", "control_security", "control_charge",
    "control_navigation", "control_trunk", "control_climate", "control_pin",
]  # fmt: skip


def make_account(fleet, **fields) -> SmartcarAccount:
    now = timezone.now()
    defaults = {
        "smartcar_user_id": f"user-{fleet.pk}-{SmartcarAccount.objects.count()}",
        "access_token_encrypted": "x",
        "refresh_token_encrypted": "x",
        "access_expires_at": now + timedelta(hours=2),
        "refresh_expires_at": now + timedelta(days=60),
    }
    return SmartcarAccount.objects.create(fleet=fleet, **{**defaults, **fields})


def make_vehicles(fleet, count: int, *, account=None, make: str = "TESLA", start: int = 0, **status_fields):
    """``count`` vehicles of ``fleet`` with a fresh, parked, locked status (override with ``status_fields``)."""
    vehicles = Vehicle.objects.bulk_create(
        [
            Vehicle(
                fleet=fleet,
                account=account,
                smartcar_id=f"{fleet.slug}-{make}-{start + i}",
                make=make,
                model="Model 3" if make == "TESLA" else "Bolt EV",
                year=2022,
                vin=f"5YJ3E1EA{start + i:09d}",
                permissions=ALL_PERMISSIONS,
            )
            for i in range(count)
        ]
    )
    now = timezone.now()
    status = {
        "battery_percent": 80.0,
        "range_km": 320.0,
        "charging_state": "NOT_CHARGING",
        "is_plugged_in": False,
        "is_locked": True,
        "latitude": 52.52,
        "longitude": 13.405,
        "odometer_km": 12000.0,
        "activity": Activity.PARKED,
        "data_age": now - timedelta(minutes=4),
        "last_sync_at": now,
        "last_success_at": now,
        "sync_state": SyncState.OK,
        "active_dtc_count": 0,
        **status_fields,
    }
    VehicleStatus.objects.bulk_create([VehicleStatus(vehicle=v, **status) for v in vehicles])
    return vehicles
