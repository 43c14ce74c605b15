"""What a fleet manager is told about a vehicle: each condition defined once, in two forms that agree.

A condition tests what sync stored for a vehicle (its ``status`` row, its account's state) against the fleet's
thresholds (``Limits``). Its two forms:

- ``condition.q(limits)`` — a filter on Vehicle: the overview counts and filters thousands of vehicles with it, every
  tile in one aggregate query;
- ``condition.holds(vehicle, limits)`` — the same test on one vehicle loaded with ``select_related("status",
  "account")``, without a query: the table's Attention column, the vehicle page, the connections page, and whatever
  reacts to a vehicle's new readings.

``tests/vehicles/test_conditions.py`` checks that the two forms agree over generated states. Each condition also has
its words: ``label`` (a tile or filter), ``badge(vehicle, limits)`` (one vehicle, short) and, where the manager can
do something, ``action``. Only connected vehicles meet a condition.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from functools import reduce
from zoneinfo import ZoneInfo

from django.db.models import F, Prefetch, Q, QuerySet

from connect.models import AccountStatus
from vehicles.models import Activity, SyncState, Vehicle, VehicleStatus

# Below this a tire is flagged (about 27.5 psi): under every passenger car's placard pressure, above a flat.
LOW_TIRE_KPA = 190.0
# Oil life at or under this percentage is due for a change soon.
LOW_OIL_PERCENT = 15.0
TIRE_FIELDS = (
    "tire_pressure_front_left_kpa",
    "tire_pressure_front_right_kpa",
    "tire_pressure_back_left_kpa",
    "tire_pressure_back_right_kpa",
)


@dataclass(frozen=True)
class Limits:
    """The thresholds conditions are judged by, and the moment they are judged at."""

    now: datetime
    low_energy_percent: float = 20.0
    stale_after: timedelta = timedelta(minutes=180)
    low_tire_kpa: float = LOW_TIRE_KPA
    low_oil_percent: float = LOW_OIL_PERCENT
    # An electric vehicle below ``charge_below_percent`` should be plugged in by this time of day in the fleet's
    # zone (None: no such expectation).
    charge_by: time | None = None
    charge_below_percent: float = 50.0
    time_zone: str = "UTC"

    # The fleet's columns ``for_fleet`` reads.
    FLEET_FIELDS = (
        "low_energy_percent", "stale_after_minutes", "low_tire_kpa", "low_oil_percent", "charge_by",
        "charge_by_below_percent", "time_zone",
    )  # fmt: skip

    @classmethod
    def for_fleet(cls, fleet, now: datetime) -> Limits:
        return cls(
            now=now,
            low_energy_percent=fleet.low_energy_percent,
            stale_after=timedelta(minutes=fleet.stale_after_minutes),
            low_tire_kpa=fleet.low_tire_kpa,
            low_oil_percent=fleet.low_oil_percent,
            charge_by=fleet.charge_by,
            charge_below_percent=fleet.charge_by_below_percent,
            time_zone=fleet.time_zone,
        )

    @property
    def past_charge_by(self) -> bool:
        """Whether the fleet's plug-in time has passed today, in the fleet's zone."""
        if self.charge_by is None:
            return False
        return self.now.astimezone(ZoneInfo(self.time_zone)).time() >= self.charge_by


# What the conditions (and their words) read of a vehicle, its status and its account. Judging many vehicles at once
# loads these columns alone (``judged``); tests/vehicles/test_conditions.py judges vehicles loaded so, without a query.
_STATUS_READS = (
    "battery_percent", "fuel_percent", "charging_state", "is_plugged_in", "charge_limit_percent", "is_locked",
    "doors_open", "windows_open", "storage_open", "oil_life_percent", *TIRE_FIELDS, "active_dtc_count",
    "system_alert_count", "activity", "data_age", "last_success_at", "sync_state",
)  # fmt: skip
READS = (
    "fleet", "account", "disconnected_at", "nickname", "make", "model", "year",
    *(f"status__{name}" for name in _STATUS_READS), "account__status",
)  # fmt: skip


def judged(vehicles: QuerySet[Vehicle]) -> QuerySet[Vehicle]:
    """``vehicles`` loaded with what ``holds`` and ``badge`` read, and their fleet's limits, and nothing more."""
    fleet = tuple(f"fleet__{name}" for name in Limits.FLEET_FIELDS)
    return vehicles.select_related("status", "account", "fleet").only(*READS, *fleet)


def status_of(vehicle: Vehicle) -> VehicleStatus | None:
    """The vehicle's status row as loaded with it, or None before its first sync."""
    try:
        return vehicle.status
    except VehicleStatus.DoesNotExist:
        return None


def _account_status(vehicle: Vehicle) -> str | None:
    return vehicle.account.status if vehicle.account_id and vehicle.account else None


class Condition:
    """One condition. Subclasses give ``key``, ``label``, ``_q`` and ``_holds``; the connected test is added here."""

    key: str = ""
    label: str = ""  # a tile or a filter: "Low battery or fuel"
    words: str = ""  # in a sentence, where the label lower-cased would not do: "Smartcar unreachable"
    action: str = ""  # what the manager can do about it, where there is something

    def q(self, limits: Limits) -> Q:
        return Q(disconnected_at__isnull=True) & self._q(limits)

    def holds(self, vehicle: Vehicle, limits: Limits) -> bool:
        return vehicle.disconnected_at is None and self._holds(vehicle, status_of(vehicle), limits)

    def badge(self, vehicle: Vehicle, limits: Limits) -> str:
        """This condition of this vehicle in a few words ("2 trouble codes")."""
        return self.phrase

    def prefetch(self) -> list[Prefetch]:
        """What ``holds`` reads beyond the status and the account, for ``prefetch_related`` on many vehicles."""
        return []

    @property
    def phrase(self) -> str:
        return self.words or self.label.lower()

    def _q(self, limits: Limits) -> Q:
        raise NotImplementedError

    def _holds(self, vehicle: Vehicle, status: VehicleStatus | None, limits: Limits) -> bool:
        raise NotImplementedError

    def __repr__(self):
        return f"<Condition {self.key}>"


class AnyOf(Condition):
    """Several conditions under one tile; ``met`` lists those that hold, in order."""

    def __init__(self, key: str, label: str, parts: list[Condition]):
        self.key, self.label, self.parts = key, label, parts

    def _q(self, limits: Limits) -> Q:
        return reduce(operator.or_, (part._q(limits) for part in self.parts))

    def _holds(self, vehicle, status, limits) -> bool:
        return any(part._holds(vehicle, status, limits) for part in self.parts)

    def met(self, vehicle: Vehicle, limits: Limits) -> list[Condition]:
        return [part for part in self.parts if part.holds(vehicle, limits)]


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'s' if count != 1 else ''}"


# --- What the vehicle is doing ----------------------------------------------------------------------------------


class Driving(Condition):
    key, label = "driving", "Driving"

    def _q(self, limits):
        return Q(status__activity=Activity.DRIVING)

    def _holds(self, vehicle, status, limits):
        return status is not None and status.activity == Activity.DRIVING


class Charging(Condition):
    key, label = "charging", "Charging"

    def _q(self, limits):
        return Q(status__charging_state="CHARGING")

    def _holds(self, vehicle, status, limits):
        return status is not None and status.charging_state == "CHARGING"


class Asleep(Condition):
    """The vehicle said it is asleep or out of reach (Fleet waits rather than wake it) — not a failing sync."""

    key, label = "asleep", "Asleep or offline"

    def _q(self, limits):
        return Q(status__activity=Activity.ASLEEP) | Q(status__sync_state=SyncState.BACKING_OFF)

    def _holds(self, vehicle, status, limits):
        return status is not None and (status.activity == Activity.ASLEEP or status.sync_state == SyncState.BACKING_OFF)


# --- Energy and the vehicle's own state ----------------------------------------------------------------------------


class LowEnergy(Condition):
    """Battery at or below the fleet's threshold; fuel for vehicles without a battery (a plug-in hybrid's battery is
    what runs out first)."""

    key, label = "low", "Low battery or fuel"

    def _q(self, limits):
        low = limits.low_energy_percent
        return Q(status__battery_percent__lte=low) | Q(
            status__battery_percent__isnull=True, status__fuel_percent__lte=low
        )

    def _holds(self, vehicle, status, limits):
        if status is None:
            return False
        energy = status.battery_percent if status.battery_percent is not None else status.fuel_percent
        return energy is not None and energy <= limits.low_energy_percent

    def badge(self, vehicle, limits):
        status = status_of(vehicle)
        return "battery low" if status is not None and status.battery_percent is not None else "fuel low"


class TroubleCodes(Condition):
    key, label = "trouble_codes", "Trouble codes"

    def _q(self, limits):
        return Q(status__active_dtc_count__gt=0)

    def _holds(self, vehicle, status, limits):
        return status is not None and (status.active_dtc_count or 0) > 0

    def badge(self, vehicle, limits):
        status = status_of(vehicle)
        return _plural(status.active_dtc_count or 0 if status else 0, "trouble code")


class SystemAlert(Condition):
    key, label = "system_alert", "System alerts"

    def _q(self, limits):
        return Q(status__system_alert_count__gt=0)

    def _holds(self, vehicle, status, limits):
        return status is not None and (status.system_alert_count or 0) > 0

    def badge(self, vehicle, limits):
        status = status_of(vehicle)
        return _plural(status.system_alert_count or 0 if status else 0, "system alert")


class LowTire(Condition):
    key, label = "low_tire", "Tire pressure low"

    def _q(self, limits):
        return reduce(operator.or_, (Q(**{f"status__{name}__lt": limits.low_tire_kpa}) for name in TIRE_FIELDS))

    def _holds(self, vehicle, status, limits):
        if status is None:
            return False
        pressures = [getattr(status, name) for name in TIRE_FIELDS]
        return any(kpa is not None and kpa < limits.low_tire_kpa for kpa in pressures)


class LowOil(Condition):
    key, label = "low_oil", "Oil life low"

    def _q(self, limits):
        return Q(status__oil_life_percent__lte=limits.low_oil_percent)

    def _holds(self, vehicle, status, limits):
        return (
            status is not None
            and status.oil_life_percent is not None
            and (status.oil_life_percent <= limits.low_oil_percent)
        )


def _parked_q() -> Q:
    return Q(status__activity__in=[Activity.PARKED, Activity.ASLEEP])


def _parked(status: VehicleStatus | None) -> bool:
    return status is not None and status.activity in (Activity.PARKED, Activity.ASLEEP)


class OpenWhileParked(Condition):
    """A door, a window, the trunk or the frunk open while the vehicle is parked."""

    key, label = "open_while_parked", "Open while parked"

    def _q(self, limits):
        return _parked_q() & (~Q(status__doors_open=[]) | ~Q(status__storage_open=[]) | ~Q(status__windows_open=[]))

    def _holds(self, vehicle, status, limits):
        return _parked(status) and bool(status.doors_open or status.storage_open or status.windows_open)


class UnlockedWhileParked(Condition):
    key, label = "unlocked_while_parked", "Unlocked while parked"

    def _q(self, limits):
        return _parked_q() & Q(status__is_locked=False)

    def _holds(self, vehicle, status, limits):
        return _parked(status) and status.is_locked is False


# --- Charging ------------------------------------------------------------------------------------------------------


class NotPluggedIn(Condition):
    """An electric vehicle below the fleet's charge level, unplugged after the time it should be plugged in by."""

    key, label = "not_plugged_in", "Not plugged in"

    def _q(self, limits):
        if not limits.past_charge_by:
            return Q(pk__in=[])
        return Q(status__is_plugged_in=False, status__battery_percent__lt=limits.charge_below_percent)

    def _holds(self, vehicle, status, limits):
        return (
            limits.past_charge_by
            and status is not None
            and status.is_plugged_in is False
            and status.battery_percent is not None
            and status.battery_percent < limits.charge_below_percent
        )

    def badge(self, vehicle, limits):
        return f"not plugged in by {limits.charge_by:%H:%M}"


# A charge that ends this far (percentage points) under its limit did not finish: a limit reached reads 79.6 of 80.
CHARGE_SHORT_BY = 2.0


class ChargingStopped(Condition):
    """Plugged in, not charging, and short of the charge limit: the charge stopped early (a fault at the charger,
    a tripped breaker or someone stopping it). The API's charge status has no fault state of its own, so this is
    how a charging fault shows."""

    key, label = "charging_stopped", "Charging stopped early"

    def _q(self, limits):
        return Q(
            status__is_plugged_in=True,
            status__charging_state="NOT_CHARGING",
            status__battery_percent__lt=F("status__charge_limit_percent") - CHARGE_SHORT_BY,
        )

    def _holds(self, vehicle, status, limits):
        return (
            status is not None
            and status.is_plugged_in is True
            and status.charging_state == "NOT_CHARGING"
            and status.battery_percent is not None
            and status.charge_limit_percent is not None
            and status.battery_percent < status.charge_limit_percent - CHARGE_SHORT_BY
        )


# --- Sync: whether Fleet can read the vehicle ------------------------------------------------------------------------


class NeedsReconnect(Condition):
    """Smartcar refuses the account's sign-in, or every read of this vehicle: only its owner can restore access."""

    key, label = "reconnect", "Needs reconnect"
    action = (
        "Ask the vehicle's owner to reconnect it: Reconnect sends them to Smartcar Connect to sign in with their car "
        "maker account and allow Fleet again. Syncing resumes by itself."
    )

    def _q(self, limits):
        return Q(account__status=AccountStatus.NEEDS_RECONNECT) | Q(status__sync_state=SyncState.NEEDS_RECONNECT)

    def _holds(self, vehicle, status, limits):
        return _account_status(vehicle) == AccountStatus.NEEDS_RECONNECT or (
            status is not None and status.sync_state == SyncState.NEEDS_RECONNECT
        )


class SyncInState(Condition):
    """The last sync round ended in one of these states."""

    def __init__(self, key: str, label: str, state: SyncState, *, words: str = "", action: str = ""):
        self.key, self.label, self.state, self.words, self.action = key, label, state, words, action

    def _q(self, limits):
        return Q(status__sync_state=self.state)

    def _holds(self, vehicle, status, limits):
        return status is not None and status.sync_state == self.state


class Stale(Condition):
    """The freshest reading (the vehicle's own time of it, or when Fleet got it if the API gave none) is older than
    the fleet's stale threshold."""

    key, label = "stale", "Stale data"

    def _q(self, limits):
        before = limits.now - limits.stale_after
        return Q(status__data_age__lt=before) | Q(status__data_age__isnull=True, status__last_success_at__lt=before)

    def _holds(self, vehicle, status, limits):
        freshest = freshest_reading(status)
        return freshest is not None and freshest < limits.now - limits.stale_after


def freshest_reading(status: VehicleStatus | None) -> datetime | None:
    if status is None:
        return None
    return status.data_age if status.data_age is not None else status.last_success_at


class NeverSynced(Condition):
    key, label = "never", "Never synced"

    def _q(self, limits):
        return Q(status__isnull=True) | Q(status__sync_state=SyncState.NEVER)

    def _holds(self, vehicle, status, limits):
        return status is None or status.sync_state == SyncState.NEVER


# --- The conditions ------------------------------------------------------------------------------------------------

DRIVING = Driving()
CHARGING = Charging()
ASLEEP = Asleep()
LOW_ENERGY = LowEnergy()
TROUBLE_CODES = TroubleCodes()
SYSTEM_ALERT = SystemAlert()
LOW_TIRE = LowTire()
LOW_OIL = LowOil()
OPEN_WHILE_PARKED = OpenWhileParked()
UNLOCKED_WHILE_PARKED = UnlockedWhileParked()
NEEDS_RECONNECT = NeedsReconnect()
RATE_LIMITED = SyncInState(
    "rate_limited",
    "Rate limited",
    SyncState.RATE_LIMITED,
    action="Nothing to do: Fleet waits as long as Smartcar asks, then reads the vehicle again.",
)
SMARTCAR_UNREACHABLE = SyncInState(
    "unreachable",
    "Smartcar unreachable",
    SyncState.UNREACHABLE,
    words="Smartcar unreachable",
    action="Nothing to do: Fleet tries again by itself, waiting longer after each failure.",
)
SYNC_ERRORS = SyncInState(
    "sync_errors",
    "Errors from Smartcar",
    SyncState.RETRYING,
    words="errors from Smartcar",
    action="Nothing to do: Fleet tries again by itself, waiting longer after each failure.",
)
SYNC_PAUSED = SyncInState(
    "paused",
    "Paused by billing",
    SyncState.PAUSED,
    action="An owner can resume polling in admin (fleet sync settings) after checking the Smartcar plan.",
)
STALE = Stale()
NEVER_SYNCED = NeverSynced()
NOT_PLUGGED_IN = NotPluggedIn()
CHARGING_STOPPED = ChargingStopped()

NEEDS_ATTENTION = AnyOf(
    "attention",
    "Needs attention",
    [TROUBLE_CODES, SYSTEM_ALERT, LOW_TIRE, LOW_OIL, OPEN_WHILE_PARKED, UNLOCKED_WHILE_PARKED],
)
# Fleet tries to read the vehicle and cannot; the first that holds is the reason shown.
SYNC_FAILING = AnyOf(
    "failing", "Sync failing", [NEEDS_RECONNECT, SYNC_PAUSED, RATE_LIMITED, SMARTCAR_UNREACHABLE, SYNC_ERRORS]
)

ALL: dict[str, Condition] = {
    condition.key: condition
    for condition in [
        DRIVING, CHARGING, ASLEEP, LOW_ENERGY, NEEDS_ATTENTION, *NEEDS_ATTENTION.parts, SYNC_FAILING,
        *SYNC_FAILING.parts, STALE, NEVER_SYNCED, NOT_PLUGGED_IN, CHARGING_STOPPED,
    ]
}  # fmt: skip


def sync_failing_reason(vehicle: Vehicle, limits: Limits) -> Condition | None:
    """Why Fleet cannot read the vehicle now (the first failing condition that holds), or None."""
    met = SYNC_FAILING.met(vehicle, limits)
    return met[0] if met else None
