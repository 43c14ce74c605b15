from django.contrib import admin

from alerts.models import Alert, AlertEvent, AlertRule, Delivery, Endpoint, Subscription
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


@admin.register(AlertEvent)
class AlertEventAdmin(RecordAdmin):
    list_display = ["at", "alert", "kind", "by_email", "summary"]
    list_filter = ["kind"]
    search_fields = ["summary", "by_email", "alert__vehicle__vin"]
    list_select_related = ["alert__vehicle"]


@admin.register(Subscription)
class SubscriptionAdmin(RecordAdmin):
    """A member's own choice of alerts, made on the fleet's subscription page."""

    list_display = ["user", "fleet", "mode", "weekly_report", "last_digest_at"]
    list_filter = ["mode", "weekly_report", "fleet"]
    search_fields = ["user__email"]
    list_select_related = ["user", "fleet"]


@admin.register(Endpoint)
class EndpointAdmin(RecordAdmin):
    """A fleet's outgoing webhook, set up on its channels page; its signing secret is never shown."""

    list_display = ["name", "fleet", "url", "enabled", "consecutive_failures", "paused_at", "last_success_at"]
    list_filter = ["enabled", "fleet"]
    search_fields = ["name", "url"]
    exclude = ["secret_encrypted"]

    def get_readonly_fields(self, request, obj=None):
        return [name for name in super().get_readonly_fields(request, obj) if name != "secret_encrypted"]


@admin.register(Delivery)
class DeliveryAdmin(RecordAdmin):
    list_display = ["created_at", "fleet", "channel", "endpoint", "user", "status", "attempts", "response_status"]
    list_filter = ["channel", "status"]
    search_fields = ["endpoint__name", "user__email", "last_error"]
    list_select_related = ["fleet", "endpoint", "user"]
