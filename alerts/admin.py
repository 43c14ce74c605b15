from django.contrib import admin

from alerts.models import Alert, AlertEvent, AlertRule
from fleet.admin_records import RecordAdmin


@admin.register(AlertRule)
class AlertRuleAdmin(admin.ModelAdmin):
    list_display = ["fleet", "condition", "vehicle", "enabled", "after_minutes", "threshold"]
    list_filter = ["condition", "enabled"]
    raw_id_fields = ["vehicle"]


class AlertEventInline(admin.TabularInline):
    model = AlertEvent
    extra = 0
    can_delete = False
    fields = ["kind", "at", "by_email", "summary", "note"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Alert)
class AlertAdmin(RecordAdmin):
    list_display = ["vehicle", "condition", "state", "summary", "changed_at"]
    list_filter = ["state", "condition"]
    search_fields = ["vehicle__vin", "vehicle__smartcar_id"]
    inlines = [AlertEventInline]
