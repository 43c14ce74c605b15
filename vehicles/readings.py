"""From one endpoint's response body to typed VehicleStatus values — pure functions, no database.

Each reader takes the body of one path (as the API returns it, metric units) and returns the VehicleStatus fields it
tells, leaving out what the body does not say (Europe may answer ``null`` fields, get-fuel-tank.md). A body of the
wrong shape raises ``UnreadableBody``; the engine logs it with the request id and stores the other paths of the batch.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


class UnreadableBody(ValueError):
    """The body is JSON but not the documented shape."""


def _object(body: Any) -> Mapping:
    if not isinstance(body, Mapping):
        raise UnreadableBody(f"expected a JSON object, got {type(body).__name__}")
    return body


def _number(body: Mapping, key: str, scale: float = 1.0) -> float | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise UnreadableBody(f"{key} is not a number")
    return round(float(value) * scale, 4)


def _boolean(body: Mapping, key: str) -> bool | None:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, bool):
        raise UnreadableBody(f"{key} is not true/false")
    return value


def _text(body: Mapping, key: str) -> str | None:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise UnreadableBody(f"{key} is not a string")
    return value


def _present(values: dict) -> dict:
    return {key: value for key, value in values.items() if value is not None}


# Reference: smartcar-api/evs__get-battery-level.md — percentRemaining is a fraction (0.3 = 30 %), range in km.
def _battery(body) -> dict:
    body = _object(body)
    return _present({"battery_percent": _number(body, "percentRemaining", 100), "range_km": _number(body, "range")})


# Reference: smartcar-api/evs__get-charge-status.md, tesla__get-charge.md, audi__get-charge.md
def _charge(body) -> dict:
    body = _object(body)
    state = _text(body, "state") if "state" in body else _text(body, "chargingStatus")
    values: dict[str, str | bool | float | None] = {
        "charging_state": state,
        "is_plugged_in": _boolean(body, "isPluggedIn"),
    }
    if "socLimit" in body:
        values["charge_limit_percent"] = _number(body, "socLimit", 100)
    if "wattage" in body:
        values["charge_power_kw"] = _number(body, "wattage")
    return _present(values)


# Reference: smartcar-api/evs__get-charge-limit.md
def _charge_limit(body) -> dict:
    return _present({"charge_limit_percent": _number(_object(body), "limit", 100)})


# Reference: smartcar-api/tesla__get-charge-wattmeter.md
def _wattmeter(body) -> dict:
    return _present({"charge_power_kw": _number(_object(body), "wattage")})


# Reference: smartcar-api/get-location.md
def _location(body) -> dict:
    body = _object(body)
    return _present({"latitude": _number(body, "latitude"), "longitude": _number(body, "longitude")})


# Reference: smartcar-api/get-odometer.md
def _odometer(body) -> dict:
    return _present({"odometer_km": _number(_object(body), "distance")})


# Reference: smartcar-api/get-fuel-tank.md — Europe may answer null for some fields.
def _fuel(body) -> dict:
    body = _object(body)
    return _present(
        {
            "fuel_percent": _number(body, "percentRemaining", 100),
            "fuel_amount_liters": _number(body, "amountRemaining"),
            "fuel_range_km": _number(body, "range"),
        }
    )


def _open_items(body: Mapping, key: str) -> list[str]:
    items = body.get(key) or []
    if not isinstance(items, list):
        raise UnreadableBody(f"{key} is not a list")
    return sorted(str(item.get("type")) for item in items if isinstance(item, Mapping) and item.get("status") == "OPEN")


# Reference: smartcar-api/get-lock-status.md — open-status arrays are empty when support is partial.
def _security(body) -> dict:
    body = _object(body)
    return _present(
        {
            "is_locked": _boolean(body, "isLocked"),
            "doors_open": _open_items(body, "doors"),
            "windows_open": _open_items(body, "windows"),
            "sunroof_open": _open_items(body, "sunroof"),
            "storage_open": _open_items(body, "storage"),
            "charging_port_open": _open_items(body, "chargingPort"),
        }
    )


# Reference: smartcar-api/get-tire-pressure.md (kPa)
def _tires(body) -> dict:
    body = _object(body)
    return _present(
        {
            "tire_pressure_front_left_kpa": _number(body, "frontLeft"),
            "tire_pressure_front_right_kpa": _number(body, "frontRight"),
            "tire_pressure_back_left_kpa": _number(body, "backLeft"),
            "tire_pressure_back_right_kpa": _number(body, "backRight"),
        }
    )


# Reference: smartcar-api/get-engine-oil-life.md
def _oil(body) -> dict:
    return _present({"oil_life_percent": _number(_object(body), "lifeRemaining", 100)})


# Reference: smartcar-api/get-dtcs.md
def _dtcs(body) -> dict:
    codes = _object(body).get("activeCodes")
    if not isinstance(codes, list):
        raise UnreadableBody("activeCodes is not a list")
    return {"active_dtc_count": len(codes)}


# Reference: smartcar-api/get-system-status.md
def _system_status(body) -> dict:
    systems = _object(body).get("systems")
    if not isinstance(systems, list):
        raise UnreadableBody("systems is not a list")
    return {"system_alert_count": sum(1 for s in systems if isinstance(s, Mapping) and s.get("status") == "ALERT")}


# Reference: smartcar-api/tesla__get-speedometer.md (km/h)
def _speed(body) -> dict:
    return _present({"speed_kph": _number(_object(body), "speed")})


# Reference: smartcar-api/tesla__get-compass-heading.md
def _compass(body) -> dict:
    return _present({"heading_degrees": _number(_object(body), "heading")})


# Reference: smartcar-api/tesla__get-exterior-temperature.md, tesla__get-interior-temperature.md (°C)
def _exterior(body) -> dict:
    return _present({"exterior_temperature_c": _number(_object(body), "temperature")})


def _interior(body) -> dict:
    return _present({"interior_temperature_c": _number(_object(body), "temperature")})


def _kept_only(body) -> dict:
    """Readings kept as they came (EndpointState.body) with no typed column: schedules, records, attributes…"""
    if not isinstance(body, Mapping | list):
        raise UnreadableBody("expected JSON")
    return {}


def _signals(body) -> dict:
    """API v3's every-signal read (``/signals``): the values of vehicles/readings_v3.py's table."""
    from django.utils import timezone

    from vehicles.readings_v3 import read_signals

    if not isinstance(body, list):
        raise UnreadableBody("expected the list of signals")
    return read_signals(body, now=timezone.now()).values


# Keyed by catalogue path template (vehicles/catalogue.py).
READERS: dict[str, Callable[[Any], dict]] = {
    "/signals": _signals,
    "/battery": _battery,
    "/charge": _charge,
    "/charge/limit": _charge_limit,
    "/location": _location,
    "/odometer": _odometer,
    "/fuel": _fuel,
    "/security": _security,
    "/tires/pressure": _tires,
    "/engine/oil": _oil,
    "/diagnostics/dtcs": _dtcs,
    "/diagnostics/system_status": _system_status,
    "/{make}/battery": _battery,
    "/{make}/charge": _charge,
    "/{make}/charge/wattmeter": _wattmeter,
    "/{make}/speedometer": _speed,
    "/{make}/compass": _compass,
    "/{make}/thermometer/exterior": _exterior,
    "/{make}/thermometer/interior": _interior,
}


def read(path_template: str, body: Any) -> dict:
    return READERS.get(path_template, _kept_only)(body)


@dataclass
class PathReading:
    """What one fetched path says: typed values (with when the vehicle recorded each), the DTC and system-status
    lists in /diagnostics' shapes, and what could not be read."""

    values: dict
    data_age: datetime | None = None  # when the vehicle recorded the newest of them, if the answer says
    recorded: dict[str, datetime] = field(default_factory=dict)
    dtc_body: dict | None = None
    system_body: dict | None = None
    unparsed: list = field(default_factory=list)
    errors: dict = field(default_factory=dict)


def read_path(path_template: str, body: Any, *, data_age: datetime | None, now: datetime) -> PathReading:
    """One path's answer read by its transport's table: v2's READERS by endpoint, or API v3's signals
    (vehicles/readings_v3.py) for ``/signals``. Raises UnreadableBody for a v2 body of the wrong shape."""
    if path_template == "/signals":
        from vehicles.readings_v3 import read_signals

        signals = read_signals(body, now=now)
        return PathReading(
            values=signals.values,
            data_age=signals.data_age or data_age,
            recorded=signals.recorded,
            dtc_body={"activeCodes": signals.dtcs} if signals.dtcs is not None else None,
            system_body={"systems": signals.systems} if signals.systems is not None else None,
            unparsed=signals.unparsed,
            errors=signals.errors,
        )
    values = read(path_template, body)
    return PathReading(
        values=values,
        data_age=data_age,
        recorded=dict.fromkeys(values, data_age or now),
        dtc_body=body if path_template == "/diagnostics/dtcs" else None,
        system_body=body if path_template == "/diagnostics/system_status" else None,
    )


# Fields whose changes are kept in StatusHistory (lists and counts of open doors are not charted), each with the
# number a history row stores instead of the name (2 bytes in the row and in its primary key instead of ~16). The
# numbers are in rows on disk: never change or reuse one; a new field takes the next number.
HISTORY_FIELDS = {
    "battery_percent": 1,
    "range_km": 2,
    "charging_state": 3,
    "is_plugged_in": 4,
    "charge_limit_percent": 5,
    "charge_power_kw": 6,
    "fuel_percent": 7,
    "fuel_range_km": 8,
    "is_locked": 9,
    "latitude": 10,
    "longitude": 11,
    "odometer_km": 12,
    "speed_kph": 13,
    "oil_life_percent": 14,
    "tire_pressure_front_left_kpa": 15,
    "tire_pressure_front_right_kpa": 16,
    "tire_pressure_back_left_kpa": 17,
    "tire_pressure_back_right_kpa": 18,
    "exterior_temperature_c": 19,
    "interior_temperature_c": 20,
    "active_dtc_count": 21,
    "system_alert_count": 22,
}
