from typing import TYPE_CHECKING

from django.conf import settings
from django.db import models
from django.db.models import F, Q, Value
from django.db.models.functions import Coalesce, Concat, Lower, NullIf
from django.urls import reverse

from vehicles.readings import HISTORY_FIELDS

HISTORY_FIELD_NAMES = {number: name for name, number in HISTORY_FIELDS.items()}

# Makes that their brand does not write in title case (makes.md lists every make in upper case with underscores).
_MAKE_LABELS = {
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


def make_label(make: str) -> str:
    """A make as its brand writes it: TESLA → Tesla, LAND_ROVER → Land Rover, MERCEDES_BENZ → Mercedes-Benz.

    The one source of make names for pages, messages and exports; the API's value (``Vehicle.make``) stays for
    lookups and filters.
    """
    make = (make or "").upper()
    return _MAKE_LABELS.get(make, make.replace("_", " ").title())


def name_sort_key():
    """What the fleet table sorts names by: the nickname, else "make model", case-insensitively. The index below is
    built on this very expression, so PostgreSQL reads a page of the table in name order from it."""
    return Lower(Coalesce(NullIf("nickname", Value("")), Concat("make", Value(" "), "model")))


class Vehicle(models.Model):
    """A connected vehicle of a fleet, identified by its Smartcar vehicle id."""

    fleet = models.ForeignKey("fleet.Fleet", on_delete=models.CASCADE, related_name="vehicles")
    account = models.ForeignKey(
        "connect.SmartcarAccount", null=True, blank=True, on_delete=models.SET_NULL, related_name="vehicles"
    )
    # Unique across fleets: a vehicle already connected to one fleet is refused to another.
    smartcar_id = models.CharField(max_length=64, unique=True)
    make = models.CharField(max_length=40, help_text="As the API reports it, e.g. TESLA")
    model = models.CharField(max_length=80)
    year = models.PositiveSmallIntegerField(null=True, blank=True)
    vin = models.CharField(max_length=17, blank=True)
    nickname = models.CharField(max_length=80, blank=True)
    permissions = models.JSONField(default=list, blank=True, help_text="Permissions granted for this vehicle")
    connected_at = models.DateTimeField(auto_now_add=True)
    disconnected_at = models.DateTimeField(null=True, blank=True)
    # Webhooks first, polling as the backstop: set when the vehicle is subscribed to our webhook; the sync engine
    # then polls it less often (see SYNC_WEBHOOK_INTERVAL_FACTOR).
    webhook_subscribed = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["make", "model", "vin"]
        indexes = [
            models.Index(fields=["fleet", "make"], name="vehicle_fleet_make"),  # fleet table filters
            # The fleet table's default order (and its count): one page of 50,000 vehicles without a sort of all.
            models.Index(
                F("fleet"), name_sort_key(), F("id"), name="vehicle_fleet_name", condition=Q(disconnected_at=None)
            ),
            # The fleet table sorted by make (make, model, year, id): its pages too without a sort of all.
            models.Index(
                fields=["fleet", "make", "model", "year", "id"],
                name="vehicle_fleet_make_model",
                condition=Q(disconnected_at=None),
            ),
        ]

    def __str__(self):
        return self.display_name

    def get_absolute_url(self):
        return reverse("vehicle_detail", args=[self.fleet.slug, self.pk])

    @property
    def display_name(self) -> str:
        if self.nickname:
            return self.nickname
        return " ".join(str(part) for part in (self.year, make_label(self.make), self.model) if part)

    @property
    def make_slug(self) -> str:
        """The make as make-specific endpoints need it: lower case (upper case is a PERMISSION error)."""
        return self.make.lower()

    @property
    def is_connected(self) -> bool:
        return self.disconnected_at is None


class VehicleGroup(models.Model):
    """A fleet's named set of vehicles ("Vans", "Depot North"), for settings that fit some vehicles and not others
    (alert thresholds, alerts/) and for the fleet table's filter. A vehicle may be in several groups or none."""

    fleet = models.ForeignKey("fleet.Fleet", on_delete=models.CASCADE, related_name="vehicle_groups")
    name = models.CharField(max_length=80)
    vehicles = models.ManyToManyField(Vehicle, blank=True, related_name="groups")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = [Lower("name").asc(), "pk"]
        constraints = [models.UniqueConstraint("fleet", Lower("name"), name="vehicle_group_name_once")]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("vehicle_group", args=[self.fleet.slug, self.pk])


# --- Sync: what the background sync engine keeps per vehicle ---------------------------------------------------------
# Written by vehicles/sync/ (the engine), read by the dashboard. Values are canonical metric (the client always asks
# for metric): km, kPa, °C, litres, km/h; fractions from the API (0.3) are stored as percentages (30.0).


class Activity(models.TextChoices):
    """What the vehicle was doing at its last sync — drives the polling cadence."""

    UNKNOWN = "unknown", "Unknown"
    DRIVING = "driving", "Driving"
    CHARGING = "charging", "Charging"
    PARKED = "parked", "Parked"
    ASLEEP = "asleep", "Asleep or unreachable"


class SyncState(models.TextChoices):
    """How the last sync round of a vehicle ended (vehicles/conditions.py puts each in a manager's words)."""

    NEVER = "never", "Not synced yet"
    OK = "ok", "Last sync succeeded"
    BACKING_OFF = "backing_off", "Asleep or out of reach"  # the vehicle said so: Fleet waits rather than wake it
    RATE_LIMITED = "rate_limited", "Rate limited"  # 429: no request before its Retry-After
    UNREACHABLE = "unreachable", "Smartcar unreachable"  # no answer at all: connection failed or timed out
    RETRYING = "retrying", "Retrying after errors"  # Smartcar or the car maker answered with an error
    NEEDS_RECONNECT = "needs_reconnect", "Needs reconnect"  # the account's grant or this vehicle's access is gone
    PAUSED = "paused", "Polling paused for the fleet"


class DueReason(models.TextChoices):
    """What decided when a vehicle, or one of its endpoints, is next read (vehicles/sync/schedule.py)."""

    ACTIVITY = "activity", "The usual pace for what the vehicle is doing"
    RETRY = "retry", "A retry after an error, later after each one"
    PARKED = "parked", "Not served by this vehicle: asked again in days"
    BUDGET = "budget", "The fleet's monthly call budget"
    BRAND_LIMIT = "brand_limit", "The car maker's calls a day"
    BACK_OFF = "back_off", "Asleep or out of reach: a wait, longer after each answer"
    RATE_LIMIT = "rate_limit", "Smartcar's rate limit"
    SKIPPED = "skipped", "Not asked: fleet paused, reconnect needed or no access token"


class VehicleSync(models.Model):
    """The scheduling row of one vehicle: when it is next due and who holds it right now.

    Kept apart from Vehicle so that the dispatcher's frequent conditional UPDATEs touch a narrow row and never race
    with edits of the vehicle itself (nickname, permissions).
    """

    vehicle = models.OneToOneField(Vehicle, on_delete=models.CASCADE, primary_key=True, related_name="sync")
    # The earliest due time over the vehicle's endpoints (denormalised so the dispatcher reads one indexed column).
    next_sync_at = models.DateTimeField(null=True, blank=True)
    # No polling before this instant: asleep/unreachable back-off, 429 Retry-After.
    backoff_until = models.DateTimeField(null=True, blank=True)
    backoff_failures = models.PositiveSmallIntegerField(default=0, help_text="Consecutive back-offs (for the cap)")
    # A lease with expiry: a crashed worker's vehicle becomes due again once lease_until passes.
    lease_until = models.DateTimeField(null=True, blank=True)
    lease_token = models.CharField(max_length=32, blank=True)
    # Set by "Sync now" and webhook events: paths to fetch on the next round whatever their cadence.
    requested_at = models.DateTimeField(null=True, blank=True)
    # Pro-rata budget guard: billed calls spent by this vehicle in the current calendar month.
    month = models.DateField(null=True, blank=True, help_text="First day of the month billed_calls_month counts")
    billed_calls_month = models.PositiveIntegerField(default=0)
    # Brand limit guard (settings.SYNC_MAKE_DAILY_CALLS): billed calls of this vehicle on one day (UTC).
    day = models.DateField(null=True, blank=True, help_text="The day (UTC) billed_calls_day counts")
    billed_calls_day = models.PositiveIntegerField(default=0)
    next_sync_reason = models.CharField(max_length=12, choices=DueReason.choices, blank=True)

    class Meta:
        # The dispatcher's query: vehicles whose next_sync_at has passed and whose lease has expired.
        indexes = [models.Index(fields=["next_sync_at"], name="vehiclesync_next_sync_at")]

    def __str__(self):
        return f"sync of {self.vehicle_id}"


class VehicleStatus(models.Model):
    """The latest known value of everything the dashboard shows, typed, one row per vehicle."""

    vehicle = models.OneToOneField(Vehicle, on_delete=models.CASCADE, primary_key=True, related_name="status")
    # Battery and charge (Reference: smartcar-api/evs__get-battery-level.md, evs__get-charge-status.md)
    battery_percent = models.FloatField(null=True, blank=True)
    range_km = models.FloatField(null=True, blank=True)
    charging_state = models.CharField(max_length=20, blank=True, help_text="CHARGING, FULLY_CHARGED or NOT_CHARGING")
    is_plugged_in = models.BooleanField(null=True, blank=True)
    charge_limit_percent = models.FloatField(null=True, blank=True)
    charge_power_kw = models.FloatField(null=True, blank=True)
    # Fuel (Reference: smartcar-api/get-fuel-tank.md)
    fuel_percent = models.FloatField(null=True, blank=True)
    fuel_amount_liters = models.FloatField(null=True, blank=True)
    fuel_range_km = models.FloatField(null=True, blank=True)
    # Security (Reference: smartcar-api/get-lock-status.md): open items as lists of their "type" names.
    is_locked = models.BooleanField(null=True, blank=True)
    doors_open = models.JSONField(default=list, blank=True)
    windows_open = models.JSONField(default=list, blank=True)
    sunroof_open = models.JSONField(default=list, blank=True)
    storage_open = models.JSONField(default=list, blank=True)
    charging_port_open = models.JSONField(default=list, blank=True)
    # Position and motion
    latitude = models.FloatField(null=True, blank=True)
    longitude = models.FloatField(null=True, blank=True)
    odometer_km = models.FloatField(null=True, blank=True)
    speed_kph = models.FloatField(null=True, blank=True)
    heading_degrees = models.FloatField(null=True, blank=True)
    # Maintenance
    oil_life_percent = models.FloatField(null=True, blank=True)
    tire_pressure_front_left_kpa = models.FloatField(null=True, blank=True)
    tire_pressure_front_right_kpa = models.FloatField(null=True, blank=True)
    tire_pressure_back_left_kpa = models.FloatField(null=True, blank=True)
    tire_pressure_back_right_kpa = models.FloatField(null=True, blank=True)
    # Climate (Tesla thermometers)
    exterior_temperature_c = models.FloatField(null=True, blank=True)
    interior_temperature_c = models.FloatField(null=True, blank=True)
    # Diagnostics: counts; details in DiagnosticTroubleCode / SystemStatus / the Tesla alerts reading.
    active_dtc_count = models.PositiveIntegerField(null=True, blank=True)
    system_alert_count = models.PositiveIntegerField(null=True, blank=True)
    # What the vehicle is doing, as far as the last readings tell.
    activity = models.CharField(max_length=10, choices=Activity.choices, default=Activity.UNKNOWN)
    # Freshness and sync outcome
    data_age = models.DateTimeField(null=True, blank=True, help_text="When the vehicle recorded its newest reading")
    last_sync_at = models.DateTimeField(null=True, blank=True, help_text="End of the last sync round")
    last_success_at = models.DateTimeField(null=True, blank=True)
    sync_state = models.CharField(max_length=16, choices=SyncState.choices, default=SyncState.NEVER)
    last_error = models.CharField(max_length=500, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "vehicle statuses"

    def __str__(self):
        return f"status of {self.vehicle_id}"

    @property
    def runs_on_fuel_only(self) -> bool:
        """Petrol or diesel: a fuel reading and no battery reading (a plug-in hybrid reports both, an EV no fuel)."""
        has_fuel = any(v is not None for v in (self.fuel_percent, self.fuel_range_km, self.fuel_amount_liters))
        return has_fuel and self.battery_percent is None and not self.charging_state

    @property
    def charging_summary(self) -> str:
        """The fleet table's Charging column, in its words (the CSV too): Charging, Full, Plugged in, or ""."""
        if self.charging_state == "CHARGING":
            return "Charging"
        if self.charging_state == "FULLY_CHARGED":
            return "Full"
        return "Plugged in" if self.is_plugged_in else ""

    @property
    def charging_state_label(self) -> str:
        """The API's charging state in words: FULLY_CHARGED → "Fully charged"."""
        return self.charging_state.replace("_", " ").capitalize()


class EndpointState(models.Model):
    """One endpoint of one vehicle: its cadence, its latest raw reading (make-specific ones included) and errors."""

    vehicle = models.ForeignKey(Vehicle, on_delete=models.CASCADE, related_name="endpoint_states")
    path = models.CharField(max_length=80, help_text="Relative to /vehicles/{id}, e.g. /battery or /tesla/charge")
    next_sync_at = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    # The latest successful reading as the API gave it.
    body = models.JSONField(null=True, blank=True)
    data_age = models.DateTimeField(null=True, blank=True)
    fetched_at = models.DateTimeField(null=True, blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    # A 501 COMPATIBILITY parks the endpoint for days (the OEM may add support), never for ever.
    parked_until = models.DateTimeField(null=True, blank=True)
    # A 403 PERMISSION drops the endpoint until the vehicle's permissions change: the permissions seen then.
    denied_with_permissions = models.JSONField(null=True, blank=True)
    failures = models.PositiveSmallIntegerField(default=0, help_text="Consecutive failures (for jittered retry)")
    last_error = models.CharField(max_length=300, blank=True)
    # A make-specific path the batch endpoint refused: read with a call of its own beside the vehicle's batch.
    read_directly = models.BooleanField(default=False)
    # What decided next_sync_at; the vehicle's own reason (VehicleSync.next_sync_reason) may hold it back further.
    due_reason = models.CharField(max_length=12, choices=DueReason.choices, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["vehicle", "path"], name="endpointstate_unique_vehicle_path")]
        ordering = ["vehicle", "path"]

    def __str__(self):
        return f"{self.vehicle_id} {self.path}"


class UnparsedReading(models.Model):
    """A reading Fleet could not turn into a typed value (an unknown signal code, a body of an unexpected shape, a
    missing or unknown unit, a webhook of an unknown payload version), kept as it came.

    One row per vehicle, code and reason: the first occurrence is logged (vehicles/unparsed.py), later ones only
    counted, so a car that keeps sending the same oddity fills neither the log nor the table.
    """

    vehicle = models.ForeignKey(Vehicle, null=True, blank=True, on_delete=models.CASCADE, related_name="unparsed")
    source = models.CharField(max_length=40, help_text="Where it came from: signals, webhook…")
    code = models.CharField(max_length=80, help_text="The signal code or payload version, as it came")
    reason = models.CharField(max_length=200)
    body = models.JSONField(null=True, blank=True)
    first_seen_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()
    count = models.PositiveIntegerField(default=1)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["vehicle", "source", "code", "reason"], name="unparsed_unique_kind")
        ]
        ordering = ["-last_seen_at"]

    def __str__(self):
        return f"{self.source} {self.code}: {self.reason}"


if TYPE_CHECKING:  # django-stubs: a name (or its number) is set, a name is read
    _SmallNumberNamed = models.PositiveSmallIntegerField[str | int, str]
else:
    _SmallNumberNamed = models.PositiveSmallIntegerField


class HistoryFieldName(_SmallNumberNamed):
    """A VehicleStatus field name in Python, its number from readings.HISTORY_FIELDS in the database."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("help_text", "A VehicleStatus field name, e.g. battery_percent")
        super().__init__(*args, **kwargs)

    def deconstruct(self):
        name, _, args, kwargs = super().deconstruct()
        return name, "vehicles.models.HistoryFieldName", args, kwargs

    def get_prep_value(self, value):
        if value is None or isinstance(value, int):
            return value
        return HISTORY_FIELDS[value]

    def from_db_value(self, value, expression, connection):
        return None if value is None else HISTORY_FIELD_NAMES.get(value, str(value))

    def to_python(self, value):
        if isinstance(value, int):
            return HISTORY_FIELD_NAMES.get(value, str(value))
        return value


class StatusHistory(models.Model):
    """A value of one status field, written only when it changed.

    The primary key (vehicle, field, recorded_at) makes a re-delivered or replayed reading harmless: recorded_at is
    the vehicle's data age (or the fetch time when the API gives none), the same on every delivery of the same
    reading. It is also the index of every read: one field of one vehicle in time order (the charts, the "last value"
    lookups), and on PostgreSQL it carries ``number`` so that a chart reads the index alone.

    On PostgreSQL the table is partitioned by month of recorded_at (vehicles/partitions.py): retention drops whole
    months, and long ranges read the rollups below instead (vehicles/history.py). A row holds nothing it does not
    need: no surrogate id, the field as a small number, no fetch time.
    """

    pk = models.CompositePrimaryKey("vehicle", "field", "recorded_at")
    # No index of its own: the primary key starts with it. No foreign key in the database: its check of every row at
    # commit was about a third of the sync's insert cost (docs/benchmarks.md, "History at 10,000 vehicles × 1 year").
    # Deleting a vehicle deletes its history all the same (Django's cascade, one DELETE). A reading stored by a sync
    # round that commits while the vehicle is being deleted may outlive it: no page shows it (every read goes through
    # a vehicle; the hourly rollup reads rows of existing vehicles only) and retention drops it with its month.
    vehicle = models.ForeignKey(
        Vehicle, on_delete=models.CASCADE, related_name="history", db_index=False, db_constraint=False
    )
    field = HistoryFieldName()
    recorded_at = models.DateTimeField(help_text="Vehicle data age, or fetch time when the API gives none")
    number = models.FloatField(null=True, blank=True)
    text = models.CharField(max_length=40, blank=True, help_text="Words and booleans (true/false)")

    class Meta:
        verbose_name_plural = "status history"

    def __str__(self):
        return f"{self.vehicle_id} {self.field}={self.number if self.number is not None else self.text}"


class HistoryHourly(models.Model):
    """Min, max and mean of one numeric field of one vehicle over one hour (UTC) of history.

    Written by vehicles/history.py for every hour that has rows; read by charts over more than a few days. The mean
    is over the rows of the hour (changes), not weighted by time.
    """

    pk = models.CompositePrimaryKey("vehicle", "field", "hour")
    vehicle = models.ForeignKey(Vehicle, on_delete=models.CASCADE, related_name="+", db_index=False)
    field = HistoryFieldName()
    hour = models.DateTimeField(help_text="Start of the hour")
    samples = models.PositiveIntegerField()
    min = models.FloatField()
    max = models.FloatField()
    mean = models.FloatField()

    class Meta:
        verbose_name_plural = "hourly history"

    def __str__(self):
        return f"{self.vehicle_id} {self.field} {self.hour:%Y-%m-%d %H}h"


class HistoryDaily(models.Model):
    """Min, max and mean of one numeric field of one vehicle over one day of its fleet's time zone."""

    pk = models.CompositePrimaryKey("vehicle", "field", "day")
    vehicle = models.ForeignKey(Vehicle, on_delete=models.CASCADE, related_name="+", db_index=False)
    field = HistoryFieldName()
    day = models.DateField(help_text="In the fleet's time zone")
    samples = models.PositiveIntegerField()
    min = models.FloatField()
    max = models.FloatField()
    mean = models.FloatField()

    class Meta:
        verbose_name_plural = "daily history"

    def __str__(self):
        return f"{self.vehicle_id} {self.field} {self.day}"


class FleetHistoryDaily(models.Model):
    """One numeric field over one day across a fleet's vehicles: what fleet reports over months read.

    ``spread`` sums each vehicle's max − min of the day: for the odometer, the distance the fleet drove.
    """

    pk = models.CompositePrimaryKey("fleet", "field", "day")
    fleet = models.ForeignKey("fleet.Fleet", on_delete=models.CASCADE, related_name="+", db_index=False)
    field = HistoryFieldName()
    day = models.DateField(help_text="In the fleet's time zone")
    vehicles = models.PositiveIntegerField(help_text="Vehicles with a reading that day")
    min = models.FloatField()
    max = models.FloatField()
    mean = models.FloatField(help_text="Mean of the vehicles' daily means")
    spread = models.FloatField(help_text="Sum over vehicles of the day's max − min")

    class Meta:
        verbose_name_plural = "fleet daily history"

    def __str__(self):
        return f"{self.fleet_id} {self.field} {self.day}"


class HistoryRollupProgress(models.Model):
    """How far each rollup has been computed: its next run starts there (or a little before, for late rows)."""

    name = models.CharField(max_length=20, primary_key=True)
    done_until = models.DateTimeField()

    def __str__(self):
        return f"{self.name} until {self.done_until}"


class DiagnosticTroubleCode(models.Model):
    """A DTC as reported by /diagnostics/dtcs: seen first and last, cleared when it no longer appears."""

    vehicle = models.ForeignKey(Vehicle, on_delete=models.CASCADE, related_name="dtcs")
    code = models.CharField(max_length=16)
    reported_at = models.DateTimeField(null=True, blank=True, help_text="The vehicle's own timestamp, if given")
    first_seen_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()
    cleared_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            # One open occurrence per code; a code that comes back after being cleared is a new row.
            models.UniqueConstraint(
                fields=["vehicle", "code"], condition=models.Q(cleared_at=None), name="dtc_unique_open_code"
            )
        ]
        ordering = ["-last_seen_at"]
        verbose_name = "diagnostic trouble code"

    def __str__(self):
        return f"{self.code} on {self.vehicle_id}"

    @property
    def is_active(self) -> bool:
        return self.cleared_at is None


class SystemStatus(models.Model):
    """The latest status of one vehicle system (/diagnostics/system_status), with when it last changed."""

    vehicle = models.ForeignKey(Vehicle, on_delete=models.CASCADE, related_name="system_statuses")
    system_id = models.CharField(max_length=60)
    status = models.CharField(max_length=20, help_text="OK or ALERT")
    description = models.CharField(max_length=300, blank=True)
    changed_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["vehicle", "system_id"], name="systemstatus_unique")]
        ordering = ["vehicle", "system_id"]
        verbose_name_plural = "system statuses"

    def __str__(self):
        return f"{self.system_id}={self.status} on {self.vehicle_id}"


class FleetSync(models.Model):
    """A fleet's sync settings and fleet-wide sync state (billing pause and its alert)."""

    fleet = models.OneToOneField("fleet.Fleet", on_delete=models.CASCADE, primary_key=True, related_name="sync")
    use_batch = models.BooleanField(
        default=True, help_text="Batch is a paid-plan feature; off: each due path is its own call, in flight at once"
    )
    monthly_call_budget_per_vehicle = models.PositiveIntegerField(
        null=True, blank=True, help_text="Billed calls per vehicle per month; empty: unlimited"
    )
    # 430 BILLING pauses polling of the whole fleet until an owner resumes it (or the pause ends).
    paused_until = models.DateTimeField(null=True, blank=True)
    alert = models.CharField(max_length=500, blank=True, help_text="Shown to the fleet's owners and in admin")

    class Meta:
        verbose_name = "fleet sync settings"
        verbose_name_plural = "fleet sync settings"

    def __str__(self):
        return f"sync of {self.fleet}"


class SyncCounter(models.Model):
    """Requests sent and calls billed (each path of a batch counts) per fleet per day."""

    fleet = models.ForeignKey("fleet.Fleet", on_delete=models.CASCADE, related_name="sync_counters")
    day = models.DateField()
    requests = models.PositiveIntegerField(default=0)
    billed_calls = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["fleet", "day"], name="synccounter_unique_fleet_day")]
        ordering = ["-day"]

    def __str__(self):
        return f"{self.fleet_id} {self.day}: {self.requests} requests, {self.billed_calls} billed"


# --- Dashboard: remote commands and acknowledgements (vehicles/commands.py, dashboard/diagnostics.py) ----------------


class CommandStatus(models.TextChoices):
    """A command's state machine (vehicles/commands.py): pending → sending → done / failed / outcome unknown."""

    PENDING = "pending", "Queued"
    SENDING = "sending", "Sending to the vehicle"
    DONE = "done", "Done"
    ERROR = "error", "Failed"
    UNKNOWN = "unknown", "Outcome unknown"


class CommandReadback(models.TextChoices):
    """Reading the command's signal back from the vehicle after it was sent."""

    NONE = "", "Not read back"  # no endpoint tells this command's effect
    DUE = "due", "Reading back"
    CONFIRMED = "confirmed", "Confirmed"
    DIFFERS = "differs", "The vehicle shows something else"
    UNREAD = "unread", "Could not be read back"


class CommandRemedy(models.TextChoices):
    """What a manager can do about a command that failed or whose outcome is unknown."""

    NONE = "", "Nothing"
    RETRY = "retry", "Retry"
    RECONNECT = "reconnect", "Reconnect the vehicle"
    SUPPORT = "support", "Contact support"


class Command(models.Model):
    """One remote command and its audit record: who asked what of which vehicle, when, and how it ended.

    Rows are never deleted by the app; the user's e-mail is copied so the record survives the user's removal. The
    row is also the command's outbox entry: it is written before anything is enqueued (``enqueued_at`` says when a
    worker was handed it), so a broker that is down delays a command but never loses it.
    """

    vehicle = models.ForeignKey(Vehicle, on_delete=models.CASCADE, related_name="commands")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    user_email = models.EmailField(blank=True)
    kind = models.CharField(max_length=32, help_text="A key of vehicles.commands.COMMANDS, e.g. lock")
    params = models.JSONField(default=dict, blank=True, help_text="What was sent (secrets such as a PIN masked)")
    old_value = models.CharField(max_length=80, blank=True, help_text="The value before, when it was known")
    new_value = models.CharField(max_length=80, blank=True)
    status = models.CharField(max_length=8, choices=CommandStatus.choices, default=CommandStatus.PENDING)
    error_message = models.CharField(max_length=500, blank=True)
    error_resolution = models.CharField(max_length=300, blank=True)
    remedy = models.CharField(max_length=10, choices=CommandRemedy.choices, blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    enqueued_at = models.DateTimeField(null=True, blank=True, help_text="Handed to a worker (empty: not yet)")
    requeued = models.BooleanField(default=False, help_text="Handed to a worker a second time after the first was lost")
    task_id = models.CharField(max_length=64, blank=True, help_text="The task message that claimed the command")
    started_at = models.DateTimeField(null=True, blank=True, help_text="Sending began (recorded before the call)")
    finished_at = models.DateTimeField(null=True, blank=True)
    readback = models.CharField(max_length=10, choices=CommandReadback.choices, blank=True)
    observed_value = models.CharField(max_length=80, blank=True, help_text="What the vehicle showed when read back")
    observed_at = models.DateTimeField(null=True, blank=True)
    retry_of = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="retries")

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            # The vehicle page's audit log: one vehicle's newest commands first.
            models.Index(fields=["vehicle", "-created_at"], name="command_vehicle_created"),
            # The outbox sweep (fleet/outbox.py) and the command sweep: commands not yet settled.
            models.Index(
                fields=["status", "created_at"],
                name="command_unsettled",
                condition=models.Q(status__in=["pending", "sending", "unknown"]) | models.Q(readback="due"),
            ),
        ]

    def __str__(self):
        return f"{self.kind} on {self.vehicle_id} ({self.status})"

    @property
    def is_finished(self) -> bool:
        """Nothing more will happen to it by itself: the page stops polling."""
        if self.status in (CommandStatus.PENDING, CommandStatus.SENDING):
            return False
        return self.readback != CommandReadback.DUE

    @property
    def can_retry(self) -> bool:
        from vehicles.commands import command_can_retry  # the catalogue of commands imports this module

        return command_can_retry(self)

    @property
    def label(self) -> str:
        from vehicles.commands import kind_label  # the catalogue of commands imports this module

        return kind_label(self.kind)


class DiagnosticAcknowledgement(models.Model):
    """A fleet manager's note on an active DTC or system alert: seen, by whom, when, and what is being done.

    A system alert is acknowledged as of its ``changed_at``: if the system goes back to OK and alerts again, the
    new alert needs a new acknowledgement.
    """

    dtc = models.OneToOneField(
        DiagnosticTroubleCode, null=True, blank=True, on_delete=models.CASCADE, related_name="acknowledgement"
    )
    system_status = models.ForeignKey(
        SystemStatus, null=True, blank=True, on_delete=models.CASCADE, related_name="acknowledgements"
    )
    system_changed_at = models.DateTimeField(null=True, blank=True)
    note = models.CharField(max_length=500, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    acknowledged_by_email = models.EmailField(blank=True)
    acknowledged_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(dtc__isnull=False, system_status__isnull=True)
                | models.Q(dtc__isnull=True, system_status__isnull=False),
                name="acknowledgement_one_subject",
            ),
            models.UniqueConstraint(
                fields=["system_status", "system_changed_at"], name="acknowledgement_unique_system_alert"
            ),
        ]

    def __str__(self):
        subject = f"DTC {self.dtc_id}" if self.dtc_id else f"system {self.system_status_id}"
        return f"{subject} acknowledged by {self.acknowledged_by_email}"
