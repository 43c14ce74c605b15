"""What a simulated vehicle reports as API v3 signals, computed from its state (metric, simulator/world.py).

Reference: smartcar-api-v3/signals__schema.md (codes ``group-name`` in lower case; ``{unit, value}`` for
measurements, ``{value}`` for booleans and words, ``{values[], rowCount, columnCount}`` for doors, windows and tires;
percentages 0–100) and each group's page, named above its signals below.

A signal the vehicle cannot serve is left out of the list and answers 501 COMPATIBILITY:VEHICLE_NOT_CAPABLE on its
own. A signal whose permission the owner did not grant is left out too (403 PERMISSION on its own): the pages give no
per-signal permission table (smartcar-api-v3/permissions.md, MISSING), so the scope is the one of the v2 endpoint
the signal replaces, as permissions.md infers it.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from simulator import world
from simulator.models import Vehicle
from simulator.units import Units

_DIRECTIONS = ("N", "NE", "E", "SE", "S", "SW", "W", "NW")
# Doors and windows on a 2 × 2 grid: row 0 is the front, column 0 the left (signals__closure.md).
_GRID = {"frontLeft": (0, 0), "frontRight": (0, 1), "backLeft": (1, 0), "backRight": (1, 1)}
# diagnostics-* system signals and the world's system ids (signals__diagnostics.md: no documented v2 mapping).
_SYSTEMS = {
    "SYSTEM_ABS": "abs",
    "SYSTEM_AIRBAG": "airbag",
    "SYSTEM_MIL": "mil",
    "SYSTEM_TPMS": "tirepressuremonitoring",
    "SYSTEM_BRAKE_FLUID": "brakefluid",
}


@dataclass(frozen=True)
class Signal:
    group: str
    name: str
    permission: str
    body: Callable[["Reading"], dict]
    serves: Callable[[Vehicle], bool] = lambda vehicle: True

    @property
    def code(self) -> str:
        return f"{self.group}-{self.name}".lower()


@dataclass
class Reading:
    vehicle: Vehicle
    units: Units
    now: datetime

    @property
    def state(self) -> dict:
        return self.vehicle.state

    @property
    def ev(self) -> dict:
        return self.state["ev"]

    def distance(self, km: float) -> dict:
        return {"unit": "miles" if self.units.imperial else "kilometers", "value": self.units.distance(km)}


def _electric(vehicle: Vehicle) -> bool:
    return world.is_electric(vehicle)


def _tank(vehicle: Vehicle) -> bool:
    return world.has_tank(vehicle)


def _percent(fraction: float) -> dict:
    return {"unit": "percent", "value": round(fraction * 100, 1)}


# --- TractionBattery (signals__tractionbattery.md) ---------------------------------------------------------------


def _soc(r: Reading) -> dict:
    return _percent(r.ev["soc"])


def _range(r: Reading) -> dict:
    km = r.ev["soc"] * r.ev["range_full_km"]
    return {**r.distance(round(km, 1)), "additionalValues": [{"type": "ESTIMATED", "value": r.units.distance(km)}]}


def _capacity(r: Reading) -> dict:
    capacity = r.ev["capacity_kwh"]
    return {
        "source": "SMARTCAR",
        "capacity": capacity,
        "availableCapacities": [{"capacity": capacity, "description": None}],
        "unit": "kWh",
    }


# --- Charge (signals__charge.md) ---------------------------------------------------------------------------------


def _charging(r: Reading) -> bool:
    return r.ev["charging"] == "CHARGING"


def _charge_limits(r: Reading) -> dict:
    limit = round(world.effective_limit(r.vehicle, r.state) * 100)
    # "activeLimit only filled while plugged in and charging".
    return {
        "values": [{"type": "GLOBAL", "limit": round(r.ev["limit"] * 100), "condition": None}],
        "activeLimit": limit if _charging(r) else None,
        "unit": "percent",
    }


def _wattage(r: Reading) -> dict:
    watts = world.charge_power_kw(r.state) * 1000 if _charging(r) else 0
    return {"unit": "watts", "value": round(watts)}


def _voltage(r: Reading) -> dict:
    charger = r.ev["charger"]
    return {"unit": "volts", "value": charger["volts"] if charger and r.ev["plugged"] else 0}


def _amperage(r: Reading) -> dict:
    charger = r.ev["charger"]
    if not (charger and _charging(r)):
        return {"unit": "ampere", "value": 0}
    amps = min(r.ev["amps_requested"] or charger["max_amps"], charger["max_amps"])
    return {"unit": "ampere", "value": amps}


def _time_to_complete(r: Reading) -> dict:
    if not _charging(r):
        return {"unit": "minutes", "value": 0}
    power = world.charge_power_kw(r.state) or 1
    remaining = max(world.effective_limit(r.vehicle, r.state) - r.ev["soc"], 0) * r.ev["capacity_kwh"]
    return {"unit": "minutes", "value": round(remaining / power * 60)}


def _charge_timers(r: Reading) -> dict:
    # Timers set with the v3 charge-schedule commands are LOCATION timers with scheduleType and scheduleId
    # (commands__overview.md); times HH:MM:SS.
    values = [
        {
            "type": "LOCATION",
            "scheduleType": schedule["scheduleType"],
            "scheduleId": schedule["scheduleId"],
            "condition": {"name": None, "address": None, **schedule["location"], "connectorType": None},
            "schedules": [{"start": f"{schedule['startTime']}:00", "end": f"{schedule['stopTime']}:00", "days": []}],
            "departureTimers": [],
            "isOEMOptimizationEnabled": False,
        }
        for schedule in r.state.get("v3_schedules", [])
    ]
    return {"values": values}


def _charge_records(r: Reading) -> dict:
    records = []
    for record in r.state.get("charge_records", []):
        records.append(
            {
                "id": record["recordId"],
                "cost": None,
                "startTime": record["chargeStart"],
                "endTime": record["chargeEnd"],
                "location": {"name": record["location"], "address": None, "latitude": None, "longitude": None},
                "energyAdded": record["energy"],
                "connectorType": None,
                "isPublicCharger": record["isPublic"],
                "startStateOfCharge": round(record["startPercentRemaining"] * 100, 1),
                "endStateOfCharge": round(record["endPercentRemaining"] * 100, 1),
            }
        )
    return {"values": records}


# --- Location, Odometer, Motion ----------------------------------------------------------------------------------


def _location(r: Reading) -> dict:
    # signals__location.md: locationType CURRENT while it updates in real time, LAST_PARKED when parked.
    latitude, longitude = r.state["location"]
    heading = r.state["heading"] % 360
    return {
        "latitude": latitude,
        "longitude": longitude,
        "heading": heading,
        "direction": _DIRECTIONS[round(heading / 45) % 8],
        "locationType": "CURRENT" if r.state["activity"] == "driving" else "LAST_PARKED",
    }


def _speed(r: Reading) -> dict:
    return {"unit": "mph" if r.units.imperial else "kph", "value": r.units.speed(r.state["speed"])}


# --- InternalCombustionEngine (signals__internalcombustionengine.md) -----------------------------------------------


def _fuel_range_km(state: dict) -> float:
    fuel = state["fuel"]
    return fuel["percent"] * fuel["tank_l"] / fuel["l100"] * 100


def _fuel_amount(r: Reading) -> dict:
    fuel = r.state["fuel"]
    litres = round(fuel["percent"] * fuel["tank_l"], 2)
    return {"unit": "gallons" if r.units.imperial else "liters", "value": r.units.volume(litres)}


# --- Closure (signals__closure.md) -------------------------------------------------------------------------------


def _doors(r: Reading) -> dict:
    locked = r.state["locked"]
    values = [
        {"row": row, "column": column, "isOpen": r.state["doors"][name] == "OPEN", "isLocked": locked}
        for name, (row, column) in _GRID.items()
    ]
    return {"values": values, "rowCount": 2, "columnCount": 2}


def _windows(r: Reading) -> dict:
    values = [
        {"row": row, "column": column, "isOpen": r.state["windows"][name] == "OPEN"}
        for name, (row, column) in _GRID.items()
    ]
    return {"values": values, "rowCount": 2, "columnCount": 2}


# --- Wheel (signals__wheel.md: the page documents no unit for tirePressure; none is sent) -------------------------


def _tires(r: Reading) -> dict:
    front_left, front_right, back_left, back_right = world.tire_pressures(r.state)
    grid = ((0, 0, front_left), (0, 1, front_right), (1, 0, back_left), (1, 1, back_right))
    values = [{"row": row, "column": column, "tirePressure": r.units.pressure(kpa)} for row, column, kpa in grid]
    return {"values": values, "rowCount": 2, "columnCount": 2}


# --- Diagnostics (signals__diagnostics.md) -----------------------------------------------------------------------


def _dtc_list(r: Reading) -> dict:
    return {"values": [{"code": e["code"], "timestamp": e["timestamp"]} for e in r.state["dtcs"]]}


def _system(system_id: str) -> Callable[[Reading], dict]:
    def body(r: Reading) -> dict:
        for system in world.system_status(r.vehicle):
            if system["systemId"] == system_id:
                return {"status": system["status"], "description": system["description"]}
        return {"status": "OK", "description": None}

    return body


# --- Service (signals__service.md) -------------------------------------------------------------------------------


def _service_records(r: Reading) -> dict:
    records = []
    for index, record in enumerate(r.state["service_records"]):
        records.append(
            {
                "id": f"{r.vehicle.vin[-6:]}-{index + 1}",
                "cost": {"amount": None, "currency": None},
                "time": record["date"],
                "tasks": [{"id": str(3000 + n), "description": task} for n, task in enumerate(record["tasks"])],
                "details": [],
                "odometer": r.units.distance(record["odometer"]),
            }
        )
    return {"values": records}


def _low_voltage_status(r: Reading) -> dict:
    # signals__lowvoltagebattery.md: GOOD, WARN or BAD.
    volts = r.state["aux_v"]
    return {"value": "GOOD" if volts >= 12.2 else ("WARN" if volts >= 11.9 else "BAD")}


def _asleep(r: Reading) -> bool:
    return bool(r.state["asleep"] or r.state["deep_sleep"])


SIGNALS: tuple[Signal, ...] = (
    Signal("TractionBattery", "StateOfCharge", "read_battery", _soc, _electric),
    Signal("TractionBattery", "Range", "read_battery", _range, _electric),
    Signal("TractionBattery", "NominalCapacity", "read_battery", _capacity, _electric),
    Signal("Charge", "IsCharging", "read_charge", lambda r: {"value": _charging(r)}, _electric),
    Signal("Charge", "IsChargingCableConnected", "read_charge", lambda r: {"value": r.ev["plugged"]}, _electric),
    Signal("Charge", "DetailedChargingStatus", "read_charge", lambda r: {"value": r.ev["charging"]}, _electric),
    Signal("Charge", "ChargeLimits", "read_charge", _charge_limits, _electric),
    Signal("Charge", "Wattage", "read_charge", _wattage, _electric),
    Signal("Charge", "Voltage", "read_charge", _voltage, _electric),
    Signal("Charge", "Amperage", "read_charge", _amperage, _electric),
    Signal("Charge", "TimeToComplete", "read_charge", _time_to_complete, _electric),
    Signal("Charge", "ChargeTimers", "read_charge", _charge_timers, _electric),
    Signal(
        "Charge",
        "IsChargingPortFlapOpen",
        "read_security",
        lambda r: {"value": bool(r.ev["charge_port_open"] or r.ev["plugged"])},
        _electric,
    ),
    Signal("Charge", "ChargeRecords", "read_charge_records", _charge_records, _electric),
    Signal("Location", "PreciseLocation", "read_location", _location),
    Signal("Odometer", "TraveledDistance", "read_odometer", lambda r: r.distance(r.state["odometer"])),
    Signal("Motion", "CurrentSpeed", "read_speedometer", _speed),
    Signal("InternalCombustionEngine", "FuelLevel", "read_fuel", lambda r: _percent(r.state["fuel"]["percent"]), _tank),
    Signal("InternalCombustionEngine", "AmountRemaining", "read_fuel", _fuel_amount, _tank),
    Signal("InternalCombustionEngine", "Range", "read_fuel", lambda r: r.distance(round(_fuel_range_km(r.state), 1)),
           _tank),
    Signal("InternalCombustionEngine", "OilLife", "read_engine_oil", lambda r: _percent(r.state["oil_life"]), _tank),
    Signal("Closure", "IsLocked", "read_security", lambda r: {"value": r.state["locked"]}),
    Signal("Closure", "Doors", "read_security", _doors),
    Signal("Closure", "Windows", "read_security", _windows),
    Signal("Closure", "Sunroof", "read_security", lambda r: {"isOpen": r.state["sunroof"] == "OPEN"}),
    Signal("Closure", "FrontTrunk", "read_security",
           lambda r: {"isOpen": r.state["frunk_open"], "isLocked": r.state["locked"]}),
    Signal("Closure", "RearTrunk", "read_security",
           lambda r: {"isOpen": r.state["trunk_open"], "isLocked": r.state["locked"]}),
    Signal("Wheel", "Tires", "read_tires", _tires),
    Signal("Climate", "ExternalTemperature", "read_thermometer",
           lambda r: {"unit": "fahrenheit" if r.units.imperial else "celsius",
                      "value": r.units.temperature(world.exterior_temperature(r.vehicle, r.now))}),
    Signal("Climate", "InternalTemperature", "read_thermometer",
           lambda r: {"unit": "fahrenheit" if r.units.imperial else "celsius",
                      "value": r.units.temperature(world.interior_temperature(r.vehicle, r.now))}),
    Signal("Diagnostics", "DTCCount", "read_diagnostics",
           lambda r: {"unit": "count", "value": len(r.state["dtcs"])}, world.reports_dtcs),
    Signal("Diagnostics", "DTCList", "read_diagnostics", _dtc_list, world.reports_dtcs),
    *(
        Signal("Diagnostics", name, "read_diagnostics", _system(system_id), world.reports_system_status)
        for system_id, name in _SYSTEMS.items()
    ),
    Signal("Service", "IsInService", "read_service_history", lambda r: {"value": bool(r.state.get("in_service"))}),
    Signal("Service", "Records", "read_service_history", _service_records),
    Signal("VehicleIdentification", "VIN", "read_vin", lambda r: {"value": r.vehicle.vin}),
    Signal("VehicleIdentification", "Nickname", "read_vehicle_info", lambda r: {"value": r.state["nickname"]}),
    Signal("ConnectivityStatus", "IsAsleep", "read_vehicle_info", lambda r: {"value": _asleep(r)}),
    Signal("ConnectivityStatus", "IsOnline", "read_vehicle_info",
           lambda r: {"value": not world.is_unreachable(r.state)}),
    Signal("Transmission", "GearState", "read_vehicle_info",
           lambda r: {"value": "DRIVE" if r.state["activity"] == "driving" else "PARK"}),
    Signal("LowVoltageBattery", "Status", "read_battery", _low_voltage_status),
)  # fmt: skip
BY_CODE: dict[str, Signal] = {signal.code: signal for signal in SIGNALS}


def served(vehicle: Vehicle, permissions) -> list[Signal]:
    """The signals this vehicle reports to a connection with these permissions."""
    granted = set(permissions or ())
    return [s for s in SIGNALS if s.permission in granted and s.serves(vehicle)]
