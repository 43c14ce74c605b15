"""What a vehicle is doing, judged from one round's readings: a pure function, the cadence's first input."""

from vehicles.models import Activity

# Moved farther than this between two location readings: driving.
DRIVING_DISTANCE_DEGREES = 0.001  # ≈ 100 m
# Readings that say something about what the vehicle is doing; without any of them the activity stays as it was.
TELLING_FIELDS = frozenset({"latitude", "charging_state", "odometer_km", "speed_kph"})


def activity_from(*, make: str, values: dict, bodies: dict[str, object], previous: dict, current: str) -> str:
    """``values``: this round's typed readings; ``bodies``: its raw answers by path; ``previous``: the status fields
    before the round; ``current``: the activity before the round."""
    if not values:
        return current
    status_body = bodies.get(f"/{make.lower()}/status")
    if isinstance(status_body, dict) and status_body.get("status") == "ASLEEP":
        return Activity.ASLEEP
    if values.get("charging_state", previous.get("charging_state")) == "CHARGING":
        return Activity.CHARGING
    if isinstance(status_body, dict) and status_body.get("gear") in ("DRIVE", "REVERSE"):
        return Activity.DRIVING
    if values.get("speed_kph") or _moved(values, previous):
        return Activity.DRIVING
    if TELLING_FIELDS & values.keys():
        return Activity.PARKED
    return current


def _moved(values: dict, previous: dict) -> bool:
    if "latitude" in values and previous.get("latitude") is not None:
        if abs(values["latitude"] - previous["latitude"]) > DRIVING_DISTANCE_DEGREES:
            return True
        if abs(values.get("longitude", 0) - (previous.get("longitude") or 0)) > DRIVING_DISTANCE_DEGREES:
            return True
    if "odometer_km" in values and previous.get("odometer_km") is not None:
        return values["odometer_km"] - previous["odometer_km"] > 0.1
    return False
