"""More conditions, each driven through the simulator: the vehicle's simulated state changes, sync reads it through
the real client, one alert opens; the state goes back, the alert resolves."""

from datetime import time, timedelta

import pytest
from django.utils import timezone

from alerts.evaluation import due_check
from alerts.models import Alert, AlertState
from tests.alerts.conftest import nudge, sync_all
from tests.vehicles.conftest import connect_simulated


def _tires(kpa):
    return lambda s: s.update(tires_cold=[kpa, 240.0, 240.0, 240.0])


def _abs(description):
    return lambda s: s.update(system_alerts={"SYSTEM_ABS": description} if description else {})


CASES = {
    "low_tire": ("TESLA", _tires(150.0), _tires(240.0)),
    "system_alert": ("CHEVROLET", _abs("ABS sensor signal intermittent"), _abs(None)),
    "charging_stopped": (
        "TESLA",
        lambda s: s["ev"].update(soc=0.5, limit=0.9, plugged=True, charging="NOT_CHARGING", user_stopped=True),
        lambda s: s["ev"].update(soc=0.9, charging="FULLY_CHARGED"),
    ),
    "not_plugged_in": (
        "TESLA",
        lambda s: s["ev"].update(soc=0.3, plugged=False, charging="NOT_CHARGING", charger=None),
        lambda s: s["ev"].update(soc=0.8),
    ),
}


@pytest.mark.parametrize("condition", list(CASES))
def test_the_condition_opens_one_alert_then_resolves(condition, fleet, transactional_db):
    make, into, out_of = CASES[condition]
    fleet.charge_by, fleet.charge_by_below_percent = time(0, 0), 50  # plugged in by midnight: always past
    fleet.save()
    vehicle = connect_simulated(fleet, makes=[make]).vehicles[0]
    nudge(vehicle, into)
    sync_all()
    due_check(now=timezone.now() + timedelta(minutes=11))  # past any rule's delay
    alert = Alert.objects.get(vehicle=vehicle, condition=condition)
    assert alert.state == AlertState.OPEN

    nudge(vehicle, out_of)
    sync_all()
    alert.refresh_from_db()
    assert alert.state == AlertState.RESOLVED
    assert Alert.objects.filter(vehicle=vehicle, condition=condition).count() == 1


def test_access_lost_opens_a_needs_reconnect_alert(fleet, transactional_db):
    vehicle = connect_simulated(fleet, makes=["FORD"]).vehicles[0]
    sync_all()
    nudge(vehicle, lambda s: s.update(force_error="AUTHENTICATION:"))
    sync_all()
    alert = Alert.objects.get(vehicle=vehicle, condition="reconnect")
    assert alert.state == AlertState.OPEN and alert.events.count() == 1
