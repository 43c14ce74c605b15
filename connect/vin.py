"""Checking a VIN before asking Smartcar about it: length, characters, and the check digit where it is mandatory.

ISO 3779 VINs are 17 characters of digits and capital letters except I, O and Q (they read as 1 and 0). North
American VINs (first character 1–5: the United States, Canada, Mexico) carry a check digit in position 9 (49 CFR
565.15); elsewhere position 9 is the manufacturer's to use, so it is not checked there.
"""

from __future__ import annotations

import re

VIN_LENGTH = 17
VIN_PATTERN = re.compile(r"[A-HJ-NPR-Z0-9]{17}")
NORTH_AMERICAN_REGION_CODES = frozenset("12345")
_VALUES = {
    **{str(digit): digit for digit in range(10)},
    **dict(zip("ABCDEFGH", range(1, 9), strict=True)),
    **dict(zip("JKLMN", range(1, 6), strict=True)),
    "P": 7,
    "R": 9,
    **dict(zip("STUVWXYZ", range(2, 10), strict=True)),
}
_WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)


class InvalidVin(ValueError):
    """What is wrong with a VIN, in words for the person who typed it."""


def vin_normalise(vin: str) -> str:
    """Upper case, without the spaces and dashes people type or paste."""
    return re.sub(r"[\s-]", "", vin or "").upper()


def vin_check_digit(vin: str) -> str:
    """The check digit position 9 must hold ('0'–'9' or 'X') for a 17-character VIN of valid characters."""
    total = sum(_VALUES[char] * weight for char, weight in zip(vin, _WEIGHTS, strict=True))
    remainder = total % 11
    return "X" if remainder == 10 else str(remainder)


# ISO 3780: the first character of the world manufacturer identifier names the region the vehicle was built for.
_REGIONS = [("ABCDEFGH", "Africa"), ("JKLMNPR", "Asia"), ("STUVWXYZ", "Europe"), ("12345", "North America"),
            ("67", "Oceania"), ("89", "South America")]  # fmt: skip


def vin_region(vin: str) -> str:
    """ "Europe" for a VIN starting with W (Germany), "North America" for one starting with 1; "" when unknown."""
    return next((region for letters, region in _REGIONS if vin[:1] in letters), "") if vin else ""


def is_north_american(vin: str) -> bool:
    return vin[:1] in NORTH_AMERICAN_REGION_CODES


def vin_validate(vin: str) -> str:
    """The normalised VIN, or ``InvalidVin`` saying what is wrong with it."""
    vin = vin_normalise(vin)
    if len(vin) != VIN_LENGTH:
        raise InvalidVin(f"A VIN has {VIN_LENGTH} characters; this one has {len(vin)}.")
    forbidden = sorted(set(vin) & set("IOQ"))
    if forbidden:
        raise InvalidVin(
            f"A VIN never contains the letters I, O or Q (they read as 1 and 0); this one has {', '.join(forbidden)}."
        )
    if not VIN_PATTERN.fullmatch(vin):
        raise InvalidVin("A VIN has only digits and capital letters.")
    if is_north_american(vin) and vin[8] != vin_check_digit(vin):
        raise InvalidVin(
            "This North American VIN's check digit (9th character) does not match the others: a character was "
            "probably mistyped."
        )
    return vin
