from django.apps import AppConfig


class TripsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "trips"
    verbose_name = "Drivers, places, trips and costs"

    def ready(self):
        # The sync engine announces stored readings through a signal of its own layer; trips listen from above.
        from trips import receivers  # noqa: F401
