"""Template filters of every page: values in the fleet's units and times in the fleet's zone (fleet/formatting.py),
ages in words ("4 min ago")."""

from datetime import datetime

from django import template
from django.utils import timezone

from fleet import formatting

register = template.Library()

# Every number of every page is written by fleet/formatting.py: one rule per kind of quantity.


@register.filter
def distance(value, system):
    return formatting.quantity(value, "distance", system)


@register.filter
def speed(value, system):
    return formatting.quantity(value, "speed", system)


@register.filter
def pressure(value, system):
    return formatting.quantity(value, "pressure", system)


@register.filter
def temperature(value, system):
    return formatting.quantity(value, "temperature", system)


@register.filter
def volume(value, system):
    return formatting.quantity(value, "volume", system)


@register.filter
def percent(value):
    return formatting.quantity(value, "percent")


@register.filter
def energy(value):
    return formatting.quantity(value, "energy")


@register.filter
def power(value):
    return formatting.quantity(value, "power")


@register.simple_tag
def position(latitude, longitude):
    """``{% position session.latitude session.longitude %}`` → "52.52000, 13.40500"."""
    return formatting.position(latitude, longitude)


@register.filter
def figure(value, kind):
    """The number alone, for a column whose header names the unit: ``{{ session.energy_kwh|figure:"energy" }}``."""
    return formatting.figure(value, kind)


@register.filter
def when(value):
    """A date and time in the fleet's zone, the app's one format: "30 Nov 2026 16:05"."""
    return formatting.moment(value)


@register.filter
def day(value):
    """A day: ``{{ row.week|day }}`` → "30 Nov 2026"."""
    return formatting.day(value)


@register.filter
def month(value):
    """A month: ``{{ row.month|month }}`` → "November 2026"."""
    return formatting.month(value)


@register.filter
def clock(value):
    """A time of day in the fleet's zone: "16:05"."""
    return formatting.clock(value)


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
