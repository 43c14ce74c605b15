"""Values are stored metric (the client always asks the API for metric); a fleet sees them in its own unit system.

Each function takes the stored metric value and the fleet's ``unit_system`` and returns the number in that system,
or None when the value is unknown; ``label`` gives the unit's symbol. ``km`` and ``kpa`` go the other way, for a
distance or a pressure typed in a form. Writing the numbers is fleet/formatting.py's job, for the pages and the CSV
exports alike.
"""

from fleet.models import UnitSystem

KM_PER_MILE = 1.609344
KPA_PER_PSI = 6.894757
LITRES_PER_US_GALLON = 3.785411784

_LABELS = {
    "distance": {UnitSystem.METRIC: "km", UnitSystem.IMPERIAL: "mi"},
    "speed": {UnitSystem.METRIC: "km/h", UnitSystem.IMPERIAL: "mph"},
    "pressure": {UnitSystem.METRIC: "kPa", UnitSystem.IMPERIAL: "psi"},
    "temperature": {UnitSystem.METRIC: "°C", UnitSystem.IMPERIAL: "°F"},
    "volume": {UnitSystem.METRIC: "L", UnitSystem.IMPERIAL: "gal"},
}


def _imperial(system: str) -> bool:
    return system == UnitSystem.IMPERIAL


def distance(km: float | None, system: str) -> float | None:
    if km is None:
        return None
    return km / KM_PER_MILE if _imperial(system) else km


def speed(kph: float | None, system: str) -> float | None:
    return distance(kph, system)


def pressure(kpa: float | None, system: str) -> float | None:
    if kpa is None:
        return None
    return kpa / KPA_PER_PSI if _imperial(system) else kpa


def km(distance: float, system: str) -> float:
    """A distance typed in the fleet's unit system, in km as stored."""
    return distance * KM_PER_MILE if _imperial(system) else distance


def kpa(pressure: float, system: str) -> float:
    """A pressure typed in the fleet's unit system, in kPa as stored."""
    return pressure * KPA_PER_PSI if _imperial(system) else pressure


def temperature(celsius: float | None, system: str) -> float | None:
    if celsius is None:
        return None
    return celsius * 9 / 5 + 32 if _imperial(system) else celsius


def volume(litres: float | None, system: str) -> float | None:
    if litres is None:
        return None
    return litres / LITRES_PER_US_GALLON if _imperial(system) else litres


CONVERTERS = {"distance": distance, "speed": speed, "pressure": pressure, "temperature": temperature, "volume": volume}


def label(quantity: str, system: str) -> str:
    return _LABELS[quantity][UnitSystem.IMPERIAL if _imperial(system) else UnitSystem.METRIC]
