"""Admin for operators: vehicles with their sync state, fleet sync settings (and the billing alert), counters.

Tokens never appear here: vehicles show their account only by its id and status.
"""

from datetime import timedelta

from django.conf import settings
from django.contrib import admin, messages
from django.utils import timezone
from django.utils.html import format_html_join

from fleet.admin_records import RecordAdmin, RecordAdminMixin
from fleet.outbox import enqueue
from vehicles import sync
from vehicles.models import (
    Command,
    DiagnosticAcknowledgement,
    DiagnosticTroubleCode,
    EndpointState,
    FleetSync,
    HistoryRollupProgress,
    StatusHistory,
    SyncCounter,
    SystemStatus,
    UnparsedReading,
    Vehicle,
    VehicleGroup,
    VehicleStatus,
    VehicleSync,
)

HISTORY_ROWS, HISTORY_DAYS = 50, 7
STATUS_SYNC_FIELDS = ["sync_state", "activity", "last_sync_at", "last_success_at", "data_age", "last_error"]


class VehicleStatusInline(RecordAdminMixin, admin.StackedInline):
    model = VehicleStatus
    can_delete = False
    extra = 0


class VehicleSyncInline(admin.StackedInline):
    model = VehicleSync
    can_delete = False
    extra = 0
    readonly_fields = [
        "next_sync_at",
        "backoff_until",
        "backoff_failures",
        "lease_until",
        "requested_at",
        "month",
        "billed_calls_month",
    ]
    exclude = ["lease_token"]

    def has_add_permission(self, request, obj=None):
        return False


class EndpointStateInline(admin.TabularInline):
    model = EndpointState
    extra = 0
    can_delete = False
    fields = readonly_fields = (
        "path",
        "next_sync_at",
        "last_success_at",
        "data_age",
        "parked_until",
        "failures",
        "last_error",
    )

    def has_add_permission(self, request, obj=None):
        return False


class ConnectedFilter(admin.SimpleListFilter):
    title = "connection"
    parameter_name = "connected"

    def lookups(self, request, model_admin):
        return [("yes", "Connected"), ("no", "Disconnected")]

    def queryset(self, request, queryset):
        if self.value() in ("yes", "no"):
            return queryset.filter(disconnected_at__isnull=self.value() == "yes")
        return queryset


@admin.register(Vehicle)
class VehicleAdmin(admin.ModelAdmin):
    list_display = ["__str__", "fleet", "make", "vin", "sync_state", "last_sync_at", "webhook_subscribed", "connected"]
    list_filter = [ConnectedFilter, "fleet", "make", "status__sync_state", "webhook_subscribed"]
    search_fields = ["vin", "smartcar_id", "nickname", "model", "account__smartcar_user_id"]
    list_select_related = ["fleet", "status"]
    readonly_fields = [
        "smartcar_id",
        "account",
        "permissions",
        "webhook_subscribed",
        "connected_at",
        "disconnected_at",
        "updated_at",
        "recent_history",
    ]
    inlines = [VehicleStatusInline, VehicleSyncInline, EndpointStateInline]
    actions = ["sync_now", "webhooks_subscribe", "webhooks_unsubscribe", "disconnect", "mark_needs_reconnect"]

    def has_add_permission(self, request):
        return False  # vehicles come from Connect (or adoption on the connections page)

    @admin.display(description="Recent history")
    def recent_history(self, vehicle):
        """The newest changes (StatusHistory has a composite key, which the admin cannot list on its own)."""
        since = timezone.now() - timedelta(days=HISTORY_DAYS)  # reads this month's partitions, not the year's
        rows = StatusHistory.objects.filter(vehicle=vehicle, recorded_at__gte=since).order_by("-recorded_at")
        rows = rows[:HISTORY_ROWS]
        return format_html_join(
            "",
            "<div>{} · {} = {}</div>",
            ((row.recorded_at, row.field, row.text if row.number is None else row.number) for row in rows),
        )

    @admin.display(description="Connected", boolean=True, ordering="disconnected_at")
    def connected(self, vehicle):
        return vehicle.is_connected

    @admin.action(description="Subscribe to webhooks (in the background)")
    def webhooks_subscribe(self, request, queryset):
        from connect.tasks import vehicle_webhooks_subscribe

        ids = list(queryset.filter(disconnected_at__isnull=True).values_list("pk", flat=True))
        for vehicle_id in ids:
            enqueue(vehicle_webhooks_subscribe, vehicle_id)
        self.message_user(
            request, f"Subscribing {len(ids)} vehicle(s); failures show on their webhook subscriptions.", messages.INFO
        )

    @admin.action(description="Unsubscribe from webhooks")
    def webhooks_unsubscribe(self, request, queryset):
        from connect.subscriptions import vehicle_webhooks_unsubscribe

        done = 0
        for vehicle in queryset:
            result = vehicle_webhooks_unsubscribe(vehicle=vehicle)
            if result.errors:
                self.message_user(request, f"{vehicle}: {result.message}", messages.ERROR)
            else:
                done += 1
        self.message_user(request, f"{done} vehicle(s) unsubscribed.", messages.SUCCESS)

    @admin.action(description="Disconnect at Smartcar (history kept)")
    def disconnect(self, request, queryset):
        from connect.services import DisconnectError, vehicle_disconnect

        done = 0
        for vehicle in queryset.filter(disconnected_at__isnull=True).select_related("account"):
            try:
                vehicle_disconnect(vehicle=vehicle, delete_history=False)
                done += 1
            except DisconnectError as exc:
                self.message_user(request, f"{vehicle}: {exc.user_message}", messages.ERROR)
        self.message_user(request, f"{done} vehicle(s) disconnected.", messages.SUCCESS)

    @admin.action(description="Mark their accounts as needing reconnect")
    def mark_needs_reconnect(self, request, queryset):
        from connect.models import SmartcarAccount
        from connect.tokens import account_mark_needs_reconnect

        accounts = SmartcarAccount.objects.filter(pk__in=queryset.values("account_id"))
        for account in accounts:
            account_mark_needs_reconnect(account=account, reason=f"Marked in admin by {request.user}")
        self.message_user(request, f"{len(accounts)} account(s) marked as needing reconnect.", messages.SUCCESS)

    @admin.display(description="Sync state", ordering="status__sync_state")
    def sync_state(self, vehicle):
        status = getattr(vehicle, "status", None)
        return status.get_sync_state_display() if status else "Not synced yet"

    @admin.display(description="Last sync", ordering="status__last_sync_at")
    def last_sync_at(self, vehicle):
        status = getattr(vehicle, "status", None)
        return status.last_sync_at if status else None

    @admin.action(description="Sync now (every endpoint)")
    def sync_now(self, request, queryset):
        count = 0
        for vehicle in queryset.filter(disconnected_at__isnull=True):
            sync.vehicle_sync_now(vehicle=vehicle)
            count += 1
        self.message_user(request, f"Sync requested for {count} vehicle(s).", messages.SUCCESS)


@admin.register(VehicleGroup)
class VehicleGroupAdmin(admin.ModelAdmin):
    """A fleet's named sets of vehicles, kept by its managers on the groups pages."""

    list_display = ["name", "fleet", "created_at"]
    list_filter = ["fleet"]
    search_fields = ["name"]
    list_select_related = ["fleet"]
    autocomplete_fields = ["vehicles"]


@admin.register(FleetSync)
class FleetSyncAdmin(admin.ModelAdmin):
    list_display = ["fleet", "use_batch", "monthly_call_budget_per_vehicle", "paused_until", "alert"]
    list_filter = ["use_batch"]
    search_fields = ["fleet__name"]
    fields = ["fleet", "use_batch", "monthly_call_budget_per_vehicle", "paused_until", "alert", "polling_intervals"]
    readonly_fields = ["fleet", "alert", "polling_intervals"]
    actions = ["resume_polling"]

    def has_add_permission(self, request):
        return False  # created on first sync of each fleet

    @admin.display(description="Polling intervals (settings.SYNC_INTERVALS, seconds)")
    def polling_intervals(self, obj):
        rows: list[tuple[str, object]] = [
            (freshness, ", ".join(f"{activity} {seconds}" for activity, seconds in by_activity.items()))
            for freshness, by_activity in settings.SYNC_INTERVALS.items()
        ]
        rows += [(f"calls a day, {make}", calls) for make, calls in settings.SYNC_MAKE_DAILY_CALLS.items()]
        rows.append(("webhook-subscribed vehicles: intervals ×", settings.SYNC_WEBHOOK_INTERVAL_FACTOR))
        rows.append(("a budget with room shortens fast intervals down to", settings.SYNC_INTERVAL_FLOOR_SECONDS))
        return format_html_join("", "<div><strong>{}</strong>: {}</div>", rows)

    @admin.action(description="Resume polling (after a billing pause)")
    def resume_polling(self, request, queryset):
        for fleet_sync in queryset:
            sync.fleet_sync_resume(fleet_sync=fleet_sync)
        self.message_user(request, "Polling resumed.", messages.SUCCESS)


@admin.register(SyncCounter)
class SyncCounterAdmin(admin.ModelAdmin):
    list_display = ["day", "fleet", "requests", "billed_calls"]
    list_filter = ["fleet"]
    date_hierarchy = "day"
    readonly_fields = ["fleet", "day", "requests", "billed_calls"]

    def has_add_permission(self, request):
        return False


@admin.register(VehicleStatus)
class VehicleStatusAdmin(RecordAdmin):
    list_display = ["vehicle", "battery_percent", "fuel_percent", "activity", *STATUS_SYNC_FIELDS[:1], "last_sync_at"]
    list_filter = ["sync_state", "activity", "vehicle__fleet"]
    search_fields = ["vehicle__vin", "vehicle__nickname", "vehicle__smartcar_id"]
    list_select_related = ["vehicle"]


@admin.register(HistoryRollupProgress)
class HistoryRollupProgressAdmin(admin.ModelAdmin):
    """Where the hourly and daily rollups have got to. Setting a time earlier makes the next run (every half hour)
    compute the rollups again from there — after rows were imported into the past, for instance."""

    list_display = ["name", "done_until"]
    readonly_fields = ["name"]

    def has_add_permission(self, request):
        return False


@admin.register(UnparsedReading)
class UnparsedReadingAdmin(RecordAdmin):
    """Readings that gave no value (vehicles/unparsed.py): what came, why it was not read, how often."""

    list_display = ["vehicle", "source", "code", "reason", "count", "first_seen_at", "last_seen_at"]
    list_filter = ["source"]
    search_fields = ["code", "reason", "vehicle__vin"]
    list_select_related = ["vehicle"]


@admin.register(DiagnosticTroubleCode)
class DiagnosticTroubleCodeAdmin(RecordAdmin):
    """What the vehicles reported (vehicles/diagnostics.py keeps it): shown, never typed in."""

    list_display = ["code", "vehicle", "first_seen_at", "last_seen_at", "cleared_at"]
    list_filter = ["vehicle__fleet", "vehicle__make"]
    search_fields = ["code", "vehicle__vin", "vehicle__nickname"]
    list_select_related = ["vehicle"]


@admin.register(SystemStatus)
class SystemStatusAdmin(RecordAdmin):
    """What the vehicles reported about their systems: shown, never typed in."""

    list_display = ["system_id", "vehicle", "status", "description", "changed_at", "last_seen_at"]
    list_filter = ["status", "vehicle__fleet"]
    search_fields = ["system_id", "vehicle__vin", "vehicle__nickname"]
    list_select_related = ["vehicle"]


# --- Dashboard: the remote-command audit log and diagnostic acknowledgements (read-only: an audit is not edited) ----


@admin.register(Command)
class CommandAdmin(RecordAdmin):
    list_display = ["created_at", "vehicle", "user_email", "kind", "old_value", "new_value", "status", "error_message"]
    list_filter = ["status", "kind", "vehicle__fleet"]
    search_fields = ["vehicle__vin", "vehicle__nickname", "user_email", "request_id"]
    list_select_related = ["vehicle"]
    date_hierarchy = "created_at"

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(DiagnosticAcknowledgement)
class DiagnosticAcknowledgementAdmin(RecordAdmin):
    list_display = ["acknowledged_at", "acknowledged_by_email", "dtc", "system_status", "note"]
    list_select_related = ["dtc", "system_status"]
    search_fields = ["acknowledged_by_email", "note", "dtc__code", "system_status__system_id"]


@admin.register(EndpointState)
class EndpointStateAdmin(RecordAdmin):
    """Each endpoint of each vehicle: cadence, last reading, parking after 501s and denials after 403s."""

    list_display = ["vehicle", "path", "next_sync_at", "last_success_at", "data_age", "parked_until", "failures"]
    list_filter = ["path", "vehicle__fleet"]
    search_fields = ["vehicle__vin", "vehicle__smartcar_id", "path"]
    list_select_related = ["vehicle"]


@admin.register(VehicleSync)
class VehicleSyncAdmin(admin.ModelAdmin):
    """The scheduling rows: when each vehicle is due, its back-off and lease (the lease token is internal)."""

    list_display = ["vehicle", "next_sync_at", "backoff_until", "backoff_failures", "lease_until", "billed_calls_month"]
    search_fields = ["vehicle__vin", "vehicle__smartcar_id"]
    list_select_related = ["vehicle"]
    exclude = ["lease_token"]
    readonly_fields = [
        "vehicle",
        "next_sync_at",
        "backoff_until",
        "backoff_failures",
        "lease_until",
        "requested_at",
        "month",
        "billed_calls_month",
    ]

    def has_add_permission(self, request):
        return False
