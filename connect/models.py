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
