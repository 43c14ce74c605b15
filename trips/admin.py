from django.contrib import admin

from fleet.admin_records import RecordAdmin, RecordAdminMixin
from trips.models import (
    Assignment,
    Driver,
    OffHoursDeparture,
    Place,
    SessionCost,
    Statement,
    StatementLine,
    Tariff,
    TariffBand,
    Trip,
    TripProgress,
)


@admin.register(Driver)
class DriverAdmin(admin.ModelAdmin):
    list_display = ["name", "fleet", "user", "home"]
    list_filter = ["fleet"]
    search_fields = ["name", "email"]
    raw_id_fields = ["user", "home"]


@admin.register(Assignment)
class AssignmentAdmin(admin.ModelAdmin):
    list_display = ["driver", "vehicle", "starts_at", "ends_at"]
    raw_id_fields = ["driver", "vehicle", "created_by"]


@admin.register(Place)
class PlaceAdmin(admin.ModelAdmin):
    list_display = ["name", "fleet", "kind", "latitude", "longitude", "radius_m"]
    list_filter = ["kind", "fleet"]


@admin.register(Trip)
class TripAdmin(admin.ModelAdmin):
    list_display = ["vehicle", "kind", "started_at", "ended_at", "distance_km", "driver", "purpose"]
    list_filter = ["kind", "purpose"]
    raw_id_fields = ["vehicle", "driver", "start_place", "end_place", "tagged_by"]


class TariffBandInline(RecordAdminMixin, admin.TabularInline):
    model = TariffBand
    extra = 0


@admin.register(Tariff)
class TariffAdmin(RecordAdmin):
    """Prices are set on the fleet's tariff pages, which check that bands neither overlap nor leave hours out."""

    list_display = ["fleet", "place", "kind", "currency", "price_per_kwh", "updated_at"]
    list_filter = ["kind", "currency"]
    list_select_related = ["fleet", "place"]
    inlines = [TariffBandInline]


@admin.register(TariffBand)
class TariffBandAdmin(RecordAdmin):
    list_display = ["tariff", "weekdays", "start_hour", "end_hour", "price_per_kwh"]


@admin.register(SessionCost)
class SessionCostAdmin(RecordAdmin):
    list_display = ["session", "place", "driver", "basis", "amount", "currency", "missing", "computed_at"]
    list_filter = ["basis", "currency"]
    list_select_related = ["session", "place", "driver"]


class StatementLineInline(RecordAdminMixin, admin.TabularInline):
    model = StatementLine
    extra = 0
    can_delete = False


@admin.register(Statement)
class StatementAdmin(RecordAdmin):
    """Issued statements are frozen: shown here as they were issued, never changed."""

    list_display = ["driver_name", "fleet", "month", "energy_kwh", "amount", "currency", "issued_at"]
    list_filter = ["fleet", "currency"]
    search_fields = ["driver_name"]
    inlines = [StatementLineInline]

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(StatementLine)
class StatementLineAdmin(RecordAdmin):
    list_display = ["statement", "vehicle_name", "started_at", "ended_at", "energy_kwh", "amount"]

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(TripProgress)
class TripProgressAdmin(RecordAdmin):
    list_display = ["vehicle", "derived_until", "updated_at"]


@admin.register(OffHoursDeparture)
class OffHoursDepartureAdmin(RecordAdmin):
    list_display = ["vehicle", "place", "left_after", "left_at", "returned_at"]
    list_select_related = ["vehicle", "place"]
