"""Every vehicle endpoint of the Smartcar API v2.0: capability, permission, body and behaviour.

Each endpoint says which page it implements (``doc``), the permission it needs, which vehicles it
answers for (``supports``: the documented makes and regions, else the documented 501
COMPATIBILITY error) and a handler that reads or changes ``vehicle.state`` (metric) and returns the
body with exactly the documented field names. Conversions to imperial go through ``ctx.units``.

Decisions on the documentation's ambiguities (smartcar-api/CAPABILITIES.md §5) are noted where they
are taken, with the number of the ambiguity.
"""

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from simulator import world
from simulator.catalogue import GM_MAKES
from simulator.errors import ApiError, parameter, validation
from simulator.models import Vehicle
from simulator.units import Units

SUCCESS = {"message": "Successfully sent request to vehicle", "status": "success"}
HOUR_ONLY = re.compile(r"^([01]\d|2[0-3]):00$")
HH_MM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
DAYS = ("MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY")
CABIN_MIN_C, CABIN_MAX_C = 15.0, 28.0


@dataclass
class Ctx:
    vehicle: Vehicle
    units: Units
    now: datetime
    body: dict | None = None
    query: dict = field(default_factory=dict)
    user_email: str = ""
    # Events a command emits (webhooks), collected by the API and queued with the state change.
    events: list = field(default_factory=list)

    @property
    def state(self) -> dict:
        return self.vehicle.state


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str  # as documented, after /vehicles/{id}; make-specific ones without the make
    permission: str | None
    handler: Callable[[Ctx], dict]
    doc: str
    supports: Callable[[Vehicle], ApiError | None] = lambda vehicle: None
    makes: frozenset[str] = frozenset()  # lower-case make segments, for make-specific endpoints
    wakes: bool = True
    name: str = ""  # as the compatibility API names it

    @property
    def is_command(self) -> bool:
        return self.method != "GET"


# ------------------------------------------------------------------------------------------------
# Capability checks


def _not_capable(code: str, description: str | None = None) -> ApiError:
    return ApiError("COMPATIBILITY", code, description)


def electric(vehicle: Vehicle) -> ApiError | None:
    if not world.is_electric(vehicle):
        return _not_capable("VEHICLE_NOT_CAPABLE", "This vehicle has no high-voltage battery.")
    return None


def _all_of(*checks):
    def check(vehicle):
        for one in checks:
            error = one(vehicle)
            if error:
                return error
        return None

    return check


def _bmw_os(vehicle: Vehicle) -> ApiError | None:
    # Reference: smartcar-api/evs__control-charge.md ("BMW and MINI: Vehicle needs to be on OS Version 8+")
    if vehicle.make in ("BMW", "MINI") and vehicle.state.get("os_version", 8) < 8:
        return _not_capable("VEHICLE_NOT_CAPABLE", "BMW and MINI vehicles need OS version 8 or later.")
    return None


# Reference: smartcar-api/changelog__2023.md (September 06, 2023) — lock status by make; Lincoln,
# Toyota and Lexus "(US)"; Audi added in 2024#19 and MG (EU) in 2024#10. Ambiguity 9: Canada is not
# named for Lincoln/Toyota/Lexus, so those answer in the US only.
_LOCK_STATUS_GLOBAL = {"TESLA", "FORD", "KIA", "JAGUAR", "LAND_ROVER", "BMW", "MINI", "AUDI", "MG"}
_LOCK_STATUS_US = {"LINCOLN", "TOYOTA", "LEXUS"}
# Makes whose lock status is "partial support": the open-status arrays are empty (get-lock-status.md).
_LOCK_STATUS_PARTIAL = {"LINCOLN", "TOYOTA", "LEXUS", "KIA"}


def _lock_status_supported(vehicle: Vehicle) -> ApiError | None:
    if vehicle.make in _LOCK_STATUS_GLOBAL or (vehicle.make in _LOCK_STATUS_US and vehicle.region == "US"):
        return None
    return _not_capable("SMARTCAR_NOT_CAPABLE", "Lock status is not available for this make.")


# Reference: smartcar-api/get-fuel-tank.md (Notes: values retrieved in Europe, per make) and
# changelog 2024#26. Tesla has no tank at all ("Tesla does not support fuel", permissions.md).
_EU_FUEL_FIELDS = {
    "AUDI": ("range", "percentRemaining"),
    "BMW": ("range", "percentRemaining", "amountRemaining"),
    "MINI": ("range", "percentRemaining", "amountRemaining"),
    "CITROEN": ("range", "amountRemaining"),
    "DS": ("range", "amountRemaining"),
    "OPEL": ("range", "amountRemaining"),
    "PEUGEOT": ("range", "amountRemaining"),
    "VAUXHALL": ("range", "amountRemaining"),
    "FORD": ("range", "percentRemaining"),
    "HYUNDAI": ("range", "amountRemaining"),
    "JAGUAR": ("range", "percentRemaining"),
    "LAND_ROVER": ("range", "percentRemaining"),
    "KIA": ("range", "percentRemaining"),
    "MAZDA": ("range", "percentRemaining"),
    "MERCEDES_BENZ": ("range", "percentRemaining"),
    "RENAULT": ("range", "amountRemaining"),
    "SKODA": ("range", "percentRemaining"),
    "VOLKSWAGEN": ("range", "percentRemaining"),
    "VOLVO": ("range", "percentRemaining", "amountRemaining"),
}


def _fuel_supported(vehicle: Vehicle) -> ApiError | None:
    if not world.has_tank(vehicle):
        return _not_capable("VEHICLE_NOT_CAPABLE", "This vehicle has no fuel tank.")
    if vehicle.region == "EU" and vehicle.make not in _EU_FUEL_FIELDS:
        return _not_capable("SMARTCAR_NOT_CAPABLE", "Fuel is not available for this make in Europe.")
    return None


def _oil_supported(vehicle: Vehicle) -> ApiError | None:
    if not world.has_tank(vehicle):
        return _not_capable("VEHICLE_NOT_CAPABLE", "This vehicle has no combustion engine.")
    return None


def _nominal_capacity_supported(vehicle: Vehicle) -> ApiError | None:
    # Reference: smartcar-api/get-nominal-capacity.md ("only available for US and European based vehicles")
    if vehicle.region not in ("US", "EU"):
        return _not_capable(
            "SMARTCAR_NOT_CAPABLE", "Battery capacity by this endpoint is for US and European vehicles."
        )
    return electric(vehicle)


def _dtcs_supported(vehicle: Vehicle) -> ApiError | None:
    # Reference: smartcar-api/get-dtcs.md. Ambiguity 7: "GM brands including Chevrolet and GMC" is
    # read as every GM brand (Chevrolet, GMC, Buick, Cadillac).
    if world.reports_dtcs(vehicle):
        return None
    return _not_capable("SMARTCAR_NOT_CAPABLE", "Diagnostic trouble codes are available for GM brands.")


def _system_status_supported(vehicle: Vehicle) -> ApiError | None:
    # Reference: smartcar-api/get-system-status.md (FCA and GM brands; "Alpha Romeo" is ALFA_ROMEO)
    if world.reports_system_status(vehicle):
        return None
    return _not_capable("SMARTCAR_NOT_CAPABLE", "System status is available for FCA and GM brands.")


def _service_history_supported(vehicle: Vehicle) -> ApiError | None:
    # Reference: smartcar-api/get-service-records.md. Ambiguity 8: "(US)" is read as applying to the
    # whole list, the only region the page names.
    if vehicle.make in {"FORD", "LINCOLN", "TOYOTA", "LEXUS", "MAZDA", "VOLKSWAGEN"} and vehicle.region == "US":
        return None
    return _not_capable("SMARTCAR_NOT_CAPABLE", "Service history is available for Ford, Lincoln, Toyota, Lexus, Mazda "
                        "and Volkswagen vehicles in the US.")  # fmt: skip


def _nissan_us(vehicle: Vehicle) -> ApiError | None:
    # Reference: smartcar-api/changelog__2023.md (August 22, 2023: "Nissan vehicles in the United States")
    if vehicle.region != "US":
        return _not_capable("SMARTCAR_NOT_CAPABLE", "Nissan charge schedules are available in the United States.")
    return electric(vehicle)


# ------------------------------------------------------------------------------------------------
# Helpers


def _ev(ctx: Ctx) -> dict:
    return ctx.state["ev"]


def _action(ctx: Ctx, allowed: tuple[str, ...]) -> str:
    body = ctx.body or {}
    action = body.get("action")
    if not isinstance(action, str) or action not in allowed:
        raise validation("action", f"action must be one of {', '.join(allowed)}")
    return action


def _refuse_in_motion(ctx: Ctx) -> None:
    if ctx.state["activity"] == "driving":
        raise ApiError("VEHICLE_STATE", "IN_MOTION")


def _require_plugged(ctx: Ctx) -> dict:
    ev = _ev(ctx)
    if not ev["plugged"]:
        raise ApiError("VEHICLE_STATE", "CHARGING_PLUG_NOT_CONNECTED")
    return ev


def _require_charging(ctx: Ctx) -> dict:
    ev = _ev(ctx)
    if ev["charging"] != "CHARGING":
        raise ApiError("VEHICLE_STATE", "NOT_CHARGING")
    return ev


def _number(body: dict, name: str, *, minimum: float | None = None, maximum: float | None = None) -> float:
    value = body.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise validation(name, f"{name} must be a number")
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        raise validation(name, f"{name} must be between {minimum} and {maximum}")
    return float(value)


def completion_time(vehicle: Vehicle, now: datetime) -> datetime | None:
    state = vehicle.state
    ev = state.get("ev")
    if not ev or ev["charging"] != "CHARGING":
        return None
    power = world.charge_power_kw(state)
    remaining_kwh = max(world.effective_limit(vehicle, state) - ev["soc"], 0) * ev["capacity_kwh"]
    return now + timedelta(hours=remaining_kwh / power if power else 0)


def _date_param(ctx: Ctx, name: str, default: date) -> date:
    raw = ctx.query.get(name)
    if not raw:
        return default
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise parameter(name, f"{name} must be a date in YYYY-MM-DD format") from None


# ------------------------------------------------------------------------------------------------
# Core endpoints


def attributes(ctx: Ctx) -> dict:
    # Reference: smartcar-api/get-vehicle-info.md — the example gives the year as a string ("2014").
    v = ctx.vehicle
    return {"id": v.vehicle_id, "make": v.make, "model": v.model, "year": str(v.year)}


def vin(ctx: Ctx) -> dict:
    return {"vin": ctx.vehicle.vin}


def odometer(ctx: Ctx) -> dict:
    return {"distance": ctx.units.distance(ctx.state["odometer"])}


def location(ctx: Ctx) -> dict:
    latitude, longitude = ctx.state["location"]
    return {"latitude": latitude, "longitude": longitude}


def lock_status(ctx: Ctx) -> dict:
    state = ctx.state
    if ctx.vehicle.make in _LOCK_STATUS_PARTIAL:
        doors = windows = sunroof = storage = charging_port = []
    else:
        doors = [{"type": k, "status": v} for k, v in state["doors"].items()]
        windows = [{"type": k, "status": v} for k, v in state["windows"].items()]
        sunroof = [{"type": "sunroof", "status": state["sunroof"]}]
        storage = [
            {"type": "rear", "status": "OPEN" if state["trunk_open"] else "CLOSED"},
            {"type": "front", "status": "OPEN" if state["frunk_open"] else "CLOSED"},
        ]
        charging_port = []
        if "ev" in state:
            port_open = state["ev"]["charge_port_open"] or state["ev"]["plugged"]
            charging_port = [{"type": "chargingPort", "status": "OPEN" if port_open else "CLOSED"}]
    return {
        "isLocked": state["locked"],
        "doors": doors,
        "windows": windows,
        "sunroof": sunroof,
        "storage": storage,
        "chargingPort": charging_port,
    }


def lock_unlock(ctx: Ctx) -> dict:
    action = _action(ctx, ("LOCK", "UNLOCK"))
    if action == "UNLOCK":
        _refuse_in_motion(ctx)
    ctx.state["locked"] = action == "LOCK"
    return SUCCESS


def tire_pressure(ctx: Ctx) -> dict:
    front_left, front_right, back_left, back_right = world.tire_pressures(ctx.state)
    p = ctx.units.pressure
    return {
        "backLeft": p(back_left),
        "backRight": p(back_right),
        "frontLeft": p(front_left),
        "frontRight": p(front_right),
    }


def engine_oil(ctx: Ctx) -> dict:
    return {"lifeRemaining": round(ctx.state["oil_life"], 2)}


def _fuel_range_km(state: dict) -> float:
    fuel = state["fuel"]
    return fuel["percent"] * fuel["tank_l"] / fuel["l100"] * 100


def fuel(ctx: Ctx) -> dict:
    fuel_state = ctx.state["fuel"]
    body = {
        "amountRemaining": ctx.units.volume(round(fuel_state["percent"] * fuel_state["tank_l"], 2)),
        "percentRemaining": round(fuel_state["percent"], 3),
        "range": ctx.units.distance(round(_fuel_range_km(ctx.state), 1)),
    }
    if ctx.vehicle.region == "EU":
        # "This endpoint may return null values for vehicles sold in Europe" (get-fuel-tank.md).
        kept = _EU_FUEL_FIELDS[ctx.vehicle.make]
        body = {key: (value if key in kept else None) for key, value in body.items()}
    return body


def _battery_range_km(state: dict) -> float:
    ev = state["ev"]
    return ev["soc"] * ev["range_full_km"]


def battery(ctx: Ctx) -> dict:
    return {
        "percentRemaining": round(_ev(ctx)["soc"], 3),
        "range": ctx.units.distance(round(_battery_range_km(ctx.state), 1)),
    }


def nominal_capacity(ctx: Ctx) -> dict:
    # Reference: smartcar-api/get-nominal-capacity.md, "Case 1: Smartcar has determined the battery capacity"
    capacity = _ev(ctx)["capacity_kwh"]
    return {
        "availableCapacities": [{"capacity": capacity, "description": None}],
        "capacity": {"nominal": capacity, "source": "SMARTCAR"},
        "url": None,
    }


def battery_capacity(ctx: Ctx) -> dict:
    # Referenced by compatibility__by-vin.md ("/battery/capacity") and get-nominal-capacity.md (for
    # Canada) without a page of its own (CAPABILITIES.md §1d, ambiguity 6): the one-field shape the
    # SDKs read, {"capacity": kWh}, served in every region.
    return {"capacity": _ev(ctx)["capacity_kwh"]}


def charge_status(ctx: Ctx) -> dict:
    ev = _ev(ctx)
    return {"isPluggedIn": ev["plugged"], "state": ev["charging"]}


def charge_control(ctx: Ctx) -> dict:
    action = _action(ctx, ("START", "STOP"))
    vehicle, state = ctx.vehicle, ctx.state
    ev = _ev(ctx)
    if vehicle.make == "NISSAN" and action == "STOP" and vehicle.region == "US":
        # Reference: smartcar-api/evs__control-charge.md ("only START charge commands are supported in the US")
        raise _not_capable("SMARTCAR_NOT_CAPABLE", "Nissan vehicles in the US accept only START charge commands.")
    if vehicle.make in GM_MAKES and ev["soc"] < 0.5:
        # "These vehicles require a minimum charge of 50% in order to be able to start or stop charging"
        raise ApiError(
            "VEHICLE_STATE", "LOW_BATTERY", "GM vehicles need at least 50% charge to start or stop charging."
        )
    _require_plugged(ctx)
    if action == "START":
        if ev["charging"] == "CHARGING":
            raise ApiError("VEHICLE_STATE", "CHARGING_IN_PROGRESS")
        # "Issuing a start command while the vehicle has a schedule in place for its current charging
        # location will result in the vehicle charging to 100%." (Ford and Lincoln)
        to_full = vehicle.make in ("FORD", "LINCOLN") and _ford_location_has_schedule(state)
        if ev["soc"] >= (1.0 if to_full else world.effective_limit(vehicle, state)) - 0.001:
            raise ApiError("VEHICLE_STATE", "FULLY_CHARGED")
        ev["forced_full"] = ev["forced_full"] or to_full
        ev["user_stopped"] = False
        world.charge_tick(vehicle, ctx.now, ctx.events)
    else:
        if ev["charging"] != "CHARGING":
            raise ApiError("VEHICLE_STATE", "NOT_CHARGING")
        ev["user_stopped"] = True
        world.charge_tick(vehicle, ctx.now, ctx.events)
    return SUCCESS


def _ford_location_has_schedule(state: dict) -> bool:
    location = world.ford_location_here(state)
    return bool(location and (location["weekday"] or location["weekend"]))


def charge_limit(ctx: Ctx) -> dict:
    return {"limit": world.effective_limit(ctx.vehicle, ctx.state)}


def set_charge_limit(ctx: Ctx) -> dict:
    limit = _number(ctx.body or {}, "limit", minimum=0.5, maximum=1)
    _ev(ctx)["limit"] = round(limit, 3)
    world.charge_tick(ctx.vehicle, ctx.now, ctx.events)
    return SUCCESS


def dtcs(ctx: Ctx) -> dict:
    return {"activeCodes": [dict(entry) for entry in ctx.state["dtcs"]]}


def system_status(ctx: Ctx) -> dict:
    return {"systems": world.system_status(ctx.vehicle)}


def service_history(ctx: Ctx) -> list:
    # Reference: smartcar-api/get-service-records.md. The page's example shows one record; a history
    # is a list of them, each with exactly the documented fields, optionally limited by the SDKs'
    # startDate/endDate query parameters.
    start = _date_param(ctx, "startDate", date.min)
    end = _date_param(ctx, "endDate", date.max)
    records = []
    for index, record in enumerate(ctx.state["service_records"]):
        serviced = world.parse_time(record["date"])
        if not start <= serviced.date() <= end:
            continue
        records.append(
            {
                "serviceId": f"{ctx.vehicle.vin[-6:]}-{index + 1}",
                "odometerDistance": ctx.units.distance(record["odometer"]),
                "serviceDate": record["date"],
                "serviceTasks": [
                    {"taskId": str(3000 + n), "taskDescription": task} for n, task in enumerate(record["tasks"])
                ],
                "serviceDetails": [{"type": "Dealer", "value": f"{ctx.state['city']} Service Center"}],
                "serviceCost": {"totalCost": None, "currency": None},
            }
        )
    return records


def send_destination(ctx: Ctx) -> dict:
    body = ctx.body or {}
    latitude = _number(body, "latitude", minimum=-90, maximum=90)
    longitude = _number(body, "longitude", minimum=-180, maximum=180)
    ctx.state["nav_destination"] = [latitude, longitude]
    return SUCCESS


# ------------------------------------------------------------------------------------------------
# Make-specific endpoints


def audi_charge(ctx: Ctx) -> dict:
    # Reference: smartcar-api/audi__get-charge.md
    ev = _ev(ctx)
    charger = ev["charger"] or {}
    charging = ev["charging"] == "CHARGING"
    completion = completion_time(ctx.vehicle, ctx.now)
    power = world.charge_power_kw(ctx.state) if charging else 0
    return {
        "chargingStatus": ev["charging"],
        "isPluggedIn": ev["plugged"],
        "chargeRate": ctx.units.distance(round(power / ev["capacity_kwh"] * ev["range_full_km"], 1)),
        "chargeType": charger.get("kind", "").lower() or None,
        "chargePortColor": "green" if charging else ("white" if ev["plugged"] else None),
        "chargePortLatch": "locked" if ev["plugged"] else "unlocked",
        "completionTime": world.iso(completion) if completion else None,
        "chargeMode": "timer" if ctx.state.get("audi_timer") else "manual",
        "socLimit": ev["limit"],
        "externalPowerStatus": "active" if charging else ("ready" if ev["plugged"] else "unavailable"),
        "wattage": power,
    }


def bmw_charge_records(ctx: Ctx) -> dict:
    # Reference: smartcar-api/bmw__get-charge-records.md — at most the last 30 days.
    today = ctx.now.date()
    start = max(_date_param(ctx, "startDate", today - timedelta(days=30)), today - timedelta(days=30))
    end = _date_param(ctx, "endDate", today)
    records = []
    for record in ctx.state["charge_records"]:
        if start <= world.parse_time(record["chargeStart"]).date() <= end:
            records.append(
                {
                    "chargeStart": record["chargeStart"],
                    "chargeEnd": record["chargeEnd"],
                    "location": record["location"],
                    "energy": record["energy"],
                    "isPublic": record["isPublic"],
                    "startPercentRemaining": record["startPercentRemaining"],
                    "endPercentRemaining": record["endPercentRemaining"],
                    "chargingType": record["chargingType"],
                }
            )
    return {"records": records}


def charge_completion(ctx: Ctx) -> dict:
    # Reference: smartcar-api/gm__get-charge-completion-time.md, tesla__get-charge-completion-time.md
    _require_charging(ctx)
    return {"time": world.iso(completion_time(ctx.vehicle, ctx.now))}


def charge_voltmeter(ctx: Ctx) -> dict:
    # Reference: smartcar-api/gm__get-charge-voltmeter.md, tesla__get-charge-voltmeter.md
    ev = _require_plugged(ctx)
    return {"voltage": ev["charger"]["volts"]}


def ford_schedule_get(ctx: Ctx) -> dict:
    # Reference: smartcar-api/ford__get-charge-schedule-by-location.md
    return {
        "chargingLocations": [
            {
                "chargeLimit": location["chargeLimit"],
                "chargingSchedules": {
                    "weekday": [{"end": w["end"], "start": w["start"]} for w in location["weekday"]],
                    "weekend": [{"end": w["end"], "start": w["start"]} for w in location["weekend"]],
                },
                "location": {"latitude": location["latitude"], "longitude": location["longitude"]},
            }
            for location in ctx.state.get("ford_locations", [])
        ]
    }


def _windows(value, name: str) -> list[dict]:
    if not isinstance(value, list):
        raise validation(name, f"{name} must be a list of charging windows")
    windows = []
    for index, window in enumerate(value):
        if not isinstance(window, dict):
            raise validation(f"{name}[{index}]", "a charging window is an object with start and end")
        for key in ("start", "end"):
            if not isinstance(window.get(key), str) or not HOUR_ONLY.match(window[key]):
                raise validation(f"{name}[{index}].{key}", f"{key} must be an exact hour in HH:00, e.g. 17:00")
        if window["start"] == window["end"]:
            raise validation(f"{name}[{index}]", "start and end of a charging window must differ")
        windows.append({"start": window["start"], "end": window["end"]})
    return windows


def ford_schedule_set(ctx: Ctx) -> dict:
    # Reference: smartcar-api/ford__set-charge-schedule-by-location.md — the location comes from the
    # query (latitude, longitude) and must be one the GET lists. Ambiguity 13: the body's windows are
    # "chargingWindows" as in every request example; "chargingSchedules" (the GET's name) is accepted too.
    latitude = _query_float(ctx, "latitude", -90, 90)
    longitude = _query_float(ctx, "longitude", -180, 180)
    location = world.ford_saved_location(ctx.state, latitude, longitude)
    if location is None:
        raise parameter(
            "latitude,longitude",
            "No saved charging location at these coordinates: use one from GET charge/schedule_by_location.",
        )
    body = ctx.body or {}
    settings = body.get("chargingLocation")
    if not isinstance(settings, dict):
        raise validation("chargingLocation", "chargingLocation must be an object")
    limit = _number(settings, "chargeLimit", minimum=0.5, maximum=1)
    windows = settings.get("chargingWindows", settings.get("chargingSchedules"))
    if not isinstance(windows, dict):
        raise validation("chargingLocation.chargingWindows", "chargingWindows must have weekday and weekend lists")
    weekday = _windows(windows.get("weekday", []), "chargingWindows.weekday")
    weekend = _windows(windows.get("weekend", []), "chargingWindows.weekend")
    location.update(chargeLimit=round(limit, 3), weekday=weekday, weekend=weekend)
    world.charge_tick(ctx.vehicle, ctx.now, ctx.events)
    return SUCCESS


def _query_float(ctx: Ctx, name: str, minimum: float, maximum: float) -> float:
    raw = ctx.query.get(name)
    if raw in (None, ""):
        raise parameter(name, f"The {name} query parameter is required")
    try:
        value = float(raw)
    except ValueError:
        raise parameter(name, f"{name} must be a number") from None
    if not (minimum <= value <= maximum) or not math.isfinite(value):
        raise parameter(name, f"{name} must be between {minimum} and {maximum}")
    return value


def nissan_schedule_get(ctx: Ctx) -> dict:
    # Reference: smartcar-api/nissan__get-charge-schedule.md. Ambiguity 14: described as "HH:mm in
    # UTC", the example returns datetimes ("2020-01-01T02:00:00.000Z"); we answer like the example,
    # the UTC time of day on that same fixed date.
    return {
        "chargeSchedules": [
            {
                "end": f"2020-01-01T{schedule['end']}:00.000Z",
                "start": f"2020-01-01T{schedule['start']}:00.000Z",
                "days": list(schedule["days"]),
            }
            for schedule in ctx.state.get("nissan_schedules", [])
        ]
    }


def nissan_schedule_set(ctx: Ctx) -> dict:
    # Reference: smartcar-api/nissan__set-charge-schedule.md — at most 3 schedules, HH:mm in UTC, days.
    schedules = (ctx.body or {}).get("chargeSchedules")
    if not isinstance(schedules, list):
        raise validation("chargeSchedules", "chargeSchedules must be a list")
    if len(schedules) > 3:
        raise validation("chargeSchedules", "A maximum of 3 schedules can be set")
    cleaned = []
    for index, schedule in enumerate(schedules):
        where = f"chargeSchedules[{index}]"
        if not isinstance(schedule, dict):
            raise validation(where, "a schedule is an object with start, end and days")
        for key in ("start", "end"):
            if not isinstance(schedule.get(key), str) or not HH_MM.match(schedule[key]):
                raise validation(f"{where}.{key}", f"{key} must be a time in HH:mm (UTC)")
        days = schedule.get("days")
        if not isinstance(days, list) or not days or any(day not in DAYS for day in days):
            raise validation(f"{where}.days", f"days must be a non-empty list of {', '.join(DAYS)}")
        cleaned.append({"start": schedule["start"], "end": schedule["end"], "days": sorted(set(days), key=DAYS.index)})
    ctx.state["nissan_schedules"] = cleaned
    world.charge_tick(ctx.vehicle, ctx.now, ctx.events)
    return SUCCESS


def tesla_alerts(ctx: Ctx) -> dict:
    return {"alerts": [dict(alert) for alert in reversed(ctx.state["alerts"])]}


def tesla_attributes(ctx: Ctx) -> dict:
    # Reference: smartcar-api/tesla__get-ext-vehicle-info.md
    v, state = ctx.vehicle, ctx.state
    home = state["places"]["home"]
    at_home = world.distance_km(*state["location"], *home) < 0.2
    diameter_mm = 482.6 if "S" in v.model or "X" in v.model else 457.2
    return {
        "driveUnit": {"front": "PM216MOSFET", "rear": "NoneOrSmall" if v.model == "Model 3" else "PM216MOSFET"},
        "driverAssistVersion": "TeslaAP3",
        "efficiencyPackage": f"MY{v.year}",
        "firmwareVersion": state["firmware"],
        "id": v.vehicle_id,
        "make": v.make,
        "model": v.model,
        "nickname": state["nickname"],
        "performancePackage": "Base",
        "sentryMode": {"available": True, "enabled": bool(state["locked"] and state["place"] != "home")},
        "style": {"exteriorColor": state["color"], "exteriorTrim": "Black", "interiorTrim": "Black2"},
        "trimBadging": "74d",
        "wheel": {
            "diameter": round(diameter_mm / 25.4, 1) if ctx.units.imperial else diameter_mm,
            "style": "Apollo",
        },
        "year": v.year,
        "atHome": at_home,
    }


def tesla_battery(ctx: Ctx) -> dict:
    # Reference: smartcar-api/tesla__get-battery.md
    ev = _ev(ctx)
    range_km = _battery_range_km(ctx.state)
    cold = world.exterior_temperature(ctx.vehicle, ctx.now) < 0
    return {
        "heaterOn": cold and ev["charging"] == "CHARGING",
        "maxRangeChargeCounter": ev["charged_to_full"],
        "notEnoughPowerToHeat": cold and ev["soc"] < 0.2,
        "percentRemaining": round(ev["soc"], 3),
        "percentRemainingUsable": round(max(ev["soc"] - 0.01, 0), 3),
        "range": ctx.units.distance(round(range_km, 1)),
        "rangeEstimated": ctx.units.distance(round(range_km * 0.96, 1)),
        "rangeIdeal": ctx.units.distance(round(range_km * 1.05, 1)),
    }


def tesla_charge(ctx: Ctx) -> dict:
    # Reference: smartcar-api/tesla__get-charge.md
    ev = _ev(ctx)
    charger = ev["charger"]
    charging = ev["charging"] == "CHARGING"
    session = ev["session"] or ev["last_session"] or {}
    power = world.charge_power_kw(ctx.state) if charging else 0.0
    completion = completion_time(ctx.vehicle, ctx.now)
    amperage = round(power * 1000 / (charger["volts"] * charger["phases"])) if charging and charger else 0
    fast = bool(charger and charger["kind"] == "DC")
    max_charger = charger["max_amps"] if charger else 48
    return {
        "amperage": amperage,
        "completionTime": world.iso(completion) if completion else None,
        "wattage": power,
        "voltage": charger["volts"] if charger else 1,
        "isPluggedIn": ev["plugged"],
        "state": ev["charging"],
        "socLimit": ev["limit"],
        "amperageMaxVehicle": 48,
        "socLimitMax": 1,
        "socLimitMin": 0.5,
        "socLimitDefault": 0.8,
        "amperageRequested": min(ev["amps_requested"] or max_charger, max_charger),
        "energyAdded": session.get("energy", 0.0),
        "rangeAddedRated": ctx.units.distance(session.get("range", 0.0)),
        "rangeAddedIdeal": ctx.units.distance(round(session.get("range", 0.0) * 1.05, 2)),
        "chargeRate": ctx.units.speed(round(power / ev["capacity_kwh"] * ev["range_full_km"], 1)),
        "connector": ("CCS" if ctx.vehicle.region == "EU" else "SAE") if ev["plugged"] else "",
        "fastChargerPresent": fast and charging,
        "fastChargerType": "Supercharger" if fast else "",
        "fastChargerBrand": "Tesla" if fast else "",
        "amperageMaxCharger": max_charger,
        "chargePortColor": ("Green" if charging else "White") if ev["plugged"] else "",
        "chargePortOpen": ev["charge_port_open"] or ev["plugged"],
        "chargePortLatch": "Engaged" if ev["plugged"] else "Disengaged",
        "chargerPhases": charger["phases"] if charger and charger["kind"] == "AC" else None,
    }


def tesla_billing_records(ctx: Ctx) -> dict:
    # Reference: smartcar-api/tesla__get-charge-records-billing.md — public chargers only, page 1 the
    # most recent, ten records a page.
    today = ctx.now.date()
    start = _date_param(ctx, "startDate", today - timedelta(days=30))
    end = _date_param(ctx, "endDate", today)
    raw_page = ctx.query.get("page", "1")
    if not raw_page.isdigit() or int(raw_page) < 1:
        raise parameter("page", "page must be a positive integer")
    page = int(raw_page)
    public = [
        record
        for record in reversed(ctx.state["charge_records"])
        if record["isPublic"] and start <= world.parse_time(record["chargeStart"]).date() <= end
    ]
    chunk = public[(page - 1) * 10 : page * 10]
    currency = "EUR" if ctx.vehicle.region == "EU" else ("CAD" if ctx.vehicle.region == "CA" else "USD")
    return {
        "records": [
            {
                "chargeEnd": record["chargeEnd"],
                "chargeStart": record["chargeStart"],
                "energyConsumed": record["energy"],
                "cost": {"currency": currency, "energy": f"{record['energy'] * 0.45:.2f}", "other": "0"},
                "location": record["location"],
                "recordId": record["recordId"],
            }
            for record in chunk
        ],
        "hasMoreData": len(public) > page * 10,
    }


def tesla_schedule_get(ctx: Ctx) -> dict:
    schedule = ctx.state["tesla_schedule"]
    return {"departureTime": dict(schedule["departureTime"]), "startTime": dict(schedule["startTime"])}


def tesla_schedule_set(ctx: Ctx) -> dict:
    # Reference: smartcar-api/tesla__set-charge-schedule.md. Ambiguity 15: the departure type is
    # "DEPARTURE_TIME" (only START_TIME is shown); enabling one schedule type disables the other.
    body = ctx.body or {}
    kind = body.get("type")
    if kind not in ("START_TIME", "DEPARTURE_TIME"):
        raise validation("type", "type must be START_TIME or DEPARTURE_TIME")
    enable = body.get("enable")
    if not isinstance(enable, bool):
        raise validation("enable", "enable must be true or false")
    # The page gives "time" as "The time for the provided schedule type in HH:mm" and does not say whether it may be
    # left out. When present it must be HH:mm (null is not); left out, the schedule keeps the time it has, so turning
    # a schedule off needs none. Enabling a schedule that has no time at all has nothing to go by and is refused.
    schedule = ctx.state["tesla_schedule"]
    key, other = ("startTime", "departureTime") if kind == "START_TIME" else ("departureTime", "startTime")
    if "time" in body and (not isinstance(body["time"], str) or not HH_MM.match(body["time"])):
        raise validation("time", "time must be in HH:mm")
    time = body.get("time", schedule[key]["time"])
    if enable and time is None:
        raise validation("time", "time is needed to enable a schedule that has none")
    schedule[key] = {"enabled": enable, "time": time}
    if enable:
        schedule[other]["enabled"] = False
    world.charge_tick(ctx.vehicle, ctx.now, ctx.events)
    return tesla_schedule_get(ctx)


def tesla_wattmeter(ctx: Ctx) -> dict:
    _require_charging(ctx)
    return {"wattage": world.charge_power_kw(ctx.state)}


def tesla_cabin_get(ctx: Ctx) -> dict:
    cabin = ctx.state["cabin"]
    return {"status": cabin["status"], "temperature": ctx.units.temperature(cabin["temperature"])}


def tesla_cabin_set(ctx: Ctx) -> dict:
    # Reference: smartcar-api/tesla__set-cabin.md. Ambiguity 16: the start and stop actions are START
    # and STOP, as on the defroster and steering-wheel pages.
    action = _action(ctx, ("START", "STOP", "SET"))
    cabin = ctx.state["cabin"]
    body = ctx.body or {}
    if "temperature" in body or action == "SET":
        requested = _number(body, "temperature")
        celsius = ctx.units.temperature_in(requested)
        if not CABIN_MIN_C <= celsius <= CABIN_MAX_C:
            low, high = ctx.units.temperature(CABIN_MIN_C), ctx.units.temperature(CABIN_MAX_C)
            raise validation("temperature", f"temperature must be between {low} and {high}")
        cabin["temperature"] = round(celsius, 1)
    if action == "START":
        cabin["status"] = "ON"
    elif action == "STOP":
        cabin["status"] = "OFF"
    return tesla_cabin_get(ctx)


def tesla_defroster_get(ctx: Ctx) -> dict:
    defroster = ctx.state["defroster"]
    return {"frontStatus": defroster["front"], "rearStatus": defroster["rear"]}


def tesla_defroster_set(ctx: Ctx) -> dict:
    action = _action(ctx, ("START", "STOP"))
    status = "ON" if action == "START" else "OFF"
    ctx.state["defroster"] = {"front": status, "rear": status}
    return {"status": action}


def tesla_steering_get(ctx: Ctx) -> dict:
    return {"status": ctx.state["steering_heater"]}


def tesla_steering_set(ctx: Ctx) -> dict:
    action = _action(ctx, ("START", "STOP"))
    if ctx.state["steering_heater"] == "UNAVAILABLE":
        return {"status": "UNAVAILABLE"}
    ctx.state["steering_heater"] = "ON" if action == "START" else "OFF"
    return {"status": action}


_DIRECTIONS = ("N", "NE", "E", "SE", "S", "SW", "W", "NW")


def tesla_compass(ctx: Ctx) -> dict:
    heading = ctx.state["heading"] % 360
    return {"direction": _DIRECTIONS[round(heading / 45) % 8], "heading": heading}


def tesla_migration(ctx: Ctx) -> dict:
    return {"requiresMigration": bool(ctx.state.get("legacy_integration"))}


def tesla_speedometer(ctx: Ctx) -> dict:
    return {"speed": ctx.units.speed(ctx.state["speed"])}


def tesla_status(ctx: Ctx) -> dict:
    # "If the vehicle is asleep, this request will not wake the vehicle." (tesla__get-vehicle-status.md)
    state = ctx.state
    asleep = state["asleep"] or state["deep_sleep"]
    return {
        "status": "ASLEEP" if asleep else ("DRIVING" if state["activity"] == "driving" else "ONLINE"),
        "inService": bool(state.get("in_service")),
        "gear": "DRIVE" if state["activity"] == "driving" else "PARK",
    }


def tesla_thermometer_exterior(ctx: Ctx) -> dict:
    return {"temperature": ctx.units.temperature(world.exterior_temperature(ctx.vehicle, ctx.now))}


def tesla_thermometer_interior(ctx: Ctx) -> dict:
    return {"temperature": ctx.units.temperature(world.interior_temperature(ctx.vehicle, ctx.now))}


def tesla_user_access(ctx: Ctx) -> dict:
    access = ctx.state["access_type"]
    permissions = ["vehicle_device_data", "vehicle_location"] + (
        ["vehicle_cmds", "vehicle_charging_cmds"] if access == "OWNER" else ["vehicle_cmds"]
    )
    return {"accessType": access, "permissions": permissions}


def tesla_user_info(ctx: Ctx) -> dict:
    return {"email": ctx.user_email}


def tesla_virtual_key(ctx: Ctx) -> dict:
    # Reference: smartcar-api/tesla__get-virtual-key-status.md (legacy integration → PLATFORM_NOT_CAPABLE;
    # a non-owner account → CONNECTED_SERVICES_ACCOUNT:VEHICLE_MISSING)
    if ctx.state.get("legacy_integration"):
        raise _not_capable("PLATFORM_NOT_CAPABLE", "This vehicle is connected through Tesla's legacy integration.")
    if ctx.state["access_type"] != "OWNER":
        raise ApiError("CONNECTED_SERVICES_ACCOUNT", "VEHICLE_MISSING", "The connected Tesla account is not the owner.")
    return {"isPaired": ctx.state["virtual_key"]}


def tesla_pin_set(ctx: Ctx) -> dict:
    # Reference: smartcar-api/tesla__set-pin-to-drive.md — "A four digit numeric PIN"; overrides an
    # existing one. Ambiguity 18: POST enables and sets the PIN, DELETE disables it.
    pin = (ctx.body or {}).get("pin")
    if not isinstance(pin, str) or not re.fullmatch(r"\d{4}", pin):
        raise validation("pin", "pin must be a four digit numeric string")
    ctx.state["pin"] = pin
    return SUCCESS


def tesla_pin_clear(ctx: Ctx) -> dict:
    ctx.state["pin"] = None
    return SUCCESS


def tesla_frunk(ctx: Ctx) -> dict:
    # Ambiguity 17: the body text is copied from the charge-port page; the actions are OPEN and CLOSE.
    action = _action(ctx, ("OPEN", "CLOSE"))
    _refuse_in_motion(ctx)
    ctx.state["frunk_open"] = action == "OPEN"
    return SUCCESS


def tesla_trunk(ctx: Ctx) -> dict:
    action = _action(ctx, ("OPEN", "CLOSE"))
    _refuse_in_motion(ctx)
    ctx.state["trunk_open"] = action == "OPEN"
    return SUCCESS


def tesla_charge_port(ctx: Ctx) -> dict:
    action = _action(ctx, ("OPEN", "CLOSE"))
    _refuse_in_motion(ctx)
    ev = _ev(ctx)
    if action == "CLOSE" and ev["plugged"]:
        raise ApiError("VEHICLE_STATE", "CHARGING_PLUG_CONNECTED")
    ev["charge_port_open"] = action == "OPEN"
    return SUCCESS


def tesla_ammeter(ctx: Ctx) -> dict:
    # Reference: smartcar-api/tesla__set-charge-ammeter.md — more than the charger supports is set to
    # the charger's maximum, and the message says what was set.
    requested = _number(ctx.body or {}, "amperage", minimum=1)
    ev = _require_plugged(ctx)
    amperage = min(int(requested), ev["charger"]["max_amps"])
    ev["amps_requested"] = amperage
    return {"message": f"Successfully sent the following amperage: {amperage}", "status": "success"}


# ------------------------------------------------------------------------------------------------
# The table


def _core(method, path, permission, handler, doc, supports=None, *, name=""):
    return Endpoint(method, path, permission, handler, doc, supports or (lambda vehicle: None), name=name)


def _make(makes, method, path, permission, handler, doc, supports=None, *, wakes=True):
    return Endpoint(
        method, path, permission, handler, doc, supports or (lambda vehicle: None), frozenset(makes), wakes=wakes
    )


EV = electric
CORE: list[Endpoint] = [
    _core("GET", "", "read_vehicle_info", attributes, "get-vehicle-info.md", name="Vehicle info"),
    _core("GET", "vin", "read_vin", vin, "get-vin.md", name="VIN"),
    _core("GET", "odometer", "read_odometer", odometer, "get-odometer.md", name="Odometer"),
    _core("GET", "location", "read_location", location, "get-location.md", name="Location"),
    _core("GET", "security", "read_security", lock_status, "get-lock-status.md", _lock_status_supported,
          name="Lock status"),
    _core("POST", "security", "control_security", lock_unlock, "control-lock-unlock.md", name="Lock & unlock"),
    _core("GET", "tires/pressure", "read_tires", tire_pressure, "get-tire-pressure.md", name="Tire pressure"),
    _core("GET", "engine/oil", "read_engine_oil", engine_oil, "get-engine-oil-life.md", _oil_supported,
          name="Engine oil life"),
    _core("GET", "fuel", "read_fuel", fuel, "get-fuel-tank.md", _fuel_supported, name="Fuel tank"),
    _core("GET", "battery", "read_battery", battery, "evs__get-battery-level.md", EV, name="EV battery"),
    _core("GET", "battery/nominal_capacity", "read_battery", nominal_capacity, "get-nominal-capacity.md",
          _nominal_capacity_supported, name="EV battery capacity"),
    _core("GET", "battery/capacity", "read_battery", battery_capacity, "get-nominal-capacity.md", EV),
    _core("GET", "charge", "read_charge", charge_status, "evs__get-charge-status.md", EV, name="EV charging status"),
    _core("POST", "charge", "control_charge", charge_control, "evs__control-charge.md", _all_of(EV, _bmw_os),
          name="EV start & stop charge"),
    _core("GET", "charge/limit", "read_charge", charge_limit, "evs__get-charge-limit.md", _all_of(EV, _bmw_os),
          name="EV charge limit"),
    _core("POST", "charge/limit", "control_charge", set_charge_limit, "evs__set-charge-limit.md",
          _all_of(EV, _bmw_os), name="EV set charge limit"),
    _core("GET", "diagnostics/dtcs", "read_diagnostics", dtcs, "get-dtcs.md", _dtcs_supported,
          name="Diagnostic trouble codes"),
    _core("GET", "diagnostics/system_status", "read_diagnostics", system_status, "get-system-status.md",
          _system_status_supported, name="System status"),
    _core("GET", "service/history", "read_service_history", service_history, "get-service-records.md",
          _service_history_supported, name="Service history"),
    _core("POST", "navigation/destination", "control_navigation", send_destination,
          "send-destination-to-vehicle.md", name="Send destination"),
]  # fmt: skip

TESLA = ("tesla",)
MAKE_SPECIFIC: list[Endpoint] = [
    _make(("audi",), "GET", "charge", "read_charge", audi_charge, "audi__get-charge.md", EV),
    # Ambiguity 1: charge records are served for bmw and mini only, as their page says; Tesla's
    # announced /tesla/charge/records has no page and answers MAKE_NOT_COMPATIBLE.
    _make(("bmw", "mini"), "GET", "charge/records", "read_charge_records", bmw_charge_records,
          "bmw__get-charge-records.md", EV),
    _make(("cadillac", "chevrolet"), "GET", "charge/completion", "read_charge", charge_completion,
          "gm__get-charge-completion-time.md", EV),
    _make(("cadillac", "chevrolet"), "GET", "charge/voltmeter", "read_charge", charge_voltmeter,
          "gm__get-charge-voltmeter.md", EV),
    _make(("ford", "lincoln"), "GET", "charge/schedule_by_location", "read_charge_locations", ford_schedule_get,
          "ford__get-charge-schedule-by-location.md", EV),
    _make(("ford", "lincoln"), "PUT", "charge/schedule_by_location", "control_charge", ford_schedule_set,
          "ford__set-charge-schedule-by-location.md", EV),
    _make(("nissan",), "GET", "charge/schedule", "read_charge", nissan_schedule_get, "nissan__get-charge-schedule.md",
          _nissan_us),
    _make(("nissan",), "PUT", "charge/schedule", "control_charge", nissan_schedule_set,
          "nissan__set-charge-schedule.md", _nissan_us),
    _make(TESLA, "GET", "alerts", "read_alerts", tesla_alerts, "tesla__get-alerts.md"),
    _make(TESLA, "GET", "attributes", "read_extended_vehicle_info", tesla_attributes, "tesla__get-ext-vehicle-info.md"),
    _make(TESLA, "GET", "battery", "read_battery", tesla_battery, "tesla__get-battery.md", EV),
    _make(TESLA, "GET", "charge", "read_charge", tesla_charge, "tesla__get-charge.md", EV),
    _make(TESLA, "POST", "charge/ammeter", "control_charge", tesla_ammeter, "tesla__set-charge-ammeter.md", EV),
    _make(TESLA, "POST", "charge/charge_port_door", "control_charge", tesla_charge_port,
          "tesla__control-charge-port.md", EV),
    _make(TESLA, "GET", "charge/completion", "read_charge", charge_completion, "tesla__get-charge-completion-time.md",
          EV),
    _make(TESLA, "GET", "charge/records/billing", "read_charge_records", tesla_billing_records,
          "tesla__get-charge-records-billing.md", EV),
    _make(TESLA, "GET", "charge/schedule", "read_charge", tesla_schedule_get, "tesla__get-charge-schedule.md", EV),
    _make(TESLA, "POST", "charge/schedule", "control_charge", tesla_schedule_set, "tesla__set-charge-schedule.md",
          EV),
    _make(TESLA, "GET", "charge/voltmeter", "read_charge", charge_voltmeter, "tesla__get-charge-voltmeter.md", EV),
    _make(TESLA, "GET", "charge/wattmeter", "read_charge", tesla_wattmeter, "tesla__get-charge-wattmeter.md", EV),
    _make(TESLA, "GET", "climate/cabin", "read_climate", tesla_cabin_get, "tesla__get-cabin.md"),
    _make(TESLA, "POST", "climate/cabin", "control_climate", tesla_cabin_set, "tesla__set-cabin.md"),
    # Ambiguity 2: the page's heading says /vehicles/{is}/…; its own cURL uses {id}, as every other page.
    _make(TESLA, "GET", "climate/defroster", "read_climate", tesla_defroster_get, "tesla__get-defroster.md"),
    _make(TESLA, "POST", "climate/defroster", "control_climate", tesla_defroster_set, "tesla__set-defroster.md"),
    _make(TESLA, "GET", "climate/steering_wheel", "read_climate", tesla_steering_get, "tesla__get-steering-heater.md"),
    _make(TESLA, "POST", "climate/steering_wheel", "control_climate", tesla_steering_set,
          "tesla__set-steering-heater.md"),
    _make(TESLA, "GET", "compass", "read_compass", tesla_compass, "tesla__get-compass-heading.md"),
    _make(TESLA, "GET", "migration", "read_vehicle_info", tesla_migration, "tesla__get-migration-status.md"),
    _make(TESLA, "POST", "pin", "control_pin", tesla_pin_set, "tesla__set-pin-to-drive.md"),
    _make(TESLA, "DELETE", "pin", "control_pin", tesla_pin_clear, "tesla__clear-pin-to-drive.md"),
    _make(TESLA, "POST", "security/frunk", "control_trunk", tesla_frunk, "tesla__control-frunk.md"),
    _make(TESLA, "POST", "security/trunk", "control_trunk", tesla_trunk, "tesla__control-trunk.md"),
    _make(TESLA, "GET", "speedometer", "read_speedometer", tesla_speedometer, "tesla__get-speedometer.md"),
    _make(TESLA, "GET", "status", "read_extended_vehicle_info", tesla_status, "tesla__get-vehicle-status.md",
          wakes=False),
    _make(TESLA, "GET", "thermometer/exterior", "read_thermometer", tesla_thermometer_exterior,
          "tesla__get-exterior-temperature.md"),
    _make(TESLA, "GET", "thermometer/interior", "read_thermometer", tesla_thermometer_interior,
          "tesla__get-interior-temperature.md"),
    # Ambiguity 19: the page documents no permission for user/access, so none is required.
    _make(TESLA, "GET", "user/access", None, tesla_user_access, "tesla__get-user-access.md"),
    _make(TESLA, "GET", "user/info", "read_user_profile", tesla_user_info, "tesla__get-user-info.md"),
    _make(TESLA, "GET", "virtual_key", "read_vehicle_info", tesla_virtual_key, "tesla__get-virtual-key-status.md"),
]  # fmt: skip

CORE_INDEX: dict[tuple[str, str], Endpoint] = {(e.method, e.path): e for e in CORE}
MAKE_INDEX: dict[tuple[str, str], list[Endpoint]] = {}
for _endpoint in MAKE_SPECIFIC:
    MAKE_INDEX.setdefault((_endpoint.method, _endpoint.path), []).append(_endpoint)
CORE_PATHS = {e.path for e in CORE}
MAKE_PATHS = {e.path for e in MAKE_SPECIFIC}

# Every make value of smartcar-api/makes.md, plus those the changelogs name (CAPABILITIES.md §3).
KNOWN_MAKES = {
    "acura", "alfa_romeo", "audi", "bmw", "buick", "cadillac", "chevrolet", "chrysler", "citroen", "cupra", "dacia",
    "dodge", "ds", "fiat", "ford", "gmc", "honda", "hyundai", "infiniti", "jaguar", "jeep", "kia", "land_rover",
    "lexus", "lincoln", "mazda", "mercedes_benz", "mg", "mini", "nissan", "opel", "peugeot", "porsche", "ram",
    "renault", "rivian", "skoda", "subaru", "tesla", "toyota", "vauxhall", "volkswagen", "volvo",
}  # fmt: skip


def resolve(vehicle: Vehicle, method: str, rest: str) -> Endpoint:
    """The endpoint for ``method`` and the path after /vehicles/{id}/, or the documented error."""
    rest = rest.strip("/")
    core = CORE_INDEX.get((method, rest))
    if core:
        return core
    head, _, tail = rest.partition("/")
    if head.lower() in KNOWN_MAKES and tail:
        if head != head.lower():
            # Reference: smartcar-api/about-brand-specific.md ("Using upper case letters will result in a
            # PERMISSION error"). Ambiguity 5: that is the type PERMISSION (403), the error named so;
            # CONNECTED_SERVICES_ACCOUNT:PERMISSION concerns the owner's OEM account, not the request.
            raise ApiError("PERMISSION", None, "Make-specific endpoints take the make in lower case.")
        candidates = MAKE_INDEX.get((method, tail), [])
        for endpoint in candidates:
            if head in endpoint.makes:
                if vehicle.make.lower() != head:
                    raise _not_capable("MAKE_NOT_COMPATIBLE", f"This endpoint is for {head} vehicles.")
                return endpoint
        if candidates or tail in MAKE_PATHS:
            raise _not_capable("MAKE_NOT_COMPATIBLE", f"This endpoint is not available for {head} vehicles.")
    if rest in CORE_PATHS:
        raise ApiError("RESOURCE_NOT_FOUND", "PATH", f"{method} is not supported on /{rest}.")
    raise ApiError("RESOURCE_NOT_FOUND", "PATH")


def endpoints_for_permission(permission: str) -> list[Endpoint]:
    return [e for e in CORE if e.permission == permission and e.name]
