"""Alerts: a vehicle's condition (vehicles/conditions.py) that started, held and cleared, with every transition.

An alert is opened once when its condition starts to hold for a vehicle (after the rule's delay, for conditions such
as "unlocked while parked" that matter only when they last), updated while it holds and its words change (a new
trouble code), resolved when it clears. A manager may acknowledge it with a note. At most one alert per vehicle and
condition is active (not resolved) at a time: the database refuses a second one, so two workers evaluating the same
vehicle open it once.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q

from fleet.models import Fleet
from vehicles.models import Vehicle


class AlertRule(models.Model):
    """Whether a condition alerts, and after how long; the fleet's rule (no vehicle) or one vehicle's exception.

    The fleet's thresholds are the fleet's own (``Fleet.low_energy_percent`` …) so that the dashboard's tiles judge
    by the same numbers; a vehicle's rule may set its own threshold for its alerts.
    """

    fleet = models.ForeignKey(Fleet, on_delete=models.CASCADE, related_name="alert_rules")
    condition = models.CharField(max_length=32)
    vehicle = models.ForeignKey(Vehicle, on_delete=models.CASCADE, null=True, blank=True, related_name="alert_rules")
    enabled = models.BooleanField(default=True)
    after_minutes = models.PositiveIntegerField(default=0, help_text="How long the condition must last first")
    threshold = models.FloatField(null=True, blank=True, help_text="This vehicle's own threshold (vehicle rules)")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["fleet", "condition", "vehicle"], name="alert_rule_once"),
            models.UniqueConstraint(
                fields=["fleet", "condition"], condition=Q(vehicle__isnull=True), name="alert_fleet_rule_once"
            ),
        ]

    def __str__(self):
        return f"{self.condition} ({self.vehicle or 'fleet'})"


class AlertState(models.TextChoices):
    PENDING = "pending", "Waiting"  # holds, its rule's delay not yet passed: nobody is told yet
    OPEN = "open", "Open"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    RESOLVED = "resolved", "Resolved"


ACTIVE = [AlertState.PENDING, AlertState.OPEN, AlertState.ACKNOWLEDGED]
SHOWN = [AlertState.OPEN, AlertState.ACKNOWLEDGED, AlertState.RESOLVED]


class Alert(models.Model):
    fleet = models.ForeignKey(Fleet, on_delete=models.CASCADE, related_name="alerts")
    vehicle = models.ForeignKey(Vehicle, on_delete=models.CASCADE, related_name="alerts")
    condition = models.CharField(max_length=32)
    state = models.CharField(max_length=12, choices=AlertState.choices)
    summary = models.CharField(max_length=200)
    detail = models.TextField(blank=True)
    since = models.DateTimeField(help_text="When the condition was first seen holding")
    opened_at = models.DateTimeField(null=True, blank=True)
    changed_at = models.DateTimeField(help_text="The last transition")
    resolved_at = models.DateTimeField(null=True, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    note = models.CharField(max_length=500, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["vehicle", "condition"], condition=~Q(state="resolved"), name="one_active_alert_per_condition"
            )
        ]
        indexes = [
            # The inbox: a fleet's alerts in one state, newest first; the badge counts the open ones.
            models.Index(fields=["fleet", "state", "-changed_at"], name="alert_inbox"),
            # The due check: waiting alerts whose delay has passed.
            models.Index(fields=["state", "since"], name="alert_due"),
        ]

    def __str__(self):
        return f"{self.vehicle_id} {self.condition} {self.state}"


class EventKind(models.TextChoices):
    OPENED = "opened", "Opened"
    UPDATED = "updated", "Updated"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    RESOLVED = "resolved", "Resolved"
    REOPENED = "reopened", "Holds again"


class AlertEvent(models.Model):
    """One transition of an alert: what, when, who (nobody for Fleet's own), with the words of that moment."""

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=12, choices=EventKind.choices)
    at = models.DateTimeField()
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    by_email = models.CharField(max_length=254, blank=True)
    summary = models.CharField(max_length=200)
    note = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["at", "pk"]

    def __str__(self):
        return f"{self.alert_id} {self.kind} {self.at:%Y-%m-%d %H:%M}"
