"""History: completed work and the dealer's records in one timeline; costs per vehicle and per month; CSV."""

from datetime import date
from decimal import Decimal

from django.urls import reverse
from django.utils import timezone

from maintenance.models import WorkOrder, WorkOrderStatus
from maintenance.services import work_order_open
from tests.dashboard.factories import make_vehicles
from vehicles.models import EndpointState

DEALER = [
    {
        "serviceId": "A-1",
        "odometerDistance": 10000.0,
        "serviceDate": "2026-03-02T23:30:00.000Z",
        "serviceTasks": [{"taskId": "1", "taskDescription": "Oil and filter change"}, {"taskId": None}],
        "serviceDetails": [{"type": "Dealer", "value": "Springfield Service Center"}],
        "serviceCost": {"totalCost": 120.5, "currency": "USD"},
    },
    {"serviceDate": "not a date"},
    "junk",
]


def done(fleet, vehicle, owner, title, on, parts, labour, km=None):
    order = work_order_open(fleet=fleet, vehicle=vehicle, user=owner, title=title)
    WorkOrder.objects.filter(pk=order.pk).update(
        status=WorkOrderStatus.DONE, completed_on=on, parts_cost=parts, labour_cost=labour, completion_odometer_km=km,
        closed_at=timezone.now(),
    )  # fmt: skip
    return order


def test_one_timeline_of_work_orders_and_dealer_records_newest_first(owner_client, owner, fleet):
    ford = make_vehicles(fleet, 1, make="FORD")[0]
    EndpointState.objects.create(vehicle=ford, path="/service/history", body=DEALER, last_success_at=timezone.now())
    done(fleet, ford, owner, "Brake pads", date(2026, 4, 10), Decimal("80"), Decimal("45.5"), 11000)
    work_order_open(fleet=fleet, vehicle=ford, user=owner, title="Still open")
    page = owner_client.get(reverse("vehicle_maintenance_history", args=[fleet.slug, ford.pk])).content.decode()
    assert page.index("Brake pads") < page.index("Oil and filter change")
    # The dealer's date is the fleet's day (23:30 UTC is the next day in Berlin).
    assert "10 Apr 2026" in page and "3 Mar 2026" in page and "Springfield Service Center" in page
    assert "125.50" in page and "120.50 USD" in page and "Still open" not in page
    assert "April 2026" in page


def test_costs_per_month_and_per_vehicle(owner_client, owner, fleet, vehicles):
    done(fleet, vehicles[0], owner, "A", date(2026, 4, 1), Decimal("10"), Decimal("5"))
    done(fleet, vehicles[0], owner, "B", date(2026, 4, 20), None, Decimal("20"))
    done(fleet, vehicles[1], owner, "C", date(2026, 5, 3), Decimal("100"), None)
    page = owner_client.get(reverse("maintenance_costs", args=[fleet.slug]))
    months = [(r["month"], r["orders"], r["total"]) for r in page.context["months"]]
    assert months == [(date(2026, 5, 1), 1, Decimal("100")), (date(2026, 4, 1), 2, Decimal("35"))]
    rows = [(r["vehicle"], r["total"]) for r in page.context["by_vehicle"]]
    assert rows == [(vehicles[1], Decimal("100")), (vehicles[0], Decimal("35"))]


def test_the_csv_lists_completed_work_and_a_vehicles_dealer_records(owner_client, owner, fleet, other_fleet):
    ford = make_vehicles(fleet, 1, make="FORD")[0]
    EndpointState.objects.create(vehicle=ford, path="/service/history", body=DEALER, last_success_at=timezone.now())
    done(fleet, ford, owner, "=HYPERLINK(evil)", date(2026, 4, 10), Decimal("80"), Decimal("45.5"), 11000)
    url = reverse("maintenance_history_csv", args=[fleet.slug])
    lines = b"".join(owner_client.get(url, {"vehicle": ford.pk}).streaming_content).decode().splitlines()
    assert lines[0].startswith("date,vehicle,make,model,vin,kind,work,odometer_km,parts_cost")
    assert lines[1].startswith("2026-03-03,") and "Dealer service" in lines[1] and "USD" in lines[1]
    assert lines[2].startswith("2026-04-10,") and "'=HYPERLINK(evil)" in lines[2] and ",80.00,45.50,125.50," in lines[2]
    theirs = make_vehicles(other_fleet, 1)[0]
    assert owner_client.get(url, {"vehicle": theirs.pk}).status_code == 404
    assert owner_client.get(reverse("vehicle_maintenance_history", args=[fleet.slug, theirs.pk])).status_code == 404
