"""Which conditions of vehicles/conditions.py alert, and how by default.

The conditions themselves are defined once, there; this is only what alerting adds: whether a fleet without a rule
of its own is alerted, how long a condition must last before anyone is told, and which threshold a vehicle may set
for itself.
"""

from __future__ import annotations

from dataclasses import dataclass

from trips.conditions import LEFT_OUTSIDE_HOURS
from vehicles import conditions
from vehicles.conditions import Condition


@dataclass(frozen=True)
class AlertKind:
    condition: Condition
    enabled: bool = True
    after_minutes: int = 0
    threshold: str = ""  # the Limits field a vehicle's rule may set, where one makes sense
    threshold_label: str = ""
    # About the whole fleet rather than each vehicle (alerts.fleetwide): one alert per fleet, no vehicle exceptions.
    fleet_wide: bool = False

    @property
    def key(self) -> str:
        return self.condition.key

    @property
    def label(self) -> str:
        return self.condition.label

    @property
    def threshold_quantity(self) -> str:
        """How the threshold is written (fleet/formatting.py): a pressure, or a percentage."""
        return "pressure" if self.threshold.endswith("_kpa") else "percent"


KINDS: list[AlertKind] = [
    AlertKind(conditions.LOW_ENERGY, threshold="low_energy_percent", threshold_label="Low at or below (%)"),
    AlertKind(conditions.NOT_PLUGGED_IN, threshold="charge_below_percent", threshold_label="Plug in when below (%)"),
    # A charge pauses for a moment when the charger renegotiates: only one that stays stopped is news.
    AlertKind(conditions.CHARGING_STOPPED, after_minutes=10),
    AlertKind(conditions.OPEN_WHILE_PARKED, after_minutes=10),
    AlertKind(conditions.UNLOCKED_WHILE_PARKED, after_minutes=10),
    AlertKind(conditions.TROUBLE_CODES),
    AlertKind(conditions.SYSTEM_ALERT),
    AlertKind(conditions.LOW_TIRE, threshold="low_tire_kpa", threshold_label="Low below (kPa)"),
    AlertKind(conditions.LOW_OIL, threshold="low_oil_percent", threshold_label="Low at or below (%)"),
    AlertKind(conditions.NEEDS_RECONNECT),
    AlertKind(conditions.SMARTCAR_UNREACHABLE, after_minutes=30),
    AlertKind(conditions.STALE),
    # Smartcar's billing error pauses the polling of every vehicle of the fleet at once: one alert for the fleet.
    AlertKind(conditions.SYNC_PAUSED, fleet_wide=True),
    AlertKind(LEFT_OUTSIDE_HOURS),
    AlertKind(conditions.RATE_LIMITED, enabled=False),
]
BY_KEY: dict[str, AlertKind] = {kind.key: kind for kind in KINDS}
# Judged vehicle by vehicle (alerts.evaluation); the others once per fleet (alerts.fleetwide).
VEHICLE_KINDS = [kind for kind in KINDS if not kind.fleet_wide]
# Every threshold warns sooner the higher it is (a battery low at 30 % is low before one low at 20 %).
WITH_THRESHOLD = [kind for kind in KINDS if kind.threshold]
# Conditions that start with the passing of time, not with new data: checked by query (alerts.evaluation.due_check).
TIMED = [conditions.STALE, conditions.NOT_PLUGGED_IN]

# A condition that holds again this soon after its alert resolved reopens that alert instead of opening a new one.
COOLDOWN_MINUTES = 30


def label(key: str) -> str:
    kind = BY_KEY.get(key)
    return kind.label if kind else key
