from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from fleet.models import Fleet, Invitation, Membership, User


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    ordering = ["email"]
    list_display = ["email", "name", "is_staff", "is_active", "last_login"]
    list_filter = ["is_staff", "is_active", "memberships__fleet"]
    search_fields = ["email", "name"]
    fieldsets = [
        (None, {"fields": ["email", "password"]}),
        ("Profile", {"fields": ["name"]}),
        ("Permissions", {"fields": ["is_active", "is_staff", "is_superuser", "groups", "user_permissions"]}),
        ("Dates", {"fields": ["last_login", "date_joined"]}),
    ]
    add_fieldsets = [(None, {"classes": ["wide"], "fields": ["email", "password1", "password2"]})]


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Fleet)
class FleetAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "time_zone", "unit_system", "webhooks_subscribe_new_vehicles", "created_at"]
    list_filter = ["unit_system", "webhooks_subscribe_new_vehicles"]
    search_fields = ["name", "slug"]
    readonly_fields = ["created_at"]
    inlines = [MembershipInline]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "fleet", "role", "created_at"]
    list_filter = ["role", "fleet"]
    search_fields = ["user__email", "fleet__name"]
    list_select_related = ["user", "fleet"]
    autocomplete_fields = ["user", "fleet"]


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    # The token is the invitation's secret: never shown.
    list_display = ["email", "fleet", "role", "invited_by", "created_at", "expires_at", "accepted_at"]
    list_filter = ["role", "fleet"]
    search_fields = ["email", "fleet__name"]
    fields = ["fleet", "email", "role", "invited_by", "created_at", "expires_at", "accepted_at", "accepted_by"]
    readonly_fields = ["invited_by", "created_at", "accepted_at", "accepted_by"]
