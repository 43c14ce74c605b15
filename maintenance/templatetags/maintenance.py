"""A service's due point in a manager's words, in the fleet's units: "1,200 km overdue", "Due in 800 km"."""

from django import template
from django.utils.formats import date_format

from fleet import formatting
from maintenance import changes
from maintenance.due import DUE, OVERDUE, UNKNOWN

register = template.Library()

STATE_WORDS = {OVERDUE: "Overdue", DUE: "Due", "upcoming": "Upcoming", UNKNOWN: "No reading yet"}
STATE_TONES = {OVERDUE: "bad", DUE: "warn", "upcoming": "ok", UNKNOWN: "info"}


def _day(day) -> str:
    return date_format(day, "j M Y")


def due_words(due, system: str) -> str:
    """Overdue: what has passed; due: the signal or what is near; upcoming: the next due point."""
    signal = ""
    if due.signal == "oil":
        signal = f"Oil life {formatting.quantity(due.signal_value, 'percent')}"
    elif due.signal == "tire":
        signal = f"A tire at {formatting.quantity(due.signal_value, 'pressure', system)}"
    distance = formatting.quantity(abs(due.km_left), "distance", system) if due.km_left is not None else ""
    day = _day(due.due_on) if due.due_on else ""
    if due.state == OVERDUE:
        passed = []
        if due.km_left is not None and due.km_left <= 0:
            passed.append(f"{distance} overdue")
        if due.days_left is not None and due.days_left <= 0:
            passed.append(f"since {day}" if passed else f"overdue since {day}")
        return _sentence(", ".join(passed))
    ahead = [f"in {distance}" if distance else "", f"by {day}" if day else ""]
    ahead_words = " or ".join(part for part in ahead if part)
    if due.state == DUE:
        return _sentence(", ".join(part for part in (signal, ahead_words and f"due {ahead_words}") if part))
    if due.state == UNKNOWN:
        return "Fleet has no reading of this vehicle to count from yet."
    return f"Next: {ahead_words}" if ahead_words else "Not due: the vehicle's readings are above the thresholds."


def _sentence(words: str) -> str:
    return words[:1].upper() + words[1:]


@register.filter(name="due_words")
def due_words_filter(due, system):
    return due_words(due, system)


@register.filter
def due_state(due):
    return STATE_WORDS[due.state]


@register.filter
def due_tone(due):
    return STATE_TONES[due.state]


@register.filter
def money(value):
    """ "1,234.50"; "—" when unknown. Amounts are in the fleet's own currency, which Fleet does not convert."""
    return formatting.UNKNOWN if value is None else f"{value:,.2f}"


@register.filter
def change_words(change, system):
    """A recorded change in one sentence: "Anna changed the interval from 10,000 km to 15,000 km"."""
    return changes.words(change, system)
