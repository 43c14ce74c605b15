"""Plain descriptions of standard OBD-II diagnostic trouble codes, shipped with the app.

SAE J2012 defines the generic codes (second character 0, 2 or 3 for P codes; 0 for B, C and U codes); manufacturer
codes (second character 1) mean what each maker says they mean, so for them only the system is named. No maintained
Python package with an open licence carries the table, so the common codes are listed here; every other code still
gets a description of its area (e.g. "Ignition system or misfire (generic code P0399)").

Reference: smartcar-api/get-dtcs.md (codes come as strings such as "P0420"); get-system-status.md (system ids).
"""

import re

CODES = {
    # Fuel and air metering
    "P0100": "Mass air flow sensor circuit malfunction",
    "P0101": "Mass air flow sensor range or performance problem",
    "P0102": "Mass air flow sensor circuit low input",
    "P0103": "Mass air flow sensor circuit high input",
    "P0106": "Manifold absolute pressure sensor range or performance problem",
    "P0110": "Intake air temperature sensor circuit malfunction",
    "P0113": "Intake air temperature sensor circuit high input",
    "P0115": "Engine coolant temperature sensor circuit malfunction",
    "P0117": "Engine coolant temperature sensor circuit low input",
    "P0118": "Engine coolant temperature sensor circuit high input",
    "P0120": "Throttle position sensor circuit malfunction",
    "P0121": "Throttle position sensor range or performance problem",
    "P0122": "Throttle position sensor circuit low input",
    "P0125": "Coolant temperature too low for closed-loop fuel control",
    "P0128": "Coolant thermostat: coolant below regulating temperature",
    "P0130": "Oxygen sensor circuit malfunction (bank 1, sensor 1)",
    "P0131": "Oxygen sensor circuit low voltage (bank 1, sensor 1)",
    "P0133": "Oxygen sensor slow response (bank 1, sensor 1)",
    "P0135": "Oxygen sensor heater circuit malfunction (bank 1, sensor 1)",
    "P0141": "Oxygen sensor heater circuit malfunction (bank 1, sensor 2)",
    "P0171": "System too lean (bank 1)",
    "P0172": "System too rich (bank 1)",
    "P0174": "System too lean (bank 2)",
    "P0175": "System too rich (bank 2)",
    "P0191": "Fuel rail pressure sensor range or performance problem",
    "P0201": "Injector circuit malfunction, cylinder 1",
    "P0217": "Engine over-temperature condition",
    "P0230": "Fuel pump primary circuit malfunction",
    "P0234": "Turbocharger or supercharger overboost condition",
    "P0299": "Turbocharger or supercharger underboost",
    # Ignition and misfire
    "P0300": "Random or multiple cylinder misfire detected",
    "P0301": "Cylinder 1 misfire detected",
    "P0302": "Cylinder 2 misfire detected",
    "P0303": "Cylinder 3 misfire detected",
    "P0304": "Cylinder 4 misfire detected",
    "P0305": "Cylinder 5 misfire detected",
    "P0306": "Cylinder 6 misfire detected",
    "P0325": "Knock sensor 1 circuit malfunction",
    "P0335": "Crankshaft position sensor A circuit malfunction",
    "P0340": "Camshaft position sensor circuit malfunction",
    "P0351": "Ignition coil A primary or secondary circuit malfunction",
    # Emission controls
    "P0400": "Exhaust gas recirculation flow malfunction",
    "P0401": "Exhaust gas recirculation flow insufficient",
    "P0402": "Exhaust gas recirculation flow excessive",
    "P0411": "Secondary air injection system incorrect flow",
    "P0420": "Catalyst system efficiency below threshold (bank 1)",
    "P0430": "Catalyst system efficiency below threshold (bank 2)",
    "P0440": "Evaporative emission system malfunction",
    "P0441": "Evaporative emission system incorrect purge flow",
    "P0442": "Evaporative emission system leak detected (small leak)",
    "P0446": "Evaporative emission vent control circuit malfunction",
    "P0455": "Evaporative emission system leak detected (large leak)",
    "P0456": "Evaporative emission system leak detected (very small leak)",
    "P0457": "Evaporative emission system leak detected (fuel cap loose or off)",
    # Speed, idle and auxiliary inputs
    "P0500": "Vehicle speed sensor malfunction",
    "P0505": "Idle control system malfunction",
    "P0506": "Idle control system RPM lower than expected",
    "P0507": "Idle control system RPM higher than expected",
    "P0520": "Engine oil pressure sensor circuit malfunction",
    "P0562": "System voltage low",
    "P0563": "System voltage high",
    # Computer and outputs
    "P0600": "Serial communication link malfunction",
    "P0601": "Control module memory checksum error",
    "P0606": "Control module processor fault",
    "P0615": "Starter relay circuit",
    # Transmission
    "P0700": "Transmission control system malfunction",
    "P0705": "Transmission range sensor circuit malfunction",
    "P0715": "Input or turbine speed sensor circuit malfunction",
    "P0720": "Output speed sensor circuit malfunction",
    "P0730": "Incorrect gear ratio",
    "P0740": "Torque converter clutch circuit malfunction",
    "P0750": "Shift solenoid A malfunction",
    # Hybrid and electric propulsion
    "P0A7F": "Hybrid battery pack deterioration",
    "P0A80": "Replace hybrid or high-voltage battery pack",
    "P0A94": "DC/DC converter performance",
    "P0AA6": "Hybrid battery voltage system isolation fault",
    "P0AFA": "Hybrid battery system voltage low",
    # Chassis, body and network (generic)
    "C0035": "Left front wheel speed sensor circuit",
    "C0040": "Right front wheel speed sensor circuit",
    "C0045": "Left rear wheel speed sensor circuit",
    "C0050": "Right rear wheel speed sensor circuit",
    "B0001": "Driver frontal stage 1 deployment control",
    "B0100": "Electronic front end sensor 1",
    "U0001": "High speed CAN communication bus",
    "U0100": "Lost communication with engine control module",
    "U0101": "Lost communication with transmission control module",
    "U0121": "Lost communication with anti-lock brake system module",
    "U0140": "Lost communication with body control module",
    "U0155": "Lost communication with instrument panel cluster",
}

_AREAS = {"P": "Powertrain", "C": "Chassis", "B": "Body", "U": "Network"}
_P_SUBSYSTEMS = {
    "0": "Fuel, air or emission controls",
    "1": "Fuel and air metering",
    "2": "Fuel and air metering (injectors)",
    "3": "Ignition system or misfire",
    "4": "Auxiliary emission controls",
    "5": "Vehicle speed, idle control or auxiliary inputs",
    "6": "Computer or output circuits",
    "7": "Transmission",
    "8": "Transmission",
    "9": "Transmission",
    "A": "Hybrid or electric propulsion",
    "B": "Hybrid or electric propulsion",
    "C": "Hybrid or electric propulsion",
}
_CODE = re.compile(r"^[PCBU][0-3][0-9A-F]{3}$")


def describe(code: str) -> str:
    """The code's plain meaning when it is a known generic code, else its area; "" for what is not a DTC."""
    code = (code or "").strip().upper()
    if code in CODES:
        return CODES[code]
    if not _CODE.match(code):
        return ""
    area = _AREAS[code[0]]
    manufacturer = code[1] == "1" or (code[:2] == "P3" and code[2] in "0123")  # P3000–P33FF are the maker's
    if code[0] == "P":
        area = _P_SUBSYSTEMS.get(code[2], area)
    kind = "manufacturer-specific" if manufacturer else "generic"
    return f"{area} ({kind} code; see the maker's service information)"


# System ids of /diagnostics/system_status (get-system-status.md lists them), in words.
SYSTEMS = {
    "SYSTEM_ABS": "Anti-lock braking system",
    "SYSTEM_ACTIVE_SAFETY": "Active safety systems",
    "SYSTEM_AIRBAG": "Airbags",
    "SYSTEM_BRAKE_FLUID": "Brake fluid",
    "SYSTEM_DRIVER_ASSISTANCE": "Driver assistance",
    "SYSTEM_EMISSIONS": "Emissions",
    "SYSTEM_ENGINE": "Engine",
    "SYSTEM_EV_BATTERY_CONDITIONING": "EV battery conditioning",
    "SYSTEM_EV_CHARGING": "EV charging",
    "SYSTEM_EV_DRIVE_UNIT": "EV drive unit",
    "SYSTEM_EV_HV_BATTERY": "High-voltage battery",
    "SYSTEM_LIGHTING": "Lighting",
    "SYSTEM_LOW_VOLTAGE_BATTERY": "12 V battery",
    "SYSTEM_MIL": "Check-engine light (malfunction indicator)",
    "SYSTEM_OIL_LIFE": "Oil life",
    "SYSTEM_OIL_PRESSURE": "Oil pressure",
    "SYSTEM_OIL_TEMPERATURE": "Oil temperature",
    "SYSTEM_TELEMATICS": "Telematics",
    "SYSTEM_TIRE_PRESSURE": "Tyre pressure",
    "SYSTEM_TPMS": "Tyre pressure monitoring",
    "SYSTEM_TRANSMISSION": "Transmission",
    "SYSTEM_WASHER_FLUID": "Washer fluid",
    "SYSTEM_WATER_IN_FUEL": "Water in fuel",
}


def describe_system(system_id: str) -> str:
    return SYSTEMS.get(system_id, system_id.removeprefix("SYSTEM_").replace("_", " ").capitalize())
