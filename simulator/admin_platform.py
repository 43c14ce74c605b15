"""Admin for applications, users, connections, tokens (masked) and webhook deliveries.

Secrets (client secrets, management tokens, authorization codes, access and refresh tokens) are never
shown in full: the application's secrets are write-only fields, the rest appear as their first characters.
"""

from django import forms
from django.contrib import admin, messages
from django.db import transaction
from django.utils import timezone

from simulator import webhooks
from simulator.models import Application, AuthorizationCode, Connection, Delivery, SmartcarUser, Token, Webhook


def mask(secret: str) -> str:
    return f"{secret[:4]}…" if secret else ""


class ApplicationForm(forms.ModelForm):
    new_client_secret = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="Write-only. Leave empty to keep the current secret (a new application gets a random one).",
    )
    new_management_token = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="Write-only. Leave empty to keep the current token (a new application gets a random one).",
    )

    class Meta:
        model = Application
        fields = ["name", "client_id", "redirect_uris"]

    def save(self, commit=True):
        application = super().save(commit=False)
        if self.cleaned_data.get("new_client_secret"):
            application.client_secret = self.cleaned_data["new_client_secret"]
        if self.cleaned_data.get("new_management_token"):
            application.management_token = self.cleaned_data["new_management_token"]
        if commit:
            application.save()
        return application


@admin.register(Application)
class ApplicationAdmin(admin.ModelAdmin):
    form = ApplicationForm
    list_display = ["name", "client_id", "created_at"]
    search_fields = ["name", "client_id"]


@admin.register(Webhook)
class WebhookAdmin(admin.ModelAdmin):
    list_display = ["name", "application", "callback_url", "webhook_id", "verified_at"]
    list_filter = ["application"]
    readonly_fields = ["webhook_id", "verified_at", "created_at"]
    fields = ["application", "name", "callback_url", "webhook_id", "verified_at", "created_at"]
    actions = ["send_verify_challenge"]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if not change or "callback_url" in form.changed_data:
            # Smartcar sends the one-time challenge when a webhook is registered; send it once the row is saved.
            transaction.on_commit(lambda: self._verify(request, obj))

    @admin.action(description="Send verify challenge")
    def send_verify_challenge(self, request, queryset):
        for webhook in queryset.select_related("application"):
            self._verify(request, webhook)

    def _verify(self, request, webhook: Webhook) -> None:
        if webhooks.webhook_verify(webhook):
            self.message_user(request, f"{webhook.callback_url} answered the verify challenge.", messages.SUCCESS)
        else:
            self.message_user(
                request, f"{webhook.callback_url} did not answer the verify challenge correctly.", messages.WARNING
            )


@admin.register(SmartcarUser)
class SmartcarUserAdmin(admin.ModelAdmin):
    list_display = ["email", "user_id", "created_at"]
    search_fields = ["email", "user_id"]
    readonly_fields = ["user_id", "created_at"]


@admin.register(Connection)
class ConnectionAdmin(admin.ModelAdmin):
    list_display = ["vehicle", "user", "application", "mode", "created_at"]
    list_filter = ["mode", "application"]
    search_fields = ["user__email", "vehicle__vin", "vehicle__vehicle_id"]
    list_select_related = ["vehicle", "user", "application"]
    raw_id_fields = ["vehicle", "user"]


class _ReadOnlyAdmin(admin.ModelAdmin):
    """Issued credentials are records of what happened: viewable (masked) and deletable, never edited."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(AuthorizationCode)
class AuthorizationCodeAdmin(_ReadOnlyAdmin):
    list_display = ["masked_code", "application", "user", "expires_at", "used_at"]
    fields = ["masked_code", "application", "user", "redirect_uri", "expires_at", "used_at"]
    readonly_fields = fields
    list_select_related = ["application", "user"]

    @admin.display(description="code")
    def masked_code(self, obj):
        return mask(obj.code)


@admin.register(Token)
class TokenAdmin(_ReadOnlyAdmin):
    list_display = ["masked_access_token", "user", "application", "grant_type", "access_expires_at", "refresh_used_at"]
    list_filter = ["grant_type", "application"]
    search_fields = ["user__email"]
    fields = [
        "masked_access_token",
        "masked_refresh_token",
        "application",
        "user",
        "grant_type",
        "access_expires_at",
        "refresh_expires_at",
        "refresh_used_at",
        "created_at",
    ]
    readonly_fields = fields
    list_select_related = ["application", "user"]

    @admin.display(description="access token")
    def masked_access_token(self, obj):
        return mask(obj.access_token)

    @admin.display(description="refresh token")
    def masked_refresh_token(self, obj):
        return mask(obj.refresh_token)


@admin.register(Delivery)
class DeliveryAdmin(_ReadOnlyAdmin):
    list_display = ["event_name", "event_id", "webhook", "status", "attempts", "last_status", "next_attempt_at"]
    list_filter = ["event_name", "webhook"]
    fields = [
        "webhook",
        "event_name",
        "event_id",
        "status",
        "attempts",
        "last_status",
        "next_attempt_at",
        "delivered_at",
        "dropped_at",
        "created_at",
        "body",
    ]
    readonly_fields = fields
    list_select_related = ["webhook"]
    actions = ["attempt_again"]

    @admin.display(description="status")
    def status(self, obj):
        if obj.delivered_at:
            return "delivered"
        if obj.dropped_at:
            return "dropped"
        return "pending"

    @admin.action(description="Attempt again now")
    def attempt_again(self, request, queryset):
        count = queryset.filter(delivered_at=None).update(dropped_at=None, next_attempt_at=timezone.now())
        self.message_user(request, f"{count} deliveries will be attempted on the next retry run.", messages.SUCCESS)
