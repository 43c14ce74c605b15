"""The simulated vehicles: how they are made and how they live through simulated time.

Every vehicle follows a routine — ``commute`` (home ⇄ work on weekdays, an errand some weekends),
``delivery`` (a van doing rounds from its depot) or ``parked`` (mostly idle, an occasional trip).
``advance(vehicle, until)`` replays the routine in 5-minute steps of simulated time: driving moves
the location and odometer and drains the battery or tank; a parked EV at a charger charges toward
its charge limit (CHARGING → FULLY_CHARGED, announced as webhook events); idle vehicles fall asleep
(GM vehicles idle 3–4 days into deep sleep, ASLEEP until driven); tire pressure, oil life and the
12 V battery drift; DTCs (GM) and system-status alerts (GM, FCA) come and go.

Everything random is drawn from a hash of (vehicle seed, step, purpose), never from a running
generator, so the same seed gives the same history however the time is cut into requests.
All values in ``Vehicle.state`` are metric (km, kWh, litres, kPa, °C); the API converts.
"""

import math
import random
import secrets
from datetime import UTC, datetime, timedelta

from simulator import clock
from simulator.catalogue import CATALOGUE, CITIES, FCA_MAKES, GM_MAKES, MAKE_ORDER, VIN_CHARACTERS, vin_build
from simulator.models import SmartcarUser, Vehicle

STEP = timedelta(minutes=5)
STEP_SECONDS = 300
# A vehicle untouched for longer than this skips ahead instead of replaying every step.
MAX_REPLAY = timedelta(days=30)
ROUTINES = ("commute", "delivery", "parked")

GM_DTC_CODES = ["P0420", "P0171", "P0300", "P0128", "P0455", "U0100", "B1325", "C0035", "P0A80", "P1E00", "P0562"]
TESLA_ALERTS = [
    ("VCFRONT_a192_lowVoltageBattery", "12V battery needs service"),
    ("BMS_a069_SW_Charge_Disabled", "Charging stopped - unable to charge"),
    ("UI_a020_Tire_Pressure_Low", "Tire pressure low - check tires"),
    ("VCSEC_a016_keyfobBatteryLow", "Key fob battery low"),
]
SYSTEMS_COMMON = ["SYSTEM_AIRBAG", "SYSTEM_MIL", "SYSTEM_TPMS", "SYSTEM_ABS", "SYSTEM_LOW_VOLTAGE_BATTERY"]


# ------------------------------------------------------------------------------------------------
# Deterministic noise


def _mix(value: int) -> int:
    """splitmix64: a fast, well-spread integer hash."""
    value = (value + 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF
    value = ((value ^ (value >> 30)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
    value = ((value ^ (value >> 27)) * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
    return value ^ (value >> 31)


def noise(seed: int, step: int, salt: int) -> float:
    """A number in [0, 1) fixed by (seed, step, salt)."""
    return _mix(_mix(seed * 1_000_003 + salt) ^ step) / 2**64


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


# ------------------------------------------------------------------------------------------------
# Kinds of vehicle


def is_electric(vehicle: Vehicle) -> bool:
    return vehicle.engine_type in ("BEV", "PHEV")


def has_tank(vehicle: Vehicle) -> bool:
    return vehicle.engine_type in ("ICE", "PHEV", "HEV")


def is_gm(vehicle: Vehicle) -> bool:
    return vehicle.make in GM_MAKES


def reports_system_status(vehicle: Vehicle) -> bool:
    # Reference: smartcar-api/get-system-status.md ("FCA and GM brands")
    return vehicle.make in GM_MAKES or vehicle.make in FCA_MAKES


def reports_dtcs(vehicle: Vehicle) -> bool:
    # Reference: smartcar-api/get-dtcs.md ("GM brands including Chevrolet and GMC"): all four GM
    # brands, since the page names GM as the platform and Chevrolet/GMC only as examples.
    return vehicle.make in GM_MAKES


# ------------------------------------------------------------------------------------------------
# Creation


def create_vehicles(owner: SmartcarUser, count: int, *, region: str = "US", seed: int | None = None) -> list[Vehicle]:
    """Create ``count`` plausible vehicles of mixed makes for ``owner``, at the current simulated time."""
    if region not in MAKE_ORDER:
        raise ValueError(f"Unknown region {region!r}; expected one of {', '.join(MAKE_ORDER)}")
    seed = secrets.randbits(32) if seed is None else seed
    rng = random.Random(seed)  # noqa: S311 (simulation, not security)
    now = clock.now()
    city = rng.choice(CITIES[region])
    depot = _jitter(rng, city[1], city[2], 6)
    order = MAKE_ORDER[region]
    return [
        _create(owner, order[index % len(order)], rng, seed * 1000 + index, city, depot, now, region)
        for index in range(count)
    ]


# The demo's simulated account (``…@demo.fleet``) starts with what a fleet manager should hear about, so that the demo
# shows alerts within minutes of its first sync: an electric vehicle low and unplugged, a GM vehicle with a trouble
# code, and a vehicle parked unlocked with its trunk open.
DEMO_DOMAIN = "demo.fleet"


def demo_nudge(vehicles: list[Vehicle]) -> None:
    electric = next((v for v in vehicles if is_electric(v)), None)
    if electric is not None:
        electric.state["ev"].update(soc=0.12, plugged=False, charging="NOT_CHARGING")
    coded = next((v for v in vehicles if reports_dtcs(v)), None)
    if coded is not None:
        coded.state["dtcs"].append({"code": "P0420", "timestamp": iso(clock.now())})
    # Parked, not charging (a charging vehicle is not "parked"), and staying put.
    others = [v for v in vehicles if v not in (electric, coded)]
    unlocked = others[0] if others else None
    if unlocked is not None:
        unlocked.state.update(locked=False, trunk_open=True, trip_chance=0)
        if is_electric(unlocked):
            unlocked.state["ev"].update(plugged=False, charging="NOT_CHARGING")
    for vehicle in (electric, coded, unlocked):
        if vehicle is not None:
            vehicle.save(update_fields=["state"])


def create_vehicle(
    owner: SmartcarUser,
    *,
    make: str,
    model: str | None = None,
    region: str = "US",
    routine: str | None = None,
    seed: int = 1,
) -> Vehicle:
    """Create one vehicle of a given make (and model), e.g. for a test or a demo."""
    rng = random.Random(seed)  # noqa: S311 (simulation, not security)
    city = CITIES[region][seed % len(CITIES[region])]
    depot = _jitter(rng, city[1], city[2], 6)
    return _create(owner, make, rng, seed, city, depot, clock.now(), region, model_name=model, routine=routine)


def _create(owner, make, rng, vseed, city, depot, now, region, *, model_name=None, routine=None) -> Vehicle:
    wmi, models = CATALOGUE[make]
    candidates = [m for m in models if m.name == model_name] if model_name else models
    if not candidates:
        raise ValueError(f"No model {model_name!r} for {make}")
    model = rng.choice(candidates)
    year = rng.randint(max(model.first_year, 2017), model.last_year)
    if routine is None:
        routine = "delivery" if model.name in ("E-Transit", "Transit") else rng.choices(ROUTINES, weights=(5, 3, 2))[0]
    vehicle = Vehicle(
        owner=owner,
        make=make,
        model=model.name,
        year=year,
        vin=_unique_vin(rng, wmi, year),
        engine_type=model.engine,
        region=region,
        routine=routine,
        simulated_at=now,
    )
    vehicle.state = _initial_state(vehicle, model, rng, vseed, city, depot, now)
    vehicle.save()
    return vehicle


def _unique_vin(rng: random.Random, wmi: str, year: int) -> str:
    while True:
        descriptor = "".join(rng.choice(VIN_CHARACTERS[10:]) for _ in range(5))
        plant = rng.choice(VIN_CHARACTERS[10:])
        serial = f"{rng.randrange(10**6):06d}"
        vin = vin_build(wmi, descriptor, year, plant, serial)
        if not Vehicle.objects.filter(vin=vin).exists():
            return vin


def _jitter(rng: random.Random, lat: float, lon: float, km: float) -> list[float]:
    distance = km * math.sqrt(rng.random())
    bearing = rng.random() * 2 * math.pi
    return _move(lat, lon, bearing, distance)


def _move(lat: float, lon: float, bearing: float, km: float) -> list[float]:
    dlat = km * math.cos(bearing) / 111.2
    dlon = km * math.sin(bearing) / (111.2 * max(math.cos(math.radians(lat)), 0.1))
    return [round(lat + dlat, 6), round(lon + dlon, 6)]


def _initial_state(vehicle, model, rng, vseed, city, depot, now) -> dict:
    home = _jitter(rng, city[1], city[2], 15)
    work = _jitter(rng, city[1], city[2], 5)
    places = {"home": home, "work": work, "depot": depot}
    base = "depot" if vehicle.routine == "delivery" else "home"
    chargers = [base] + (["work"] if vehicle.routine == "commute" and rng.random() < 0.3 else [])
    age_years = max(now.year - vehicle.year, 0) + rng.random()
    state = {
        "seed": vseed,
        "tz": city[3],
        "city": city[0],
        "places": places,
        "chargers": chargers,
        "place": base,
        "location": list(places[base]),
        "heading": rng.randrange(360),
        "speed": 0.0,
        "activity": "parked",
        "trip": None,
        "parked_since": iso(now),
        "odometer": round(age_years * rng.uniform(9000, 22000) + rng.uniform(5, 500), 2),
        "locked": True,
        "doors": {"frontLeft": "CLOSED", "frontRight": "CLOSED", "backLeft": "CLOSED", "backRight": "CLOSED"},
        "windows": {"frontLeft": "CLOSED", "frontRight": "CLOSED", "backLeft": "CLOSED", "backRight": "CLOSED"},
        "sunroof": "CLOSED",
        "frunk_open": False,
        "trunk_open": False,
        "tires_cold": [round(rng.uniform(228, 250), 1) for _ in range(4)],
        "tire_leak": None,
        "aux_v": round(rng.uniform(12.4, 12.7), 2),
        "asleep": True,
        "deep_sleep": False,
        # GM vehicles fall into deep sleep after this many idle hours (3–4 days).
        "deep_sleep_after_h": rng.randint(72, 96),
        "trip_chance": {"commute": 0.92, "delivery": 1.0, "parked": 0.25}[vehicle.routine],
        "dtc_rate": 0.6,
        "dtcs": [],
        "alerts": [],
        "system_alerts": {},
        "cabin": {"status": "OFF", "temperature": 21.0},
        "defroster": {"front": "OFF", "rear": "OFF"},
        "steering_heater": "OFF" if rng.random() < 0.8 else "UNAVAILABLE",
        "pin": None,
        "nav_destination": None,
        "recorded_at": iso(now),
        "plan": None,
        "service_records": [],
        "charge_records": [],
        "firmware": f"2024.{rng.randint(2, 44)}.{rng.randint(1, 9)}",
        "nickname": rng.choice(["Tommy", "Blue", "Van 7", "Daily", "Sparky", "Unit 12"]),
        "color": rng.choice(["SolidBlack", "PearlWhite", "MidnightSilver", "DeepBlue", "RedMulticoat"]),
        "access_type": "OWNER" if rng.random() < 0.85 else "DRIVER",
        "virtual_key": rng.random() < 0.9,
        "os_version": 8 if vehicle.year >= 2021 else 7,
        # Europe's conditional permissions (permissions.md): granted, yet this vehicle cannot serve them.
        "conditional_not_capable": (
            [rng.choice(["tires/pressure", "location", "engine/oil"])]
            if vehicle.region == "EU" and rng.random() < 0.3
            else []
        ),
    }
    if has_tank(vehicle):
        state["fuel"] = {
            "percent": round(rng.uniform(0.35, 0.95), 3),
            "tank_l": model.tank_l or 50,
            "l100": model.litres_per_100km,
        }
        state["oil_life"] = round(rng.uniform(0.3, 1.0), 3)
    if is_electric(vehicle):
        limit = rng.choice([0.8, 0.8, 0.9, 1.0]) if vehicle.engine_type == "BEV" else 1.0
        state["ev"] = {
            "soc": round(rng.uniform(0.4, limit), 3),
            "capacity_kwh": model.battery_kwh,
            "range_full_km": model.electric_range_km,
            "limit": limit,
            "plugged": True,
            "charging": "FULLY_CHARGED",
            "charger": _charger(vehicle, base),
            "amps_requested": None,
            "user_stopped": False,
            "forced_full": False,
            "session": None,
            "last_session": None,
            "charge_port_open": False,
            "charged_to_full": rng.randint(0, 30),
        }
        state["ev"]["charging"] = "FULLY_CHARGED" if state["ev"]["soc"] >= limit - 0.005 else "NOT_CHARGING"
        if vehicle.make in ("FORD", "LINCOLN"):
            state["ford_locations"] = [
                {
                    "latitude": home[0] if base == "home" else depot[0],
                    "longitude": home[1] if base == "home" else depot[1],
                }
                | {"chargeLimit": limit, "weekday": [], "weekend": []}
            ]
        state["nissan_schedules"] = []
        state["tesla_schedule"] = {
            "departureTime": {"enabled": False, "time": None},
            "startTime": {"enabled": False, "time": None},
        }
    return state


def _charger(vehicle: Vehicle, place: str, *, fast: bool = False) -> dict:
    if fast:
        return {"kind": "DC", "kw": 150.0, "volts": 400, "max_amps": 375, "phases": 1, "public": True, "place": place}
    if vehicle.region == "EU":
        return {"kind": "AC", "kw": 11.0, "volts": 230, "max_amps": 16, "phases": 3, "public": False, "place": place}
    amps = 48 if place == "depot" else 32
    return {
        "kind": "AC",
        "kw": 0.24 * amps,
        "volts": 240,
        "max_amps": amps,
        "phases": 1,
        "public": False,
        "place": place,
    }


# ------------------------------------------------------------------------------------------------
# Advancing through time


def advance(vehicle: Vehicle, until: datetime | None = None) -> list[tuple[str, datetime]]:
    """Replay ``vehicle``'s life up to ``until`` (default: simulated now); returns the events emitted.

    Mutates ``vehicle.state`` and ``vehicle.simulated_at`` without saving: the caller saves, in the
    same transaction as anything else it changes. Charging events are queued as webhook deliveries.
    """
    until = until or clock.now()
    start = vehicle.simulated_at or until
    if until - start > MAX_REPLAY:
        start = until - MAX_REPLAY
    state = vehicle.state
    events: list[tuple[str, datetime]] = []
    step = math.floor(start.timestamp() / STEP_SECONDS) + 1
    last = math.floor(until.timestamp() / STEP_SECONDS)
    while step <= last:
        _step(vehicle, state, step, events)
        step += 1
    if last >= step - 1 and (vehicle.simulated_at is None or until > vehicle.simulated_at):
        vehicle.simulated_at = until
    if events:
        announce(vehicle, events)
    return events


# Reference: smartcar-api/changelog__2022.md (April 13, 2022) — event-based charging webhooks "on Ford,
# Tesla, and Toyota vehicles"; other makes charge just as well but announce nothing.
CHARGING_EVENT_MAKES = frozenset({"FORD", "TESLA", "TOYOTA"})


def announce(vehicle: Vehicle, events: list[tuple[str, datetime]]) -> None:
    """Queue webhook deliveries for charging events (sent once the surrounding transaction commits)."""
    from simulator import webhooks
    from simulator.v3 import webhooks as webhooks_v3

    # API v3 webhooks are make-agnostic (smartcar-api-v3/webhooks__event-vehicle-state.md).
    webhooks_v3.announce(vehicle, events)
    if vehicle.make not in CHARGING_EVENT_MAKES:
        return
    for name, moment in events:
        webhooks.queue_event(vehicle, name, {"eventTime": iso(moment)})


def _at(step: int) -> datetime:
    return datetime.fromtimestamp(step * STEP_SECONDS, UTC)


def _step(vehicle: Vehicle, state: dict, step: int, events: list) -> None:
    """One 5-minute step ending at ``_at(step)``."""
    now = _at(step)
    seed = state["seed"]
    if state["activity"] == "driving":
        _drive(vehicle, state, step, now, events)
    else:
        trip = _due_trip(vehicle, state, step)
        if trip:
            _depart(vehicle, state, trip, now, events)
            _drive(vehicle, state, step, now, events)
        else:
            _park(vehicle, state, step, now, events)
    _drift(vehicle, state, step, now, seed)
    if not state["asleep"] and not state["deep_sleep"]:
        state["recorded_at"] = iso(now)


# --- plans --------------------------------------------------------------------------------------


def _local(state: dict, moment: datetime) -> datetime:
    return moment + timedelta(hours=state["tz"])


def _day_plan(vehicle: Vehicle, state: dict, day: int) -> list[list]:
    """Trips of one local day: [departure step, duration in steps, destination place or [lat, lon]]."""
    rng = random.Random(state["seed"] * 7919 + day)  # noqa: S311 (simulation, not security)
    midnight = day * 86400 - state["tz"] * 3600  # local midnight as a UTC timestamp
    weekday = datetime.fromtimestamp(day * 86400, UTC).weekday()

    def at(hour: float) -> int:
        return math.floor((midnight + hour * 3600) / STEP_SECONDS)

    trips: list[list] = []
    if rng.random() >= state["trip_chance"]:
        return trips
    if vehicle.routine == "commute":
        if weekday < 5:
            out = rng.uniform(6.8, 8.6)
            back = rng.uniform(16.3, 18.7)
            length = rng.randint(4, 9)
            trips = [[at(out), length, "work"], [at(back), length + rng.randint(-1, 2), "home"]]
        elif rng.random() < 0.6:
            out = rng.uniform(9.5, 15)
            errand = _jitter(rng, *state["places"]["home"], 20)
            trips = [[at(out), rng.randint(3, 8), errand], [at(out + rng.uniform(1, 3)), rng.randint(3, 8), "home"]]
    elif vehicle.routine == "delivery":
        if weekday < 6:
            moment = rng.uniform(7.5, 8.5)
            for _ in range(rng.randint(6, 11)):
                stop = _jitter(rng, *state["places"]["depot"], 18)
                legs = rng.randint(2, 7)
                trips.append([at(moment), legs, stop])
                moment += legs * STEP_SECONDS / 3600 + rng.uniform(0.15, 0.5)
            trips.append([at(moment), rng.randint(3, 6), "depot"])
    else:
        out = rng.uniform(9, 17)
        errand = _jitter(rng, *state["places"]["home"], 25)
        trips = [[at(out), rng.randint(3, 10), errand], [at(out + rng.uniform(1, 4)), rng.randint(3, 10), "home"]]
    return trips


def _due_trip(vehicle: Vehicle, state: dict, step: int) -> list | None:
    local_day = math.floor((step * STEP_SECONDS + state["tz"] * 3600) / 86400)
    plan = state.get("plan")
    if not plan or plan["day"] != local_day:
        plan = state["plan"] = {"day": local_day, "trips": _day_plan(vehicle, state, local_day)}
    for trip in plan["trips"]:
        if trip[0] == step:
            destination = trip[2]
            if destination == state["place"]:
                return None
            return trip
    return None


# --- driving ------------------------------------------------------------------------------------


def _depart(vehicle: Vehicle, state: dict, trip: list, now: datetime, events: list) -> None:
    destination = trip[2]
    target = state["places"][destination] if isinstance(destination, str) else destination
    ev = state.get("ev")
    if ev:
        if ev["charging"] == "CHARGING":
            _end_session(vehicle, state, now)
            events.append(("CHARGING_STOPPED", now))
        ev.update(plugged=False, charging="NOT_CHARGING", charger=None, user_stopped=False, forced_full=False)
    state.update(
        activity="driving",
        asleep=False,
        deep_sleep=False,
        place=None,
        trip={
            "from": list(state["location"]),
            "to": list(target),
            "to_place": destination if isinstance(destination, str) else None,
            "steps": max(trip[1], 1),
            "done": 0,
        },
        locked=False,
    )
    state["cabin"]["status"] = "OFF"


def _drive(vehicle: Vehicle, state: dict, step: int, now: datetime, events: list) -> None:
    trip = state["trip"]
    trip["done"] += 1
    progress = min(trip["done"] / trip["steps"], 1.0)
    (lat0, lon0), (lat1, lon1) = trip["from"], trip["to"]
    wiggle = 0.0 if progress >= 1 else math.sin(progress * math.pi) * (noise(state["seed"], step, 11) - 0.5) * 0.01
    lat = lat0 + (lat1 - lat0) * progress + wiggle
    lon = lon0 + (lon1 - lon0) * progress - wiggle
    old_lat, old_lon = state["location"]
    km = _distance_km(old_lat, old_lon, lat, lon) * 1.25  # roads are not straight lines
    state["location"] = [round(lat, 6), round(lon, 6)]
    if km > 0.01:
        state["heading"] = round(math.degrees(math.atan2(lon - old_lon, lat - old_lat))) % 360
    state["speed"] = round(km * 12, 2)
    state["odometer"] = round(state["odometer"] + km, 3)
    _consume(vehicle, state, km)
    if "oil_life" in state:
        state["oil_life"] = max(round(state["oil_life"] - km / 12000, 4), 0.0)
    state["aux_v"] = min(round(state["aux_v"] + 0.02, 3), 12.7)
    if progress >= 1:
        _arrive(vehicle, state, step, now, events)


def _consume(vehicle: Vehicle, state: dict, km: float) -> None:
    ev, fuel = state.get("ev"), state.get("fuel")
    if ev and (vehicle.engine_type == "BEV" or ev["soc"] > 0.05):
        ev["soc"] = max(round(ev["soc"] - km / ev["range_full_km"], 4), 0.01 if vehicle.engine_type == "BEV" else 0.0)
        return
    if fuel:
        fuel["percent"] = max(round(fuel["percent"] - km * fuel["l100"] / 100 / fuel["tank_l"], 4), 0.02)
        if fuel["percent"] < 0.12:
            fuel["percent"] = round(0.9 + 0.1 * noise(state["seed"], int(state["odometer"]), 5), 3)  # filled up


def _arrive(vehicle: Vehicle, state: dict, step: int, now: datetime, events: list) -> None:
    trip = state["trip"]
    state.update(
        activity="parked",
        place=trip["to_place"],
        trip=None,
        speed=0.0,
        parked_since=iso(now),
        locked=noise(state["seed"], step, 21) < 0.95,
    )
    ev = state.get("ev")
    if not ev:
        return
    place = state["place"]
    if place in state["chargers"]:
        if noise(state["seed"], step, 22) < 0.9 or ev["soc"] < 0.5:
            _plug(vehicle, state, _charger(vehicle, place), now, events)
    elif vehicle.engine_type == "BEV" and ev["soc"] < 0.25:
        _plug(vehicle, state, _charger(vehicle, "public", fast=True), now, events)


def _distance_km(lat0: float, lon0: float, lat1: float, lon1: float) -> float:
    phi0, phi1 = math.radians(lat0), math.radians(lat1)
    a = (
        math.sin((phi1 - phi0) / 2) ** 2
        + math.cos(phi0) * math.cos(phi1) * math.sin(math.radians(lon1 - lon0) / 2) ** 2
    )
    return 6371 * 2 * math.asin(min(math.sqrt(a), 1.0))


# --- charging -----------------------------------------------------------------------------------


def _plug(vehicle: Vehicle, state: dict, charger: dict, now: datetime, events: list) -> None:
    ev = state["ev"]
    ev.update(plugged=True, charger=charger, charging="NOT_CHARGING", user_stopped=False, forced_full=False)
    if vehicle.make in ("FORD", "LINCOLN") and not charger["public"]:
        _ford_location(state, create=True)
    _charge_tick(vehicle, state, now, 0, events)


def charge_tick(vehicle: Vehicle, now: datetime, events: list) -> None:
    """Re-evaluate charging right now, after a command changed the limit, a schedule or start/stop."""
    if vehicle.state.get("ev"):
        _charge_tick(vehicle, vehicle.state, now, 0, events)


def wake(vehicle: Vehicle, now: datetime) -> None:
    """A request reached the vehicle: it stays awake for a while and reports fresh data."""
    state = vehicle.state
    state["asleep"] = False
    state["awake_until"] = iso(now + timedelta(minutes=20))
    state["recorded_at"] = iso(now)


def ford_location_here(state: dict) -> dict | None:
    return _ford_location(state)


def ford_saved_location(state: dict, latitude: float, longitude: float) -> dict | None:
    for location in state.get("ford_locations", []):
        if _distance_km(latitude, longitude, location["latitude"], location["longitude"]) < 0.2:
            return location
    return None


def distance_km(lat0: float, lon0: float, lat1: float, lon1: float) -> float:
    return _distance_km(lat0, lon0, lat1, lon1)


def _ford_location(state: dict, *, create: bool = False) -> dict | None:
    """The saved charging location the vehicle stands at (Ford/Lincoln keep one per place charged at)."""
    lat, lon = state["location"]
    for location in state.get("ford_locations", []):
        if _distance_km(lat, lon, location["latitude"], location["longitude"]) < 0.2:
            return location
    if not create or "ford_locations" not in state:
        return None
    location = {"latitude": lat, "longitude": lon, "chargeLimit": state["ev"]["limit"], "weekday": [], "weekend": []}
    state["ford_locations"].append(location)
    return location


def effective_limit(vehicle: Vehicle, state: dict) -> float:
    ev = state["ev"]
    if vehicle.make in ("FORD", "LINCOLN"):
        if ev.get("forced_full"):
            return 1.0
        location = _ford_location(state) if ev["plugged"] else None
        if location:
            return location["chargeLimit"]
    return ev["limit"]


def _schedule_allows(vehicle: Vehicle, state: dict, now: datetime) -> bool:
    ev = state["ev"]
    if ev.get("forced_full") or (ev["charger"] and ev["charger"]["public"]):
        return True
    local = _local(state, now)
    minute = local.hour * 60 + local.minute
    if vehicle.make == "TESLA":
        start = state["tesla_schedule"]["startTime"]
        if start["enabled"] and start["time"]:
            begin = _minutes(start["time"])
            return (minute - begin) % 1440 < 600  # charges from the start time for up to 10 h
    if vehicle.make == "NISSAN" and state.get("nissan_schedules"):
        # Nissan schedules are in UTC (smartcar-api/nissan__set-charge-schedule.md).
        utc_minute = now.hour * 60 + now.minute
        day = now.strftime("%A").upper()
        return any(
            day in schedule["days"] and _in_window(utc_minute, schedule["start"], schedule["end"])
            for schedule in state["nissan_schedules"]
        )
    if vehicle.make in ("FORD", "LINCOLN"):
        location = _ford_location(state)
        if location:
            windows = location["weekday"] if local.weekday() < 5 else location["weekend"]
            if windows:
                return any(_in_window(minute, window["start"], window["end"]) for window in windows)
    return True


def _minutes(hhmm: str) -> int:
    hours, minutes = hhmm.split(":")
    return int(hours) * 60 + int(minutes)


def _in_window(minute: int, start: str, end: str) -> bool:
    begin, finish = _minutes(start), _minutes(end)
    if begin <= finish:
        return begin <= minute < finish
    return minute >= begin or minute < finish  # a window across midnight, e.g. 17:00–06:00


def charge_power_kw(state: dict) -> float:
    ev = state["ev"]
    charger = ev["charger"]
    if not charger:
        return 0.0
    amps = min(ev["amps_requested"] or charger["max_amps"], charger["max_amps"])
    power = min(charger["kw"], amps * charger["volts"] * charger["phases"] / 1000)
    if ev["soc"] > 0.8 and charger["kind"] == "DC":
        power *= 0.4  # DC charging tapers above 80 %
    return round(power, 2)


def _charge_tick(vehicle: Vehicle, state: dict, now: datetime, seconds: int, events: list) -> None:
    ev = state["ev"]
    if not ev["plugged"]:
        return
    limit = effective_limit(vehicle, state)
    if ev["soc"] >= limit - 0.001:
        if ev["charging"] == "CHARGING":
            ev["charging"] = "FULLY_CHARGED"
            if limit >= 1:
                ev["charged_to_full"] += 1
            _end_session(vehicle, state, now)
            events.append(("CHARGING_COMPLETED", now))
        elif ev["charging"] == "NOT_CHARGING" and not ev["user_stopped"]:
            ev["charging"] = "FULLY_CHARGED"
        return
    if ev["user_stopped"] or not _schedule_allows(vehicle, state, now):
        if ev["charging"] == "CHARGING":
            ev["charging"] = "NOT_CHARGING"
            _end_session(vehicle, state, now)
            events.append(("CHARGING_STOPPED", now))
        elif ev["charging"] == "FULLY_CHARGED":
            ev["charging"] = "NOT_CHARGING"
        return
    if ev["charging"] != "CHARGING":
        ev["charging"] = "CHARGING"
        ev["session"] = {"start": iso(now), "start_soc": ev["soc"], "energy": 0.0, "range": 0.0}
        state["asleep"] = state["deep_sleep"] = False
        events.append(("CHARGING_STARTED", now))
    if seconds:
        kwh = charge_power_kw(state) * seconds / 3600
        gained = min(kwh / ev["capacity_kwh"], limit - ev["soc"])
        ev["soc"] = round(ev["soc"] + gained, 4)
        ev["session"]["energy"] = round(ev["session"]["energy"] + gained * ev["capacity_kwh"], 3)
        ev["session"]["range"] = round(ev["session"]["range"] + gained * ev["range_full_km"], 2)
        state["aux_v"] = min(round(state["aux_v"] + 0.01, 3), 12.7)
        if ev["soc"] >= limit - 0.001:
            _charge_tick(vehicle, state, now, 0, events)


def _end_session(vehicle: Vehicle, state: dict, now: datetime) -> None:
    ev = state["ev"]
    session = ev.get("session")
    if not session:
        return
    charger = ev["charger"] or {}
    record = {
        "chargeStart": session["start"],
        "chargeEnd": iso(now),
        "location": f"Supercharger {state['city']}" if charger.get("public") else state["city"],
        "energy": session["energy"],
        "isPublic": bool(charger.get("public")),
        "startPercentRemaining": session["start_soc"],
        "endPercentRemaining": ev["soc"],
        "chargingType": charger.get("kind", "AC"),
        "recordId": f"{vehicle.vin[-8:]}-{int(now.timestamp())}",
    }
    ev["last_session"] = {**session, "end": iso(now)}
    ev["session"] = None
    if session["energy"] > 0:
        state["charge_records"] = [*state["charge_records"][-59:], record]


# --- parked -------------------------------------------------------------------------------------


def _park(vehicle: Vehicle, state: dict, step: int, now: datetime, events: list) -> None:
    state["speed"] = 0.0
    if state.get("ev"):
        _charge_tick(vehicle, state, now, STEP_SECONDS, events)
    charging = state.get("ev", {}).get("charging") == "CHARGING"
    idle = now - parse_time(state["parked_since"])
    busy = charging or state["cabin"]["status"] == "ON"
    awake_until = state.get("awake_until")
    if not busy and idle > timedelta(minutes=20) and (not awake_until or now >= parse_time(awake_until)):
        state["asleep"] = True
    if is_gm(vehicle) and not charging and idle > timedelta(hours=state["deep_sleep_after_h"]):
        state["deep_sleep"] = True
    if not charging:
        state["aux_v"] = max(round(state["aux_v"] - 0.0004, 4), 11.2)


def _drift(vehicle: Vehicle, state: dict, step: int, now: datetime, seed: int) -> None:
    # Tires lose a little air every day, faster with a slow puncture, and get topped up now and then.
    leak = state["tire_leak"]
    tires = state["tires_cold"]
    for index in range(4):
        loss = 0.0012 + (0.05 if leak == index else 0.0)
        tires[index] = round(tires[index] - loss, 3)
    if leak is None and noise(seed, step, 31) < 1 / (288 * 45):
        state["tire_leak"] = int(noise(seed, step, 32) * 4)
    if min(tires) < 195 and state["activity"] == "parked" and noise(seed, step, 33) < 1 / 288:
        state["tires_cold"] = [round(238 + 8 * noise(seed, step, 34 + i), 1) for i in range(4)]
        state["tire_leak"] = None
    # Oil changes happen once the monitor asks for one.
    if "oil_life" in state and state["oil_life"] < 0.08 and noise(seed, step, 35) < 1 / 288:
        state["oil_life"] = 1.0
        state["service_records"] = [
            *state["service_records"][-19:],
            {"date": iso(now), "odometer": state["odometer"], "tasks": ["Oil and filter change", "Tire rotation"]},
        ]
    if reports_dtcs(vehicle):
        _drift_dtcs(state, step, now, seed)
    if reports_system_status(vehicle):
        _drift_system_alerts(state, step, now, seed)
    if vehicle.make == "TESLA" and noise(seed, step, 41) < 1 / (288 * 4):
        name, text = TESLA_ALERTS[int(noise(seed, step, 42) * len(TESLA_ALERTS))]
        audience = ["customer"] if noise(seed, step, 43) < 0.7 else ["service-fix", "customer"]
        alert = {"name": name, "dateTime": iso(now), "audience": audience, "userText": text}
        state["alerts"] = [*state["alerts"][-9:], alert]


def _drift_dtcs(state: dict, step: int, now: datetime, seed: int) -> None:
    active = state["dtcs"]
    if noise(seed, step, 51) < state["dtc_rate"] / 288:
        code = GM_DTC_CODES[int(noise(seed, step, 52) * len(GM_DTC_CODES))]
        if all(entry["code"] != code for entry in active):
            timestamp = iso(now) if noise(seed, step, 53) < 0.9 else None  # some ECUs give no time
            active.append({"code": code, "timestamp": timestamp})
    if state["aux_v"] < 11.9 and all(entry["code"] != "P0562" for entry in active):
        active.append({"code": "P0562", "timestamp": iso(now)})  # system voltage low
    if active and noise(seed, step, 54) < 1 / (288 * 2):
        active.pop(int(noise(seed, step, 55) * len(active)))


def _drift_system_alerts(state: dict, step: int, now: datetime, seed: int) -> None:
    alerts = state["system_alerts"]
    if noise(seed, step, 61) < 0.25 / 288:
        system = ["SYSTEM_ABS", "SYSTEM_AIRBAG", "SYSTEM_BRAKE_FLUID"][int(noise(seed, step, 62) * 3)]
        alerts[system] = {
            "SYSTEM_ABS": "ABS sensor signal intermittent",
            "SYSTEM_AIRBAG": "Passenger occupant sensor fault",
            "SYSTEM_BRAKE_FLUID": "Brake fluid level low",
        }[system]
    if alerts and noise(seed, step, 63) < 1 / (288 * 3):
        alerts.pop(sorted(alerts)[int(noise(seed, step, 64) * len(alerts))])


# ------------------------------------------------------------------------------------------------
# Readings derived from the state (metric)


def tire_pressures(state: dict) -> list[float]:
    warm = 9.0 if state["activity"] == "driving" else 0.0
    return [round(value + warm, 1) for value in state["tires_cold"]]


def system_status(vehicle: Vehicle) -> list[dict]:
    state = vehicle.state
    dtcs = {entry["code"] for entry in state.get("dtcs", [])}
    systems = []
    for system in [*SYSTEMS_COMMON, "SYSTEM_BRAKE_FLUID"]:
        description = state.get("system_alerts", {}).get(system)
        if system == "SYSTEM_TPMS" and min(state["tires_cold"]) < 200:
            description = (
                f"{['Left front', 'Right front', 'Left rear', 'Right rear'][_lowest(state)]} tire pressure low"
            )
        if system == "SYSTEM_MIL" and any(code.startswith("P") for code in dtcs):
            description = "Check engine light on"
        if system == "SYSTEM_LOW_VOLTAGE_BATTERY" and state["aux_v"] < 11.9:
            description = "12V battery voltage low"
        systems.append({"systemId": system, "status": "ALERT" if description else "OK", "description": description})
    return systems


def _lowest(state: dict) -> int:
    tires = state["tires_cold"]
    return tires.index(min(tires))


def exterior_temperature(vehicle: Vehicle, moment: datetime) -> float:
    base = {"US": 15.0, "CA": 7.0, "EU": 11.0}.get(vehicle.region, 12.0)
    day_of_year = moment.timetuple().tm_yday
    local_hour = (_local(vehicle.state, moment).hour + moment.minute / 60) % 24
    seasonal = -10 * math.cos(2 * math.pi * (day_of_year - 15) / 365)
    diurnal = 5 * math.sin(2 * math.pi * (local_hour - 9) / 24)
    return round(base + seasonal + diurnal, 2)


def interior_temperature(vehicle: Vehicle, moment: datetime) -> float:
    state = vehicle.state
    if state["cabin"]["status"] == "ON":
        return float(state["cabin"]["temperature"])
    if state["activity"] == "driving":
        return 21.5
    return round(exterior_temperature(vehicle, moment) + 3.5, 2)


def is_unreachable(state: dict) -> bool:
    """A flat 12 V battery leaves the telematics unit unreachable until the car is driven or charged."""
    return state["aux_v"] < 11.75


# ------------------------------------------------------------------------------------------------
# Services


def vehicle_advance(*, vehicle_id: int, until: datetime | None = None) -> list[tuple[str, datetime]]:
    """Advance one stored vehicle to ``until`` (default: simulated now) under a row lock, and save it."""
    from django.db import transaction

    with transaction.atomic():
        vehicle = Vehicle.objects.select_for_update().get(pk=vehicle_id)
        events = advance(vehicle, until)
        vehicle.save(update_fields=["state", "simulated_at"])
    return events


def vehicles_advance(*, until: datetime | None = None) -> int:
    """Advance every vehicle, so charging completes (and its webhook fires) with nobody asking."""
    until = until or clock.now()
    ids = list(Vehicle.objects.order_by("pk").values_list("pk", flat=True))
    for vehicle_id in ids:
        vehicle_advance(vehicle_id=vehicle_id, until=until)
    return len(ids)
