"""Admin for the Smartcar side of the installation: accounts (never their tokens), webhooks, events, subscriptions."""

from django.contrib import admin, messages
from django.db import transaction

from connect import services, subscriptions
from connect.models import ApiSwitch, EventStatus, SmartcarAccount, Webhook, WebhookEvent, WebhookSubscription
from connect.tokens import account_mark_needs_reconnect
from connect.webhook_events import webhook_event_retry
from fleet.admin_records import RecordAdmin


def _report_messages(modeladmin, request, report) -> None:
    fine = report.switched or report.already or (report.dry_run and not report.failing and not report.problem)
    level = messages.SUCCESS if fine else messages.WARNING
    for line in report.lines:
        modeladmin.message_user(request, line, level)


@admin.action(description="Check the move of the whole installation to Smartcar API v3 (dry run)")
def api_v3_check(modeladmin, request, queryset):
    from connect.migration import installation_migrate_to_v3

    _report_messages(modeladmin, request, installation_migrate_to_v3(dry_run=True, by=request.user.email))


@admin.action(description="Move the whole installation to Smartcar API v3", permissions=["change"])
def api_v3_migrate(modeladmin, request, queryset):
    from connect.migration import installation_migrate_to_v3

    _report_messages(modeladmin, request, installation_migrate_to_v3(dry_run=False, by=request.user.email))


@admin.register(SmartcarAccount)
class SmartcarAccountAdmin(admin.ModelAdmin):
    """Expiry and status only: the encrypted tokens are neither listed, shown nor editable."""

    list_display = ("short_user_id", "fleet", "status", "access_expires_at", "refresh_expires_at", "last_refreshed_at")
    list_filter = ("status", "fleet")
    search_fields = ("smartcar_user_id", "fleet__name")
    list_select_related = ("fleet",)
    fields = (
        "fleet",
        "smartcar_user_id",
        "status",
        "access_expires_at",
        "refresh_expires_at",
        "last_refreshed_at",
        "last_error",
        "connected_by",
        "created_at",
        "updated_at",
    )
    readonly_fields = (
        "fleet",
        "smartcar_user_id",
        "access_expires_at",
        "refresh_expires_at",
        "last_refreshed_at",
        "last_error",
        "connected_by",
        "created_at",
        "updated_at",
    )
    actions = ("mark_needs_reconnect", "disconnect", api_v3_check, api_v3_migrate)

    def has_add_permission(self, request):
        return False  # accounts come from Connect, never typed in

    @admin.display(description="Smartcar user")
    def short_user_id(self, obj):
        return f"{obj.smartcar_user_id[:8]}…"

    @admin.action(description="Mark as needing reconnect (stops syncing until the owner runs Connect again)")
    def mark_needs_reconnect(self, request, queryset):
        for account in queryset:
            account_mark_needs_reconnect(account=account, reason=f"Marked in admin by {request.user}")
        self.message_user(request, f"{queryset.count()} account(s) marked as needing reconnect.", messages.SUCCESS)

    @admin.action(description="Disconnect at Smartcar (vehicles kept with their history)")
    def disconnect(self, request, queryset):
        done = 0
        for account in queryset.select_related("fleet"):
            try:
                services.account_disconnect(account=account, delete_history=False)
                done += 1
            except services.DisconnectError as exc:
                self.message_user(request, f"{account}: {exc.user_message}", messages.ERROR)
        self.message_user(request, f"{done} account(s) disconnected.", messages.SUCCESS)


class WebhookSubscriptionInline(admin.TabularInline):
    model = WebhookSubscription
    extra = 0
    can_delete = False
    fields = ("vehicle", "status", "changed_at", "last_error")
    readonly_fields = fields
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Webhook)
class WebhookAdmin(admin.ModelAdmin):
    """The webhooks configured in Smartcar's Dashboard. Their key is the management token, set in the environment."""

    list_display = ("name", "smartcar_id", "enabled", "receiver_url", "verified_at", "created_at")
    list_filter = ("enabled",)
    search_fields = ("name", "smartcar_id")
    fields = ("name", "smartcar_id", "enabled", "receiver_url", "verified_at", "created_at")
    readonly_fields = ("receiver_url", "verified_at", "created_at")

    @admin.display(description="Callback URL to enter in Smartcar's Dashboard")
    def receiver_url(self, obj):
        return obj.get_absolute_url() if obj.pk else "—"


@admin.register(WebhookEvent)
class WebhookEventAdmin(RecordAdmin):
    """Every verified delivery, as received: a record, never edited. Refused deliveries are only logged."""

    list_display = ("received_at", "event_name", "event_type", "vehicle", "status", "outcome", "processed_at")
    list_filter = ("status", "event_name", "event_type", "webhook")
    search_fields = ("event_id", "smartcar_vehicle_id", "vehicle__vin", "vehicle__nickname")
    list_select_related = ("vehicle", "webhook")
    date_hierarchy = "received_at"
    actions = ("process_again",)

    def has_change_permission(self, request, obj=None):
        return False

    @admin.action(description="Process again (failed, stuck or never picked up)")
    def process_again(self, request, queryset):
        unfinished = [EventStatus.RECEIVED, EventStatus.PROCESSING, EventStatus.FAILED]
        events = list(queryset.filter(status__in=unfinished))
        with transaction.atomic():
            for event in events:
                webhook_event_retry(event=event)
        self.message_user(request, f"{len(events)} event(s) handed to a worker again.", messages.SUCCESS)


@admin.register(WebhookSubscription)
class WebhookSubscriptionAdmin(admin.ModelAdmin):
    list_display = ("vehicle", "webhook", "status", "changed_at", "last_error")
    list_filter = ("status", "webhook", "vehicle__fleet")
    search_fields = ("vehicle__vin", "vehicle__smartcar_id", "vehicle__nickname")
    list_select_related = ("vehicle", "webhook")
    readonly_fields = ("vehicle", "webhook", "status", "changed_at", "last_error")
    actions = ("unsubscribe",)

    def has_add_permission(self, request):
        return False  # subscriptions are made at Smartcar through the vehicle page or the vehicles' admin action

    @admin.action(description="Unsubscribe these vehicles from webhooks")
    def unsubscribe(self, request, queryset):
        vehicles = {row.vehicle for row in queryset.select_related("vehicle")}
        for vehicle in vehicles:
            result = subscriptions.vehicle_webhooks_unsubscribe(vehicle=vehicle)
            if result.errors:
                self.message_user(request, f"{vehicle}: {result.message}", messages.ERROR)
        self.message_user(request, f"{len(vehicles)} vehicle(s) unsubscribed.", messages.SUCCESS)


@admin.register(ApiSwitch)
class ApiSwitchAdmin(RecordAdmin):
    """When the installation moved to another Smartcar API version, who moved it, and the migration's report."""

    list_display = ("version", "switched_at", "switched_by")
