from django.contrib import admin

from trips.models import Assignment, Driver, Place, Trip


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
