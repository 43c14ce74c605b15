from django.contrib import admin

from connect.models import SmartcarAccount


@admin.register(SmartcarAccount)
class SmartcarAccountAdmin(admin.ModelAdmin):
    """Expiry and status only: the encrypted tokens are neither listed, shown nor editable."""

    list_display = ("short_user_id", "fleet", "status", "access_expires_at", "refresh_expires_at", "last_refreshed_at")
    list_filter = ("status",)
    search_fields = ("smartcar_user_id", "fleet__name")
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

    def has_add_permission(self, request):
        return False  # accounts come from Connect, never typed in

    @admin.display(description="Smartcar user")
    def short_user_id(self, obj):
        return f"{obj.smartcar_user_id[:8]}…"
