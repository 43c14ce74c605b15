"""The service program: managers add services; absurd intervals are refused; each vehicle shows what is due."""

from datetime import date, timedelta

import pytest
from django.urls import reverse

from maintenance.models import ServicePoint, ServiceTask
from vehicles.models import VehicleStatus


def add(client, fleet, **fields):
    return client.post(reverse("maintenance_program", args=[fleet.slug]), fields)


def test_it_adds_a_service_for_a_make(manager_client, fleet, vehicles):
    response = add(manager_client, fleet, name="Oil change", every_km="15000", every_months="12", make="CHEVROLET")
    assert response.status_code == 302
    task = ServiceTask.objects.get(fleet=fleet)
    assert (task.name, task.every_km, task.every_months, task.make) == ("Oil change", 15000, 12, "CHEVROLET")
    page = manager_client.get(reverse("maintenance_program", args=[fleet.slug])).content.decode()
    assert "every 15,000 km or every 12 months" in page and "Every Chevrolet" in page


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"every_km": "0"}, "every_km", "between 500 and 200,000 km"),
        ({"every_km": "-5000"}, "every_km", "between 500 and 200,000 km"),
        ({"every_km": "5000000"}, "every_km", "between 500 and 200,000 km"),
        ({"every_months": "0"}, "every_months", "between 1 and 60 months"),
        ({"every_months": "600"}, "every_months", "between 1 and 60 months"),
        ({"oil_life_below_percent": "120"}, "oil_life_below_percent", "between 1 and 99 %"),
        ({"tire_pressure_below_kpa": "20"}, "tire_pressure_below_kpa", "between 100 and 400 kPa"),
        ({}, None, "Say when the service falls due"),
        ({"every_km": "10000", "model": "Bolt EV"}, "model", "Choose the make"),
    ],
)
def test_absurd_intervals_are_refused_with_a_clear_message_and_nothing_saved(
    manager_client, fleet, vehicles, fields, field, message
):
    response = add(manager_client, fleet, name="Tires", **fields)
    assert response.status_code == 422
    form = response.context["form"]
    errors = form.errors[field] if field else form.non_field_errors()
    assert any(message in e for e in errors), form.errors
    assert message in response.content.decode()
    assert not ServiceTask.objects.exists()


def test_a_second_service_of_the_same_name_is_refused(manager_client, fleet, oil_change):
    response = add(manager_client, fleet, name="oil change", every_km="10000")
    assert response.status_code == 422 and "already has a service of that name" in response.content.decode()


def test_viewers_see_the_program_but_cannot_add(viewer_client, fleet, oil_change):
    page = viewer_client.get(reverse("maintenance_program", args=[fleet.slug]))
    assert page.status_code == 200
    assert "Oil change" in page.content.decode() and "Add a service" not in page.content.decode()
    assert add(viewer_client, fleet, name="Tires", every_km="10000").status_code == 403
    assert ServiceTask.objects.count() == 1


def test_another_fleets_service_is_not_found(owner_client, other_fleet):
    task = ServiceTask.objects.create(fleet=other_fleet, name="Theirs", every_km=10000)
    url = reverse("maintenance_program_task", args=[other_fleet.slug, task.pk])
    assert owner_client.get(url).status_code == 404
    assert owner_client.post(url, {"action": "delete"}).status_code == 404
    assert ServiceTask.objects.filter(pk=task.pk).exists()


def test_the_vehicle_shows_overdue_due_and_upcoming_services(owner_client, fleet, vehicles, oil_change):
    bolt = vehicles[3]
    ServiceTask.objects.create(fleet=fleet, name="Tire check", tire_pressure_below_kpa=200).vehicles.add(bolt)
    ServiceTask.objects.create(fleet=fleet, name="Brake inspection", every_km=20000).vehicles.add(bolt)
    VehicleStatus.objects.filter(vehicle=bolt).update(odometer_km=15400.0, tire_pressure_front_left_kpa=180.0)
    ServicePoint.objects.create(vehicle=bolt, task=oil_change, done_on=date.today() - timedelta(days=90), done_km=0)
    url = reverse("vehicle_maintenance", args=[fleet.slug, bolt.pk])
    page = owner_client.get(url).content.decode()
    # Oil change: 15,000 km passed; tire check: a tire below 200 kPa; brake inspection at 20,000 km.
    assert page.index("Oil change") < page.index("Tire check") < page.index("Brake inspection")
    assert "400 km overdue" in page and "A tire at 180 kPa" in page and "Next: in 4,600 km" in page
    # The vehicle page shows the section (loaded by htmx; the partial alone answers it).
    section = owner_client.get(url, headers={"HX-Request": "true"}).content.decode()
    assert "<h1>" not in section and "400 km overdue" in section
    detail = owner_client.get(reverse("vehicle_detail", args=[fleet.slug, bolt.pk])).content.decode()
    assert url in detail
    # A Tesla has none of these services.
    tesla = owner_client.get(reverse("vehicle_maintenance", args=[fleet.slug, vehicles[0].pk])).content.decode()
    assert "No service of the fleet" in tesla


def test_miles_for_an_imperial_fleet(owner_client, fleet, vehicles, oil_change):
    fleet.unit_system = "imperial"
    fleet.save()
    VehicleStatus.objects.filter(vehicle=vehicles[3]).update(odometer_km=30000 + 1609.344)
    page = owner_client.get(reverse("vehicle_maintenance", args=[fleet.slug, vehicles[3].pk])).content.decode()
    assert "1 mi overdue" not in page and "Next: in 8,321 mi or by" in page


def test_an_imperial_fleet_types_miles_and_psi(manager_client, fleet, vehicles):
    fleet.unit_system = "imperial"
    fleet.save()
    fields = {"name": "Oil change", "every_km": "10000", "tire_pressure_below_kpa": "30", "make": "CHEVROLET"}
    assert add(manager_client, fleet, **fields).status_code == 302
    task = ServiceTask.objects.get()
    assert (task.every_km, task.tire_pressure_below_kpa) == (16093, 207)  # stored in km and kPa
    program = manager_client.get(reverse("maintenance_program", args=[fleet.slug])).content.decode()
    assert "every 10,000 mi" in program and "below 30 psi" in program
    url = reverse("maintenance_program_task", args=[fleet.slug, task.pk])
    page = manager_client.get(url).content.decode()
    assert "Every (mi)" in page and 'value="10000"' in page and "When a tire falls below (psi)" in page
    # Saved as shown, nothing moves and nothing is recorded as changed.
    assert manager_client.post(url, {**fields, "every_months": "12"}).status_code == 302
    task.refresh_from_db()
    assert (task.every_km, task.tire_pressure_below_kpa, task.changes.count()) == (16093, 207, 2)
    assert "changed the interval from 10,000 mi" not in manager_client.get(url).content.decode()
    response = add(manager_client, fleet, name="Tires", every_km="200")
    assert response.status_code == 422 and "between 311 and 124,274 mi" in response.content.decode()
