"""The Compatibility API: by VIN and by region and make.

Reference: smartcar-api/compatibility__by-vin.md, smartcar-api/compatibility__by-region-and-make.md

Both answer from the same capability rules the vehicle endpoints enforce (simulator/endpoints.py),
applied to the simulator's catalogue of makes and models, so "capable" here means "answers there".
Both authenticate the application with HTTP Basic client_id:client_secret, as the SDKs send it.
"""

from simulator import endpoints
from simulator.catalogue import CATALOGUE, MAKE_ORDER, vin_is_valid
from simulator.errors import parameter
from simulator.models import Application, Vehicle

PERMISSIONS = {
    "read_alerts", "read_battery", "read_charge", "read_charge_locations", "read_charge_records",
    "read_charge_events", "read_climate", "read_compass", "read_diagnostics", "read_engine_oil",
    "read_extended_vehicle_info", "read_fuel", "read_location", "read_odometer", "read_security",
    "read_service_history", "read_speedometer", "read_thermometer", "read_tires", "read_user_profile",
    "read_vehicle_info", "read_vin", "control_charge", "control_climate", "control_navigation",
    "control_security", "control_pin", "control_trunk",
}  # fmt: skip
REGIONS = {"US": "US", "CA": "CA", "EUROPE": "EU"}
ENGINE_TYPES = {"ICE", "BEV", "PHEV", "HEV"}
_WMI_MAKES = {wmi: make for make, (wmi, _models) in CATALOGUE.items()}


def _scope(raw: str | None, *, required: bool) -> list[str]:
    scope = (raw or "").split()
    if required and not scope:
        raise parameter("scope", "scope is required: a space-separated list of permissions")
    unknown = [permission for permission in scope if permission not in PERMISSIONS]
    if unknown:
        raise parameter("scope", f"Unknown permissions: {', '.join(unknown)}")
    return scope


def _probe(make: str, engine: str, region: str) -> Vehicle:
    """An unsaved vehicle to ask the endpoints' capability rules about."""
    return Vehicle(make=make, model="", year=2024, engine_type=engine, region=region, state={})


def _capability(endpoint: endpoints.Endpoint, vehicle: Vehicle) -> tuple[bool, str | None]:
    if endpoint.makes and vehicle.make.lower() not in endpoint.makes:
        return False, "SMARTCAR_NOT_CAPABLE"
    error = endpoint.supports(vehicle)
    if error is None:
        return True, None
    return False, "VEHICLE_NOT_CAPABLE" if error.code == "VEHICLE_NOT_CAPABLE" else "SMARTCAR_NOT_CAPABLE"


def by_vin(application: Application, query) -> dict:
    vin = (query.get("vin") or "").upper()
    if not vin_is_valid(vin):
        raise parameter("vin", "vin must be a valid 17-character VIN")
    scope = _scope(query.get("scope"), required=True)
    country = (query.get("country") or "US").upper()
    region = {"US": "US", "CA": "CA"}.get(country, "EU")
    vehicle = Vehicle.objects.filter(vin=vin).first()
    if vehicle is None:
        make = _WMI_MAKES.get(vin[:3])
        if make is None:
            return {"compatible": False, "reason": "MAKE_NOT_COMPATIBLE", "capabilities": []}
        vehicle = _probe(make, CATALOGUE[make][1][0].engine, region)
    if vehicle.make not in MAKE_ORDER[region]:
        return {"compatible": False, "reason": "MAKE_NOT_COMPATIBLE", "capabilities": []}
    capabilities = []
    # "It does not support checking capabilities for VINs in Canada and Europe."
    if country == "US":
        for permission in scope:
            for endpoint in [*endpoints.CORE, *endpoints.MAKE_SPECIFIC]:
                if endpoint.permission != permission or (endpoint.makes and vehicle.make.lower() not in endpoint.makes):
                    continue
                capable, reason = _capability(endpoint, vehicle)
                path = f"/{vehicle.make.lower()}/{endpoint.path}" if endpoint.makes else f"/{endpoint.path}".rstrip("/")
                capabilities.append({"capable": capable, "endpoint": path or "/", "permission": permission,
                                     "reason": reason})  # fmt: skip
    return {"compatible": True, "reason": None, "capabilities": capabilities}


def matrix(application: Application, query) -> dict:
    region_name = (query.get("region") or "").upper()
    if region_name not in REGIONS:
        raise parameter("region", "region must be one of US, CA or EUROPE")
    region = REGIONS[region_name]
    available = MAKE_ORDER[region]
    makes = (query.get("make") or "").upper().split() or list(available)
    unknown = [make for make in makes if make not in available]
    if unknown:
        raise parameter("make", f"Not a make of region {region_name}: {', '.join(unknown)}")
    types = (query.get("type") or "").upper().split() or sorted(ENGINE_TYPES)
    if any(kind not in ENGINE_TYPES for kind in types):
        raise parameter("type", "type must be among ICE, BEV, PHEV and HEV")
    scope = set(_scope(query.get("scope"), required=False))
    answer: dict[str, list] = {}
    for make in makes:
        models = []
        for model in CATALOGUE[make][1]:
            if model.engine not in types:
                continue
            probe = _probe(make, model.engine, region)
            names, permissions = [], []
            for endpoint in endpoints.CORE:
                if not endpoint.name or (scope and endpoint.permission not in scope):
                    continue
                if _capability(endpoint, probe)[0]:
                    names.append(endpoint.name)
                    if endpoint.permission not in permissions:
                        permissions.append(endpoint.permission)
            if names:
                models.append(
                    {
                        "model": model.name,
                        "startYear": model.first_year,
                        "endYear": model.last_year,
                        "type": model.engine,
                        "endpoints": names,
                        "permissions": permissions,
                    }
                )
        if models:
            answer[make] = models
    return answer
