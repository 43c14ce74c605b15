"""Remote commands against the simulated platform: offered where possible, refused before any call otherwise,
audited, followed through htmx polling, read back from the vehicle, and retried by a manager's click."""

import pytest
from django.test import Client
from django.urls import reverse

from simulator.models import Vehicle as SimulatedVehicle
from vehicles import commands
from vehicles.models import Command, CommandReadback, CommandRemedy, CommandStatus, Vehicle, VehicleStatus


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
    assert "Locked</span> confirmed" in polled.content.decode()
    page = client.get(reverse("vehicle_detail", args=[fleet.slug, ford.pk])).content.decode()
    assert manager.email in page and "Locked" in page


def test_a_command_the_vehicle_cannot_take_is_refused_before_any_call(connected, owner_client, fleet):
    ford, tesla = connected["FORD"], connected["TESLA"]
    response = send(owner_client, ford, "frunk_open")  # Tesla only
    assert "Refused" in response.content.decode()
    # Told beside the buttons clicked, not in the log at the foot of the page.
    assert response["HX-Retarget"] == "#command-problem" and response["HX-Reswap"] == "outerHTML"
    assert 'id="command-problem"' in response.content.decode() and 'role="alert"' in response.content.decode()
    Vehicle.objects.filter(pk=tesla.pk).update(permissions=[p for p in tesla.permissions if p != "control_security"])
    sim_before = simulated(tesla).state.get("locked")
    response = send(owner_client, tesla, "unlock")
    assert "its owner did not grant it" in response.content.decode()
    assert simulated(tesla).state.get("locked") == sim_before
    assert not Command.objects.exists()
    assert "lock" not in [c.kind for c in commands.commands_available(Vehicle.objects.get(pk=tesla.pk))]


@pytest.mark.parametrize("api_version", ["2.0"], indirect=True)  # PIN and charge port: Tesla commands of API v2
def test_a_failed_command_shows_the_error_and_its_resolution_and_a_pin_is_never_kept(connected, owner_client, fleet):
    tesla = connected["TESLA"]
    response = send(owner_client, tesla, "pin_set", pin="4711")
    assert response.status_code == 200
    command = Command.objects.get(kind="pin_set")
    assert command.params == {"pin": "••••"}
    assert "4711" not in response.content.decode()

    sim = simulated(tesla)
    sim.state["force_error"] = "UPSTREAM:UNKNOWN_ISSUE"  # every request to this car fails now
    sim.save(update_fields=["state"])
    send(owner_client, tesla, "charge_port_open")
    failed = Command.objects.get(kind="charge_port_open")
    assert failed.status == CommandStatus.ERROR
    assert failed.error_message and failed.error_resolution
    page = owner_client.get(reverse("vehicle_detail", args=[fleet.slug, tesla.pk])).content.decode()
    assert "Failed" in page and failed.error_resolution.split(";")[0] in page


def poll(client, command: Command):
    url = reverse("vehicle_command_status", args=[command.vehicle.fleet.slug, command.vehicle_id, command.pk])
    return client.get(url, headers={"HX-Request": "true"})


def test_a_command_is_read_back_and_the_panels_it_changed_are_swapped_in(connected, client, manager, fleet):
    ford = connected["FORD"]
    sim = simulated(ford)
    sim.state["locked"] = False
    sim.save(update_fields=["state"])
    VehicleStatus.objects.filter(vehicle=ford).update(is_locked=False)
    client.force_login(manager)

    send(client, ford, "lock")

    command = Command.objects.get(vehicle=ford)
    assert (command.status, command.readback, command.observed_value) == (
        CommandStatus.DONE,
        CommandReadback.CONFIRMED,
        "locked",
    )
    assert command.observed_at is not None
    # The reading is stored as a sync round would: the vehicle's latest status says locked.
    assert VehicleStatus.objects.get(vehicle=ford).is_locked is True
    polled = poll(client, command).content.decode()
    values = polled[polled.index('id="vehicle-values"') :]
    assert 'hx-swap-oob="true"' in values[:60] and "Locked" in values


def test_only_the_first_command_removes_the_empty_log_row(connected, client, manager):
    ford = connected["FORD"]
    client.force_login(manager)
    first = send(client, ford, "lock").content.decode()
    assert '<tr id="no-commands" hx-swap-oob="delete">' in first
    second = send(client, ford, "unlock").content.decode()
    assert "no-commands" not in second  # an out-of-band swap with no target is a console error


def test_a_command_the_vehicle_refuses_says_what_to_do_and_a_manager_retries_it(connected, client, manager, fleet):
    ford = connected["FORD"]
    sim = simulated(ford)
    sim.state["force_error"] = "VEHICLE_STATE:UNREACHABLE"
    sim.save(update_fields=["state"])
    client.force_login(manager)
    send(client, ford, "lock")
    failed = Command.objects.get(vehicle=ford)
    assert (failed.status, failed.remedy) == (CommandStatus.ERROR, CommandRemedy.RETRY)
    row = poll(client, failed).content.decode()
    assert failed.error_message and failed.error_message in row
    assert "Retry it when the vehicle can take it." in row
    assert "will try again" not in row.lower()
    retry_url = reverse("vehicle_command_retry", args=[fleet.slug, ford.pk, failed.pk])
    assert f'hx-post="{retry_url}"' in row

    sim.refresh_from_db()
    sim.state.pop("force_error")
    sim.save(update_fields=["state"])
    response = client.post(retry_url, headers={"HX-Request": "true"})
    assert response.status_code == 200
    retried = Command.objects.exclude(pk=failed.pk).get()
    assert (retried.kind, retried.retry_of_id, retried.status) == ("lock", failed.pk, CommandStatus.DONE)
    assert f'id="command-{retried.pk}"' in response.content.decode()
    assert simulated(ford).state["locked"] is True
    failed.refresh_from_db()
    assert failed.status == CommandStatus.ERROR  # the audit keeps the failure as it was


def test_a_retry_is_for_managers_of_the_fleet_with_a_csrf_token(connected, client, viewer, fleet, other_fleet):
    ford = connected["FORD"]
    failed = Command.objects.create(
        vehicle=ford, kind="lock", status=CommandStatus.ERROR, remedy=CommandRemedy.RETRY, new_value="locked"
    )
    url = reverse("vehicle_command_retry", args=[fleet.slug, ford.pk, failed.pk])
    client.force_login(viewer)
    assert client.post(url).status_code == 403
    outsider = Client()
    outsider.force_login(other_fleet.memberships.get().user)
    assert outsider.post(url).status_code == 404
    other_url = reverse("vehicle_command_retry", args=[other_fleet.slug, ford.pk, failed.pk])
    assert outsider.post(other_url).status_code == 404
    owner = Client(enforce_csrf_checks=True)
    owner.force_login(fleet.memberships.get(role="owner").user)
    assert owner.post(url).status_code == 403  # no CSRF token
    assert Command.objects.count() == 1


def test_a_command_that_cannot_help_to_retry_offers_no_button(connected, client, manager, fleet):
    ford = connected["FORD"]
    Vehicle.objects.filter(pk=ford.pk).update(permissions=[*ford.permissions, "control_trunk"])
    sim = simulated(ford)
    sim.state["force_error"] = "COMPATIBILITY:MAKE_NOT_COMPATIBLE"
    sim.save(update_fields=["state"])
    client.force_login(manager)
    send(client, ford, "lock")
    failed = Command.objects.get(vehicle=ford)
    assert (failed.status, failed.remedy) == (CommandStatus.ERROR, CommandRemedy.NONE)
    assert "Retry" not in poll(client, failed).content.decode()
    url = reverse("vehicle_command_retry", args=[fleet.slug, ford.pk, failed.pk])
    assert "cannot be sent again" in client.post(url, headers={"HX-Request": "true"}).content.decode()
    assert Command.objects.count() == 1


def test_a_vehicle_that_needs_reconnecting_links_to_the_connections_page(connected, client, manager, fleet):
    ford = connected["FORD"]
    sim = simulated(ford)
    sim.state["force_error"] = "AUTHENTICATION:"
    sim.save(update_fields=["state"])
    client.force_login(manager)
    send(client, ford, "lock")
    failed = Command.objects.get(vehicle=ford)
    assert failed.remedy == CommandRemedy.RECONNECT
    row = poll(client, failed).content.decode()
    assert reverse("connect_accounts", args=[fleet.slug]) in row and "Retry" not in row


@pytest.mark.parametrize("api_version", ["3"], indirect=True)
def test_on_api_v3_the_page_says_in_one_line_which_commands_it_lacks(connected, owner_client, fleet):
    tesla = connected["TESLA"]
    page = owner_client.get(reverse("vehicle_detail", args=[fleet.slug, tesla.pk])).content.decode()
    assert 'data-command="lock"' in page and 'data-command="frunk_open"' not in page
    (note,) = [line for line in page.splitlines() if "data-api-note" in line]
    assert "API v3" in note and "open frunk" in note
    response = send(owner_client, tesla, "frunk_open")
    assert "Refused" in response.content.decode()
    assert not Command.objects.exists()
