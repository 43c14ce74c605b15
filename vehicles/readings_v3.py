"""From API v3 signals to the typed values that v2 readings fill — pure functions, no database.

The v3 counterpart of vehicles/readings.py: one mapping table (``READERS``, by signal code) onto the same
VehicleStatus fields, DTCs and system statuses. It reads the signals of ``GET …/signals`` and of a ``VEHICLE_STATE``
webhook alike (their items differ only in where ``body``, ``status`` and ``meta`` sit).

Reference: smartcar-api-v3/signals__schema.md and the group pages named at each reader. What differs from v2:
percentages are 0–100 (v2 fractions were stored ×100, so the stored value is the same); every measurement carries
its ``unit`` and is converted to the metric unit the status stores; doors, windows and tires are a row/column grid;
each signal has its own ``status`` and ``meta.oemUpdatedAt`` (the data age of its values).

Nothing here guesses: a signal whose code no page documents, whose body has an unexpected shape, or whose unit is
missing or unknown gives no value — it is returned in ``unparsed`` with the reason, to be kept and logged by the
caller. The tire page documents no unit for ``tirePressure`` (signals__wheel.md), so tire pressures are taken only
when a ``unit`` comes with them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.utils.dateparse import parse_datetime

from connect.json_fields import mapping_at
from vehicles.readings import UnreadableBody

# --- Units --------------------------------------------------------------------------------------------------------
# Unit strings are shown only through examples on the pages (the README's open question 12); these are the spellings
# seen there and their usual variants, each with its factor to the stored metric unit.
_FACTORS: dict[str, dict[str, float]] = {
    "distance": {"kilometers": 1, "kilometres": 1, "km": 1, "miles": 1.609344, "mi": 1.609344},
    "speed": {"kph": 1, "km/h": 1, "kmh": 1, "mph": 1.609344},
    "volume": {"liters": 1, "litres": 1, "l": 1, "gallons": 3.785411784, "gal": 3.785411784},
    "power": {"watts": 0.001, "w": 0.001, "kilowatts": 1, "kw": 1},
    "pressure": {"kpa": 1, "psi": 6.894757, "bar": 100},
    "percent": {"percent": 1, "%": 1},
}


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise UnreadableBody(f"{what} is not a number")
    return float(value)


def _unit(body: Mapping, what: str) -> str:
    unit = body.get("unit")
    if unit is None:
        raise UnreadableBody(f"{what} has no unit")
    if not isinstance(unit, str):
        raise UnreadableBody(f"{what} has a unit that is not text")
    return unit.strip().lower()


def _convert(value: float, unit: str, kind: str, what: str) -> float:
    if kind == "temperature":
        if unit in ("celsius", "c", "°c"):
            return round(value, 4)
        if unit in ("fahrenheit", "f", "°f"):
            return round((value - 32) * 5 / 9, 4)
    elif unit in _FACTORS[kind]:
        return round(value * _FACTORS[kind][unit], 4)
    raise UnreadableBody(f"{what} has an unknown unit {unit!r}")


def measure(body: Any, kind: str, what: str) -> float | None:
    """``{"unit", "value"}`` in the stored metric unit; None when the value is null (most fields are optional)."""
    body = _object(body, what)
    if "value" not in body and set(body) - {"unit"}:
        # e.g. the 3.0 webhook's {"percentage": 75} (webhooks__event-vehicle-state.md): not the documented shape.
        raise UnreadableBody(f"{what} has no value")
    if body.get("value") is None:
        return None
    value = _number(body["value"], what)
    converted = _convert(value, _unit(body, what), kind, what)
    if kind == "percent" and not 0 <= converted <= 100:
        raise UnreadableBody(f"{what} of {value} is not a percentage")
    return converted


def _object(body: Any, what: str) -> Mapping:
    if not isinstance(body, Mapping):
        raise UnreadableBody(f"{what} is not a JSON object")
    return body


def _flag(body: Any, what: str, key: str = "value") -> bool | None:
    value = _object(body, what).get(key)
    if value is None:
        return None
    if not isinstance(value, bool):
        raise UnreadableBody(f"{what} is not true/false")
    return value


def _word(body: Any, what: str, allowed: tuple[str, ...]) -> str | None:
    value = _object(body, what).get("value")
    if value is None:
        return None
    if not isinstance(value, str) or value.upper() not in allowed:
        raise UnreadableBody(f"{what} is not one of {', '.join(allowed)}")
    return value.upper()


def _present(values: dict) -> dict:
    return {key: value for key, value in values.items() if value is not None}


# --- Grids (signals__closure.md, signals__wheel.md: row front→back from 0, column left→right from 0) ---------------


def _grid(body: Any, what: str) -> tuple[list[Mapping], int, int]:
    body = _object(body, what)
    values = body.get("values")
    if not isinstance(values, list) or not all(isinstance(v, Mapping) for v in values):
        raise UnreadableBody(f"{what}: values is not a list of objects")
    for item in values:
        for key in ("row", "column"):
            if isinstance(item.get(key), bool) or not isinstance(item.get(key), int) or item[key] < 0:
                raise UnreadableBody(f"{what}: {key} is not a whole number")
    rows = body.get("rowCount") if isinstance(body.get("rowCount"), int) else None
    columns = body.get("columnCount") if isinstance(body.get("columnCount"), int) else None
    rows = rows or max((v["row"] for v in values), default=-1) + 1
    columns = columns or max((v["column"] for v in values), default=-1) + 1
    return values, rows, columns


def position(row: int, column: int, rows: int, columns: int) -> str:
    """A grid cell as v2 named positions: (0, 0) of a 2 × 2 grid is frontLeft, (1, 1) backRight."""
    side = "front" if row == 0 else ("back" if row == rows - 1 else f"row{row + 1}")
    if columns <= 1:
        return side
    across = "Left" if column == 0 else ("Right" if column == columns - 1 else f"Seat{column + 1}")
    return side + across


def _open_positions(body: Any, what: str) -> list[str]:
    values, rows, columns = _grid(body, what)
    opened = []
    for item in values:
        is_open = item.get("isOpen")
        if is_open is not None and not isinstance(is_open, bool):
            raise UnreadableBody(f"{what}: isOpen is not true/false")
        if is_open:
            opened.append(position(item["row"], item["column"], rows, columns))
    return sorted(opened)


# --- Readers, one per signal code (the mapping table) ------------------------------------------------------------


def _soc(body) -> dict:
    # signals__tractionbattery.md — percent 0–100 (v2's fraction ×100 is the same stored value)
    return _present({"battery_percent": measure(body, "percent", "state of charge")})


def _battery_range(body) -> dict:
    # signals__tractionbattery.md — the page lists the unit "DEFAULT" (sic): not a unit, so not read.
    return _present({"range_km": measure(body, "distance", "battery range")})


def _charging_status(body) -> dict:
    # signals__charge.md — CHARGING, NOT_CHARGING, FULLY_CHARGED (v2's charge state)
    state = _word(body, "charging status", ("CHARGING", "NOT_CHARGING", "FULLY_CHARGED"))
    return _present({"charging_state": state})


def _plugged_in(body) -> dict:
    return _present({"is_plugged_in": _flag(body, "charging cable")})


def _charge_limits(body) -> dict:
    # signals__charge.md — the global limit (the type's case differs between the page's table and example).
    body = _object(body, "charge limits")
    values = body.get("values")
    if not isinstance(values, list):
        raise UnreadableBody("charge limits: values is not a list")
    unit = body.get("unit")
    if unit is not None and (not isinstance(unit, str) or unit.lower() not in _FACTORS["percent"]):
        raise UnreadableBody(f"charge limits have an unknown unit {unit!r}")
    for item in values:
        if isinstance(item, Mapping) and str(item.get("type") or "").upper() == "GLOBAL":
            limit = item.get("limit")
            if limit is None:
                return {}
            limit = _number(limit, "global charge limit")
            if not 0 <= limit <= 100:
                raise UnreadableBody(f"global charge limit of {limit} is not a percentage")
            return {"charge_limit_percent": limit}
    return {}


def _wattage(body) -> dict:
    return _present({"charge_power_kw": measure(body, "power", "charging power")})


def _location(body) -> dict:
    # signals__location.md
    body = _object(body, "location")
    values = {}
    for key, name in (("latitude", "latitude"), ("longitude", "longitude"), ("heading", "heading_degrees")):
        if body.get(key) is not None:
            values[name] = round(_number(body[key], key), 6)
    if ("latitude" in values) != ("longitude" in values):
        raise UnreadableBody("location has only one of latitude and longitude")
    return values


def _odometer(body) -> dict:
    return _present({"odometer_km": measure(body, "distance", "odometer")})


def _speed(body) -> dict:
    return _present({"speed_kph": measure(body, "speed", "speed")})


def _fuel_level(body) -> dict:
    return _present({"fuel_percent": measure(body, "percent", "fuel level")})


def _fuel_amount(body) -> dict:
    return _present({"fuel_amount_liters": measure(body, "volume", "fuel remaining")})


def _fuel_range(body) -> dict:
    return _present({"fuel_range_km": measure(body, "distance", "fuel range")})


def _oil_life(body) -> dict:
    return _present({"oil_life_percent": measure(body, "percent", "oil life")})


def _locked(body) -> dict:
    return _present({"is_locked": _flag(body, "lock state")})


def _doors(body) -> dict:
    return {"doors_open": _open_positions(body, "doors")}


def _windows(body) -> dict:
    return {"windows_open": _open_positions(body, "windows")}


def _sunroof(body) -> dict:
    is_open = _flag(body, "sunroof", "isOpen")
    return {} if is_open is None else {"sunroof_open": ["sunroof"] if is_open else []}


def _port_flap(body) -> dict:
    is_open = _flag(body, "charging port")
    return {} if is_open is None else {"charging_port_open": ["chargingPort"] if is_open else []}


def _tires(body) -> dict:
    # signals__wheel.md: no unit is documented; without one a pressure cannot be told from psi or bar.
    values, rows, columns = _grid(body, "tires")
    unit = _unit(_object(body, "tires"), "tire pressure")
    names = {"frontLeft": "front_left", "frontRight": "front_right", "backLeft": "back_left", "backRight": "back_right"}
    out = {}
    for item in values:
        name = names.get(position(item["row"], item["column"], rows, columns))
        if name and item.get("tirePressure") is not None:
            kpa = _convert(_number(item["tirePressure"], "tire pressure"), unit, "pressure", "tire pressure")
            out[f"tire_pressure_{name}_kpa"] = round(kpa, 2)
    return out


def _temperature(name: str) -> Callable[[Any], dict]:
    def read(body) -> dict:
        body = _object(body, name)
        if body.get("value") is None:
            return {}
        value = _number(body["value"], name)
        return {name: _convert(value, _unit(body, name), "temperature", name)}

    return read


def _dtc_count(body) -> dict:
    # signals__diagnostics.md — {"unit": "count", "value"}; the list (below) is what the board shows.
    value = _object(body, "DTC count").get("value")
    if value is None:
        return {}
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise UnreadableBody("DTC count is not a whole number")
    return {"active_dtc_count": value}


def _dtc_list(body) -> dict:
    return {"active_dtc_count": len(_dtc_items(body))}


def _dtc_items(body) -> list[dict]:
    values = _object(body, "DTC list").get("values")
    if not isinstance(values, list) or not all(
        isinstance(v, Mapping) and isinstance(v.get("code"), str) for v in values
    ):
        raise UnreadableBody("DTC list: values is not a list of codes")
    return [
        {"code": v["code"], "timestamp": v["timestamp"] if isinstance(v.get("timestamp"), str) else None}
        for v in values
    ]


def _kept(body) -> dict:
    """A documented signal with no typed column: its body is kept as it came."""
    if not isinstance(body, Mapping):
        raise UnreadableBody("not a JSON object")
    return {}


READERS: dict[str, Callable[[Any], dict]] = {
    "tractionbattery-stateofcharge": _soc,
    "tractionbattery-range": _battery_range,
    "charge-detailedchargingstatus": _charging_status,
    "charge-ischargingcableconnected": _plugged_in,
    "charge-chargelimits": _charge_limits,
    "charge-wattage": _wattage,
    "charge-ischargingportflapopen": _port_flap,
    "location-preciselocation": _location,
    "odometer-traveleddistance": _odometer,
    "motion-currentspeed": _speed,
    "internalcombustionengine-fuellevel": _fuel_level,
    "internalcombustionengine-amountremaining": _fuel_amount,
    "internalcombustionengine-range": _fuel_range,
    "internalcombustionengine-oillife": _oil_life,
    "closure-islocked": _locked,
    "closure-doors": _doors,
    "closure-windows": _windows,
    "closure-sunroof": _sunroof,
    "wheel-tires": _tires,
    "climate-externaltemperature": _temperature("exterior_temperature_c"),
    "climate-internaltemperature": _temperature("interior_temperature_c"),
    "diagnostics-dtccount": _dtc_count,
    "diagnostics-dtclist": _dtc_list,
}

# diagnostics-* system signals (signals__diagnostics.md) under the system ids v2 used, so a system's history goes
# on across a migration; the page gives no mapping, this one is ours.
SYSTEMS: dict[str, str] = {
    "diagnostics-abs": "SYSTEM_ABS",
    "diagnostics-activesafety": "SYSTEM_ACTIVE_SAFETY",
    "diagnostics-airbag": "SYSTEM_AIRBAG",
    "diagnostics-brakefluid": "SYSTEM_BRAKE_FLUID",
    "diagnostics-driverassistance": "SYSTEM_DRIVER_ASSISTANCE",
    "diagnostics-evbatteryconditioning": "SYSTEM_EV_BATTERY_CONDITIONING",
    "diagnostics-evcharging": "SYSTEM_EV_CHARGING",
    "diagnostics-evdriveunit": "SYSTEM_EV_DRIVE_UNIT",
    "diagnostics-evhvbattery": "SYSTEM_EV_HV_BATTERY",
    "diagnostics-emissions": "SYSTEM_EMISSIONS",
    "diagnostics-lighting": "SYSTEM_LIGHTING",
    "diagnostics-mil": "SYSTEM_MIL",
    "diagnostics-oillife": "SYSTEM_OIL_LIFE",
    "diagnostics-oilpressure": "SYSTEM_OIL_PRESSURE",
    "diagnostics-oiltemperature": "SYSTEM_OIL_TEMPERATURE",
    "diagnostics-telematics": "SYSTEM_TELEMATICS",
    "diagnostics-tirepressure": "SYSTEM_TIRE_PRESSURE",
    "diagnostics-tirepressuremonitoring": "SYSTEM_TPMS",
    "diagnostics-transmission": "SYSTEM_TRANSMISSION",
    "diagnostics-washerfluid": "SYSTEM_WASHER_FLUID",
    "diagnostics-waterinfuel": "SYSTEM_WATER_IN_FUEL",
}

# Documented codes without a typed column (kept, not "unparsed"): the signal group pages.
KEPT = frozenset(
    {
        "tractionbattery-isheateractive", "tractionbattery-maxrangechargecounter", "tractionbattery-nominalcapacity",
        "charge-amperage", "charge-amperagemax", "charge-amperagerequested", "charge-chargeportstatuscolor",
        "charge-chargerate", "charge-chargerecords", "charge-chargetimers", "charge-chargerphases",
        "charge-chargingconnectortype", "charge-energyadded", "charge-fastchargertype", "charge-ischarging",
        "charge-ischargingcablelatched", "charge-isfastchargerpresent", "charge-timetocomplete", "charge-voltage",
        "closure-enginecover", "closure-fronttrunk", "closure-reartrunk", "closure-tailgate",
        "connectivitysoftware-currentfirmwareversion", "connectivitystatus-isasleep",
        "connectivitystatus-isdigitalkeypaired", "connectivitystatus-isonline", "hvac-cabintargettemperature",
        "hvac-iscabinhvacactive", "hvac-isfrontdefrosteractive", "hvac-isreardefrosteractive",
        "hvac-issteeringheateractive", "location-isathome", "lowvoltagebattery-stateofcharge",
        "lowvoltagebattery-status", "service-isinservice", "service-records", "surveillance-brand",
        "surveillance-isenabled", "transmission-drivemode", "transmission-gearstate", "vehicleidentification-nickname",
        "vehicleidentification-exteriorcolor", "vehicleidentification-vin", "vehicleidentification-trim",
        "vehicleidentification-packages", "vehicleuseraccount-permissions", "vehicleuseraccount-role", "wheel-style",
    }
)  # fmt: skip
KNOWN_CODES = frozenset(READERS) | frozenset(SYSTEMS) | KEPT


# --- One reading of many signals ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Unparsed:
    code: str
    reason: str
    body: Any = None


@dataclass
class SignalReading:
    """What a set of signals says, in the app's terms."""

    values: dict[str, Any] = field(default_factory=dict)  # VehicleStatus fields
    recorded: dict[str, datetime] = field(default_factory=dict)  # field → when the vehicle recorded it
    bodies: dict[str, Any] = field(default_factory=dict)  # every readable signal's body, by code
    dtcs: list[dict] | None = None  # [{"code", "timestamp"}] when the DTC list was read
    systems: list[dict] | None = None  # [{"systemId", "status", "description"}] when system signals were read
    errors: dict[str, tuple[str, str | None]] = field(default_factory=dict)  # signal-level errors: (type, code)
    unparsed: list[Unparsed] = field(default_factory=list)
    data_age: datetime | None = None  # the newest oemUpdatedAt
    fetched_at: datetime | None = None  # the newest retrievedAt / fetchedAt


def timestamp(value: Any) -> datetime | None:
    """An epoch time in milliseconds (webhooks__event-vehicle-state.md) or seconds (the signals__get.md example has
    ten digits — the README's open question 3), or an ISO 8601 string; None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        seconds = value / 1000 if value > 1e11 else value
        try:
            return datetime.fromtimestamp(seconds, UTC)
        except (OverflowError, OSError, ValueError):
            return None
    if isinstance(value, str):
        try:
            return parse_datetime(value)
        except ValueError:
            return None
    return None


def signal_parts(item: Mapping) -> tuple[Any, Any, Any, Mapping]:
    """(code, body, status, meta) of a REST item (under ``attributes``) or a webhook item (flat)."""
    attributes = item["attributes"] if isinstance(item.get("attributes"), Mapping) else item
    meta = mapping_at(item, "meta")
    return attributes.get("code", item.get("id")), attributes.get("body"), attributes.get("status"), meta


def signal_failure(status: Any) -> tuple[str, str | None] | None:
    """A signal-level error from ``status`` (``{"value": "ERROR", "error": {type, code}}``), None on success."""
    if status is None:
        return None
    if not isinstance(status, Mapping):
        return ("MALFORMED", None)
    value = str(status.get("value") or "SUCCESS").upper()
    if value == "SUCCESS":
        return None
    error = mapping_at(status, "error")
    code = error.get("code")
    return (str(error.get("type") or value), str(code) if code else None)


def _system(code: str, body: Any) -> dict:
    body = _object(body, code)
    status = body.get("status")
    if not isinstance(status, str) or status.upper() not in ("OK", "ALERT"):
        raise UnreadableBody(f"{code}: status is not OK or ALERT")
    description = body.get("description")
    return {"systemId": SYSTEMS[code], "status": status.upper(), "description": str(description or "")[:300]}


def read_signals(items: Any, *, now: datetime) -> SignalReading:
    """Reads a list of signal items; nothing in it raises — what cannot be read is in ``unparsed``."""
    reading = SignalReading()
    if not isinstance(items, list):
        reading.unparsed.append(Unparsed("(signals)", "the signals are not a list", items))
        return reading
    for item in items:
        _read_signal(reading, item, now)
    if reading.systems is not None:
        reading.values["system_alert_count"] = sum(1 for s in reading.systems if s["status"] == "ALERT")
        reading.recorded.setdefault("system_alert_count", reading.data_age or now)
    return reading


def _read_signal(reading: SignalReading, item: Any, now: datetime) -> None:
    """Adds one signal item to the reading: its values, its error, or why it cannot be read."""
    if not isinstance(item, Mapping):
        reading.unparsed.append(Unparsed("(signal)", "a signal that is not a JSON object", item))
        return
    code, body, status, meta = signal_parts(item)
    if not isinstance(code, str) or not code:
        reading.unparsed.append(Unparsed("(signal)", "a signal without a code", item))
        return
    failure = signal_failure(status)
    if failure is not None:
        reading.errors[code] = failure
        return
    if code not in KNOWN_CODES:
        reading.unparsed.append(Unparsed(code, "unknown signal code", body))
        return
    recorded = timestamp(meta.get("oemUpdatedAt"))
    fetched = timestamp(meta.get("retrievedAt", meta.get("fetchedAt")))
    try:
        if code in SYSTEMS:
            reading.systems = [*(reading.systems or []), _system(code, body)]
            values = {}
        else:
            values = READERS.get(code, _kept)(body)
            if code == "diagnostics-dtclist":
                reading.dtcs = _dtc_items(body)
    except UnreadableBody as exc:
        reading.unparsed.append(Unparsed(code, str(exc)[:200], body))
        return
    reading.bodies[code] = body
    at = recorded or fetched or now
    for name, value in values.items():
        reading.values[name] = value
        reading.recorded[name] = at
    if recorded and (reading.data_age is None or recorded > reading.data_age):
        reading.data_age = recorded
    if fetched and (reading.fetched_at is None or fetched > reading.fetched_at):
        reading.fetched_at = fetched
