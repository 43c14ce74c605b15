from django.conf import settings
from django.db import models


class AccountStatus(models.TextChoices):
    ACTIVE = "active", "Connected"
    NEEDS_RECONNECT = "needs_reconnect", "Needs reconnect"
    DISCONNECTED = "disconnected", "Disconnected"


class SmartcarAccount(models.Model):
    """One Smartcar user's grant to a fleet: the token pair (encrypted) and its state.

    One row per Smartcar user id per fleet. Tokens are stored only encrypted (connect/vault.py)
    and never rendered; admin shows expiry and status alone.
    """

    fleet = models.ForeignKey("fleet.Fleet", on_delete=models.CASCADE, related_name="smartcar_accounts")
    smartcar_user_id = models.CharField(max_length=64)
    access_token_encrypted = models.TextField(editable=False)
    refresh_token_encrypted = models.TextField(editable=False)
    access_expires_at = models.DateTimeField()
    refresh_expires_at = models.DateTimeField()
    status = models.CharField(max_length=16, choices=AccountStatus.choices, default=AccountStatus.ACTIVE)
    last_error = models.TextField(blank=True)
    last_refreshed_at = models.DateTimeField(null=True, blank=True)
    # Databases without row locks (SQLite) serialise refreshes with this claim instead of select_for_update:
    # a conditional UPDATE sets it, and the worker holding it is the only one calling the token endpoint.
    refresh_claimed_until = models.DateTimeField(null=True, blank=True, editable=False)
    connected_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["fleet", "smartcar_user_id"], name="account_unique_fleet_smartcar_user")
        ]

    def __str__(self):
        return f"Smartcar user {self.smartcar_user_id[:8]}… in {self.fleet}"

    @property
    def needs_reconnect(self) -> bool:
        return self.status == AccountStatus.NEEDS_RECONNECT

    @property
    def is_active(self) -> bool:
        return self.status == AccountStatus.ACTIVE


# --- Webhooks (connect/webhooks.py) --------------------------------------------------------------------------------


class Webhook(models.Model):
    """A webhook configured for this application in Smartcar's Dashboard; deliveries arrive at its own URL.

    Deliveries are signed with the application's management token (settings.SMARTCAR_MANAGEMENT_TOKEN), the key of
    every webhook of the application, so no secret is stored here. The one named by settings.SMARTCAR_WEBHOOK_ID is
    registered on first use.
    """

    smartcar_id = models.CharField("Smartcar webhook id", max_length=64, unique=True)
    name = models.CharField(max_length=100, default="Charging events")
    enabled = models.BooleanField(default=True, help_text="Vehicles are subscribed to enabled webhooks only")
    verified_at = models.DateTimeField(null=True, blank=True, help_text="When the verify challenge was last answered")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        from django.urls import reverse

        return reverse("webhook_receive", args=[self.smartcar_id])


class EventStatus(models.TextChoices):
    RECEIVED = "received", "Received, waiting for a worker"
    PROCESSING = "processing", "Being processed"
    PROCESSED = "processed", "Processed"
    IGNORED = "ignored", "Ignored (nothing to do)"
    FAILED = "failed", "Failed"


class WebhookEvent(models.Model):
    """One verified delivery, stored once: a redelivery with the same event id is acknowledged and ignored."""

    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="events")
    # payload.eventId for event-based deliveries; for deliveries without one, a digest of the raw body (so a
    # redelivery of the same body is still recognised).
    event_id = models.CharField(max_length=100, unique=True)
    event_name = models.CharField(max_length=40, help_text="eventName: eventBased, schedule…")
    event_type = models.CharField(max_length=40, blank=True, help_text="payload.eventType, e.g. CHARGING_STARTED")
    smartcar_vehicle_id = models.CharField(max_length=64, blank=True)
    vehicle = models.ForeignKey(
        "vehicles.Vehicle", null=True, blank=True, on_delete=models.SET_NULL, related_name="webhook_events"
    )
    event_time = models.DateTimeField(null=True, blank=True)
    mode = models.CharField(max_length=12, blank=True)
    body = models.JSONField()
    received_at = models.DateTimeField(auto_now_add=True)
    status = models.CharField(max_length=12, choices=EventStatus.choices, default=EventStatus.RECEIVED)
    processed_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=300, blank=True)
    enqueued_at = models.DateTimeField(null=True, blank=True, help_text="Handed to a worker (empty: not yet)")

    class Meta:
        ordering = ["-received_at", "-pk"]
        indexes = [
            # Admin's list and the vehicle's recent events, newest first.
            models.Index(fields=["vehicle", "-received_at"], name="webhookevent_vehicle_received"),
            # The outbox sweep (fleet/outbox.py): received events not handed to a worker yet.
            models.Index(fields=["status", "received_at"], name="webhookevent_status_received"),
        ]

    def __str__(self):
        return f"{self.event_type or self.event_name} {self.event_id[:12]}"


class SubscriptionStatus(models.TextChoices):
    SUBSCRIBED = "subscribed", "Subscribed"
    UNSUBSCRIBED = "unsubscribed", "Unsubscribed"
    FAILED = "failed", "Subscribing failed"


class WebhookSubscription(models.Model):
    """Whether a vehicle is subscribed to a webhook at Smartcar, and what the last attempt said.

    A row in "unsubscribed" remembers that someone chose to unsubscribe: automatic subscription leaves it alone.
    """

    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="subscriptions")
    vehicle = models.ForeignKey("vehicles.Vehicle", on_delete=models.CASCADE, related_name="webhook_subscriptions")
    status = models.CharField(max_length=12, choices=SubscriptionStatus.choices)
    changed_at = models.DateTimeField()
    last_error = models.CharField(max_length=300, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["webhook", "vehicle"], name="webhooksubscription_unique_webhook_vehicle")
        ]

    def __str__(self):
        return f"{self.vehicle_id} → {self.webhook} ({self.status})"


class ApiSwitch(models.Model):
    """The installation's move to another Smartcar API version (connect/migration.py), recorded once it is done.

    The newest row decides which API the app speaks when settings.SMARTCAR_API_VERSION still names the older one
    (connect/transports.py): a migration switches without a restart, and its report stays for the record.
    """

    version = models.CharField(max_length=8, help_text="The API version switched to, e.g. 3")
    switched_at = models.DateTimeField(auto_now_add=True)
    switched_by = models.CharField(max_length=254, blank=True, help_text="Who ran the migration")
    report = models.JSONField(default=list, help_text="What the migration checked and changed")

    class Meta:
        ordering = ["-switched_at", "-pk"]
        get_latest_by = ["switched_at", "pk"]
        verbose_name = "Smartcar API switch"

    def __str__(self):
        return f"Smartcar API {self.version} since {self.switched_at:%Y-%m-%d %H:%M}"
