from django.apps import AppConfig


def _vehicles_changed(sender, vehicle_ids, **kwargs):
    from alerts.evaluation import vehicles_evaluate

    vehicles_evaluate(vehicle_ids=vehicle_ids)


class AlertsConfig(AppConfig):
    name = "alerts"

    def ready(self):
        from vehicles.signals import readings_stored, vehicles_changed

        readings_stored.connect(_vehicles_changed, dispatch_uid="alerts_readings_stored")
        vehicles_changed.connect(_vehicles_changed, dispatch_uid="alerts_vehicles_changed")
