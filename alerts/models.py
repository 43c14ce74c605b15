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
from vehicles.models import Vehicle, VehicleGroup


class AlertRule(models.Model):
    """Whether a condition alerts, and after how long: the fleet's rule (no vehicle, no group), or an exception for
    a group of vehicles or one vehicle (on or off, and its own threshold where the condition has one).

    The fleet's thresholds are the fleet's own (``Fleet.low_energy_percent`` …) so that the dashboard's tiles judge
    by the same numbers. Which rule applies to a vehicle is ``alerts.evaluation.Rules.effective``.
    """

    fleet = models.ForeignKey(Fleet, on_delete=models.CASCADE, related_name="alert_rules")
    condition = models.CharField(max_length=32)
    vehicle = models.ForeignKey(Vehicle, on_delete=models.CASCADE, null=True, blank=True, related_name="alert_rules")
    group = models.ForeignKey(VehicleGroup, on_delete=models.CASCADE, null=True, blank=True, related_name="alert_rules")
    enabled = models.BooleanField(default=True)
    after_minutes = models.PositiveIntegerField(default=0, help_text="How long the condition must last first")
    threshold = models.FloatField(null=True, blank=True, help_text="The group's or vehicle's own threshold")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["fleet", "condition", "vehicle"], name="alert_rule_once"),
            models.UniqueConstraint(
                fields=["fleet", "condition"],
                condition=Q(vehicle__isnull=True, group__isnull=True),
                name="alert_fleet_rule_once",
            ),
            models.UniqueConstraint(
                fields=["group", "condition"], condition=Q(group__isnull=False), name="alert_group_rule_once"
            ),
            models.CheckConstraint(
                condition=Q(vehicle__isnull=True) | Q(group__isnull=True), name="alert_rule_vehicle_or_group"
            ),
        ]

    def __str__(self):
        return f"{self.condition} ({self.vehicle or self.group or 'fleet'})"


class AlertState(models.TextChoices):
    PENDING = "pending", "Waiting"  # holds, its rule's delay not yet passed: nobody is told yet
    OPEN = "open", "Open"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    RESOLVED = "resolved", "Resolved"


ACTIVE = [AlertState.PENDING, AlertState.OPEN, AlertState.ACKNOWLEDGED]
SHOWN = [AlertState.OPEN, AlertState.ACKNOWLEDGED, AlertState.RESOLVED]


class Alert(models.Model):
    fleet = models.ForeignKey(Fleet, on_delete=models.CASCADE, related_name="alerts")
    # None: the alert is about the whole fleet (its polling paused), told once rather than once per vehicle.
    vehicle = models.ForeignKey(Vehicle, on_delete=models.CASCADE, related_name="alerts", null=True, blank=True)
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
            ),
            models.UniqueConstraint(
                fields=["fleet", "condition"],
                condition=Q(vehicle__isnull=True) & ~Q(state="resolved"),
                name="one_active_fleet_alert_per_condition",
            ),
        ]
        indexes = [
            # The inbox: a fleet's alerts in one state, newest first; the badge counts the open ones.
            models.Index(fields=["fleet", "state", "-changed_at"], name="alert_inbox"),
            # The due check: waiting alerts whose delay has passed.
            models.Index(fields=["state", "since"], name="alert_due"),
        ]

    def __str__(self):
        return f"{self.vehicle_id or 'fleet'} {self.condition} {self.state}"

    @property
    def about(self) -> str:
        """What the alert is about, in words: its vehicle's name, or the whole fleet."""
        return self.vehicle.display_name if self.vehicle is not None else "Whole fleet"


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


# --- Channels -------------------------------------------------------------------------------------------------------


class Mode(models.TextChoices):
    IMMEDIATE = "immediate", "As they open"
    DIGEST = "digest", "Once a day, in a summary"
    OFF = "off", "Not by e-mail"


class Subscription(models.Model):
    """What one member of a fleet is e-mailed: which alerts (none chosen: all), of which vehicles (none: all), when.

    Immediate e-mails that fall in the quiet hours wait until they end; the digest comes at ``DIGEST_HOUR`` in the
    fleet's time zone. ``weekly_report``: the fleet's report every Monday morning.
    """

    fleet = models.ForeignKey(Fleet, on_delete=models.CASCADE, related_name="alert_subscriptions")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="alert_subscriptions")
    mode = models.CharField(max_length=10, choices=Mode.choices, default=Mode.IMMEDIATE)
    conditions = models.JSONField(default=list, blank=True)
    vehicles = models.ManyToManyField(Vehicle, blank=True, related_name="+")
    quiet_from = models.TimeField(null=True, blank=True)
    quiet_until = models.TimeField(null=True, blank=True)
    weekly_report = models.BooleanField(default=False)
    last_digest_at = models.DateTimeField(null=True, blank=True)
    last_report_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["fleet", "user"], name="alert_subscription_once")]

    def __str__(self):
        return f"{self.user_id} in {self.fleet_id}: {self.mode}"


class Endpoint(models.Model):
    """An outgoing webhook of a fleet: every alert transition is POSTed to it as JSON, signed with its own secret."""

    fleet = models.ForeignKey(Fleet, on_delete=models.CASCADE, related_name="alert_endpoints")
    name = models.CharField(max_length=80)
    url = models.URLField(max_length=500)
    secret_encrypted = models.TextField(help_text="Encrypted with the token vault's keys")
    enabled = models.BooleanField(default=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    paused_at = models.DateTimeField(null=True, blank=True, help_text="Paused after failing again and again")
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_failure_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "pk"]

    def __str__(self):
        return self.name

    @property
    def is_active(self) -> bool:
        return self.enabled and self.paused_at is None


class Channel(models.TextChoices):
    EMAIL = "email", "E-mail"
    WEBHOOK = "webhook", "Webhook"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Waiting"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"
    SKIPPED = "skipped", "Not sent"


class Delivery(models.Model):
    """One transition (or a test) to one channel: written with the transition, sent by a worker, retried with back-off.

    Unique per event and recipient, so a transition is delivered once to each; a worker claims the row with a
    conditional UPDATE (pending → sending) before sending.
    """

    fleet = models.ForeignKey(Fleet, on_delete=models.CASCADE, related_name="alert_deliveries")
    event = models.ForeignKey(AlertEvent, on_delete=models.CASCADE, null=True, blank=True, related_name="deliveries")
    channel = models.CharField(max_length=8, choices=Channel.choices)
    endpoint = models.ForeignKey(Endpoint, on_delete=models.CASCADE, null=True, blank=True, related_name="deliveries")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    status = models.CharField(max_length=8, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    due_at = models.DateTimeField(help_text="Not sent before (quiet hours, the next retry)")
    claimed_until = models.DateTimeField(null=True, blank=True)
    enqueued_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["event", "endpoint"], condition=Q(endpoint__isnull=False), name="delivery_once_per_endpoint"
            ),
            models.UniqueConstraint(
                fields=["event", "user"], condition=Q(user__isnull=False), name="delivery_once_per_recipient"
            ),
        ]
        indexes = [
            # The sweep: pending deliveries that are due.
            models.Index(fields=["status", "due_at"], name="delivery_due"),
            # A channel's delivery log, newest first.
            models.Index(fields=["endpoint", "-created_at"], name="delivery_log"),
        ]

    def __str__(self):
        return f"{self.channel} {self.pk} {self.status}"
