"""A petrol or diesel vehicle offers no charging anywhere, even when its owner granted charge control."""

import io

from django.core.management import call_command
from django.urls import reverse

from tests.charging.conftest import ALL_PERMISSIONS
from vehicles.models import Command, VehicleStatus


def test_a_petrol_vehicle_has_nothing_to_charge(manager_client, fleet, connected):
    santa_fe = connected("HYUNDAI", model="Santa Fe", permissions=[*ALL_PERMISSIONS, "read_fuel"])
    call_command("sync", "--all", stdout=io.StringIO())  # the simulated car answers fuel, and no battery
    status = VehicleStatus.objects.get(vehicle=santa_fe)
    assert status.fuel_percent is not None and status.battery_percent is None

    vehicle_page = manager_client.get(santa_fe.get_absolute_url()).content.decode()
    charging_url = reverse("charging_vehicle", args=[fleet.slug, santa_fe.pk])
    assert charging_url not in vehicle_page
    assert "Charging sessions" not in vehicle_page

    page = manager_client.get(charging_url).content.decode()
    assert "reports a fuel level and no battery: it has no charging controls" in page
    assert "Set charge limit" not in page and "control_charge" not in page and "Charge schedule" not in page

    response = manager_client.post(
        reverse("charging_limit", args=[fleet.slug, santa_fe.pk]), {"limit_percent": 80}, HTTP_HX_REQUEST="true"
    )
    assert "it has no charging controls" in response.content.decode()
    assert not Command.objects.exists()


def test_a_plug_in_hybrid_keeps_its_charging_controls(manager_client, fleet, connected):
    escape = connected("FORD", model="Escape Plug-In Hybrid", permissions=[*ALL_PERMISSIONS, "read_fuel"])
    call_command("sync", "--all", stdout=io.StringIO())
    status = VehicleStatus.objects.get(vehicle=escape)
    assert status.fuel_percent is not None and status.battery_percent is not None

    charging_url = reverse("charging_vehicle", args=[fleet.slug, escape.pk])
    assert charging_url in manager_client.get(escape.get_absolute_url()).content.decode()
    assert "Set charge limit" in manager_client.get(charging_url).content.decode()
