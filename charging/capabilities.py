"""Which charging features a vehicle has: its make (per the API reference) and the permissions its owner granted.

A feature the vehicle lacks is refused with a plain message before any call is made.
"""

from __future__ import annotations

from dataclasses import dataclass

from connect import transports
from fleet.errors import ApplicationError
from vehicles.models import VehicleStatus, make_label

FORD_MAKES = frozenset({"FORD", "LINCOLN"})
ALL_MAKES = None  # the page names no make restriction


@dataclass(frozen=True)
class Feature:
    key: str
    label: str
    makes: frozenset[str] | None
    permissions: tuple[str, ...]
    reference: str


FEATURES = {
    feature.key: feature
    for feature in (
        # Ford and Lincoln in CA, US, EU (changelog 2023-08-09); the page itself names no make.
        Feature(
            "ford_schedule",
            "Charge schedule by location",
            FORD_MAKES,
            ("read_charge_locations", "control_charge"),
            "ford__set-charge-schedule-by-location.md",
        ),
        Feature(
            "nissan_schedule",
            "Charge schedule",
            frozenset({"NISSAN"}),
            ("read_charge", "control_charge"),
            "nissan__set-charge-schedule.md",
        ),
        Feature(
            "tesla_schedule",
            "Charge schedule",
            frozenset({"TESLA"}),
            ("read_charge", "control_charge"),
            "tesla__set-charge-schedule.md",
        ),
        Feature(
            "amperage", "Charging amperage", frozenset({"TESLA"}), ("control_charge",), "tesla__set-charge-ammeter.md"
        ),
        Feature("charge_limit", "Charge limit", ALL_MAKES, ("control_charge",), "evs__set-charge-limit.md"),
        Feature("charge_control", "Start and stop charging", ALL_MAKES, ("control_charge",), "evs__control-charge.md"),
        # The 2023 changelog announces /tesla/charge/records too, but only BMW/MINI have a page (CAPABILITIES.md §5
        # item 1); Tesla's history comes from its billing records, which do have one.
        Feature(
            "charge_records",
            "Charge records",
            frozenset({"BMW", "MINI"}),
            ("read_charge_records",),
            "bmw__get-charge-records.md",
        ),
        Feature(
            "billing_records",
            "Billing records",
            frozenset({"TESLA"}),
            ("read_charge_records",),
            "tesla__get-charge-records-billing.md",
        ),
    )
}


# The permissions of FEATURES as the owner saw them at Connect (application-permissions.md).
PERMISSION_WORDS = {
    "read_charge": "access to the charging state",
    "read_charge_locations": "access to charging locations",
    "read_charge_records": "access to charge records",
    "control_charge": "charge control",
}


class FeatureUnavailable(ApplicationError):
    """The vehicle's make lacks the endpoint, or its owner did not grant the permission it needs."""


NOTHING_TO_CHARGE = "This vehicle reports a fuel level and no battery: it has no charging controls."


def runs_on_fuel_only(vehicle) -> bool:
    status = VehicleStatus.objects.filter(vehicle=vehicle).first()
    return bool(status and status.runs_on_fuel_only)


def missing_reason(vehicle, key: str, *, fuel_only: bool | None = None) -> str | None:
    """Why the vehicle cannot use the feature, in plain words; None when it can.

    ``fuel_only`` is what ``runs_on_fuel_only`` says, when the caller knows it already.
    """
    if runs_on_fuel_only(vehicle) if fuel_only is None else fuel_only:
        return NOTHING_TO_CHARGE
    feature = FEATURES[key]
    make = (vehicle.make or "").upper()
    if feature.makes is not None and make not in feature.makes:
        makes = " and ".join(sorted(make_label(m) for m in feature.makes))
        return (
            f"{feature.label} is available for {makes} only; this is a {make_label(make) or 'vehicle of unknown make'}."
        )
    transport = transports.current()
    if key in transport.charging_lacks:
        return f"{feature.label} is not offered by {transport.label}, which Fleet uses."
    granted = set(vehicle.permissions or [])
    missing = [PERMISSION_WORDS[permission] for permission in feature.permissions if permission not in granted]
    if missing:
        return (
            f"The owner did not grant {' and '.join(missing)}, which {feature.label.lower()} needs. "
            "Reconnect the vehicle and grant it."
        )
    if not vehicle.is_connected:
        return "The vehicle is disconnected."
    return None


def require(vehicle, key: str) -> None:
    reason = missing_reason(vehicle, key)
    if reason:
        raise FeatureUnavailable(reason)


def available(vehicle) -> dict[str, bool]:
    fuel_only = runs_on_fuel_only(vehicle)
    return {key: missing_reason(vehicle, key, fuel_only=fuel_only) is None for key in FEATURES}


def schedule_feature(vehicle) -> str | None:
    """The schedule form that fits the vehicle's make, if any."""
    make = (vehicle.make or "").upper()
    if make in FORD_MAKES:
        return "ford_schedule"
    if make == "NISSAN":
        return "nissan_schedule"
    if make == "TESLA":
        return "tesla_schedule"
    return None
