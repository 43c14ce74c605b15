"""Smartcar's permissions (scopes) in a manager's words, for pages; the scope names stay on the wire and in admin.

Reference: ../shared/smartcar-api/permissions.md (the words follow its descriptions, shortened).
"""

WORDS = {
    "read_alerts": "Alerts",
    "read_battery": "EV battery",
    "read_charge": "Charging",
    "read_charge_locations": "Charging locations",
    "read_charge_records": "Charge records and billing",
    "read_charge_events": "Charging events",
    "read_climate": "Climate",
    "read_compass": "Compass heading",
    "read_diagnostics": "Diagnostics",
    "read_engine_oil": "Engine oil",
    "read_extended_vehicle_info": "Vehicle configuration",
    "read_fuel": "Fuel",
    "read_location": "Location",
    "read_odometer": "Odometer",
    "read_security": "Locks",
    "read_service_history": "Service history",
    "read_speedometer": "Speed",
    "read_thermometer": "Temperatures",
    "read_tires": "Tyres",
    "read_user_profile": "Owner's profile",
    "read_vehicle_info": "Make, model and year",
    "read_vin": "VIN",
    "control_charge": "Start and stop charging",
    "control_climate": "Set the climate",
    "control_navigation": "Send destinations",
    "control_security": "Lock and unlock",
    "control_pin": "PIN to drive",
    "control_trunk": "Open the trunk and frunk",
}


def permission_label(scope: str) -> str:
    """``read_location`` → "Location"; a scope this list does not know yet in plain words."""
    return WORDS.get(scope) or scope.removeprefix("required:").replace("_", " ").capitalize()
