from django.db import models
from django.urls import reverse


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
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["make", "model", "vin"]
        indexes = [models.Index(fields=["fleet", "make"], name="vehicle_fleet_make")]  # fleet table filters

    def __str__(self):
        return self.display_name

    def get_absolute_url(self):
        return reverse("vehicle_detail", args=[self.fleet.slug, self.pk])

    @property
    def display_name(self) -> str:
        if self.nickname:
            return self.nickname
        return " ".join(str(part) for part in (self.year, self.make.replace("_", " ").title(), self.model) if part)

    @property
    def make_slug(self) -> str:
        """The make as make-specific endpoints need it: lower case (upper case is a PERMISSION error)."""
        return self.make.lower()

    @property
    def is_connected(self) -> bool:
        return self.disconnected_at is None
