"""“Will this vehicle work?”: a VIN checked with Smartcar's Compatibility API, and the compatibility matrix to browse.

Reference: smartcar-api/compatibility__by-vin.md
Reference: smartcar-api/compatibility__by-region-and-make.md
Reference: smartcar-api/makes.md (the makes of each region)

Decisions on what the pages leave open:

- The by-VIN page documents the reasons only in words; their codes are Smartcar's usual ones: VEHICLE_NOT_CAPABLE and
  MAKE_NOT_COMPATIBLE for the vehicle, VEHICLE_NOT_CAPABLE and SMARTCAR_NOT_CAPABLE for a capability. A reason we
  do not know is shown as it came.
- “This endpoint only supports checking capabilities for vehicles sold in the United States”: for any other country
  the answer still says whether the make is compatible there, and the page says why no capabilities are listed.
- The VIN is validated here first (connect/vin.py): a typo costs the person a second, not an API call.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from connect import client
from connect.errors import MalformedResponseError, SmartcarError, ValidationError
from connect.permissions import permission_label
from connect.vin import vin_region

REGIONS = {"US": "United States", "CA": "Canada", "EUROPE": "Europe"}
ENGINE_TYPES = {"BEV": "Battery electric", "PHEV": "Plug-in hybrid", "HEV": "Hybrid", "ICE": "Combustion engine"}
# makes.md, “Valid values for the make parameter”, by region.
MAKES_BY_REGION = {
    "US": [
        "ACURA", "AUDI", "BMW", "BUICK", "CADILLAC", "CHEVROLET", "CHRYSLER", "DODGE", "FORD", "GMC", "HYUNDAI",
        "INFINITI", "JAGUAR", "JEEP", "KIA", "LAND_ROVER", "LEXUS", "LINCOLN", "MAZDA", "MERCEDES_BENZ", "MINI",
        "NISSAN", "PORSCHE", "RAM", "RIVIAN", "SUBARU", "TESLA", "TOYOTA", "VOLKSWAGEN", "VOLVO",
    ],
    "EUROPE": [
        "ALFA_ROMEO", "AUDI", "BMW", "CITROEN", "CUPRA", "DS", "FIAT", "FORD", "HYUNDAI", "JAGUAR", "KIA",
        "LAND_ROVER", "MAZDA", "MERCEDES_BENZ", "MINI", "NISSAN", "OPEL", "PEUGEOT", "PORSCHE", "RENAULT", "SKODA",
        "TESLA", "VAUXHALL", "VOLKSWAGEN", "VOLVO",
    ],
    "CA": [
        "ACURA", "AUDI", "BMW", "BUICK", "CADILLAC", "CHEVROLET", "CHRYSLER", "DODGE", "FORD", "GMC", "HYUNDAI",
        "JAGUAR", "JEEP", "KIA", "LAND_ROVER", "LEXUS", "LINCOLN", "MINI", "RAM", "TESLA", "TOYOTA", "VOLVO",
    ],
}  # fmt: skip
VEHICLE_REASONS = {
    "VEHICLE_NOT_CAPABLE": "The vehicle does not have the hardware required for internet connectivity.",
    "MAKE_NOT_COMPATIBLE": "Smartcar is not yet compatible with the vehicle's make in the chosen country.",
}
CAPABILITY_REASONS = {
    "VEHICLE_NOT_CAPABLE": "The vehicle does not support this feature.",
    "SMARTCAR_NOT_CAPABLE": "Smartcar cannot yet support this feature on the vehicle's make.",
}
CAPABILITIES_COUNTRY = "US"


@dataclass
class Capability:
    permission: str
    endpoint: str
    capable: bool
    reason: str

    @property
    def permission_label(self) -> str:
        return permission_label(self.permission)


@dataclass
class VinReport:
    vin: str
    country: str
    compatible: bool
    reason: str = ""
    capabilities: list[Capability] = field(default_factory=list)

    @property
    def capabilities_checked(self) -> bool:
        return self.country == CAPABILITIES_COUNTRY

    @property
    def capable_count(self) -> int:
        return sum(1 for c in self.capabilities if c.capable)


def _reason(code, known: dict[str, str]) -> str:
    if not code:
        return ""
    return known.get(str(code), str(code))


@dataclass
class VinRefusal:
    """Why Smartcar gave no answer about a VIN, in words; ``matrix_region`` names the matrix that answers instead."""

    message: str
    matrix_region: str = ""
    technical: str = ""  # Smartcar's own text: only ever inside a "details" disclosure


def vin_refusal_in_words(*, vin: str, error: SmartcarError) -> VinRefusal:
    """A VIN from outside North America refused as invalid: Smartcar's VIN check is for US vehicles (“This endpoint
    only supports checking capabilities for vehicles sold in the United States”), so say so and point to the
    matrix of the VIN's region rather than “The request was not valid”."""
    region = vin_region(vin)
    if isinstance(error, ValidationError) and region and region != "North America":
        matrix = {"Europe": "EUROPE"}.get(region, "")
        where = f" The compatibility matrix lists the makes and models Smartcar supports in {region}." if matrix else ""
        return VinRefusal(
            message=(
                f"Smartcar could not check this VIN. It belongs to a vehicle built for {region}, and Smartcar's VIN "
                f"check covers vehicles sold in the United States.{where}"
            ),
            matrix_region=matrix,
            technical=str(error),
        )
    return VinRefusal(message=error.user_message, technical=str(error))


def vin_compatibility_check(*, vin: str, permissions: Iterable[str], country: str) -> VinReport:
    """Asks Smartcar whether the vehicle (already validated VIN) can serve these permissions in this country."""
    # Reference: smartcar-api/compatibility__by-vin.md
    body = client.compatibility_by_vin(vin=vin, scope=list(permissions), country=country).body
    if not isinstance(body, dict) or not isinstance(body.get("compatible"), bool):
        raise MalformedResponseError("Compatibility answer without “compatible”", type="MALFORMED")
    report = VinReport(
        vin=vin, country=country, compatible=body["compatible"], reason=_reason(body.get("reason"), VEHICLE_REASONS)
    )
    for item in body.get("capabilities") or []:
        if not isinstance(item, dict):
            continue
        report.capabilities.append(
            Capability(
                permission=str(item.get("permission") or ""),
                endpoint=str(item.get("endpoint") or ""),
                capable=item.get("capable") is True,
                reason=_reason(item.get("reason"), CAPABILITY_REASONS),
            )
        )
    report.capabilities.sort(key=lambda c: (c.permission, c.endpoint))
    return report


@dataclass
class MatrixModel:
    model: str
    start_year: int | None
    end_year: int | None
    engine_type: str
    endpoints: list[str]
    permissions: list[str]


def compatibility_matrix_browse(
    *, region: str, makes: Iterable[str] = (), engine_types: Iterable[str] = (), permissions: Iterable[str] = ()
) -> dict[str, list[MatrixModel]]:
    """The matrix for a region, optionally narrowed by makes, engine types and permissions: models by make."""
    # Reference: smartcar-api/compatibility__by-region-and-make.md
    body = client.compatibility_matrix(
        region=region, makes=list(makes), engine_types=list(engine_types), scope=list(permissions)
    ).body
    if not isinstance(body, dict):
        raise MalformedResponseError("Compatibility matrix answer is not an object", type="MALFORMED")
    matrix: dict[str, list[MatrixModel]] = {}
    for make, models in sorted(body.items()):
        rows = [
            MatrixModel(
                model=str(item.get("model") or ""),
                start_year=item.get("startYear") if isinstance(item.get("startYear"), int) else None,
                end_year=item.get("endYear") if isinstance(item.get("endYear"), int) else None,
                engine_type=str(item.get("type") or ""),
                endpoints=[str(e) for e in item.get("endpoints") or []],
                permissions=[str(p) for p in item.get("permissions") or []],
            )
            for item in models or []
            if isinstance(item, dict)
        ]
        if rows:
            matrix[str(make)] = sorted(rows, key=lambda m: m.model)
    return matrix
