"""How the app writes a number: one rule per kind of quantity, for the pages and the CSV exports alike.

=============  ==================  ========
kind           unit                decimals
=============  ==================  ========
percent        %                   0        "93 %", never "93.0 %"
energy         kWh                 1
power          kW                  1
distance       km / mi             0
speed          km/h / mph          0
pressure       kPa / psi           0
temperature    °C / °F             1
volume         L / gal             1
coordinate     (degrees)           5        about a metre
=============  ==================  ========

Values are stored metric (fleet/units.py converts them to the fleet's system). ``quantity`` writes a value with its
unit ("93 %", "1,234 km"), ``figure`` without it for a column whose header names the unit ("1,234"), and ``amount``
for a CSV cell (no thousands separator; empty when unknown). Pages use them through the filters of
fleet/templatetags/units.py.

Times are written one way across the app, in the fleet's time zone and on the 24-hour clock: ``moment`` "30 Nov 2026
16:05", ``day`` "30 Nov 2026", ``clock`` "16:05". Without a zone they use the active one, which ``fleet_view``
(fleet/tenancy.py) sets to the fleet's for every fleet page.
"""

from datetime import date, datetime, tzinfo

from django.utils import timezone

from fleet import units
from fleet.models import UnitSystem

DECIMALS = {
    "percent": 0,
    "energy": 1,
    "power": 1,
    "distance": 0,
    "speed": 0,
    "pressure": 0,
    "temperature": 1,
    "volume": 1,
    "coordinate": 5,
}
_SYMBOLS = {"percent": "%", "energy": "kWh", "power": "kW"}
UNKNOWN = "—"


def _rounded(value, kind: str, system: str) -> float | None:
    """The value converted and rounded; None for anything that is not a number (a template's missing value is "")."""
    if isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    converted = units.CONVERTERS[kind](number, system) if kind in units.CONVERTERS else number
    return round(converted, DECIMALS[kind]) + 0.0  # + 0.0: no "-0"


def position(latitude, longitude) -> str:
    """ "52.52000, 13.40500"; "—" when unknown."""
    if latitude is None or longitude is None:
        return UNKNOWN
    return f"{figure(latitude, 'coordinate')}, {figure(longitude, 'coordinate')}"


def symbol(kind: str, system: str = UnitSystem.METRIC) -> str:
    return _SYMBOLS[kind] if kind in _SYMBOLS else units.label(kind, system)


def figure(value, kind: str, system: str = UnitSystem.METRIC) -> str:
    """ "1,234", "18.5", "93"; "—" when unknown."""
    number = _rounded(value, kind, system)
    return UNKNOWN if number is None else f"{number:,.{DECIMALS[kind]}f}"


def quantity(value, kind: str, system: str = UnitSystem.METRIC) -> str:
    """ "93 %", "18.5 kWh", "1,234 km"; "—" when unknown."""
    number = figure(value, kind, system)
    return number if number == UNKNOWN else f"{number} {symbol(kind, system)}"


def amount(value, kind: str, system: str = UnitSystem.METRIC) -> str:
    """A CSV cell: "1234", "18.5", "93"; "" when unknown."""
    number = _rounded(value, kind, system)
    return "" if number is None else f"{number:.{DECIMALS[kind]}f}"


def _local(value: datetime, zone: tzinfo | None) -> datetime:
    return timezone.localtime(value, zone) if timezone.is_aware(value) else value


def moment(value, zone: tzinfo | None = None) -> str:
    """ "30 Nov 2026 16:05" in ``zone`` (the active zone when None); "—" when unknown."""
    if not isinstance(value, datetime):
        return day(value)
    local = _local(value, zone)
    return f"{local.day} {local:%b %Y %H:%M}"


def day(value, zone: tzinfo | None = None) -> str:
    """ "30 Nov 2026"; a date-time is taken in ``zone`` first; "—" when unknown."""
    if isinstance(value, datetime):
        value = _local(value, zone).date()
    if not isinstance(value, date):
        return UNKNOWN
    return f"{value.day} {value:%b %Y}"


def month(value) -> str:
    """ "November 2026" for a month (a date within it); "—" when unknown."""
    if isinstance(value, datetime):
        value = _local(value, None).date()
    return f"{value:%B %Y}" if isinstance(value, date) else UNKNOWN


def clock(value, zone: tzinfo | None = None) -> str:
    """ "16:05" in ``zone``; "—" when unknown."""
    if not isinstance(value, datetime):
        return UNKNOWN
    return f"{_local(value, zone):%H:%M}"
