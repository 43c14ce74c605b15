"""Drivers and who had which vehicle when, named places, and the trips derived from the synced history."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

# Coordinates a GPS can give; a radius beyond this is not a place but a region.
MAX_RADIUS_M = 50_000


class Driver(models.Model):
    """Someone who drives the fleet's vehicles: a member of the fleet, or a named driver without a login."""

    fleet = models.ForeignKey("fleet.Fleet", on_delete=models.CASCADE, related_name="drivers")
    name = models.CharField(max_length=120)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="driver_profiles",
        help_text="The member who is this driver, when they sign in to Fleet",
    )
    email = models.EmailField(blank=True)
    home = models.ForeignKey(
        "trips.Place", null=True, blank=True, on_delete=models.SET_NULL, related_name="home_of", help_text="Home place"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["fleet", "name"], name="driver_unique_fleet_name"),
        ]

    def __str__(self):
        return self.name


class Assignment(models.Model):
    """A driver had a vehicle from ``starts_at`` until ``ends_at`` (open: still has it). Never overlapping for one
    vehicle (trips/drivers.py refuses); kept after it ends, so that pages and exports show who had it when."""

    driver = models.ForeignKey(Driver, on_delete=models.CASCADE, related_name="assignments")
    vehicle = models.ForeignKey("vehicles.Vehicle", on_delete=models.CASCADE, related_name="driver_assignments")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-starts_at"]
        # The overlap check and "who had it at t" read one vehicle's assignments by start.
        indexes = [models.Index(fields=["vehicle", "starts_at"], name="assignment_vehicle_start")]

    def __str__(self):
        return f"{self.driver} · {self.vehicle_id} from {self.starts_at:%Y-%m-%d %H:%M}"

    def covers(self, moment) -> bool:
        return self.starts_at <= moment and (self.ends_at is None or moment < self.ends_at)

    @property
    def is_current(self) -> bool:
        return self.covers(timezone.now())


class PlaceKind(models.TextChoices):
    DEPOT = "depot", "Depot"
    HOME = "home", "A driver's home"
    OTHER = "other", "Other place"


class Place(models.Model):
    """A circle on the map: a depot, a driver's home or another named place."""

    fleet = models.ForeignKey("fleet.Fleet", on_delete=models.CASCADE, related_name="places")
    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=8, choices=PlaceKind.choices, default=PlaceKind.OTHER)
    latitude = models.FloatField()
    longitude = models.FloatField()
    radius_m = models.PositiveIntegerField(default=150, help_text="Metres around the centre")
    # Bands when the place is open, in the fleet's time zone: [{"weekdays": [0, …], "start": 7, "end": 19}, …]
    # (trips/hours.py); empty: no hours, nobody is told of leaving it at any time.
    opening_hours = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["fleet", "name"], name="place_unique_fleet_name"),
            models.CheckConstraint(
                condition=models.Q(latitude__gte=-90, latitude__lte=90, longitude__gte=-180, longitude__lte=180),
                name="place_coordinates_on_earth",
            ),
            models.CheckConstraint(
                condition=models.Q(radius_m__gt=0, radius_m__lte=MAX_RADIUS_M), name="place_radius_sensible"
            ),
        ]

    def __str__(self):
        return self.name

    def clean(self):
        errors = {}
        if self.latitude is not None and not -90 <= self.latitude <= 90:
            errors["latitude"] = "A latitude lies between -90 and 90 degrees."
        if self.longitude is not None and not -180 <= self.longitude <= 180:
            errors["longitude"] = "A longitude lies between -180 and 180 degrees."
        if self.radius_m is not None and not 0 < self.radius_m <= MAX_RADIUS_M:
            errors["radius_m"] = f"Give a radius of more than 0 and at most {MAX_RADIUS_M:,} metres."
        if errors:
            raise ValidationError(errors)


class TripKind(models.TextChoices):
    TRIP = "trip", "Trip"
    UNKNOWN = "unknown", "Unknown movement"


class Purpose(models.TextChoices):
    BUSINESS = "business", "Business"
    PRIVATE = "private", "Private"


class Trip(models.Model):
    """A drive seen in the synced history, or an unknown movement: the odometer or the position changed between two
    readings too far apart to tell how many drives there were, or when (trips/derive.py).

    Times are those of readings: the vehicle left after ``start_after`` (the last time it was seen still) and was
    moving by ``started_at``; it arrived after ``end_after`` and was still at its last position by ``ended_at``.
    ``distance_km`` is the odometer's difference, or None without odometer readings — never a guess from positions.
    """

    vehicle = models.ForeignKey("vehicles.Vehicle", on_delete=models.CASCADE, related_name="trips")
    driver = models.ForeignKey(Driver, null=True, blank=True, on_delete=models.SET_NULL, related_name="trips")
    kind = models.CharField(max_length=8, choices=TripKind.choices, default=TripKind.TRIP)
    ongoing = models.BooleanField(default=False)
    start_after = models.DateTimeField()
    started_at = models.DateTimeField()
    end_after = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    start_latitude = models.FloatField(null=True, blank=True)
    start_longitude = models.FloatField(null=True, blank=True)
    end_latitude = models.FloatField(null=True, blank=True)
    end_longitude = models.FloatField(null=True, blank=True)
    start_place = models.ForeignKey(Place, null=True, blank=True, on_delete=models.SET_NULL, related_name="departures")
    end_place = models.ForeignKey(Place, null=True, blank=True, on_delete=models.SET_NULL, related_name="arrivals")
    start_odometer_km = models.FloatField(null=True, blank=True)
    end_odometer_km = models.FloatField(null=True, blank=True)
    distance_km = models.FloatField(null=True, blank=True)
    start_battery_percent = models.FloatField(null=True, blank=True)
    end_battery_percent = models.FloatField(null=True, blank=True)
    energy_kwh = models.FloatField(null=True, blank=True, help_text="Battery used × nominal capacity, when known")
    start_fuel_percent = models.FloatField(null=True, blank=True)
    end_fuel_percent = models.FloatField(null=True, blank=True)
    readings = models.PositiveIntegerField(default=0, help_text="Readings taken while moving")
    purpose = models.CharField(max_length=8, choices=Purpose.choices, blank=True)
    purpose_note = models.CharField(max_length=200, blank=True)
    tagged_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    tagged_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at"]
        # The logbook and the trips page read one vehicle's trips by time.
        indexes = [models.Index(fields=["vehicle", "started_at"], name="trip_vehicle_start")]

    def __str__(self):
        return f"{self.get_kind_display()} of {self.vehicle_id} at {self.started_at:%Y-%m-%d %H:%M}"

    @property
    def duration(self):
        return self.ended_at - self.started_at if self.ended_at else None

    @property
    def start_uncertainty(self):
        return self.started_at - self.start_after

    @property
    def end_uncertainty(self):
        return self.ended_at - self.end_after if self.ended_at and self.end_after else None

    @property
    def battery_used_percent(self):
        if self.start_battery_percent is None or self.end_battery_percent is None:
            return None
        return self.start_battery_percent - self.end_battery_percent

    @property
    def fuel_used_percent(self):
        if self.start_fuel_percent is None or self.end_fuel_percent is None:
            return None
        return self.start_fuel_percent - self.end_fuel_percent


class TripProgress(models.Model):
    """How far a vehicle's history has been turned into trips, and the state of its last reading, so that each
    derivation reads only the rows that arrived since (trips/derive.py)."""

    vehicle = models.OneToOneField("vehicles.Vehicle", on_delete=models.CASCADE, primary_key=True, related_name="+")
    derived_until = models.DateTimeField(null=True, blank=True, help_text="Readings up to here are in trips")
    state = models.JSONField(default=dict, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return f"trips of {self.vehicle_id} until {self.derived_until}"


class OffHoursDeparture(models.Model):
    """A vehicle left a place while the place was closed (trips/hours.py): one per departure, away until a trip of
    the vehicle ends at the place again. The alert "Left a place outside its hours" holds while one is away."""

    vehicle = models.ForeignKey("vehicles.Vehicle", on_delete=models.CASCADE, related_name="off_hours_departures")
    place = models.ForeignKey(Place, on_delete=models.CASCADE, related_name="+")
    trip = models.OneToOneField(Trip, on_delete=models.CASCADE, related_name="+")
    left_after = models.DateTimeField(help_text="The vehicle was last seen still there")
    left_at = models.DateTimeField(help_text="The vehicle was seen moving")
    returned_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-left_at"]
        # The alert's condition and the return check read the departures still away, of some vehicles.
        indexes = [
            models.Index(
                fields=["vehicle"], condition=models.Q(returned_at__isnull=True), name="off_hours_departure_away"
            )
        ]

    def __str__(self):
        return f"{self.vehicle_id} left {self.place_id} at {self.left_at:%Y-%m-%d %H:%M}"


class TariffKind(models.TextChoices):
    FLAT = "flat", "One price per kWh"
    TIME_OF_USE = "tou", "Prices by weekday and hour"


class Tariff(models.Model):
    """What a kWh costs at a place, or (place empty) the fleet's default public tariff for charges elsewhere.

    Time-of-use tariffs price each hour of the week through their bands, every hour exactly once (trips/tariffs.py).
    """

    fleet = models.ForeignKey("fleet.Fleet", on_delete=models.CASCADE, related_name="tariffs")
    place = models.OneToOneField(Place, null=True, blank=True, on_delete=models.CASCADE, related_name="tariff")
    currency = models.CharField(max_length=3, help_text="ISO 4217, e.g. EUR")
    kind = models.CharField(max_length=4, choices=TariffKind.choices, default=TariffKind.FLAT)
    price_per_kwh = models.DecimalField(max_digits=8, decimal_places=4, null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            # One default public tariff per fleet.
            models.UniqueConstraint(
                fields=["fleet"], condition=models.Q(place__isnull=True), name="tariff_one_default_per_fleet"
            ),
        ]

    def __str__(self):
        return f"{self.place or 'Default public tariff'} ({self.currency})"


class TariffBand(models.Model):
    """A price for some hours of some weekdays: ``weekdays`` 0 (Monday) … 6, hours from ``start_hour`` up to
    ``end_hour`` (24 for midnight); a band over midnight is two bands."""

    tariff = models.ForeignKey(Tariff, on_delete=models.CASCADE, related_name="bands")
    weekdays = models.JSONField(default=list)
    start_hour = models.PositiveSmallIntegerField()
    end_hour = models.PositiveSmallIntegerField()
    price_per_kwh = models.DecimalField(max_digits=8, decimal_places=4)

    class Meta:
        ordering = ["pk"]

    def __str__(self):
        return f"{self.weekdays} {self.start_hour}–{self.end_hour}: {self.price_per_kwh}"


class CostBasis(models.TextChoices):
    RECORD = "record", "The car maker's billing record"
    PLACE = "place", "The place's tariff"
    DEFAULT = "default", "The default public tariff"


class SessionCost(models.Model):
    """What a charging session cost, and on what basis; recomputed when the session or the tariffs change."""

    session = models.OneToOneField("charging.ChargingSession", on_delete=models.CASCADE, related_name="cost")
    place = models.ForeignKey(Place, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    driver = models.ForeignKey(Driver, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    basis = models.CharField(max_length=8, choices=CostBasis.choices, blank=True)
    amount = models.DecimalField(max_digits=10, decimal_places=2, null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True)
    missing = models.CharField(max_length=120, blank=True, help_text="Why there is no amount")
    computed_at = models.DateTimeField()

    def __str__(self):
        return f"{self.amount} {self.currency} for session {self.session_id}"


class Statement(models.Model):
    """A driver's home charging for a month, issued: its lines are copies, so later changes to sessions, tariffs or
    places do not alter it (trips/statements.py compares and says when the data moved on)."""

    fleet = models.ForeignKey("fleet.Fleet", on_delete=models.CASCADE, related_name="statements")
    driver = models.ForeignKey(Driver, null=True, on_delete=models.SET_NULL, related_name="statements")
    month = models.DateField(help_text="First day of the month")
    driver_name = models.CharField(max_length=120)
    home_name = models.CharField(max_length=120)
    home_latitude = models.FloatField()
    home_longitude = models.FloatField()
    home_radius_m = models.PositiveIntegerField()
    tariff_text = models.CharField(max_length=500)
    currency = models.CharField(max_length=3)
    energy_kwh = models.FloatField()
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    issued_at = models.DateTimeField()
    issued_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["-month"]
        constraints = [models.UniqueConstraint(fields=["driver", "month"], name="statement_one_per_driver_month")]

    def __str__(self):
        return f"{self.driver_name} {self.month:%Y-%m}"


class StatementLine(models.Model):
    statement = models.ForeignKey(Statement, on_delete=models.CASCADE, related_name="lines")
    session_id_at_issue = models.PositiveBigIntegerField(help_text="The charging session it was copied from")
    vehicle_name = models.CharField(max_length=120)
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField()
    energy_kwh = models.FloatField()
    amount = models.DecimalField(max_digits=10, decimal_places=2)

    class Meta:
        ordering = ["started_at"]

    def __str__(self):
        return f"{self.vehicle_name} {self.started_at:%Y-%m-%d %H:%M}: {self.energy_kwh} kWh"
