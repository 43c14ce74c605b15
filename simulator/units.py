"""Unit systems: the state is metric; ``SC-Unit-System: imperial`` converts what a response shows.

Reference: smartcar-api/headers.md ("Smartcar supports both `metric` and `imperial` unit systems")

Distances km → miles, speeds km/h → mph, pressures kPa → psi, temperatures °C → °F, volumes
litres → US gallons. An unknown value of the header is answered as metric, as the header names it.
"""

KM_PER_MILE = 1.609344
KPA_PER_PSI = 6.894757
LITRES_PER_GALLON = 3.785411784


class Units:
    def __init__(self, system: str):
        self.system = "imperial" if system == "imperial" else "metric"
        self.imperial = self.system == "imperial"

    def distance(self, km: float | None) -> float | None:
        return None if km is None else round(km / KM_PER_MILE if self.imperial else km, 2)

    def speed(self, kmh: float | None) -> float | None:
        return self.distance(kmh)

    def pressure(self, kpa: float | None) -> float | None:
        return None if kpa is None else round(kpa / KPA_PER_PSI if self.imperial else kpa, 2)

    def temperature(self, celsius: float | None) -> float | None:
        return None if celsius is None else round(celsius * 9 / 5 + 32 if self.imperial else celsius, 2)

    def temperature_in(self, value: float) -> float:
        """A temperature given by the client, in its unit system, as °C."""
        return (value - 32) * 5 / 9 if self.imperial else value

    def volume(self, litres: float | None) -> float | None:
        return None if litres is None else round(litres / LITRES_PER_GALLON if self.imperial else litres, 2)


def for_request(header_value: str | None) -> Units:
    return Units((header_value or "metric").strip().lower())
