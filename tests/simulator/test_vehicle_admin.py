"""Admin of the simulated vehicles: state readable, faults editable, billing visible."""

from datetime import timedelta

import pytest

from fleet.models import User
from simulator.models import BillingCounter, FaultSettings, Vehicle


@pytest.fixture
def admin_client(client, db):
    client.force_login(User.objects.create_superuser(email="ops@example.com", password="x" * 12))
    return client


def test_vehicle_pages_show_the_state_and_a_summary(admin_client, sim_vehicle):
    vehicle = sim_vehicle("CHEVROLET", model="Bolt EV")
    listing = admin_client.get("/admin/simulator/vehicle/")
    assert listing.status_code == 200
    assert vehicle.vin in listing.content.decode()
    page = admin_client.get(f"/admin/simulator/vehicle/{vehicle.pk}/change/")
    assert page.status_code == 200
    assert "&quot;odometer&quot;" in page.content.decode()  # the pretty-printed state


def test_a_vehicles_faults_are_editable(admin_client, sim_vehicle):
    vehicle = sim_vehicle("TESLA")
    page = admin_client.get(f"/admin/simulator/vehicle/{vehicle.pk}/change/")
    form = page.context["adminform"].form
    data = {name: form[name].value() for name in form.fields if form[name].value() is not None}
    data.update(latency_ms=250, requests_per_minute=3, fault_rate=0.1)
    response = admin_client.post(f"/admin/simulator/vehicle/{vehicle.pk}/change/", data)
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else ""
    vehicle.refresh_from_db()
    assert (vehicle.latency_ms, vehicle.requests_per_minute, vehicle.fault_rate) == (250, 3, 0.1)


def test_the_advance_action_moves_vehicles_to_the_simulated_now(admin_client, sim_vehicle, sim_clock):
    vehicle = sim_vehicle("FORD")
    sim_clock.advance(timedelta(hours=5))
    response = admin_client.post(
        "/admin/simulator/vehicle/", {"action": "advance_to_now", "_selected_action": [vehicle.pk]}
    )
    assert response.status_code == 302
    assert Vehicle.objects.get(pk=vehicle.pk).simulated_at == sim_clock.now()


def test_fault_settings_and_billing_counters_are_shown(admin_client, sim_vehicle):
    FaultSettings.current()
    vehicle = sim_vehicle("TESLA")
    BillingCounter.objects.create(vehicle=vehicle, day=vehicle.created_at.date(), calls=7)
    assert admin_client.get("/admin/simulator/faultsettings/1/change/").status_code == 200
    billing = admin_client.get("/admin/simulator/billingcounter/")
    assert billing.status_code == 200 and ">7<" in billing.content.decode()
