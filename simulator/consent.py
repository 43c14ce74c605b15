"""What Connect asks for and grants: scopes, the permissions each vehicle can serve, connections and codes.

Reference: smartcar-api/permissions.md (optional and ``required:`` permissions)
Reference: smartcar-api/CAPABILITIES.md (which makes serve which endpoint)

A permission is granted for a vehicle only when the vehicle can serve at least one endpoint behind it, as
the vehicle API's own table (simulator/endpoints.py) decides, so Connect and the API never disagree; a
``required:`` permission that a vehicle cannot serve makes that vehicle incompatible.
"""

from dataclasses import dataclass

from django.db import transaction

from simulator import endpoints
from simulator.catalogue import brand_name
from simulator.models import Application, AuthorizationCode, Connection, SmartcarUser, Vehicle
from simulator.oauth import authorization_code_issue

PERMISSIONS = {
    "read_alerts": "Read alerts from the vehicle",
    "read_battery": "Read the high-voltage battery's level and capacity",
    "read_charge": "Read charging data",
    "read_charge_locations": "Read previous charging locations and their settings",
    "read_charge_records": "Read charge records and billing information",
    "read_charge_events": "Be notified of charging events",
    "read_climate": "Read the climate control system's status and settings",
    "read_compass": "Read the direction the vehicle is facing",
    "read_diagnostics": "Read system status and diagnostic trouble codes",
    "read_engine_oil": "Read engine oil health",
    "read_extended_vehicle_info": "Read the vehicle's configuration",
    "read_fuel": "Read the fuel tank level",
    "read_location": "Access the vehicle's location",
    "read_odometer": "Read the total distance traveled",
    "read_security": "Read the lock status of doors, windows and charging port",
    "read_service_history": "Read the dealer service history",
    "read_speedometer": "Read the vehicle's speed",
    "read_thermometer": "Read temperatures inside and outside the vehicle",
    "read_tires": "Read tire pressure",
    "read_user_profile": "Read the connected account's profile (e-mail, phone)",
    "read_vehicle_info": "Know make, model and year",
    "read_vin": "Read the VIN",
    "control_charge": "Start or stop charging and change charge settings",
    "control_climate": "Change the climate control system's status and settings",
    "control_navigation": "Send destinations to the navigation system",
    "control_security": "Lock or unlock the vehicle",
    "control_pin": "Set or clear the PIN to drive",
    "control_trunk": "Open or close the trunk and frunk",
}

# Webhook events only, no endpoint: charging events for Ford, Tesla and Toyota plug-ins (changelog 2022-04-13).
_CHARGE_EVENT_MAKES = {"FORD", "TESLA", "TOYOTA"}


def vehicle_permissions(vehicle: Vehicle) -> set[str]:
    """Every permission for which this vehicle can serve at least one endpoint of the vehicle API's table."""
    make = vehicle.make.lower()
    granted = set()
    for endpoint in endpoints.CORE + endpoints.MAKE_SPECIFIC:
        if not endpoint.permission or (endpoint.makes and make not in endpoint.makes):
            continue
        if endpoint.supports(vehicle) is None:
            granted.add(endpoint.permission)
    if vehicle.make in _CHARGE_EVENT_MAKES and vehicle.engine_type in ("BEV", "PHEV"):
        granted.add("read_charge_events")
    return granted


@dataclass(frozen=True)
class Scope:
    requested: tuple[str, ...]
    required: frozenset[str]


class ScopeError(ValueError):
    pass


def scope_parse(text: str) -> Scope:
    """``"read_odometer required:read_vin"`` → requested permissions in order, and the required ones."""
    requested: list[str] = []
    required: set[str] = set()
    for item in text.split():
        is_required = item.startswith("required:")
        name = item.removeprefix("required:")
        if name not in PERMISSIONS:
            raise ScopeError(f"Unknown permission in scope: {name!r}")
        if name not in requested:
            requested.append(name)
        if is_required:
            required.add(name)
    if not requested:
        # Scope is optional since Smartcar's dashboard can hold it; the least an app gets is make/model/year.
        requested.append("read_vehicle_info")
    return Scope(tuple(requested), frozenset(required))


@dataclass(frozen=True)
class Candidate:
    vehicle: Vehicle
    permissions: tuple[str, ...]
    missing_required: tuple[str, ...]

    @property
    def compatible(self) -> bool:
        return not self.missing_required

    @property
    def make_label(self) -> str:
        return brand_name(self.vehicle.make)


def candidates_for(vehicles: list[Vehicle], scope: Scope) -> list[Candidate]:
    result = []
    for vehicle in vehicles:
        can = vehicle_permissions(vehicle)
        result.append(
            Candidate(
                vehicle=vehicle,
                permissions=tuple(name for name in scope.requested if name in can),
                missing_required=tuple(sorted(scope.required - can)),
            )
        )
    return result


def connections_grant(
    *,
    application: Application,
    user: SmartcarUser,
    candidates: list[Candidate],
    mode: str,
    redirect_uri: str,
) -> AuthorizationCode:
    """Approve access to the chosen vehicles: connections with their permissions, then a code for the app."""
    with transaction.atomic():
        for candidate in candidates:
            Connection.objects.update_or_create(
                application=application,
                vehicle=candidate.vehicle,
                defaults={"user": user, "permissions": list(candidate.permissions), "mode": mode},
            )
        return authorization_code_issue(application=application, user=user, redirect_uri=redirect_uri)
