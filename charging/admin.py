from django.contrib import admin

from charging.models import BulkScheduleRun, BulkScheduleTarget, ChargingLocationLabel, ChargingSession


@admin.register(ChargingSession)
class ChargingSessionAdmin(admin.ModelAdmin):
    list_display = ["vehicle", "source", "started_at", "ended_at", "energy_kwh", "start_percent", "end_percent"]
    list_filter = ["source", "vehicle__fleet"]
    search_fields = ["vehicle__vin", "vehicle__smartcar_id", "location"]
    date_hierarchy = "started_at"
    list_select_related = ["vehicle"]
    raw_id_fields = ["vehicle"]


@admin.register(ChargingLocationLabel)
class ChargingLocationLabelAdmin(admin.ModelAdmin):
    list_display = ["label", "fleet", "latitude", "longitude"]
    list_filter = ["fleet"]


class BulkScheduleTargetInline(admin.TabularInline):
    model = BulkScheduleTarget
    extra = 0
    fields = ["vehicle", "status", "message", "finished_at"]
    readonly_fields = fields
    can_delete = False


@admin.register(BulkScheduleRun)
class BulkScheduleRunAdmin(admin.ModelAdmin):
    list_display = ["created_at", "fleet", "kind", "make", "summary", "status", "created_by"]
    list_filter = ["status", "kind", "fleet"]
    readonly_fields = [
        "fleet",
        "kind",
        "make",
        "payload",
        "summary",
        "created_by",
        "created_at",
        "status",
        "finished_at",
    ]
    inlines = [BulkScheduleTargetInline]
