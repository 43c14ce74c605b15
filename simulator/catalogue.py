"""Makes, models, VINs and places of the simulated vehicles.

Makes and regions follow smartcar-api/makes.md; models, years, batteries and tanks are plausible
figures for each model, good enough for a believable fleet (not a specification database).
"""

from dataclasses import dataclass

GM_MAKES = frozenset({"CHEVROLET", "GMC", "BUICK", "CADILLAC"})

# How each brand writes its name where it is not title case (Connect shows makes as brands write them).
_BRAND_NAMES = {
    "BMW": "BMW",
    "CITROEN": "Citroën",
    "CUPRA": "CUPRA",
    "DS": "DS",
    "GMC": "GMC",
    "MERCEDES_BENZ": "Mercedes-Benz",
    "MG": "MG",
    "MINI": "MINI",
    "SKODA": "Škoda",
}


def brand_name(make: str) -> str:
    """A make value of makes.md (``MERCEDES_BENZ``) as its brand writes it (Mercedes-Benz)."""
    make = make.upper()
    return _BRAND_NAMES.get(make, make.replace("_", " ").title())


FCA_MAKES = frozenset({"RAM", "JEEP", "CHRYSLER", "DODGE", "FIAT", "ALFA_ROMEO"})


@dataclass(frozen=True)
class Model:
    name: str
    engine: str  # BEV, PHEV or ICE
    first_year: int
    last_year: int
    battery_kwh: float | None = None
    electric_range_km: float | None = None
    tank_l: float | None = None
    litres_per_100km: float = 8.5


def _m(name, engine, first, last, kwh=None, erange=None, tank=None, l100=8.5) -> Model:
    return Model(name, engine, first, last, kwh, erange, tank, l100)


# World manufacturer identifiers (VIN positions 1–3) and models, per make.
CATALOGUE: dict[str, tuple[str, list[Model]]] = {
    "TESLA": (
        "5YJ",
        [
            _m("Model 3", "BEV", 2018, 2025, 75, 500),
            _m("Model Y", "BEV", 2020, 2025, 75, 480),
            _m("Model S", "BEV", 2016, 2024, 100, 600),
            _m("Model X", "BEV", 2017, 2024, 100, 540),
        ],
    ),
    "FORD": (
        "1FM",
        [
            _m("Mustang Mach-E", "BEV", 2021, 2025, 91, 470),
            _m("F-150 Lightning", "BEV", 2022, 2025, 131, 480),
            _m("E-Transit", "BEV", 2022, 2025, 68, 200),
            _m("Escape Plug-In Hybrid", "PHEV", 2020, 2024, 14.4, 60, 42, 6.0),
            _m("Transit", "ICE", 2018, 2025, tank=95, l100=12.5),
            _m("Explorer", "ICE", 2018, 2025, tank=68, l100=10.5),
        ],
    ),
    "NISSAN": (
        "1N4",
        [
            _m("LEAF", "BEV", 2018, 2024, 62, 340),
            _m("Ariya", "BEV", 2023, 2025, 87, 480),
            _m("Rogue", "ICE", 2018, 2025, tank=55, l100=8.0),
        ],
    ),
    "CHEVROLET": (
        "1G1",
        [
            _m("Bolt EV", "BEV", 2017, 2023, 66, 415),
            _m("Bolt EUV", "BEV", 2022, 2023, 65, 400),
            _m("Equinox EV", "BEV", 2024, 2025, 85, 500),
            _m("Volt", "PHEV", 2016, 2019, 18.4, 85, 34, 5.6),
            _m("Silverado", "ICE", 2018, 2025, tank=91, l100=13.0),
        ],
    ),
    "BMW": (
        "WBA",
        [
            _m("i4", "BEV", 2022, 2025, 83.9, 480),
            _m("iX", "BEV", 2022, 2025, 111.5, 520),
            _m("330e", "PHEV", 2019, 2024, 12, 35, 40, 6.0),
            _m("X5", "ICE", 2019, 2025, tank=83, l100=10.0),
        ],
    ),
    "TOYOTA": (
        "JTD",
        [
            _m("bZ4X", "BEV", 2023, 2025, 71.4, 400),
            _m("RAV4 Prime", "PHEV", 2021, 2025, 18.1, 68, 55, 6.0),
            _m("Prius Prime", "PHEV", 2017, 2025, 13.6, 70, 43, 4.5),
            _m("Camry", "ICE", 2018, 2025, tank=60, l100=7.5),
        ],
    ),
    "AUDI": (
        "WAU",
        [
            _m("e-tron", "BEV", 2019, 2023, 95, 350),
            _m("Q4 e-tron", "BEV", 2022, 2025, 82, 420),
            _m("Q5 TFSI e", "PHEV", 2021, 2024, 17.9, 40, 54, 6.5),
            _m("A4", "ICE", 2018, 2025, tank=58, l100=7.8),
        ],
    ),
    "LINCOLN": (
        "5LM",
        [
            _m("Aviator Grand Touring", "PHEV", 2020, 2024, 13.6, 34, 68, 8.0),
            _m("Corsair Grand Touring", "PHEV", 2021, 2024, 14.4, 45, 42, 6.5),
            _m("Navigator", "ICE", 2018, 2024, tank=87, l100=13.5),
        ],
    ),
    "CADILLAC": (
        "1GY",
        [
            _m("LYRIQ", "BEV", 2023, 2025, 102, 500),
            _m("Escalade", "ICE", 2018, 2025, tank=91, l100=14.0),
            _m("XT5", "ICE", 2018, 2024, tank=83, l100=10.5),
        ],
    ),
    "HYUNDAI": (
        "KM8",
        [
            _m("IONIQ 5", "BEV", 2022, 2025, 77.4, 480),
            _m("Kona Electric", "BEV", 2019, 2024, 64, 415),
            _m("Tucson Plug-in Hybrid", "PHEV", 2022, 2025, 13.8, 53, 42, 6.5),
            _m("Santa Fe", "ICE", 2019, 2024, tank=67, l100=9.5),
        ],
    ),
    "KIA": (
        "KND",
        [
            _m("EV6", "BEV", 2022, 2025, 77.4, 500),
            _m("Niro EV", "BEV", 2019, 2025, 64.8, 400),
            _m("Sorento Plug-in Hybrid", "PHEV", 2022, 2024, 13.8, 52, 47, 7.0),
            _m("Telluride", "ICE", 2020, 2025, tank=71, l100=10.5),
        ],
    ),
    "JEEP": (
        "1C4",
        [
            _m("Wrangler 4xe", "PHEV", 2021, 2025, 17.3, 35, 65, 9.5),
            _m("Grand Cherokee 4xe", "PHEV", 2022, 2025, 17.3, 40, 68, 9.0),
            _m("Grand Cherokee", "ICE", 2018, 2025, tank=87, l100=11.5),
        ],
    ),
    "MINI": (
        "WMW",
        [
            _m("Cooper SE", "BEV", 2020, 2024, 32.6, 180),
            _m("Countryman", "ICE", 2018, 2024, tank=51, l100=7.0),
        ],
    ),
    "GMC": ("1GT", [_m("Sierra", "ICE", 2018, 2025, tank=91, l100=13.0), _m("HUMMER EV", "BEV", 2022, 2025, 212, 530)]),
    "BUICK": ("1G4", [_m("Enclave", "ICE", 2018, 2025, tank=82, l100=11.0)]),
    "LEXUS": ("JTH", [_m("RZ 450e", "BEV", 2023, 2025, 71.4, 350), _m("NX 450h+", "PHEV", 2022, 2025, 18.1, 60, 55)]),
    "VOLKSWAGEN": ("WVW", [_m("ID.4", "BEV", 2021, 2025, 82, 450), _m("Golf", "ICE", 2018, 2024, tank=50, l100=6.5)]),
    "VOLVO": (
        "YV1",
        [_m("XC40 Recharge", "BEV", 2021, 2025, 78, 400), _m("XC60 Recharge", "PHEV", 2020, 2025, 18.8, 55, 71)],
    ),
    "RAM": ("1C6", [_m("1500", "ICE", 2019, 2025, tank=98, l100=13.5)]),
    "CHRYSLER": ("2C4", [_m("Pacifica Hybrid", "PHEV", 2018, 2025, 16, 52, 62, 7.5)]),
    "DODGE": ("2C3", [_m("Durango", "ICE", 2018, 2025, tank=93, l100=12.5)]),
    "RENAULT": ("VF1", [_m("Megane E-Tech", "BEV", 2022, 2025, 60, 450), _m("Zoe", "BEV", 2019, 2024, 52, 390)]),
    "PEUGEOT": ("VF3", [_m("e-208", "BEV", 2020, 2025, 50, 340), _m("3008 Hybrid", "PHEV", 2020, 2024, 13.2, 55, 43)]),
    "MERCEDES_BENZ": (
        "W1K",
        [_m("EQE", "BEV", 2023, 2025, 90.6, 550), _m("C 300", "ICE", 2018, 2025, tank=66, l100=7.5)],
    ),
    "SKODA": ("TMB", [_m("Enyaq iV", "BEV", 2021, 2025, 82, 500)]),
}

# Makes in the order a new account gets them: a dozen vehicles always include the well-known
# makes first, and every make listed exists in that region (smartcar-api/makes.md).
MAKE_ORDER = {
    "US": [
        "TESLA", "FORD", "NISSAN", "CHEVROLET", "BMW", "TOYOTA", "AUDI", "LINCOLN", "CADILLAC", "HYUNDAI",
        "KIA", "JEEP", "MINI", "GMC", "VOLKSWAGEN", "RAM", "LEXUS", "VOLVO", "BUICK", "CHRYSLER", "DODGE",
    ],
    "CA": [
        "TESLA", "FORD", "CHEVROLET", "BMW", "TOYOTA", "AUDI", "LINCOLN", "CADILLAC", "HYUNDAI", "KIA",
        "JEEP", "MINI", "GMC", "LEXUS", "VOLVO", "RAM", "BUICK", "CHRYSLER", "DODGE",
    ],
    "EU": [
        "TESLA", "FORD", "NISSAN", "BMW", "AUDI", "VOLKSWAGEN", "HYUNDAI", "KIA", "MINI", "RENAULT",
        "PEUGEOT", "VOLVO", "MERCEDES_BENZ", "SKODA",
    ],
}  # fmt: skip

# Where fleets live: (name, latitude, longitude, UTC offset in hours — standard time, no DST).
CITIES = {
    "US": [
        ("San Francisco", 37.7749, -122.4194, -8),
        ("Detroit", 42.3314, -83.0458, -5),
        ("Austin", 30.2672, -97.7431, -6),
        ("Seattle", 47.6062, -122.3321, -8),
        ("Atlanta", 33.7490, -84.3880, -5),
    ],
    "CA": [
        ("Toronto", 43.6532, -79.3832, -5),
        ("Vancouver", 49.2827, -123.1207, -8),
        ("Montreal", 45.5019, -73.5674, -5),
    ],
    "EU": [
        ("Berlin", 52.5200, 13.4050, 1),
        ("Paris", 48.8566, 2.3522, 1),
        ("Amsterdam", 52.3676, 4.9041, 1),
        ("Milan", 45.4642, 9.1900, 1),
    ],
}

# North American VIN check digit (ISO 3779 / 49 CFR 565).
_TRANSLITERATION = {
    **{str(d): d for d in range(10)},
    **dict(zip("ABCDEFGH", range(1, 9), strict=True)),
    **dict(zip("JKLMN", range(1, 6), strict=True)),
    "P": 7,
    "R": 9,
    **dict(zip("STUVWXYZ", range(2, 10), strict=True)),
}
_WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)
VIN_CHARACTERS = "0123456789ABCDEFGHJKLMNPRSTUVWXYZ"  # no I, O or Q
_YEAR_CODES = "ABCDEFGHJKLMNPRSTVWXY123456789"  # 2010 → A … 2030 → Y, then digits


def vin_check_digit(vin: str) -> str:
    total = sum(_TRANSLITERATION[char] * weight for char, weight in zip(vin.upper(), _WEIGHTS, strict=True))
    remainder = total % 11
    return "X" if remainder == 10 else str(remainder)


def vin_is_valid(vin: str) -> bool:
    if len(vin) != 17 or any(char not in VIN_CHARACTERS for char in vin.upper()):
        return False
    return vin_check_digit(vin)[0] == vin[8].upper()


def vin_build(wmi: str, descriptor: str, year: int, plant: str, serial: str) -> str:
    """A VIN from its parts; position 9 gets the computed check digit."""
    year_code = _YEAR_CODES[(year - 2010) % len(_YEAR_CODES)]
    draft = f"{wmi}{descriptor}0{year_code}{plant}{serial}"
    assert len(draft) == 17, draft
    return draft[:8] + vin_check_digit(draft) + draft[9:]
