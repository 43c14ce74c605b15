import secrets
import zoneinfo
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractUser, BaseUserManager
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify

INVITATION_VALID_FOR = timedelta(days=7)


class UserManager(BaseUserManager):
    use_in_migrations = True

    def _create_user(self, email, password, **extra_fields):
        if not email:
            raise ValueError("An e-mail address is required")
        user = self.model(email=self.normalize_email(email).lower(), **extra_fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email, password=None, **extra_fields):
        extra_fields.setdefault("is_staff", False)
        extra_fields.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra_fields)

    def create_superuser(self, email, password=None, **extra_fields):
        extra_fields["is_staff"] = True
        extra_fields["is_superuser"] = True
        return self._create_user(email, password, **extra_fields)


class User(AbstractUser):
    """A person who signs in with an e-mail address; there are no user names."""

    username = None
    first_name = None
    last_name = None
    name = models.CharField(max_length=150, blank=True)
    email = models.EmailField("e-mail address", unique=True)

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS = []

    objects = UserManager()

    def __str__(self):
        return self.email

    def get_full_name(self):
        return self.name or self.email

    def get_short_name(self):
        return self.name or self.email


class UnitSystem(models.TextChoices):
    METRIC = "metric", "Metric (km, °C, kPa, L)"
    IMPERIAL = "imperial", "Imperial (mi, °F, psi, gal)"


# The zones people pick most, offered first; then every zone of the tz database but the two that are no place:
# "Factory" (tzdata's placeholder) and "localtime" (the server's own setting, which a fleet must not depend on).
COMMON_TIME_ZONES = [
    "UTC",
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Phoenix",
    "America/Los_Angeles",
    "America/Anchorage",
    "Pacific/Honolulu",
    "America/Toronto",
    "America/Vancouver",
    "America/Mexico_City",
    "America/Sao_Paulo",
    "Europe/London",
    "Europe/Dublin",
    "Europe/Lisbon",
    "Europe/Paris",
    "Europe/Berlin",
    "Europe/Madrid",
    "Europe/Rome",
    "Europe/Amsterdam",
    "Europe/Stockholm",
    "Europe/Warsaw",
    "Europe/Athens",
    "Europe/Istanbul",
    "Africa/Johannesburg",
    "Asia/Dubai",
    "Asia/Kolkata",
    "Asia/Singapore",
    "Asia/Shanghai",
    "Asia/Tokyo",
    "Asia/Seoul",
    "Australia/Perth",
    "Australia/Sydney",
    "Pacific/Auckland",
]
NOT_A_PLACE = {"Factory", "localtime", "posixrules"}


def time_zone_label(name: str) -> str:
    """ "New York (America)" — what a person types to find a zone; "UTC" stays as it is."""
    region, _, place = name.rpartition("/")
    return f"{place.replace('_', ' ')} ({region.replace('_', ' ')})" if region else name


def time_zone_choices() -> list:
    """Common zones first, then the rest alphabetically (a callable: the list depends on the installed tz data)."""
    others = sorted(zoneinfo.available_timezones() - NOT_A_PLACE - set(COMMON_TIME_ZONES))
    return [
        ("Common time zones", [(name, time_zone_label(name)) for name in COMMON_TIME_ZONES]),
        ("All time zones", [(name, time_zone_label(name)) for name in others]),
    ]


class Fleet(models.Model):
    """A tenant: the vehicles, connections and people of one organisation."""

    name = models.CharField(max_length=100)
    slug = models.SlugField(max_length=60, unique=True)
    time_zone = models.CharField(max_length=64, choices=time_zone_choices, default="UTC")
    unit_system = models.CharField(max_length=8, choices=UnitSystem.choices, default=UnitSystem.METRIC)
    # Dashboard thresholds (dashboard/overview.py): what counts as "low" and as "stale" differs between fleets.
    low_energy_percent = models.PositiveSmallIntegerField(
        default=20, help_text="Battery or fuel at or below this percentage counts as low"
    )
    stale_after_minutes = models.PositiveIntegerField(
        default=180, help_text="Data older than this is marked stale on the dashboard"
    )
    # Further thresholds of vehicles/conditions.py, shared by the dashboard and alerts.
    low_tire_kpa = models.FloatField(default=190.0, help_text="A tire below this pressure (kPa) counts as low")
    low_oil_percent = models.PositiveSmallIntegerField(
        default=15, help_text="Oil life at or below this percentage counts as low"
    )
    charge_by = models.TimeField(
        null=True, blank=True, help_text="Electric vehicles should be plugged in by this time (fleet's time zone)"
    )
    charge_by_below_percent = models.PositiveSmallIntegerField(
        default=50, help_text="…when their battery is below this percentage"
    )
    # Webhooks push charging events between polls (connect/webhooks.py); the sweep subscribes new vehicles.
    webhooks_subscribe_new_vehicles = models.BooleanField(
        "Subscribe new vehicles to webhooks automatically",
        default=True,
        help_text="Vehicles someone unsubscribed stay unsubscribed",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    def save(self, *args, **kwargs):
        if not self.slug:
            self.slug = self._unique_slug()
        super().save(*args, **kwargs)

    def _unique_slug(self) -> str:
        base = slugify(self.name)[:50] or "fleet"
        slug, n = base, 2
        while Fleet.objects.filter(slug=slug).exists():
            slug, n = f"{base}-{n}", n + 1
        return slug

    def get_absolute_url(self):
        return reverse("fleet_home", args=[self.slug])

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.time_zone)


class Role(models.TextChoices):
    OWNER = "owner", "Owner"
    MANAGER = "manager", "Manager"
    VIEWER = "viewer", "Viewer"


class Membership(models.Model):
    """What a user may do in a fleet.

    Owners manage people and connections, managers also steer vehicles, viewers only look.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    fleet = models.ForeignKey(Fleet, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=8, choices=Role.choices, default=Role.VIEWER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "fleet"], name="membership_unique_user_fleet")]
        ordering = ["fleet__name", "user__email"]

    def __str__(self):
        return f"{self.user} in {self.fleet} ({self.get_role_display()})"

    @property
    def can_write(self) -> bool:
        """Managers and owners may issue commands and edit; viewers may not."""
        return self.role in (Role.OWNER, Role.MANAGER)

    @property
    def is_owner(self) -> bool:
        return self.role == Role.OWNER


def _invitation_token() -> str:
    return secrets.token_urlsafe(32)


def _invitation_expiry():
    return timezone.now() + INVITATION_VALID_FOR


class Invitation(models.Model):
    """An owner's invitation for an e-mail address to join a fleet with a role."""

    fleet = models.ForeignKey(Fleet, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField()
    role = models.CharField(max_length=8, choices=Role.choices, default=Role.VIEWER)
    token = models.CharField(max_length=64, unique=True, default=_invitation_token, editable=False)
    invited_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(default=_invitation_expiry)
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.email} → {self.fleet} ({self.get_role_display()})"

    @property
    def is_usable(self) -> bool:
        return self.accepted_at is None and self.expires_at > timezone.now()

    def get_absolute_url(self):
        return reverse("invitation_accept", args=[self.token])
