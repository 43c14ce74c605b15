from django.conf import settings
from django.db import models


class SessionSource(models.TextChoices):
    """Where a charging session comes from; one vehicle may have the same session from several sources."""

    CHARGE_RECORD = "charge_record", "BMW/MINI charge record"
    BILLING_RECORD = "billing_record", "Tesla billing record"
    SYNC = "sync", "Derived from synced readings"
    WEBHOOK = "webhook", "Derived from charging events"


class ChargingSession(models.Model):
    """One charging session of a vehicle: from the car maker's records or derived by the app itself.

    Energy in kWh, state of charge as percentages (the API's fractions × 100), cost in the record's currency.
    """

    vehicle = models.ForeignKey("vehicles.Vehicle", on_delete=models.CASCADE, related_name="charging_sessions")
    source = models.CharField(max_length=16, choices=SessionSource.choices)
    # The record's own id (Tesla recordId) or, for records without one and derived sessions, the start instant:
    # re-importing the same record or re-deriving the same session updates the row instead of adding one.
    external_id = models.CharField(max_length=120)
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    energy_kwh = models.FloatField(null=True, blank=True)
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
        constraints = [
            models.UniqueConstraint(
                fields=["vehicle", "source", "external_id"], name="chargingsession_unique_vehicle_source_id"
            )
        ]
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
