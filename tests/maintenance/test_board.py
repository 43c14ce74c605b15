"""The maintenance board, the overview's tiles and the diagnostics board's one click."""

from datetime import date, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from maintenance.models import ServicePoint, ServiceTask, WorkOrder
from maintenance.services import work_order_open
from tests.dashboard.factories import make_vehicles
from tests.dashboard.test_diagnostics import dtc
from vehicles.models import VehicleStatus


def board(client, fleet, **params):
    return client.get(reverse("maintenance_board", args=[fleet.slug]), params)


def test_overdue_first_then_due_soon_then_open_work_orders(owner_client, owner, fleet, vehicles, oil_change):
    first, second = vehicles[3], vehicles[4]
    for vehicle, odometer in ((first, 16000.0), (second, 13800.0)):
        ServicePoint.objects.create(vehicle=vehicle, task=oil_change, done_on=date.today(), done_km=0)
        VehicleStatus.objects.filter(vehicle=vehicle).update(odometer_km=odometer)
    work_order_open(fleet=fleet, vehicle=vehicles[0], user=owner, title="Dent in the door", assignee="Body shop")
    page = board(owner_client, fleet).content.decode()
    assert page.index("Overdue") < page.index("1,000 km overdue") < page.index("Due soon")
    assert page.index("Due soon") < page.index("Due in 1,200 km") < page.index("Open work orders")
    assert page.index("Open work orders") < page.index("Dent in the door")
    # A service someone works on is on the board once, as its work order.
    owner_client.post(reverse("maintenance_work_order_from_service", args=[fleet.slug, first.pk, oil_change.pk]))
    page = board(owner_client, fleet).content.decode()
    assert "1,000 km overdue" not in page and "No service is overdue." in page
    assert page.count("<td>Oil change</td>") == 1  # the other vehicle's, due soon
    assert f"#{WorkOrder.objects.get(vehicle=first).pk} Oil change</a>" in page


def test_filters_by_make_and_assignee(owner_client, owner, fleet, vehicles, oil_change):
    ServicePoint.objects.create(vehicle=vehicles[4], task=oil_change, done_on=date.today(), done_km=0)
    VehicleStatus.objects.filter(vehicle=vehicles[4]).update(odometer_km=15500.0)  # the oil change falls overdue
    work_order_open(fleet=fleet, vehicle=vehicles[0], user=owner, title="Tesla job", assignee="North garage")
    work_order_open(fleet=fleet, vehicle=vehicles[3], user=owner, title="Chevrolet job", assignee="South garage")
    page = board(owner_client, fleet, make="CHEVROLET").content.decode()
    assert "Chevrolet job" in page and "Tesla job" not in page and "500 km overdue" in page
    page = board(owner_client, fleet, assignee="north").content.decode()
    assert "Tesla job" in page and "Chevrolet job" not in page
    # An overdue service no one has a work order for is assigned to no one: not on North garage's board.
    assert "500 km overdue" not in page and "assigned to “north” are below" in page
    fragment = owner_client.get(
        reverse("maintenance_board", args=[fleet.slug]), {"assignee": "south"}, headers={"HX-Request": "true"}
    ).content.decode()
    assert fragment.startswith('\n<div id="board">') or fragment.lstrip().startswith('<div id="board">')
    assert "Chevrolet job" in fragment and "<h1>" not in fragment


def _queries(client, fleet) -> int:
    board(client, fleet)  # the first count of a vehicle's service stores where it starts; measured: the next ones
    with CaptureQueriesContext(connection) as captured:
        assert board(client, fleet).status_code == 200
    return len(captured)


def test_the_board_runs_the_same_queries_for_5_or_300_vehicles(owner_client, owner, fleet, vehicles, oil_change):
    ServiceTask.objects.create(fleet=fleet, name="Tires", tire_pressure_below_kpa=200, make="TESLA")
    work_order_open(fleet=fleet, vehicle=vehicles[0], user=owner, title="One")
    ServicePoint.objects.create(vehicle=vehicles[3], task=oil_change, done_on=date.today(), done_km=0)
    VehicleStatus.objects.filter(vehicle=vehicles[3]).update(odometer_km=15500.0)
    small = _queries(owner_client, fleet)
    more = make_vehicles(fleet, 300, make="CHEVROLET", start=10, odometer_km=14000.0)
    make_vehicles(fleet, 50, start=400, tire_pressure_back_left_kpa=150.0)
    for vehicle in more[:20]:
        work_order_open(fleet=fleet, vehicle=vehicle, user=owner, title="Many")
    assert _queries(owner_client, fleet) == small


def test_the_overview_counts_overdue_due_and_open_work_orders(owner_client, owner, fleet, vehicles, oil_change):
    ServicePoint.objects.create(vehicle=vehicles[3], task=oil_change, done_on=date.today(), done_km=0)
    VehicleStatus.objects.filter(vehicle=vehicles[3]).update(odometer_km=15500.0)
    work_order_open(fleet=fleet, vehicle=vehicles[0], user=owner, title="One")
    work_order_open(fleet=fleet, vehicle=vehicles[1], user=owner, title="Two")
    page = owner_client.get(reverse("fleet_home", args=[fleet.slug])).content.decode()
    board_url = reverse("maintenance_board", args=[fleet.slug])
    assert (
        f'<a class="tile alert" href="{board_url}"><span class="count">1</span><span class="label">Service overdue'
        in page
    )
    assert '<span class="count">2</span><span class="label">Open work orders' in page


def test_the_diagnostics_board_opens_a_work_order_in_one_click_and_links_it(manager_client, viewer, fleet, vehicles):
    code = dtc(vehicles[3], "P0420", hours_ago=1)
    page = manager_client.get(reverse("fleet_diagnostics", args=[fleet.slug])).content.decode()
    assert "Open a work order" in page
    manager_client.post(
        reverse("maintenance_work_order_from_diagnostic", args=[fleet.slug]), {"kind": "dtc", "pk": code.pk}
    )
    order = WorkOrder.objects.get()
    page = manager_client.get(reverse("fleet_diagnostics", args=[fleet.slug])).content.decode()
    assert order.get_absolute_url() in page and "Open a work order" not in page
    manager_client.force_login(viewer)
    page = manager_client.get(reverse("fleet_diagnostics", args=[fleet.slug])).content.decode()
    assert order.get_absolute_url() in page
    assert (
        manager_client.post(
            reverse("maintenance_work_order_from_diagnostic", args=[fleet.slug]), {"kind": "dtc", "pk": code.pk}
        ).status_code
        == 403
    )


def test_filters_by_place_the_vehicles_last_seen_there(owner_client, owner, fleet, vehicles):
    from trips.models import Place

    depot = Place.objects.create(fleet=fleet, name="Depot", latitude=48.137, longitude=11.575, radius_m=300)
    VehicleStatus.objects.filter(vehicle=vehicles[1]).update(latitude=48.1371, longitude=11.5752)
    work_order_open(fleet=fleet, vehicle=vehicles[0], user=owner, title="Far away job")
    work_order_open(fleet=fleet, vehicle=vehicles[1], user=owner, title="Depot job")
    page = board(owner_client, fleet, place=depot.pk).content.decode()
    assert "Depot job" in page and "Far away job" not in page and "At Depot" in page
    page = board(owner_client, fleet, place="999999").content.decode()  # not a place of this fleet: no filter
    assert "Depot job" in page and "Far away job" in page


def test_the_diagnostics_board_tells_a_code_still_reported_after_the_work_from_one_that_came_back(
    manager_client, fleet, vehicles
):
    code = dtc(vehicles[3], "P0420", hours_ago=1)
    click = reverse("maintenance_work_order_from_diagnostic", args=[fleet.slug])
    manager_client.post(click, {"kind": "dtc", "pk": code.pk})
    order = WorkOrder.objects.get()
    manager_client.post(order.get_absolute_url(), {"title": order.title, "status": "done"})
    diagnostics = reverse("fleet_diagnostics", args=[fleet.slug])
    assert "Not read again since the work" in manager_client.get(diagnostics).content.decode()
    # The next sync still reads the same occurrence: the work did not clear it — it did not "come back".
    code.last_seen_at = timezone.now() + timedelta(seconds=1)
    code.save()
    page = manager_client.get(diagnostics).content.decode()
    assert "Still reported after the work" in page and "came back" not in page
    manager_client.post(click, {"kind": "dtc", "pk": code.pk})
    assert "P0420 is still reported after the work" in manager_client.get(order.get_absolute_url()).content.decode()
    # Done again; the code clears, then a new occurrence comes: that one came back.
    manager_client.post(order.get_absolute_url(), {"title": order.title, "status": "done"})
    code.cleared_at = timezone.now()
    code.save()
    again = dtc(vehicles[3], "P0420", hours_ago=-1)  # first seen after the order was closed
    assert "The code came back after the work" in manager_client.get(diagnostics).content.decode()
    assert "went away and came back after the work" in manager_client.get(order.get_absolute_url()).content.decode()
    manager_client.post(click, {"kind": "dtc", "pk": again.pk})
    assert "P0420 came back after the work" in manager_client.get(order.get_absolute_url()).content.decode()
    assert WorkOrder.objects.count() == 1


@pytest.mark.parametrize("name", ["maintenance_work_order_new", "maintenance_program"])
def test_the_pages_the_board_opens_lead_back_to_the_board(manager_client, fleet, name):
    page = manager_client.get(reverse(name, args=[fleet.slug])).content.decode()
    board = reverse("maintenance_board", args=[fleet.slug])
    assert f'<p class="crumbs"><a href="{board}">← Maintenance</a></p>' in page
