from django.apps import AppConfig


def _vehicles_changed(sender, vehicle_ids, **kwargs):
    from alerts.evaluation import vehicles_evaluate

    vehicles_evaluate(vehicle_ids=vehicle_ids)


def _fleet_sync_changed(sender, fleet_ids, **kwargs):
    from alerts.fleetwide import fleets_evaluate

    fleets_evaluate(fleet_ids=fleet_ids)


class AlertsConfig(AppConfig):
    name = "alerts"

    def ready(self):
        from alerts.delivery import deliveries_plan
        from alerts.evaluation import EVENT_HOOKS
        from vehicles.signals import fleet_sync_changed, readings_stored, vehicles_changed

        if deliveries_plan not in EVENT_HOOKS:
            EVENT_HOOKS.append(deliveries_plan)

        readings_stored.connect(_vehicles_changed, dispatch_uid="alerts_readings_stored")
        vehicles_changed.connect(_vehicles_changed, dispatch_uid="alerts_vehicles_changed")
        fleet_sync_changed.connect(_fleet_sync_changed, dispatch_uid="alerts_fleet_sync_changed")
