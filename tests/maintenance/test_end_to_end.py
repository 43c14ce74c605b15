"""End to end through the simulated Smartcar platform, on each Smartcar API version: vehicles connected through
Connect, synced over HTTP, and a manager's clicks on the pages. A trouble code appears → work order → done → the code
clears; the odometer passes a service interval → due → done → the next due point; the dealer's records join the
timeline.
"""

import pytest
from django.urls import reverse
from django.utils import timezone

from maintenance.models import ServiceTask, WorkOrder, WorkOrderStatus
from tests.dashboard.conftest import connect_simulated, sync_rounds

pytestmark = pytest.mark.parametrize("api_version", ["2.0", "3"], indirect=True)


@pytest.fixture
def still_world(simulator_app):
    """Simulated time stands still, so the world adds no code or kilometre the test did not."""
    from simulator import clock

    clock.pin(timezone.now())
    yield clock
    clock.unpin()


@pytest.fixture
def chevrolet(still_world, owner_client, fleet, api_version):
    vehicles = connect_simulated(owner_client, fleet, "4-vehicles@maintenance.example")
    vehicle = next(v for v in vehicles if v.make == "CHEVROLET")
    _simulated(vehicle, dtcs=[], system_alerts={})
    return vehicle


def _simulated(vehicle, **state):
    from simulator.models import Vehicle as SimulatedVehicle

    simulated = SimulatedVehicle.objects.get(vehicle_id=vehicle.smartcar_id)
    simulated.state.update(state)
    simulated.save(update_fields=["state"])
    return simulated.state


def _sync(vehicle, clock):
    clock.advance(timezone.timedelta(minutes=5))
    sync_rounds([vehicle], clock, rounds=1, step=None)


def _page(client, order) -> str:
    return client.get(order.get_absolute_url()).content.decode()


def test_a_trouble_code_becomes_a_work_order_and_clears_after_the_work(owner_client, fleet, chevrolet, still_world):
    from simulator import clock

    _simulated(chevrolet, dtcs=[{"code": "P0420", "timestamp": clock.now().isoformat().replace("+00:00", "Z")}])
    _sync(chevrolet, still_world)
    board = owner_client.get(reverse("fleet_diagnostics", args=[fleet.slug])).content.decode()
    assert "P0420" in board and "Open a work order" in board
    dtc = chevrolet.dtcs.get(code="P0420", cleared_at__isnull=True)
    owner_client.post(
        reverse("maintenance_work_order_from_diagnostic", args=[fleet.slug]), {"kind": "dtc", "pk": dtc.pk}
    )
    order = WorkOrder.objects.get(vehicle=chevrolet)
    assert order.code == "P0420" and order.vehicle_state["odometer_km"] > 0
    # The workshop replaces the catalytic converter and the order is closed; the code is still stored until a sync.
    owner_client.post(order.get_absolute_url(), {"title": order.title, "status": "done", "labour_cost": "300"})
    assert WorkOrder.objects.get().status == WorkOrderStatus.DONE
    assert "at the vehicle&#x27;s next sync" in _page(owner_client, order)
    _simulated(chevrolet, dtcs=[])
    _sync(chevrolet, still_world)
    assert "The code is gone" in _page(owner_client, order)
    # It comes back: the same order opens again, no second one.
    _simulated(chevrolet, dtcs=[{"code": "P0420", "timestamp": clock.now().isoformat().replace("+00:00", "Z")}])
    _sync(chevrolet, still_world)
    board = owner_client.get(reverse("fleet_diagnostics", args=[fleet.slug])).content.decode()
    assert "The code came back after the work" in board and "Reopen the work order" in board
    again = chevrolet.dtcs.get(code="P0420", cleared_at__isnull=True)
    owner_client.post(
        reverse("maintenance_work_order_from_diagnostic", args=[fleet.slug]), {"kind": "dtc", "pk": again.pk}
    )
    assert WorkOrder.objects.count() == 1 and WorkOrder.objects.get().status == WorkOrderStatus.OPEN


def test_the_odometer_passing_a_service_interval_makes_it_due_and_the_work_resets_it(
    owner_client, fleet, chevrolet, still_world
):
    task = ServiceTask.objects.create(fleet=fleet, name="Tire rotation", every_km=10000)
    task.vehicles.add(chevrolet)
    _simulated(chevrolet, odometer=29500.0)
    _sync(chevrolet, still_world)
    url = reverse("vehicle_maintenance", args=[fleet.slug, chevrolet.pk])
    assert "Due in 500 km" in owner_client.get(url).content.decode()
    _simulated(chevrolet, odometer=30250.0)
    _sync(chevrolet, still_world)
    page = owner_client.get(url).content.decode()
    assert "250 km overdue" in page
    board = owner_client.get(reverse("maintenance_board", args=[fleet.slug])).content.decode()
    assert "250 km overdue" in board
    owner_client.post(reverse("maintenance_work_order_from_service", args=[fleet.slug, chevrolet.pk, task.pk]))
    order = WorkOrder.objects.get(service_task=task)
    owner_client.post(order.get_absolute_url(), {"title": order.title, "status": "done"})
    order.refresh_from_db()
    assert order.completion_odometer_km == pytest.approx(30250.0)
    page = owner_client.get(url).content.decode()
    assert "Next: in 10,000 km" in page and "overdue" not in page
    _simulated(chevrolet, odometer=39700.0)
    _sync(chevrolet, still_world)
    assert "Due in 550 km" in owner_client.get(url).content.decode()


def test_the_dealers_service_records_join_the_timeline_on_either_api_version(
    owner_client, fleet, still_world, api_version
):
    vehicles = connect_simulated(owner_client, fleet, "4-vehicles@maintenance.example")
    ford = next(v for v in vehicles if v.make == "FORD")
    history = reverse("vehicle_maintenance_history", args=[fleet.slug, ford.pk])
    assert "appear here once Smartcar has sent them" in owner_client.get(history).content.decode()
    _simulated(
        ford,
        service_records=[{"date": "2026-03-02T09:00:00Z", "odometer": 18000.0, "tasks": ["Oil and filter change"]}],
    )
    _sync(ford, still_world)
    page = owner_client.get(history).content.decode()
    assert "the dealer&#x27;s service records, as Ford shares them through Smartcar" in page
    assert "Oil and filter change" in page and "2 Mar 2026" in page and "18,000 km" in page
    csv = b"".join(owner_client.get(reverse("maintenance_history_csv", args=[fleet.slug]), {"vehicle": ford.pk}))
    assert "Dealer service,Oil and filter change,18000" in csv.decode()
