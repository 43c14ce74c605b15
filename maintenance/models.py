"""Service programs, their due points per vehicle, work orders and the record of every change to them."""

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone


class ServiceTask(models.Model):
    """A named task of a fleet's service program, due by distance, by time or when a signal crosses a threshold.

    It applies to every vehicle of a make (and model, when given) and to the vehicles assigned to it by hand.
    maintenance/due.py says when it is next due for one vehicle.
    """

    fleet = models.ForeignKey("fleet.Fleet", on_delete=models.CASCADE, related_name="service_tasks")
    name = models.CharField(max_length=80)
    every_km = models.PositiveIntegerField(null=True, blank=True, help_text="Distance between services, in km")
    every_months = models.PositiveSmallIntegerField(null=True, blank=True)
    oil_life_below_percent = models.PositiveSmallIntegerField(null=True, blank=True)
    tire_pressure_below_kpa = models.PositiveSmallIntegerField(null=True, blank=True)
    make = models.CharField(max_length=40, blank=True, help_text="Applies to every vehicle of this make (API value)")
    model = models.CharField(max_length=80, blank=True, help_text="…of this model only, when given")
    vehicles = models.ManyToManyField(
        "vehicles.Vehicle", blank=True, related_name="+", help_text="Vehicles assigned by hand"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["fleet", "name"], name="servicetask_unique_fleet_name")]

    def __str__(self):
        return self.name

    def applies_by_make(self, make: str, model: str) -> bool:
        if not self.make or self.make != make:
            return False
        return not self.model or self.model.casefold() == (model or "").casefold()


class ServicePoint(models.Model):
    """When and at what odometer a task was last done on a vehicle: the point its next due is counted from."""

    vehicle = models.ForeignKey("vehicles.Vehicle", on_delete=models.CASCADE, related_name="+")
    task = models.ForeignKey(ServiceTask, on_delete=models.CASCADE, related_name="points")
    done_on = models.DateField()
    done_km = models.FloatField(null=True, blank=True)
    # Not a service anyone did: where Fleet started counting (maintenance/services.py, fleet_due).
    baseline = models.BooleanField(default=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["vehicle", "task"], name="servicepoint_unique_vehicle_task")]

    def __str__(self):
        return f"{self.task_id} on {self.vehicle_id} done {self.done_on}"


class WorkOrderStatus(models.TextChoices):
    OPEN = "open", "Open"
    SCHEDULED = "scheduled", "Scheduled"
    IN_PROGRESS = "in_progress", "In progress"
    DONE = "done", "Done"
    CANCELLED = "cancelled", "Cancelled"


ACTIVE_STATUSES = (WorkOrderStatus.OPEN, WorkOrderStatus.SCHEDULED, WorkOrderStatus.IN_PROGRESS)


class WorkOrderSource(models.TextChoices):
    MANUAL = "manual", "Opened by hand"
    SERVICE = "service", "A service that fell due"
    DTC = "dtc", "A trouble code"
    SYSTEM = "system", "A system alert"


class WorkOrder(models.Model):
    """A job on one vehicle, as a workshop tracks it: what, who, by when, what it cost, and when it was done."""

    fleet = models.ForeignKey("fleet.Fleet", on_delete=models.CASCADE, related_name="work_orders")
    vehicle = models.ForeignKey("vehicles.Vehicle", on_delete=models.CASCADE, related_name="work_orders")
    title = models.CharField(max_length=200)
    source = models.CharField(max_length=8, choices=WorkOrderSource.choices, default=WorkOrderSource.MANUAL)
    service_task = models.ForeignKey(
        ServiceTask, null=True, blank=True, on_delete=models.SET_NULL, related_name="work_orders"
    )
    # The trouble code or system the order came from; the same code on the same vehicle always finds this order.
    code = models.CharField(max_length=60, blank=True)
    code_description = models.CharField(max_length=300, blank=True)
    vehicle_state = models.JSONField(default=dict, blank=True, help_text="The vehicle's readings when it was opened")
    status = models.CharField(max_length=12, choices=WorkOrderStatus.choices, default=WorkOrderStatus.OPEN)
    assignee = models.CharField(max_length=100, blank=True, help_text="A person or a workshop")
    due_on = models.DateField(null=True, blank=True)
    notes = models.TextField(blank=True, max_length=5000)
    parts_cost = models.DecimalField(max_digits=10, decimal_places=2, null=True, blank=True)
    labour_cost = models.DecimalField(max_digits=10, decimal_places=2, null=True, blank=True)
    completed_on = models.DateField(null=True, blank=True)
    completion_odometer_km = models.FloatField(null=True, blank=True)
    # When it was marked done: a trouble code is checked against the readings after this moment.
    closed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by_email = models.EmailField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            # The board's open orders of a fleet, oldest due first.
            models.Index(fields=["fleet", "status", "due_on"], name="workorder_fleet_status_due"),
            # A vehicle's orders and its history timeline.
            models.Index(fields=["vehicle", "status"], name="workorder_vehicle_status"),
            # The same code on the same vehicle finds its order.
            models.Index(fields=["vehicle", "code"], name="workorder_vehicle_code", condition=~models.Q(code="")),
        ]

    def __str__(self):
        return f"#{self.pk} {self.title}"

    def get_absolute_url(self):
        return reverse("maintenance_work_order", args=[self.fleet.slug, self.pk])

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    @property
    def total_cost(self):
        if self.parts_cost is None and self.labour_cost is None:
            return None
        return (self.parts_cost or 0) + (self.labour_cost or 0)


class ChangeAction(models.TextChoices):
    OPENED = "opened", "Opened a work order"
    REOPENED = "reopened", "Reopened a work order"
    CHANGED = "changed", "Changed"
    ADDED = "added", "Added a service to the program"
    REMOVED = "removed", "Removed a service from the program"
    RESET = "reset", "Reset a service's due point"


class Change(models.Model):
    """One change to a fleet's maintenance: who, when, what (each field before and after, as stored values).

    Work orders, the service program and its hand assignments, and due points reset by finished work are all
    recorded here (maintenance/changes.py writes and words them). Never edited or deleted; a service removed from the
    program keeps its changes, named by ``subject``.
    """

    fleet = models.ForeignKey("fleet.Fleet", on_delete=models.CASCADE, related_name="+")
    at = models.DateTimeField(default=timezone.now)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    user_email = models.EmailField(blank=True)
    action = models.CharField(max_length=10, choices=ChangeAction.choices, default=ChangeAction.CHANGED)
    work_order = models.ForeignKey(WorkOrder, null=True, blank=True, on_delete=models.CASCADE, related_name="changes")
    service_task = models.ForeignKey(
        ServiceTask, null=True, blank=True, on_delete=models.SET_NULL, related_name="changes"
    )
    vehicle = models.ForeignKey("vehicles.Vehicle", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    subject = models.CharField(max_length=200, blank=True, help_text="The service or work order, named as it was")
    fields = models.JSONField(default=dict, blank=True, help_text="field: [before, after]")
    note = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["at", "pk"]
        indexes = [
            # The service program's own changes, newest first (maintenance/program.py).
            models.Index(
                fields=["fleet", "-at"], name="change_program_recent", condition=models.Q(work_order__isnull=True)
            ),
        ]

    def __str__(self):
        return f"{self.get_action_display()}: {self.subject}"
