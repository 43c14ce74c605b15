"""Commands survive a broker that is down and workers that die: each state the machine can be left in by a crash
is settled by the sweeps (vehicles/commands.py, fleet/outbox.py), and no command is ever sent twice.

A worker killed for real during a command, on Redis, is in tests/vehicles/test_command_worker_faults.py; here the
rows are left as a dead worker leaves them, and time passes by handing the sweeps a later ``now``.
"""

import json
from datetime import timedelta

from django.urls import reverse
from django.utils import timezone

from connect.models import EventStatus, WebhookEvent
from fleet.outbox import outbox_sweep
from simulator.models import BillingCounter
from simulator.models import Vehicle as SimulatedVehicle
from tests.webhooks.conftest import charging_event, sign
from vehicles import commands
from vehicles.models import Command, CommandReadback, CommandRemedy, CommandStatus, VehicleSync
from vehicles.tasks import command_run

LATER = commands.stuck_after() + timedelta(seconds=1)


def simulated(vehicle) -> SimulatedVehicle:
    return SimulatedVehicle.objects.get(vehicle_id=vehicle.smartcar_id)


def set_locked(vehicle, locked: bool) -> None:
    sim = simulated(vehicle)
    sim.state["locked"] = locked
    sim.save(update_fields=["state"])


def billed(vehicle) -> int:
    return sum(BillingCounter.objects.filter(vehicle=simulated(vehicle)).values_list("calls", flat=True))


def send(client, vehicle, kind):
    url = reverse("vehicle_command", args=[vehicle.fleet.slug, vehicle.pk])
    return client.post(url, {"kind": kind, "confirmed": "yes"}, headers={"HX-Request": "true"})


def test_a_command_submitted_while_the_broker_is_down_is_queued_and_sent_when_it_is_back(
    connected, client, manager, broker_down
):
    ford = connected["FORD"]
    set_locked(ford, False)
    client.force_login(manager)

    response = send(client, ford, "lock")

    assert response.status_code == 200
    assert "Queued…" in response.content.decode()
    command = Command.objects.get(vehicle=ford)
    assert (command.status, command.enqueued_at) == (CommandStatus.PENDING, None)
    assert simulated(ford).state["locked"] is False
    assert outbox_sweep(now=timezone.now() + timedelta(seconds=10)) == 0  # still down: nothing lost, nothing sent

    broker_down.restore()
    assert outbox_sweep(now=timezone.now() + timedelta(seconds=10)) == 1
    command.refresh_from_db()
    assert (command.status, command.readback) == (CommandStatus.DONE, CommandReadback.CONFIRMED)
    assert simulated(ford).state["locked"] is True
    assert outbox_sweep(now=timezone.now() + timedelta(seconds=10)) == 0


def test_sync_now_and_a_webhook_delivery_while_the_broker_is_down_answer_as_usual(
    connected, client, manager, fleet, broker_down, settings
):
    ford = connected["FORD"]
    client.force_login(manager)
    response = client.post(reverse("vehicle_sync", args=[fleet.slug, ford.pk]))
    assert response.status_code == 302  # "Sync queued", never a 500
    assert VehicleSync.objects.get(vehicle=ford).requested_at is not None  # the dispatcher takes it when it can

    raw = json.dumps(charging_event(settings.SMARTCAR_WEBHOOK_ID, ford.smartcar_id, "CHARGING_STARTED")).encode()
    url = f"/webhooks/{settings.SMARTCAR_WEBHOOK_ID}/"
    delivery = client.post(url, data=raw, content_type="application/json", HTTP_SC_SIGNATURE=sign(raw))
    assert delivery.status_code == 200
    event = WebhookEvent.objects.get()
    assert (event.status, event.enqueued_at) == (EventStatus.RECEIVED, None)
    assert client.get(reverse("healthz")).json()["broker"] == "unreachable"

    broker_down.restore()
    outbox_sweep(now=timezone.now() + timedelta(seconds=10))
    event.refresh_from_db()
    assert event.status == EventStatus.PROCESSED


def test_a_redelivered_message_never_sends_a_command_twice(connected, client, manager):
    ford = connected["FORD"]
    client.force_login(manager)
    send(client, ford, "lock")
    command = Command.objects.get(vehicle=ford)
    calls = billed(ford)
    assert command.status == CommandStatus.DONE

    command_run.apply(args=[command.pk], task_id="another-delivery")
    Command.objects.filter(pk=command.pk).update(status=CommandStatus.PENDING)  # as if the claim had not been made
    command_run.apply(args=[command.pk], task_id=command.task_id)  # …and two deliveries race for it
    command_run.apply(args=[command.pk], task_id="a-third-delivery")

    assert billed(ford) == calls + 2  # the one send the reset allowed, and its read-back: never more


def test_a_command_whose_worker_died_while_sending_is_settled_by_reading_the_vehicle_back(connected, client, manager):
    ford, tesla = connected["FORD"], connected["TESLA"]
    client.force_login(manager)
    set_locked(ford, False)
    set_locked(tesla, False)
    now = timezone.now()
    # Two workers died while sending "lock": the first request reached its vehicle, the second did not.
    for vehicle in (ford, tesla):
        Command.objects.create(
            vehicle=vehicle, kind="lock", new_value="locked", status=CommandStatus.SENDING, started_at=now
        )
    set_locked(ford, True)
    page = client.get(reverse("vehicle_detail", args=[ford.fleet.slug, ford.pk])).content.decode()
    assert "Sending to the vehicle…" in page

    assert commands.commands_settle(now=now + timedelta(minutes=5)) == 0  # within the time limit: still running
    assert commands.commands_settle(now=now + LATER) == 2

    reached = Command.objects.get(vehicle=ford)
    assert (reached.status, reached.readback, reached.observed_value) == ("done", "confirmed", "locked")
    lost = Command.objects.get(vehicle=tesla)
    assert (lost.status, lost.readback, lost.remedy) == (CommandStatus.ERROR, CommandReadback.DIFFERS, "retry")
    assert "the vehicle shows unlocked, so it did not take effect" in lost.error_message
    assert simulated(tesla).state["locked"] is False  # read, never sent again
    url = reverse("vehicle_command_status", args=[tesla.fleet.slug, tesla.pk, lost.pk])
    row = client.get(url, headers={"HX-Request": "true"}).content.decode()
    assert "did not take effect" in row and "Retry" in row


def test_a_redelivered_message_of_a_worker_that_died_while_sending_settles_at_once(connected):
    ford = connected["FORD"]
    set_locked(ford, True)
    command = Command.objects.create(
        vehicle=ford, kind="lock", new_value="locked", status=CommandStatus.SENDING, started_at=timezone.now()
    )
    Command.objects.filter(pk=command.pk).update(task_id="message-1")
    calls = billed(ford)

    command_run.apply(args=[command.pk], task_id="message-1")

    command.refresh_from_db()
    assert (command.status, command.readback) == (CommandStatus.DONE, CommandReadback.CONFIRMED)
    assert billed(ford) == calls + 1  # the read-back only


def test_a_command_without_an_endpoint_to_read_back_stays_unknown_and_says_so(connected):
    tesla = connected["TESLA"]
    command = Command.objects.create(
        vehicle=tesla, kind="pin_clear", new_value="PIN to drive off", status=CommandStatus.SENDING,
        started_at=timezone.now(),
    )  # fmt: skip
    commands.commands_settle(now=timezone.now() + LATER)
    command.refresh_from_db()
    assert (command.status, command.remedy, command.is_finished) == (CommandStatus.UNKNOWN, "retry", True)
    assert "does not report this back" in command.error_message
    assert "Check the vehicle" in command.error_resolution


def test_a_lost_message_is_handed_over_once_more_then_the_command_fails_as_not_sent(connected):
    ford = connected["FORD"]
    set_locked(ford, False)
    now = timezone.now()
    lost_once = Command.objects.create(vehicle=ford, kind="lock", new_value="locked", enqueued_at=now)
    lost_twice = Command.objects.create(vehicle=ford, kind="unlock", new_value="unlocked", enqueued_at=now)
    Command.objects.filter(pk=lost_twice.pk).update(requeued=True)
    never_handed_over = Command.objects.create(vehicle=ford, kind="unlock", new_value="unlocked")
    Command.objects.update(created_at=now)

    commands.commands_settle(now=now + LATER)
    outbox_sweep(now=now + LATER)

    lost_once.refresh_from_db()
    assert (lost_once.status, lost_once.requeued) == (CommandStatus.DONE, True)
    assert simulated(ford).state["locked"] is True  # sent once, after the first message was lost
    for failed in (lost_twice, never_handed_over):
        failed.refresh_from_db()
        assert (failed.status, failed.remedy, failed.started_at) == (CommandStatus.ERROR, CommandRemedy.RETRY, None)
        assert "nothing was sent" in failed.error_message


def test_a_read_back_that_never_finished_is_done_by_the_sweep(connected):
    ford = connected["FORD"]
    set_locked(ford, True)
    now = timezone.now()
    command = Command.objects.create(
        vehicle=ford, kind="lock", new_value="locked", status=CommandStatus.DONE, finished_at=now,
        readback=CommandReadback.DUE,
    )  # fmt: skip
    assert not command.is_finished  # the page keeps polling
    commands.commands_settle(now=now + LATER)
    command.refresh_from_db()
    assert (command.readback, command.observed_value, command.is_finished) == ("confirmed", "locked", True)
