"""Remote commands against the simulated platform: offered where possible, refused before any call otherwise,
audited, and followed pending → done or error through htmx polling."""

from django.urls import reverse

from simulator.models import Vehicle as SimulatedVehicle
from vehicles import commands
from vehicles.models import Command, CommandStatus, Vehicle


def simulated(vehicle: Vehicle) -> SimulatedVehicle:
    return SimulatedVehicle.objects.get(vehicle_id=vehicle.smartcar_id)


def send(client, vehicle, kind, **params):
    url = reverse("vehicle_command", args=[vehicle.fleet.slug, vehicle.pk])
    return client.post(url, {"kind": kind, "confirmed": "yes", **params}, headers={"HX-Request": "true"})


def test_a_manager_locks_a_vehicle_and_the_audit_log_keeps_it(connected, client, manager, fleet):
    ford = connected["FORD"]
    sim = simulated(ford)
    sim.state["locked"] = False
    sim.save(update_fields=["state"])
    client.force_login(manager)
    page = client.get(reverse("vehicle_detail", args=[fleet.slug, ford.pk])).content.decode()
    assert 'data-command="lock"' in page and 'data-command="frunk_open"' not in page

    response = send(client, ford, "lock")
    assert response.status_code == 200
    command = Command.objects.get(vehicle=ford)
    assert f'id="command-{command.pk}"' in response.content.decode()
    assert command.status == CommandStatus.DONE  # the task ran once the audit row was committed
    assert simulated(ford).state["locked"] is True
    assert (command.user_email, command.kind, command.new_value) == (manager.email, "lock", "locked")

    status_url = reverse("vehicle_command_status", args=[fleet.slug, ford.pk, command.pk])
    polled = client.get(status_url, headers={"HX-Request": "true"})
    assert polled.status_code == 286  # htmx stops polling
    assert "Done" in polled.content.decode()
    page = client.get(reverse("vehicle_detail", args=[fleet.slug, ford.pk])).content.decode()
    assert manager.email in page and "Locked" in page


def test_a_command_the_vehicle_cannot_take_is_refused_before_any_call(connected, owner_client, fleet):
    ford, tesla = connected["FORD"], connected["TESLA"]
    response = send(owner_client, ford, "frunk_open")  # Tesla only
    assert "Refused" in response.content.decode()
    Vehicle.objects.filter(pk=tesla.pk).update(permissions=[p for p in tesla.permissions if p != "control_security"])
    sim_before = simulated(tesla).state.get("locked")
    response = send(owner_client, tesla, "unlock")
    assert "its owner did not grant it" in response.content.decode()
    assert simulated(tesla).state.get("locked") == sim_before
    assert not Command.objects.exists()
    assert "lock" not in [c.kind for c in commands.commands_available(Vehicle.objects.get(pk=tesla.pk))]


def test_a_failed_command_shows_the_error_and_its_resolution_and_a_pin_is_never_kept(connected, owner_client, fleet):
    tesla = connected["TESLA"]
    response = send(owner_client, tesla, "pin_set", pin="4711")
    assert response.status_code == 200
    command = Command.objects.get(kind="pin_set")
    assert command.params == {"pin": "••••"}
    assert "4711" not in response.content.decode()

    sim = simulated(tesla)
    sim.fault_rate = 1.0  # every request to this car fails now
    sim.save(update_fields=["fault_rate"])
    send(owner_client, tesla, "charge_port_open")
    failed = Command.objects.get(kind="charge_port_open")
    assert failed.status == CommandStatus.ERROR
    assert failed.error_message and failed.error_resolution
    page = owner_client.get(reverse("vehicle_detail", args=[fleet.slug, tesla.pk])).content.decode()
    assert "Failed" in page and failed.error_resolution.split(";")[0] in page
