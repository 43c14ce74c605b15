"""Maintenance in the operators' admin: read-only, because every change is made on the fleet's pages, where it is
recorded (maintenance/changes.py); a change typed in here would escape the record."""

from django.contrib import admin

from fleet.admin_records import RecordAdmin
from maintenance.models import Change, ServicePoint, ServiceTask, WorkOrder


class MaintenanceRecordAdmin(RecordAdmin):
    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(ServiceTask)
class ServiceTaskAdmin(MaintenanceRecordAdmin):
    list_display = ["name", "fleet", "every_km", "every_months", "make", "model"]
    search_fields = ["name", "fleet__slug"]


@admin.register(ServicePoint)
class ServicePointAdmin(MaintenanceRecordAdmin):
    list_display = ["task", "vehicle", "done_on", "done_km", "baseline"]
    search_fields = ["task__name", "vehicle__vin"]


@admin.register(WorkOrder)
class WorkOrderAdmin(MaintenanceRecordAdmin):
    list_display = ["__str__", "fleet", "vehicle", "status", "source", "assignee", "due_on", "completed_on"]
    list_filter = ["status", "source"]
    search_fields = ["title", "code", "vehicle__vin", "assignee"]


@admin.register(Change)
class ChangeAdmin(MaintenanceRecordAdmin):
    list_display = ["at", "fleet", "user_email", "action", "subject"]
    list_filter = ["action"]
    search_fields = ["subject", "user_email", "fleet__slug"]
