"""Admin for simulated vehicles, their state, fault settings and billing counters.

A vehicle's state is shown readable (pretty JSON) and stays editable as JSON for testers, e.g. to
set ``"force_error": "VEHICLE_STATE:DOOR_OPEN"`` or ``"trip_chance": 0``; its faults (latency, rate
limit, fault rate) are plain fields.
"""

import json

from django.contrib import admin, messages
from django.utils.html import format_html

from simulator import clock, world
from simulator.models import BillingCounter, FaultSettings, Vehicle


@admin.register(Vehicle)
class VehicleAdmin(admin.ModelAdmin):
    list_display = ["vin", "make", "model", "year", "engine_type", "region", "routine", "owner", "summary"]
    list_filter = ["make", "engine_type", "region", "routine"]
    search_fields = ["vin", "vehicle_id", "owner__email", "model"]
    readonly_fields = ["vehicle_id", "simulated_at", "created_at", "state_pretty"]
    fieldsets = [
        (None, {"fields": ["vehicle_id", "owner", "make", "model", "year", "vin", "engine_type", "region", "routine"]}),
        ("Faults", {"fields": ["latency_ms", "requests_per_minute", "fault_rate"]}),
        ("Simulation", {"fields": ["simulated_at", "state_pretty", "state", "created_at"]}),
    ]
    actions = ["advance_to_now"]

    @admin.display(description="now")
    def summary(self, vehicle: Vehicle) -> str:
        state = vehicle.state or {}
        parts = [state.get("activity", "?")]
        if "ev" in state:
            parts.append(f"{state['ev']['soc']:.0%} {state['ev']['charging'].lower()}")
        if state.get("deep_sleep"):
            parts.append("deep sleep")
        elif state.get("asleep"):
            parts.append("asleep")
        if state.get("dtcs"):
            parts.append(f"{len(state['dtcs'])} DTC")
        return ", ".join(parts)

    @admin.display(description="State (read-only view)")
    def state_pretty(self, vehicle: Vehicle) -> str:
        return format_html("<pre>{}</pre>", json.dumps(vehicle.state, indent=2, sort_keys=True))

    @admin.action(description="Advance the selected vehicles to the simulated now")
    def advance_to_now(self, request, queryset):
        now = clock.now()
        for vehicle_id in queryset.values_list("pk", flat=True):
            world.vehicle_advance(vehicle_id=vehicle_id, until=now)
        message = f"Advanced {queryset.count()} vehicle(s) to {now:%Y-%m-%d %H:%M} UTC."
        self.message_user(request, message, messages.INFO)


@admin.register(FaultSettings)
class FaultSettingsAdmin(admin.ModelAdmin):
    list_display = ["__str__", "latency_ms", "realistic_latency", "requests_per_minute", "upstream_rate",
                    "asleep_rate", "timeout_rate", "malformed_rate", "clock_speed"]  # fmt: skip

    def has_add_permission(self, request):
        return not FaultSettings.objects.exists()

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(BillingCounter)
class BillingCounterAdmin(admin.ModelAdmin):
    list_display = ["day", "vehicle", "calls"]
    list_filter = ["day"]
    search_fields = ["vehicle__vin", "vehicle__vehicle_id"]
    date_hierarchy = "day"
    readonly_fields = ["vehicle", "day", "calls"]

    def has_add_permission(self, request):
        return False
