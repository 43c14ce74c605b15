"""Every GET endpoint of a vehicle that the sync engine may poll, with what it needs and how fresh it must be.

Compiled from ../shared/smartcar-api/ (CAPABILITIES.md §1 and §2). Paths are relative to ``/vehicles/{id}`` as the
batch endpoint takes them; ``{make}`` stands for the vehicle's make in lower case (upper case is a PERMISSION error,
about-brand-specific.md).

A vehicle's poll set = endpoints whose make list includes its make ∩ endpoints whose permission it granted, minus the
ones it has proven unable to serve (parked after a 501, dropped after a 403 — see vehicles/sync/answers.py).

Decisions on the documentation's ambiguities (CAPABILITIES.md §5), made here once:

- Makes "not restricted in docs" mean every make (``ALL_MAKES``): a vehicle that cannot serve one answers 501
  COMPATIBILITY, which parks the endpoint for that vehicle for days. Probing costs one call per few days; guessing a
  narrower list would hide data that the OEM does serve.
- Where the docs name a list of makes (lock status, DTCs, system status, service history), only those makes are
  polled: the page itself says the request errors for other brands, so probing them only spends budget.
- Lock status (§5.9): the 2023-09-06 list plus Audi (2024#19) and MG (2024#10); Lincoln/Toyota/Lexus are polled in
  every region (Canada is unstated; a 501 parks it).
- DTCs (§5.7): "GM brands including Chevrolet and GMC" is read as every GM brand (Buick and Cadillac too).
- System status (§5.7): "Alpha Romeo" is ALFA_ROMEO.
- Service history (§5.8): "(US)" is read as restricting Volkswagen only; other regions answer 501 and are parked.
- Fuel: every make but Tesla ("Tesla does not support fuel", permissions.md). Battery/charge endpoints are polled for
  every make too: an ICE vehicle answers 501 once and is parked.
- Battery capacity (§5.6): only ``/battery/nominal_capacity`` has a page; ``/battery/capacity`` is not polled.
- Tesla charge records (§5.1): ``/tesla/charge/records`` has no page; only ``/tesla/charge/records/billing`` is polled.
- Tesla defroster (§5.2): the heading's ``{is}`` is a typo for ``{id}`` (the page's own cURL uses ``{id}``).
- Tesla user access (§5.19) documents no permission; it is polled under ``read_user_profile``, the permission of its
  sibling ``/tesla/user/info``, so that an application that was not granted the user's profile does not ask for it.
- Endpoints that answer a vehicle-state error unless charging or plugged in (GM/Tesla completion, wattmeter,
  voltmeter) are polled only while the vehicle is in that state (``only_when``), not to spend calls on known errors.
- Account-level GETs (``/vehicles``, ``/user``, compatibility, management) are not per-vehicle and are not polled.
- ``/permissions`` is not polled: it is paged and not a vehicle reading; Connect stores the grant on every
  (re)connection, and an endpoint dropped after a 403 comes back when that stored grant changes.
"""

from dataclasses import dataclass
from enum import StrEnum


class Freshness(StrEnum):
    """How fast a value changes, hence how often it is worth a billed call (intervals: settings.SYNC_INTERVALS)."""

    FAST = "fast"  # location, battery, charge, speed, charge power: minutes while driving or charging
    MEDIUM = "medium"  # odometer, locks, tyres, temperatures, diagnostics: tens of minutes to hours
    SLOW = "slow"  # schedules, oil life, capacity: hours
    DAILY = "daily"  # VIN, attributes, service history, charge records, migration and virtual-key status


# What a vehicle must be doing for a conditional endpoint to be worth a call.
WHEN_CHARGING = "charging"
WHEN_PLUGGED_IN = "plugged_in"

ALL_MAKES = None


@dataclass(frozen=True)
class Endpoint:
    path: str  # relative to /vehicles/{id}; "{make}" is replaced by the vehicle's make in lower case
    permission: str | None
    makes: frozenset[str] | None  # upper-case make values (makes.md); None: every make
    freshness: Freshness
    doc: str  # the page in ../shared/smartcar-api/
    only_when: str | None = None

    def applies_to(self, make: str) -> bool:
        return self.makes is None or make.upper() in self.makes

    def path_for(self, make: str) -> str:
        return self.path.replace("{make}", make.lower())

    @property
    def is_make_specific(self) -> bool:
        return self.path.startswith("/{make}/")


def _makes(*names: str) -> frozenset[str]:
    return frozenset(names)


TESLA = _makes("TESLA")
GM_CHARGE = _makes("CADILLAC", "CHEVROLET")
F, M, S, D = Freshness.FAST, Freshness.MEDIUM, Freshness.SLOW, Freshness.DAILY

ENDPOINTS: tuple[Endpoint, ...] = (
    # --- Core (CAPABILITIES.md §1a) ---------------------------------------------------------------------------------
    Endpoint("/", "read_vehicle_info", ALL_MAKES, D, "get-vehicle-info.md"),
    Endpoint("/vin", "read_vin", ALL_MAKES, D, "get-vin.md"),
    Endpoint("/location", "read_location", ALL_MAKES, F, "get-location.md"),
    Endpoint("/battery", "read_battery", ALL_MAKES, F, "evs__get-battery-level.md"),
    Endpoint("/charge", "read_charge", ALL_MAKES, F, "evs__get-charge-status.md"),
    Endpoint("/odometer", "read_odometer", ALL_MAKES, M, "get-odometer.md"),
    Endpoint("/fuel", "read_fuel", frozenset(), M, "get-fuel-tank.md"),  # every make but Tesla: see FUEL below
    Endpoint(
        "/security",
        "read_security",
        _makes(
            "TESLA", "FORD", "KIA", "JAGUAR", "LAND_ROVER", "BMW", "MINI", "LINCOLN", "TOYOTA", "LEXUS", "AUDI", "MG"
        ),
        M,
        "get-lock-status.md",
    ),
    Endpoint("/tires/pressure", "read_tires", ALL_MAKES, M, "get-tire-pressure.md"),
    Endpoint("/charge/limit", "read_charge", ALL_MAKES, S, "evs__get-charge-limit.md"),
    Endpoint("/engine/oil", "read_engine_oil", ALL_MAKES, S, "get-engine-oil-life.md"),
    Endpoint("/battery/nominal_capacity", "read_battery", ALL_MAKES, D, "get-nominal-capacity.md"),
    Endpoint(
        "/diagnostics/dtcs", "read_diagnostics", _makes("CHEVROLET", "GMC", "BUICK", "CADILLAC"), M, "get-dtcs.md"
    ),
    Endpoint(
        "/diagnostics/system_status",
        "read_diagnostics",
        _makes("RAM", "JEEP", "CHRYSLER", "DODGE", "FIAT", "ALFA_ROMEO", "BUICK", "CADILLAC", "CHEVROLET", "GMC"),
        M,
        "get-system-status.md",
    ),
    Endpoint(
        "/service/history",
        "read_service_history",
        _makes("FORD", "LINCOLN", "TOYOTA", "LEXUS", "MAZDA", "VOLKSWAGEN"),
        D,
        "get-service-records.md",
    ),
    # --- Make-specific (CAPABILITIES.md §1b) ------------------------------------------------------------------------
    Endpoint("/{make}/charge", "read_charge", _makes("AUDI"), F, "audi__get-charge.md"),
    Endpoint("/{make}/charge/records", "read_charge_records", _makes("BMW", "MINI"), D, "bmw__get-charge-records.md"),
    Endpoint(
        "/{make}/charge/completion", "read_charge", GM_CHARGE, S, "gm__get-charge-completion-time.md", WHEN_CHARGING
    ),
    Endpoint("/{make}/charge/voltmeter", "read_charge", GM_CHARGE, S, "gm__get-charge-voltmeter.md", WHEN_PLUGGED_IN),
    Endpoint(
        "/{make}/charge/schedule_by_location",
        "read_charge_locations",
        _makes("FORD", "LINCOLN"),
        D,
        "ford__get-charge-schedule-by-location.md",
    ),
    Endpoint("/{make}/charge/schedule", "read_charge", _makes("NISSAN"), S, "nissan__get-charge-schedule.md"),
    Endpoint("/{make}/alerts", "read_alerts", TESLA, M, "tesla__get-alerts.md"),
    Endpoint("/{make}/attributes", "read_extended_vehicle_info", TESLA, D, "tesla__get-ext-vehicle-info.md"),
    # The core /battery and /charge carry the fast signals; Tesla's detailed pages add slower-moving detail.
    Endpoint("/{make}/battery", "read_battery", TESLA, M, "tesla__get-battery.md"),
    Endpoint("/{make}/charge", "read_charge", TESLA, M, "tesla__get-charge.md"),
    Endpoint(
        "/{make}/charge/completion", "read_charge", TESLA, S, "tesla__get-charge-completion-time.md", WHEN_CHARGING
    ),
    Endpoint("/{make}/charge/records/billing", "read_charge_records", TESLA, D, "tesla__get-charge-records-billing.md"),
    Endpoint("/{make}/charge/schedule", "read_charge", TESLA, S, "tesla__get-charge-schedule.md"),
    Endpoint("/{make}/charge/voltmeter", "read_charge", TESLA, S, "tesla__get-charge-voltmeter.md", WHEN_PLUGGED_IN),
    Endpoint("/{make}/charge/wattmeter", "read_charge", TESLA, F, "tesla__get-charge-wattmeter.md", WHEN_CHARGING),
    Endpoint("/{make}/climate/cabin", "read_climate", TESLA, M, "tesla__get-cabin.md"),
    Endpoint("/{make}/climate/defroster", "read_climate", TESLA, M, "tesla__get-defroster.md"),
    Endpoint("/{make}/climate/steering_wheel", "read_climate", TESLA, M, "tesla__get-steering-heater.md"),
    Endpoint("/{make}/compass", "read_compass", TESLA, M, "tesla__get-compass-heading.md"),
    Endpoint("/{make}/migration", "read_vehicle_info", TESLA, D, "tesla__get-migration-status.md"),
    Endpoint("/{make}/speedometer", "read_speedometer", TESLA, F, "tesla__get-speedometer.md"),
    # "If the vehicle is asleep, this request will not wake the vehicle": the cheap way to learn it is asleep.
    Endpoint("/{make}/status", "read_extended_vehicle_info", TESLA, M, "tesla__get-vehicle-status.md"),
    Endpoint("/{make}/thermometer/exterior", "read_thermometer", TESLA, M, "tesla__get-exterior-temperature.md"),
    Endpoint("/{make}/thermometer/interior", "read_thermometer", TESLA, M, "tesla__get-interior-temperature.md"),
    Endpoint("/{make}/user/access", "read_user_profile", TESLA, D, "tesla__get-user-access.md"),
    Endpoint("/{make}/user/info", "read_user_profile", TESLA, D, "tesla__get-user-info.md"),
    Endpoint("/{make}/virtual_key", "read_vehicle_info", TESLA, D, "tesla__get-virtual-key-status.md"),
)

# API v3's one read (connect/transports.py): every signal of the vehicle in one billed call
# (smartcar-api-v3/signals__list.md). Its values are last-known ones, refreshed about daily unless the vehicle is
# subscribed to a webhook (vehicles-api-intro.md): webhooks bring the news, this read is the backstop, at the fast
# cadence that a webhook subscription and the monthly budget stretch (vehicles/cadence.py).
SIGNALS = Endpoint("/signals", None, ALL_MAKES, Freshness.FAST, "smartcar-api-v3/signals__list.md")

# Fuel is the one "every make except" entry; expressed as a predicate rather than a 40-make list.
_NO_FUEL = TESLA


def _applies(endpoint: Endpoint, make: str) -> bool:
    if endpoint.path == "/fuel":
        return make.upper() not in _NO_FUEL
    return endpoint.applies_to(make)


def endpoints_for(make: str, permissions) -> list[Endpoint]:
    """The endpoints a vehicle of this make with these granted permissions may be polled for."""
    granted = set(permissions or ())
    return [e for e in ENDPOINTS if _applies(e, make) and (e.permission is None or e.permission in granted)]


def endpoint_by_path(make: str, path: str) -> Endpoint | None:
    """The catalogue entry behind a concrete path of a vehicle of this make (e.g. /tesla/charge → Tesla's page)."""
    if path == SIGNALS.path:
        return SIGNALS
    for endpoint in ENDPOINTS:
        if _applies(endpoint, make) and endpoint.path_for(make) == path:
            return endpoint
    return None
