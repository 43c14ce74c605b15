"""State of the simulated Smartcar platform.

Written from the Smartcar documentation (../shared/smartcar-api/), independent of the app:
nothing here imports ``fleet``, ``connect``, ``vehicles`` or ``charging``.
"""

import secrets
import uuid

from django.db import models

from simulator.catalogue import brand_name


def _uuid() -> str:
    return str(uuid.uuid4())


def _secret() -> str:
    return secrets.token_urlsafe(32)


class Application(models.Model):
    """A Smartcar application (client id/secret, redirect URIs, management token)."""

    name = models.CharField(max_length=100)
    client_id = models.CharField(max_length=100, unique=True, default=_uuid)
    client_secret = models.CharField(max_length=200, default=_secret)
    redirect_uris = models.TextField(help_text="One redirect URI per line; Connect accepts only these.")
    management_token = models.CharField(max_length=200, default=_secret)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return self.name

    @property
    def redirect_uri_list(self) -> list[str]:
        return [line.strip() for line in self.redirect_uris.splitlines() if line.strip()]


class Webhook(models.Model):
    """A webhook configured for an application, as in Smartcar's Dashboard."""

    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="webhooks")
    webhook_id = models.CharField(max_length=36, unique=True, default=_uuid)
    name = models.CharField(max_length=100, default="Charging events")
    # A full URL, or a path on this same site (delivered in-process in the embedded simulator).
    callback_url = models.CharField(max_length=500)
    verified_at = models.DateTimeField(null=True, blank=True)
    # "2.0": the v2 eventBased body; "4.0": the API v3 envelope (smartcar-api-v3/webhooks__events-overview.md).
    payload_version = models.CharField(max_length=4, default="2.0", choices=[("2.0", "2.0"), ("4.0", "4.0")])
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return f"{self.name} → {self.callback_url}"


class SmartcarUser(models.Model):
    """A person's connected-services account, identified to applications by ``user_id``."""

    user_id = models.CharField(max_length=36, unique=True, default=_uuid)
    email = models.EmailField(unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return self.email


class Vehicle(models.Model):
    """A simulated vehicle. Its changing readings live in ``state`` (see simulator/world.py)."""

    vehicle_id = models.CharField(max_length=36, unique=True, default=_uuid)
    owner = models.ForeignKey(SmartcarUser, on_delete=models.CASCADE, related_name="vehicles")
    make = models.CharField(max_length=30, help_text="Upper case, as in the API's list of makes, e.g. TESLA")
    model = models.CharField(max_length=60)
    year = models.PositiveSmallIntegerField()
    vin = models.CharField(max_length=17, unique=True)
    engine_type = models.CharField(max_length=4, choices=[(t, t) for t in ("ICE", "BEV", "PHEV", "HEV")])
    region = models.CharField(max_length=2, choices=[("US", "United States"), ("CA", "Canada"), ("EU", "Europe")])
    routine = models.CharField(
        max_length=10, choices=[("commute", "Commute"), ("delivery", "Delivery van"), ("parked", "Mostly parked")]
    )
    state = models.JSONField(default=dict)
    simulated_at = models.DateTimeField(null=True, blank=True, help_text="Simulated time the state was advanced to")
    # Per-vehicle fault settings; empty means "use the global FaultSettings".
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    requests_per_minute = models.PositiveIntegerField(null=True, blank=True)
    fault_rate = models.FloatField(null=True, blank=True, help_text="0–1, chance of an injected fault per request")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return f"{self.year} {brand_name(self.make)} {self.model} ({self.vin})"


class Connection(models.Model):
    """An application's access to one vehicle, granted by a user in Connect, with its permissions."""

    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="connections")
    user = models.ForeignKey(SmartcarUser, on_delete=models.CASCADE, related_name="connections")
    vehicle = models.ForeignKey(Vehicle, on_delete=models.CASCADE, related_name="connections")
    permissions = models.JSONField(default=list)
    mode = models.CharField(max_length=10, default="live")
    # The id of API v3's connection resource (smartcar-api-v3/connections__get.md).
    connection_id = models.CharField(max_length=36, default=_uuid, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["application", "vehicle"], name="sim_connection_unique_app_vehicle")
        ]

    def __str__(self):
        return f"{self.user} → {self.vehicle} for {self.application}"


class AuthorizationCode(models.Model):
    code = models.CharField(max_length=64, unique=True, default=_secret)
    application = models.ForeignKey(Application, on_delete=models.CASCADE)
    user = models.ForeignKey(SmartcarUser, on_delete=models.CASCADE)
    redirect_uri = models.CharField(max_length=500)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return f"code for {self.user} (expires {self.expires_at:%H:%M:%S})"


class Token(models.Model):
    """An access/refresh token pair issued to an application for a user."""

    application = models.ForeignKey(Application, on_delete=models.CASCADE)
    user = models.ForeignKey(SmartcarUser, on_delete=models.CASCADE)
    access_token = models.CharField(max_length=64, unique=True, default=_secret)
    refresh_token = models.CharField(max_length=64, unique=True, default=_secret)
    access_expires_at = models.DateTimeField()
    refresh_expires_at = models.DateTimeField()
    refresh_used_at = models.DateTimeField(null=True, blank=True)
    # How the pair was obtained; counting "refresh_token" rows counts refresh calls.
    grant_type = models.CharField(max_length=20, default="authorization_code")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return f"token pair for {self.user} ({self.application})"


class AppToken(models.Model):
    """An application access token of API v3 (client credentials, 1 hour).

    Reference: smartcar-api-v3/auth__request-access-token.md
    """

    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="app_tokens")
    access_token = models.CharField(max_length=64, unique=True, default=_secret)
    expires_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return f"application token of {self.application} (expires {self.expires_at:%H:%M:%S})"


class Subscription(models.Model):
    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="subscriptions")
    vehicle = models.ForeignKey(Vehicle, on_delete=models.CASCADE, related_name="subscriptions")
    # The id of the Management API v3 (smartcar-api-v3/management__subscriptions.md).
    subscription_id = models.CharField(max_length=36, default=_uuid, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["webhook", "vehicle"], name="sim_subscription_unique")]

    def __str__(self):
        return f"{self.vehicle} → {self.webhook}"


class Delivery(models.Model):
    """One webhook payload and its delivery attempts (at least once, retried after 25, 50, 100 s)."""

    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="deliveries")
    event_id = models.CharField(max_length=36, default=_uuid)
    event_name = models.CharField(max_length=40)
    body = models.TextField()
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    dropped_at = models.DateTimeField(null=True, blank=True)
    last_status = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "deliveries"
        # The periodic retry task looks for due deliveries by next_attempt_at.
        indexes = [models.Index(fields=["next_attempt_at"], name="sim_delivery_next_attempt")]

    def __str__(self):
        return f"{self.event_name} {self.event_id}"


class FaultSettings(models.Model):
    """Global latency and fault injection (a single row); vehicles may override some of it."""

    latency_ms = models.PositiveIntegerField(default=0, help_text="Fixed latency added to every vehicle request")
    realistic_latency = models.BooleanField(
        default=False, help_text="Draw latency from a spread like real OEM round trips (3–45 s, rarely up to 300 s)"
    )
    requests_per_minute = models.PositiveIntegerField(
        null=True, blank=True, help_text="Per-vehicle rate limit (429 RATE_LIMIT/VEHICLE); empty: none"
    )
    upstream_rate = models.FloatField(default=0, help_text="0–1: share of requests answered 502 UPSTREAM")
    asleep_rate = models.FloatField(default=0, help_text="0–1: share answered 409 ASLEEP/UNREACHABLE")
    timeout_rate = models.FloatField(default=0, help_text="0–1: share that hang until the client gives up")
    malformed_rate = models.FloatField(default=0, help_text="0–1: share answered with a body that is not JSON")
    clock_speed = models.FloatField(
        default=1.0,
        help_text="Simulated seconds per real second. 1 keeps data ages true to the wall clock; more makes a day "
        "pass quickly (data then carries times ahead of real time).",
    )

    class Meta:
        verbose_name_plural = "fault settings"

    def __str__(self):
        return "Fault settings"

    @classmethod
    def current(cls) -> "FaultSettings":
        return cls.objects.get_or_create(pk=1)[0]


class RequestCounter(models.Model):
    """Requests per vehicle per real minute, for the rate limit: in the database, so that every server process
    counts against the same limit."""

    vehicle = models.ForeignKey(Vehicle, on_delete=models.CASCADE, related_name="request_counts")
    minute = models.BigIntegerField(help_text="Minutes since the Unix epoch")
    requests = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["vehicle", "minute"], name="sim_requestcounter_unique_vehicle_minute")
        ]

    def __str__(self):
        return f"{self.vehicle} minute {self.minute}: {self.requests}"


class BillingCounter(models.Model):
    """Billed calls per vehicle per day (each path inside a batch counts)."""

    vehicle = models.ForeignKey(Vehicle, on_delete=models.CASCADE, related_name="billing")
    day = models.DateField()
    calls = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["vehicle", "day"], name="sim_billing_unique_vehicle_day")]

    def __str__(self):
        return f"{self.vehicle} {self.day}: {self.calls}"
