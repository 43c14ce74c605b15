"""Work orders: opened by hand, from a due service or from a trouble code; edited, closed, and every change recorded."""

from datetime import date, datetime, time, timedelta

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from maintenance.models import Change, ServicePoint, WorkOrder, WorkOrderStatus
from maintenance.services import work_order_for_service, work_order_open
from tests.concurrency import held_by_another_worker
from tests.conftest import require_service
from tests.dashboard.test_diagnostics import dtc
from vehicles.models import StatusHistory, SystemStatus, VehicleStatus


def detail_url(order):
    return reverse("maintenance_work_order", args=[order.fleet.slug, order.pk])


def edit(client, order, **fields):
    data = {"title": order.title, "status": order.status, **fields}
    return client.post(detail_url(order), data)


@pytest.fixture
def order(fleet, vehicles, owner):
    return work_order_open(fleet=fleet, vehicle=vehicles[0], user=owner, title="Replace wiper blades")


def test_a_manager_opens_one_by_hand_with_the_vehicles_state_copied(manager_client, manager, fleet, vehicles):
    url = reverse("maintenance_work_order_new", args=[fleet.slug])
    response = manager_client.post(
        url, {"vehicle": vehicles[1].pk, "title": "Windscreen chip", "assignee": "Glass & Co", "due_on": "2030-01-05"}
    )
    order = WorkOrder.objects.get()
    assert response.status_code == 302 and response["Location"] == detail_url(order)
    assert (order.vehicle, order.assignee, order.due_on, order.status) == (
        vehicles[1], "Glass & Co", date(2030, 1, 5), WorkOrderStatus.OPEN,
    )  # fmt: skip
    assert order.vehicle_state["odometer_km"] == 12000.0
    change = order.changes.get()
    assert (change.user, change.action) == (manager, "opened")
    page = manager_client.get(detail_url(order)).content.decode()
    assert "manager@example.com opened the work order “Windscreen chip”" in page


def test_closing_records_who_changed_what_and_shows_it(manager_client, manager, order):
    response = edit(
        manager_client, order, status="done", parts_cost="40.00", labour_cost="25.50",
        completed_on=str(timezone.localdate() - timedelta(days=1)), completion_odometer_km="12100",
    )  # fmt: skip
    assert response.status_code == 302
    order.refresh_from_db()
    assert order.status == WorkOrderStatus.DONE and order.closed_at is not None
    assert order.total_cost == 65.5
    change = order.changes.last()
    assert change.user == manager and change.fields["status"] == ["open", "done"]
    assert change.fields["parts_cost"] == [None, "40.00"] and change.fields["completion_odometer_km"] == [None, 12100.0]
    page = manager_client.get(detail_url(order)).content.decode()
    assert "manager@example.com changed the status from Open to Done, set the parts cost to 40.00" in page
    assert "set the odometer at completion to 12,100 km" in page and "65.50" in page


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"parts_cost": "-1"}, "parts_cost", "cannot be negative"),
        ({"labour_cost": "-0.01"}, "labour_cost", "cannot be negative"),
        ({"labour_cost": "5000000"}, "labour_cost", "more than a work order can cost"),
        ({"status": "done", "completed_on": "2099-01-01"}, "completed_on", "a date still to come"),
        ({"status": "done", "completion_odometer_km": "-3"}, "completion_odometer_km", "between 0 and 2,000,000"),
        ({"completed_on": "2020-01-01"}, "status", "Mark the order done"),
    ],
)
def test_bad_input_is_refused_with_a_clear_message_and_nothing_saved(manager_client, order, fields, field, message):
    response = edit(manager_client, order, assignee="Someone new", **fields)
    assert response.status_code == 422
    assert any(message in e for e in response.context["form"].errors[field])
    assert message in response.content.decode()
    order.refresh_from_db()
    assert order.assignee == "" and order.status == WorkOrderStatus.OPEN and order.changes.count() == 1


def test_a_completion_odometer_below_earlier_work_is_refused(manager_client, fleet, vehicles, owner, order):
    earlier = work_order_open(fleet=fleet, vehicle=vehicles[0], user=owner, title="Earlier")
    WorkOrder.objects.filter(pk=earlier.pk).update(
        status="done", completed_on=date(2026, 1, 1), completion_odometer_km=11000
    )
    response = edit(manager_client, order, status="done", completed_on="2026-02-01", completion_odometer_km="10500")
    assert response.status_code == 422 and "below the 11,000 km recorded" in response.content.decode()
    assert edit(manager_client, order, status="done", completion_odometer_km="11500").status_code == 302


def test_viewers_read_but_cannot_write_and_another_fleets_order_is_not_found(
    viewer_client, fleet, order, other_fleet, owner
):
    page = viewer_client.get(detail_url(order))
    assert page.status_code == 200 and "Replace wiper blades" in page.content.decode()
    assert edit(viewer_client, order, status="done").status_code == 403
    assert viewer_client.post(reverse("maintenance_work_order_new", args=[fleet.slug]), {}).status_code == 403
    order.refresh_from_db()
    assert order.status == WorkOrderStatus.OPEN
    # Another fleet's order under this fleet's address, or under its own: 404 either way.
    from tests.dashboard.factories import make_vehicles

    theirs = work_order_open(
        fleet=other_fleet, vehicle=make_vehicles(other_fleet, 1)[0], user=None, title="Their brakes"
    )
    assert viewer_client.get(reverse("maintenance_work_order", args=[fleet.slug, theirs.pk])).status_code == 404
    assert viewer_client.get(detail_url(theirs)).status_code == 404


def test_closing_a_service_order_resets_its_due_point(owner_client, fleet, vehicles, oil_change):
    bolt = vehicles[3]
    ServicePoint.objects.create(vehicle=bolt, task=oil_change, done_on=date(2026, 1, 1), done_km=0)
    VehicleStatus.objects.filter(vehicle=bolt).update(odometer_km=15200.0)
    url = reverse("vehicle_maintenance", args=[fleet.slug, bolt.pk])
    assert "200 km overdue" in owner_client.get(url).content.decode()
    response = owner_client.post(
        reverse("maintenance_work_order_from_service", args=[fleet.slug, bolt.pk, oil_change.pk])
    )
    order = WorkOrder.objects.get(service_task=oil_change)
    assert response["Location"] == detail_url(order)
    # A second click finds the same order.
    owner_client.post(reverse("maintenance_work_order_from_service", args=[fleet.slug, bolt.pk, oil_change.pk]))
    assert WorkOrder.objects.count() == 1
    today = timezone.localdate(timezone=fleet.zone)
    assert edit(owner_client, order, status="done").status_code == 302
    point = ServicePoint.objects.get(vehicle=bolt, task=oil_change)
    assert (point.done_on, point.done_km) == (today, 15200.0)  # today and the synced odometer, as nothing was entered
    assert "Next: in 15,000 km" in owner_client.get(url).content.decode()


@pytest.mark.django_db(transaction=True)
def test_two_managers_opening_a_services_work_order_at_once_get_the_same_order(fleet, vehicles, oil_change, owner):
    # Two clicks (two managers, or a double submit) served by two web workers at once: both look for the service's
    # active order before either has committed one. The wait is what this proves; SQLite has no concurrent writers.
    require_service(connection.vendor == "postgresql", "PostgreSQL")
    bolt = vehicles[3]
    # The other request's order is not committed while the second click looks for one.
    with held_by_another_worker(
        lambda: work_order_for_service(fleet=fleet, vehicle=bolt, task=oil_change, user=owner)
    ) as first:
        order, opened = work_order_for_service(fleet=fleet, vehicle=bolt, task=oil_change, user=owner)
    assert first and first[0][1] is True
    assert (order.pk, opened) == (first[0][0].pk, False)
    assert WorkOrder.objects.filter(service_task=oil_change).count() == 1


def test_one_click_on_a_trouble_code_copies_it_in_and_a_returning_code_reopens_the_same_order(
    manager_client, fleet, vehicles
):
    bolt = vehicles[3]
    code = dtc(bolt, "P0420", hours_ago=2)
    url = reverse("maintenance_work_order_from_diagnostic", args=[fleet.slug])
    manager_client.post(url, {"kind": "dtc", "pk": code.pk})
    order = WorkOrder.objects.get()
    assert (order.source, order.code, order.vehicle) == ("dtc", "P0420", bolt)
    assert "Catalyst" in order.code_description and order.vehicle_state["odometer_km"] == 12000.0
    manager_client.post(url, {"kind": "dtc", "pk": code.pk})
    assert WorkOrder.objects.count() == 1
    # Done; the next sync finds the code gone; later it comes back as a new occurrence.
    assert edit(manager_client, order, status="done").status_code == 302
    order.refresh_from_db()
    page = manager_client.get(detail_url(order)).content.decode()
    assert "checks whether the code is gone at the vehicle&#x27;s next sync" in page
    code.cleared_at = timezone.now()
    code.save()
    assert "The code is gone" in manager_client.get(detail_url(order)).content.decode()
    again = dtc(bolt, "P0420", hours_ago=0)
    manager_client.post(url, {"kind": "dtc", "pk": again.pk})
    order.refresh_from_db()
    assert WorkOrder.objects.count() == 1 and order.status == WorkOrderStatus.OPEN
    assert order.changes.last().action == "reopened"
    page = manager_client.get(detail_url(order)).content.decode()
    assert "reopened the work order: P0420 came back after the work" in page


def test_a_code_still_reported_after_the_work_is_said_so(manager_client, fleet, vehicles):
    bolt = vehicles[3]
    code = dtc(bolt, "P0171", hours_ago=5)
    manager_client.post(
        reverse("maintenance_work_order_from_diagnostic", args=[fleet.slug]), {"kind": "dtc", "pk": code.pk}
    )
    order = WorkOrder.objects.get()
    edit(manager_client, order, status="done")
    code.last_seen_at = timezone.now() + timedelta(seconds=1)  # read again after the order was closed
    code.save()
    assert "still reports the code" in manager_client.get(detail_url(order)).content.decode()


def test_a_system_alert_opens_one_too(manager_client, fleet, vehicles):
    now = timezone.now()
    alert = SystemStatus.objects.create(
        vehicle=vehicles[3], system_id="SYSTEM_ABS", status="ALERT", description="ABS sensor", changed_at=now,
        last_seen_at=now,
    )  # fmt: skip
    manager_client.post(
        reverse("maintenance_work_order_from_diagnostic", args=[fleet.slug]), {"kind": "system", "pk": alert.pk}
    )
    order = WorkOrder.objects.get()
    assert (order.source, order.code, order.title) == ("system", "SYSTEM_ABS", "System alert: ABS sensor")


def test_another_fleets_code_opens_nothing(manager_client, fleet, other_fleet):
    from tests.dashboard.factories import make_vehicles

    code = dtc(make_vehicles(other_fleet, 1, make="CHEVROLET")[0], "P0420", hours_ago=1)
    manager_client.post(
        reverse("maintenance_work_order_from_diagnostic", args=[fleet.slug]), {"kind": "dtc", "pk": code.pk}
    )
    assert not WorkOrder.objects.exists() and not Change.objects.exists()


def test_work_done_on_an_earlier_day_takes_that_days_odometer(owner_client, fleet, vehicles, oil_change):
    bolt = vehicles[3]
    yesterday = timezone.localdate(timezone=fleet.zone) - timedelta(days=1)
    noon = timezone.make_aware(datetime.combine(yesterday, time(12)), fleet.zone)
    StatusHistory.objects.create(vehicle=bolt, field="odometer_km", recorded_at=noon - timedelta(hours=3), number=11000)
    StatusHistory.objects.create(vehicle=bolt, field="odometer_km", recorded_at=noon, number=11500)
    StatusHistory.objects.create(vehicle=bolt, field="odometer_km", recorded_at=noon + timedelta(days=1), number=12000)
    owner_client.post(reverse("maintenance_work_order_from_service", args=[fleet.slug, bolt.pk, oil_change.pk]))
    order = WorkOrder.objects.get()
    assert edit(owner_client, order, status="done", completed_on=str(yesterday)).status_code == 302
    order.refresh_from_db()
    assert order.completion_odometer_km == 11500
    point = ServicePoint.objects.get(vehicle=bolt, task=oil_change)
    assert (point.done_on, point.done_km, point.baseline) == (yesterday, 11500, False)


def test_a_completion_odometer_below_the_vehicles_synced_reading_is_refused(manager_client, fleet, vehicles, order):
    today = timezone.localdate(timezone=fleet.zone)
    evening = timezone.make_aware(datetime.combine(today - timedelta(days=2), time(20)), fleet.zone)
    StatusHistory.objects.create(vehicle=order.vehicle, field="odometer_km", recorded_at=evening, number=30000)
    response = edit(manager_client, order, status="done", completed_on=str(today), completion_odometer_km="25000")
    assert response.status_code == 422
    assert "below the 30,000 km the vehicle&#x27;s odometer read before that day" in response.content.decode()
    order.refresh_from_db()
    assert order.status == WorkOrderStatus.OPEN and order.completion_odometer_km is None
    # Work done on a day before that reading is not held to it.
    earlier = str(today - timedelta(days=3))
    assert (
        edit(manager_client, order, status="done", completed_on=earlier, completion_odometer_km="25000").status_code
        == 302
    )


def test_an_imperial_fleet_types_the_completion_odometer_in_miles(manager_client, fleet, vehicles, owner, order):
    fleet.unit_system = "imperial"
    fleet.save()
    earlier = work_order_open(fleet=fleet, vehicle=vehicles[0], user=owner, title="Earlier")
    WorkOrder.objects.filter(pk=earlier.pk).update(
        status="done", completed_on=date(2026, 1, 1), completion_odometer_km=11000
    )
    response = edit(manager_client, order, status="done", completed_on="2026-02-01", completion_odometer_km="6000")
    assert response.status_code == 422 and "below the 6,835 mi recorded by earlier work" in response.content.decode()
    assert "Odometer at completion (mi)" in response.content.decode()
    assert (
        edit(manager_client, order, status="done", completed_on="2026-02-01", completion_odometer_km="7500").status_code
        == 302
    )
    order.refresh_from_db()
    assert order.completion_odometer_km == pytest.approx(12070.08)
    page = manager_client.get(detail_url(order)).content.decode()
    assert 'value="7500.0"' in page and "set the odometer at completion to 7,500 mi" in page


def test_the_new_work_order_form_asks_for_a_vehicle_in_words(manager_client, fleet, vehicles):
    page = manager_client.get(reverse("maintenance_work_order_new", args=[fleet.slug])).content.decode()
    assert '<option value="" selected>Choose a vehicle</option>' in page and "---------" not in page


def test_the_header_names_who_opened_the_order_as_its_changes_do(manager_client, manager, fleet, vehicles):
    manager.name = "Mia Manager"
    manager.save()
    order = work_order_open(fleet=fleet, vehicle=vehicles[0], user=manager, title="Windscreen chip")
    page = manager_client.get(detail_url(order)).content.decode()
    header = page.split("<h1>")[1].split("</p>")[0]
    assert header.endswith(" by Mia Manager") and "Mia Manager opened the work order" in page
