from django.contrib import admin

from charging.models import (
    BulkScheduleRun,
    BulkScheduleTarget,
    ChargingLocationLabel,
    ChargingObservation,
    ChargingSession,
)
from fleet.admin_records import RecordAdmin


class ChargingObservationInline(admin.TabularInline):
    model = ChargingObservation
    extra = 0
    fields = ["source", "external_id", "started_at", "ended_at", "facts"]
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(ChargingSession)
class ChargingSessionAdmin(RecordAdmin):
    """One real charge, settled from its observations (charging/sessions.py): read-only, settling rewrites it."""

    list_display = ["vehicle", "source", "started_at", "ended_at", "energy_kwh", "energy_source", "end_percent"]
    list_filter = ["source", "energy_source", "vehicle__fleet"]
    search_fields = ["vehicle__vin", "vehicle__smartcar_id", "location"]
    date_hierarchy = "started_at"
    list_select_related = ["vehicle"]
    inlines = [ChargingObservationInline]


@admin.register(ChargingObservation)
class ChargingObservationAdmin(RecordAdmin):
    """What one source said about one charge (a record of what the app was told: read-only)."""

    list_display = ["vehicle", "source", "started_at", "ended_at", "session"]
    list_filter = ["source", "vehicle__fleet"]
    search_fields = ["vehicle__vin", "vehicle__smartcar_id", "external_id"]
    list_select_related = ["vehicle", "session"]


@admin.register(ChargingLocationLabel)
class ChargingLocationLabelAdmin(admin.ModelAdmin):
    list_display = ["label", "fleet", "latitude", "longitude"]
    list_filter = ["fleet"]
    search_fields = ["label", "fleet__name"]


class BulkScheduleTargetInline(admin.TabularInline):
    model = BulkScheduleTarget
    extra = 0
    fields = ["vehicle", "status", "message", "finished_at"]
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(BulkScheduleRun)
class BulkScheduleRunAdmin(RecordAdmin):
    """A bulk schedule a manager applied from the charging pages, and how each vehicle took it: a record."""

    list_display = ["created_at", "fleet", "kind", "make", "summary", "status", "created_by"]
    list_filter = ["status", "kind", "fleet"]
    search_fields = ["summary", "fleet__name", "created_by__email"]
    date_hierarchy = "created_at"
    inlines = [BulkScheduleTargetInline]


@admin.register(BulkScheduleTarget)
class BulkScheduleTargetAdmin(RecordAdmin):
    """One vehicle of a bulk schedule run and how it ended (a record: read-only)."""

    list_display = ["run", "vehicle", "status", "message", "finished_at"]
    list_filter = ["status", "run__fleet"]
    search_fields = ["vehicle__vin", "vehicle__nickname", "message"]
    list_select_related = ["run", "vehicle"]
