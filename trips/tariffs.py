"""Tariffs: bands of a time-of-use tariff read from plain lines and checked to price every hour of the week once; the
price of a charge from its place's tariff (or the default public one) and its times."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.db import transaction

DAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
DAY_NAMES = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
_LINE = re.compile(
    r"^\s*(?P<days>[A-Za-z]{3}(?:\s*[-–]\s*[A-Za-z]{3})?(?:\s*,\s*[A-Za-z]{3}(?:\s*[-–]\s*[A-Za-z]{3})?)*)\s+"
    r"(?P<start>\d{1,2})(?::00)?\s*[-–]\s*(?P<end>\d{1,2})(?::00)?(?:\s+(?P<price>\d+(?:[.,]\d+)?))?\s*$"
)


@dataclass(frozen=True)
class Band:
    weekdays: tuple[int, ...]
    start_hour: int
    end_hour: int
    price_per_kwh: Decimal | None = None  # opening hours (trips/hours.py) have none

    def covers(self, weekday: int, hour: int) -> bool:
        return weekday in self.weekdays and self.start_hour <= hour < self.end_hour


def _day(text: str, line: int) -> int:
    name = text.strip()[:3].title()
    if name not in DAYS:
        raise ValidationError(f"Line {line}: “{text.strip()}” is not a weekday (Mon, Tue, … Sun).")
    return DAYS.index(name)


def _days(text: str, line: int) -> tuple[int, ...]:
    days: list[int] = []
    for part in text.split(","):
        ends = re.split(r"[-–]", part)
        first = _day(ends[0], line)
        last = _day(ends[-1], line)
        if last < first:
            raise ValidationError(f"Line {line}: {DAYS[first]}–{DAYS[last]} runs backwards; write the days in order.")
        days += range(first, last + 1)
    return tuple(sorted(set(days)))


def bands_parse(text: str) -> list[Band]:
    """Lines like ``Mon-Fri 7-22 0.32`` (days, hours from–to, price per kWh); hours 0–24, whole hours."""
    bands = band_lines(text, example="Mon-Fri 7-22 0.32", priced=True)
    if not bands:
        raise ValidationError("Give at least one band, for example “Mon-Sun 0-24 0.30”.")
    bands_check(bands)
    return bands


def band_lines(text: str, *, example: str, priced: bool) -> list[Band]:
    """Days and whole hours from 0 to 24 a line, each with its price where ``priced``; ``example`` is a line shown
    when one cannot be read."""
    what = "the days, the hours and the price" if priced else "the days and the hours"
    bands = []
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        match = _LINE.match(raw)
        if not match or (match["price"] is None) == priced:
            raise ValidationError(f"Line {number}: write {what}, for example “{example}”.")
        start, end = int(match["start"]), int(match["end"])
        if not 0 <= start < end <= 24:
            raise ValidationError(
                f"Line {number}: hours run from 0 to 24 and the end comes after the start; split a band over "
                "midnight into two lines (22-24 and 0-6)."
            )
        price = None
        if priced:
            try:
                price = Decimal(match["price"].replace(",", "."))
            except InvalidOperation:
                raise ValidationError(f"Line {number}: the price is not a number.") from None
        bands.append(Band(_days(match["days"], number), start, end, price))
    return bands


def _spans(hours: list[int]) -> str:
    spans, start = [], hours[0]
    for previous, hour in zip(hours, [*hours[1:], None], strict=True):
        if hour != previous + 1:
            spans.append(f"{start:02d}:00–{previous + 1:02d}:00")
            if hour is not None:
                start = hour
    return ", ".join(spans)


def bands_check(bands: list[Band]) -> None:
    """Every hour of the week priced exactly once; otherwise a message naming the first day that is wrong."""
    bands_overlap_check(bands, "has more than one price: bands overlap")
    for weekday in range(7):
        missing = [hour for hour in range(24) if not any(band.covers(weekday, hour) for band in bands)]
        if missing:
            raise ValidationError(f"{DAY_NAMES[weekday]} {_spans(missing)} has no price: every hour needs one.")


def bands_overlap_check(bands: list[Band], overlap: str) -> None:
    """No hour of the week in two bands; otherwise "<day> <hours> ``overlap``" for the first day that is wrong."""
    for weekday in range(7):
        twice = [hour for hour in range(24) if sum(band.covers(weekday, hour) for band in bands) > 1]
        if twice:
            raise ValidationError(f"{DAY_NAMES[weekday]} {_spans(twice)} {overlap}.")


def bands_text(bands) -> str:
    lines = []
    for band in bands:
        days = list(band.weekdays)
        if days == list(range(days[0], days[-1] + 1)) and len(days) > 1:
            label = f"{DAYS[days[0]]}-{DAYS[days[-1]]}"
        else:
            label = ",".join(DAYS[d] for d in days)
        price = f" {band.price_per_kwh.normalize():f}" if band.price_per_kwh is not None else ""
        lines.append(f"{label} {band.start_hour}-{band.end_hour}{price}")
    return "\n".join(lines)


def energy_cost(
    *, bands: list[Band] | None, flat: Decimal | None, energy_kwh: float, start: datetime, end: datetime, zone
) -> Decimal:
    """The price of ``energy_kwh`` charged from ``start`` to ``end``: flat, or each hour's band for the share of the
    energy that fell in it — spread evenly over the charge, as the readings tell no finer."""
    energy = Decimal(str(energy_kwh))
    if not bands:
        assert flat is not None
        return (energy * flat).quantize(Decimal("0.01"))
    seconds = (end - start).total_seconds()
    if seconds <= 0:
        return (energy * _price_at(bands, start.astimezone(zone))).quantize(Decimal("0.01"))
    total = Decimal(0)
    moment = start.astimezone(zone)
    finish = end.astimezone(zone)
    while moment < finish:
        next_hour = (moment.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)).astimezone(zone)
        piece_end = min(next_hour, finish)
        share = Decimal(str((piece_end - moment).total_seconds() / seconds))
        total += energy * share * _price_at(bands, moment)
        moment = piece_end
    return total.quantize(Decimal("0.01"))


def _price_at(bands: list[Band], local: datetime) -> Decimal:
    for band in bands:
        if band.covers(local.weekday(), local.hour) and band.price_per_kwh is not None:
            return band.price_per_kwh
    raise ValueError("a checked tariff prices every hour")


def tariff_save(*, fleet, place, currency: str, kind: str, price_per_kwh, bands: list[Band]):
    """Sets the place's tariff (or the default public one), replacing the one before; the fleet's sessions are
    priced again."""
    from trips.costs import fleet_costs_reprice
    from trips.models import Tariff, TariffBand

    with transaction.atomic():
        tariff, _ = Tariff.objects.update_or_create(
            fleet=fleet,
            place=place,
            defaults={"currency": currency, "kind": kind, "price_per_kwh": price_per_kwh if not bands else None},
        )
        tariff.bands.all().delete()
        TariffBand.objects.bulk_create(
            TariffBand(tariff=tariff, weekdays=list(b.weekdays), start_hour=b.start_hour, end_hour=b.end_hour,
                       price_per_kwh=b.price_per_kwh)
            for b in bands
        )  # fmt: skip
        fleet_costs_reprice(fleet=fleet)
    return tariff
