from django.conf import settings
from django.db import models


class SessionSource(models.TextChoices):
    """What saw a charge: the car maker's records, charging events or the synced readings (best first)."""

    CHARGE_RECORD = "charge_record", "BMW/MINI charge record"
    BILLING_RECORD = "billing_record", "Tesla billing record"
    WEBHOOK = "webhook", "Charging events"
    SYNC = "sync", "Synced readings"


class EnergySource(models.TextChoices):
    """What a session's energy rests on (best first)."""

    RECORD = "record", "The car maker's record"
    ENERGY_ADDED = "energy_added", "Energy added, as the vehicle reported it"
    CAPACITY = "capacity", "Battery capacity × charge gained"


class ChargingSession(models.Model):
    """One real charge of a vehicle, merged from every source that saw it (charging/sessions.py settles it).

    Each figure comes from the best source that has it; ``source`` is the best source that saw the charge and
    ``energy_source`` what the energy rests on. Energy in kWh, state of charge as percentages (the API's fractions
    × 100), cost in the record's currency.
    """

    vehicle = models.ForeignKey("vehicles.Vehicle", on_delete=models.CASCADE, related_name="charging_sessions")
    source = models.CharField(max_length=16, choices=SessionSource.choices)
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    energy_kwh = models.FloatField(null=True, blank=True)
    energy_source = models.CharField(max_length=16, choices=EnergySource.choices, blank=True)
    start_percent = models.FloatField(null=True, blank=True)
    end_percent = models.FloatField(null=True, blank=True)
    location = models.CharField(max_length=200, blank=True)
    latitude = models.FloatField(null=True, blank=True)
    longitude = models.FloatField(null=True, blank=True)
    is_public = models.BooleanField(null=True, blank=True)
    charger_type = models.CharField(max_length=20, blank=True, help_text="e.g. AC or DC")
    cost_energy = models.DecimalField(max_digits=10, decimal_places=2, null=True, blank=True)
    cost_other = models.DecimalField(max_digits=10, decimal_places=2, null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        # The fleet charging page filters by vehicle (of a fleet) and a date range of started_at.
        indexes = [models.Index(fields=["vehicle", "started_at"], name="chargingsession_vehicle_start")]
        ordering = ["-started_at"]

    def __str__(self):
        return f"{self.vehicle_id} charging from {self.started_at:%Y-%m-%d %H:%M}"

    @property
    def cost_total(self):
        if self.cost_energy is None and self.cost_other is None:
            return None
        return (self.cost_energy or 0) + (self.cost_other or 0)

    @property
    def duration(self):
        return self.ended_at - self.started_at if self.ended_at else None

    @property
    def seen_in(self) -> list[str]:
        """The sources that saw this charge, in words, best first (observations prefetched where listed)."""
        sources = {observation.source for observation in self.observations.all()}
        return [label for value, label in SessionSource.choices if value in sources]


class ChargingObservation(models.Model):
    """What one source said about one charge: a record, a pair of charging events, or a span of synced readings.

    Observations are what the app was told and are kept as told; sessions are settled from them. Re-importing a record,
    a re-delivered event or a re-derived span updates its own row: (vehicle, source, external_id) is unique — the
    record's id, or the start instant where a source gives none.
    """

    vehicle = models.ForeignKey("vehicles.Vehicle", on_delete=models.CASCADE, related_name="charging_observations")
    session = models.ForeignKey(
        ChargingSession, null=True, blank=True, on_delete=models.SET_NULL, related_name="observations"
    )
    source = models.CharField(max_length=16, choices=SessionSource.choices)
    external_id = models.CharField(max_length=120)
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    # The figures the source gave, where it gave them: energy_kwh, start_percent, end_percent, location, is_public,
    # charger_type, cost_energy and cost_other (strings), currency, energy_added_kwh.
    facts = models.JSONField(default=dict, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["vehicle", "source", "external_id"], name="chargingobservation_unique_vehicle_source_id"
            )
        ]
        # Settling reads a vehicle's observations over a window of time.
        indexes = [models.Index(fields=["vehicle", "started_at"], name="chargingobs_vehicle_start")]
        ordering = ["vehicle", "started_at"]

    def __str__(self):
        return f"{self.get_source_display()} of {self.vehicle_id} from {self.started_at:%Y-%m-%d %H:%M}"


class ChargingLocationLabel(models.Model):
    """A fleet's own name for a charging place (e.g. "Depot"), matched by coordinates."""

    fleet = models.ForeignKey("fleet.Fleet", on_delete=models.CASCADE, related_name="charging_location_labels")
    latitude = models.FloatField()
    longitude = models.FloatField()
    label = models.CharField(max_length=60)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["fleet", "latitude", "longitude"], name="locationlabel_unique_fleet_point")
        ]

    def __str__(self):
        return self.label


class BulkStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"


class BulkScheduleRun(models.Model):
    """One schedule applied to many vehicles of a make at once; its targets carry the per-vehicle outcome."""

    class Kind(models.TextChoices):
        NISSAN = "nissan", "Nissan charge schedule"
        TESLA = "tesla", "Tesla charge schedule"

    fleet = models.ForeignKey("fleet.Fleet", on_delete=models.CASCADE, related_name="bulk_schedule_runs")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    make = models.CharField(max_length=40)
    # What is applied, as the form cleaned it (wire values; Nissan times already in UTC).
    payload = models.JSONField()
    summary = models.CharField(max_length=300, help_text="The schedule in plain words, as previewed")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    status = models.CharField(max_length=8, choices=BulkStatus.choices, default=BulkStatus.QUEUED)
    # When the broker took its task (fleet/outbox.py): a run queued while the broker was down is handed over later.
    enqueued_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.get_kind_display()} to {self.targets.count()} vehicles"


class TargetStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    APPLIED = "applied", "Applied"
    FAILED = "failed", "Failed"


class BulkScheduleTarget(models.Model):
    run = models.ForeignKey(BulkScheduleRun, on_delete=models.CASCADE, related_name="targets")
    vehicle = models.ForeignKey("vehicles.Vehicle", on_delete=models.CASCADE, related_name="+")
    status = models.CharField(max_length=8, choices=TargetStatus.choices, default=TargetStatus.PENDING)
    message = models.CharField(max_length=500, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["run", "vehicle"], name="bulktarget_unique_run_vehicle")]
        ordering = ["run", "vehicle__make", "vehicle__model", "vehicle__vin"]

    def __str__(self):
        return f"{self.vehicle_id} in run {self.run_id}: {self.status}"
