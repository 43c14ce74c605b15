"""Admin for records the app writes itself (audit logs, readings, events): shown, never typed in by hand."""

from django.contrib import admin


class RecordAdminMixin:
    """Every field read-only and no "Add" button; deletion and actions stay as each admin decides."""

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in self.model._meta.fields]

    def has_add_permission(self, request, obj=None):
        return False


class RecordAdmin(RecordAdminMixin, admin.ModelAdmin):
    pass
