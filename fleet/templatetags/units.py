"""Template filters of every page: values in the fleet's units, and ages in words ("4 min ago")."""

from datetime import datetime

from django import template
from django.utils import timezone

from fleet import units

register = template.Library()

_DECIMALS = {"distance": 0, "speed": 0, "pressure": 0, "temperature": 1, "volume": 1}


def _format(quantity: str, value, system: str) -> str:
    converted = units.CONVERTERS[quantity](value, system)
    if converted is None:
        return "—"
    decimals = _DECIMALS[quantity]
    # Tyre pressures in psi need no decimals either; a tenth of a degree or a litre is worth showing.
    number = f"{converted:,.{decimals}f}"
    return f"{number} {units.label(quantity, system)}"


@register.filter
def distance(value, system):
    return _format("distance", value, system)


@register.filter
def speed(value, system):
    return _format("speed", value, system)


@register.filter
def pressure(value, system):
    return _format("pressure", value, system)


@register.filter
def temperature(value, system):
    return _format("temperature", value, system)


@register.filter
def volume(value, system):
    return _format("volume", value, system)


@register.filter
def percent(value):
    return "—" if value is None else f"{value:.0f} %"


def age_in_words(moment: datetime | None, now: datetime | None = None) -> str:
    """ "just now", "4 min ago", "3 h ago", "2 days ago" — short enough for a table cell."""
    if moment is None:
        return "never"
    seconds = ((now or timezone.now()) - moment).total_seconds()
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{int(seconds // 60)} min ago"
    if seconds < 86400:
        return f"{int(seconds // 3600)} h ago"
    days = int(seconds // 86400)
    return f"{days} day{'s' if days != 1 else ''} ago"


@register.filter
def age(moment):
    return age_in_words(moment)
