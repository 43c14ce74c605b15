"""Commands through real Celery workers on a real Redis broker and PostgreSQL, with the faults that hit them.

The test process submits commands as the web process does: ``enqueue`` sends them to Redis (not eagerly), to a
queue of this test's own, where ``celery -A fleet worker`` subprocesses (tests/vehicles/test_worker_faults.py) take
them. A worker is killed (SIGKILL, pool included) while it is sending a command; the broker is unreachable while a
command is submitted.
"""

import contextlib
import time
from datetime import timedelta

import pytest
from celery import current_app
from django.urls import reverse
from django.utils import timezone

from fleet.models import Membership, Role
from fleet.outbox import outbox_sweep
from simulator.models import BillingCounter
from simulator.models import Vehicle as SimVehicle
from tests.conftest import make_user
from tests.vehicles import test_worker_faults as worker_faults
from tests.vehicles.conftest import connect_simulated
from tests.vehicles.test_worker_faults import assert_no_traceback, wait_until
from vehicles import commands
from vehicles.models import Command, CommandReadback, CommandStatus

CONTROL = ["control_security", "read_security", "read_vehicle_info"]
# The workers' fixtures: a queue of this test's own on Redis, and worker subprocesses on the test database.
broker = worker_faults.broker
start_worker = worker_faults.start_worker


@contextlib.contextmanager
def sending_to(broker_url: str, queue: str):
    """This process sends its tasks to ``broker_url`` and ``queue`` for real, as the web process does."""
    conf = current_app.conf
    saved = (conf.broker_url, conf.task_always_eager, conf.task_default_queue)
    conf.update(broker_url=broker_url, task_always_eager=False, task_default_queue=queue)
    _forget_connections()
    try:
        yield
    finally:
        conf.update(broker_url=saved[0], task_always_eager=saved[1], task_default_queue=saved[2])
        _forget_connections()


def _forget_connections() -> None:
    current_app._pool = None
    current_app.amqp._producer_pool = None


@pytest.fixture
def ford(fleet):
    connected = connect_simulated(fleet, makes=("FORD",), permissions=CONTROL, seed=11)
    simulated = connected.sim_vehicles[0]
    simulated.state["locked"] = False
    simulated.save(update_fields=["state"])
    return connected.vehicles[0]


@pytest.fixture
def manager(fleet):
    user = make_user("commander@example.com")
    Membership.objects.create(user=user, fleet=fleet, role=Role.MANAGER)
    return user


def simulated(vehicle) -> SimVehicle:
    return SimVehicle.objects.get(vehicle_id=vehicle.smartcar_id)


def billed(vehicle) -> int:
    return sum(BillingCounter.objects.filter(vehicle=simulated(vehicle)).values_list("calls", flat=True))


def settled(command: Command):
    def check() -> bool:
        command.refresh_from_db()
        return command.is_finished and command.status != CommandStatus.SENDING

    return check


@pytest.mark.parametrize("recovery", ["message redelivered", "sweep past the time limit"])
def test_a_worker_killed_while_sending_a_command_leaves_it_settled_by_reading_the_vehicle_back(
    fleet, ford, manager, broker, start_worker, recovery
):
    queue = broker.conf.task_default_queue
    # The vehicle takes 60 s to answer: the worker is killed while the simulator (inside it) holds the request.
    SimVehicle.objects.filter(vehicle_id=ford.smartcar_id).update(latency_ms=60_000)
    doomed = start_worker("doomed")
    with sending_to(broker.conf.broker_url, queue):
        command = commands.command_submit(vehicle=ford, user=manager, kind="lock")
    wait_until(
        lambda: Command.objects.filter(pk=command.pk, status=CommandStatus.SENDING).exists(),
        timeout=30,
        workers=[doomed],
        what="the command claimed",
    )
    time.sleep(1)  # well inside the call
    doomed.kill()
    SimVehicle.objects.filter(vehicle_id=ford.smartcar_id).update(latency_ms=None)
    command.refresh_from_db()
    assert command.status == CommandStatus.SENDING  # left as the dead worker left it
    calls_before = billed(ford)

    if recovery == "message redelivered":
        # Redis hands the unacknowledged message back once its visibility timeout is over: the same message finds
        # the command it claimed still "sending" and settles it at once.
        visibility_timeout = 5
        time.sleep(visibility_timeout + 1)
        successor = start_worker("successor", CELERY_BROKER_VISIBILITY_TIMEOUT=str(visibility_timeout))
    else:
        successor = start_worker("successor")
        with sending_to(broker.conf.broker_url, queue):
            later = timezone.now() + commands.stuck_after() + timedelta(seconds=1)
            assert commands.commands_settle(now=later) == 1
    wait_until(settled(command), timeout=45, workers=[successor], what="the command settled")

    assert (command.status, command.readback, command.observed_value) == (
        CommandStatus.ERROR,
        CommandReadback.DIFFERS,
        "unlocked",
    )
    assert "did not take effect" in command.error_message and command.remedy == "retry"
    assert simulated(ford).state["locked"] is False  # the lock never reached the vehicle, and was not sent again
    assert billed(ford) == calls_before + 1  # the read-back
    assert_no_traceback(successor)


def test_a_command_submitted_while_the_broker_is_down_reaches_the_vehicle_when_it_is_back(
    client, fleet, ford, manager, broker, start_worker
):
    queue = broker.conf.task_default_queue
    worker = start_worker("steady")
    client.force_login(manager)
    url = reverse("vehicle_command", args=[fleet.slug, ford.pk])
    with sending_to("redis://127.0.0.1:1/0", queue):  # nothing answers there
        response = client.post(url, {"kind": "lock", "confirmed": "yes"}, headers={"HX-Request": "true"})
        assert response.status_code == 200 and "Queued…" in response.content.decode()
        command = Command.objects.get()
        assert (command.status, command.enqueued_at) == (CommandStatus.PENDING, None)
        assert outbox_sweep(now=timezone.now() + timedelta(seconds=10)) == 0

    with sending_to(broker.conf.broker_url, queue):  # the broker is back: the beat's next sweep hands it over
        assert outbox_sweep(now=timezone.now() + timedelta(seconds=10)) == 1
    wait_until(settled(command), timeout=30, workers=[worker], what="the command done")
    assert (command.status, command.readback, command.observed_value) == ("done", "confirmed", "locked")
    assert simulated(ford).state["locked"] is True
    assert_no_traceback(worker)
