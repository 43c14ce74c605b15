"""Maintenance figures (docs/benchmarks.md): the board and the due computation at 5,000 vehicles, 50,000 work orders.

    .venv/bin/python tests/bench/bench_maintenance.py

1. Seeds, in a PostgreSQL database of its own, one fleet of 5,000 vehicles of ten makes with latest status rows
   (odometer, oil life, tire pressures), a service program of six tasks (by make, by model and by hand), the service
   points of half the vehicles, and 50,000 work orders (about 5 % still open) with their change records.
2. In process (Django's test client through every middleware, DEBUG off): SQL queries of the board and of its htmx
   refresh, and the server time of 100 requests of each over the make and assignee filters; the due computation
   alone (``fleet_due`` as the board asks it: every service counted, the overdue and due kept) and the overview's
   maintenance counts, 50 times each. Medians and p95.

``BENCH_REUSE=1`` measures again on the database the last run seeded.

Not collected by pytest (the file name does not start with test_).
"""

import os
import random
import time
from datetime import date, timedelta
from decimal import Decimal

from common import database_create, environment, summary, timed

DATABASE = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/fleet_bench_maintenance")
VEHICLES = int(os.environ.get("BENCH_VEHICLES", "5000"))
WORK_ORDERS = int(os.environ.get("BENCH_WORK_ORDERS", "50000"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "100"))

environment(DATABASE)
MAKES = ["TESLA", "FORD", "CHEVROLET", "NISSAN", "BMW", "TOYOTA", "AUDI", "HYUNDAI", "KIA", "JEEP"]
ASSIGNEES = ["North garage", "South garage", "Tire centre", "Body shop", "Dealer", ""]


def seed():
    from django.core.management import call_command
    from django.db import connection

    from fleet.models import User
    from fleet.services import fleet_create
    from maintenance.models import Change, ServicePoint, ServiceTask, WorkOrder, WorkOrderStatus
    from tests.dashboard.factories import make_account, make_vehicles
    from vehicles.models import VehicleStatus

    database_create(DATABASE)
    call_command("migrate", verbosity=0)
    user = User.objects.create_user(email="bench@example.com", password="bench password 1")
    fleet = fleet_create(name="Bench Fleet", owner=user, time_zone="Europe/Berlin")
    account = make_account(fleet)
    per_make = VEHICLES // len(MAKES)
    vehicles = []
    for index, make in enumerate(MAKES):
        vehicles += make_vehicles(fleet, per_make, account=account, make=make, start=index * per_make)
    rng = random.Random(19)
    statuses = list(VehicleStatus.objects.all())
    for status in statuses:
        status.odometer_km = rng.uniform(1000, 150000)
        status.oil_life_percent = rng.uniform(3, 100)
        for field in ("front_left", "front_right", "back_left", "back_right"):
            setattr(status, f"tire_pressure_{field}_kpa", rng.uniform(170, 250))
    fields = ["odometer_km", "oil_life_percent"] + [
        f"tire_pressure_{f}_kpa" for f in ("front_left", "front_right", "back_left", "back_right")
    ]
    VehicleStatus.objects.bulk_update(statuses, fields, batch_size=1000)
    tasks = [
        ServiceTask.objects.create(fleet=fleet, name="Oil change (Ford)", every_km=15000, every_months=12, make="FORD")
    ]
    tasks += [
        ServiceTask.objects.create(fleet=fleet, name="Oil change (GM)", every_km=12000, make="CHEVROLET"),
        ServiceTask.objects.create(fleet=fleet, name="Oil by the monitor", oil_life_below_percent=15, make="JEEP"),
        ServiceTask.objects.create(fleet=fleet, name="Tire check", tire_pressure_below_kpa=190, every_months=3),
        ServiceTask.objects.create(fleet=fleet, name="Brake inspection", every_km=30000, make="TESLA", model="Model 3"),
        ServiceTask.objects.create(fleet=fleet, name="Annual inspection", every_months=12),
    ]
    tasks[3].vehicles.add(*vehicles[::2])  # tire check: half the fleet, by hand
    tasks[5].vehicles.add(*vehicles)  # annual inspection: every vehicle, by hand
    today = date.today()
    ServicePoint.objects.bulk_create(
        [
            ServicePoint(vehicle=v, task=tasks[5], done_on=today - timedelta(days=rng.randint(0, 400)), done_km=None)
            for v in vehicles[::2]
        ],
        batch_size=2000,
    )
    statuses_cycle = (
        [WorkOrderStatus.DONE] * 18
        + [WorkOrderStatus.CANCELLED]
        + [rng.choice([WorkOrderStatus.OPEN, WorkOrderStatus.SCHEDULED, WorkOrderStatus.IN_PROGRESS])]
    )
    orders = []
    for index in range(WORK_ORDERS):
        vehicle = vehicles[index % len(vehicles)]
        status = statuses_cycle[index % len(statuses_cycle)]
        done = status == WorkOrderStatus.DONE
        orders.append(
            WorkOrder(
                fleet=fleet, vehicle=vehicle, title=f"Job {index}", status=status,
                assignee=ASSIGNEES[index % len(ASSIGNEES)],
                due_on=today + timedelta(days=rng.randint(-30, 60)) if not done else None,
                parts_cost=Decimal(rng.randint(0, 50000)) / 100, labour_cost=Decimal(rng.randint(0, 30000)) / 100,
                completed_on=today - timedelta(days=rng.randint(0, 1000)) if done else None,
                code=rng.choice(["", "", "", "P0420", "P0171"]),
            )
        )  # fmt: skip
    WorkOrder.objects.bulk_create(orders, batch_size=5000)
    Change.objects.bulk_create(
        [
            Change(fleet=fleet, work_order_id=pk, action="opened")
            for pk in WorkOrder.objects.values_list("pk", flat=True)
        ],
        batch_size=5000,
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return user, fleet


def measure(user, fleet) -> dict:
    from django.db import connection, reset_queries
    from django.test import Client
    from django.urls import reverse

    from maintenance.board import maintenance_counts
    from maintenance.services import fleet_due

    client = Client()
    client.force_login(user)
    url = reverse("maintenance_board", args=[fleet.slug])
    client.get(url)  # the first count stores each service's starting point; every later one reads it
    executed: list[str] = []

    def count(execute, sql, params, many, context):
        executed.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        page = client.get(url)
        page_queries = len(executed)
        fragment = client.get(url, {"make": "FORD"}, headers={"HX-Request": "true"})
        fragment_queries = len(executed) - page_queries
        executed.clear()
        due = fleet_due(fleet=fleet, urgent_only=True)
        due_queries = len(executed)
    assert page.status_code == fragment.status_code == 200
    rng = random.Random(3)

    def board_request(headers):
        params = {"make": rng.choice(["", "", *MAKES]), "assignee": rng.choice(["", "", "garage", "Tire"])}
        response = client.get(url, params, headers=headers)
        assert response.status_code == 200
        reset_queries()

    return {
        "queries_board": page_queries,
        "queries_board_refresh": fragment_queries,
        "queries_due": due_queries,
        "services_overdue_or_due": len(due),
        "page_bytes": len(page.content),
        **summary("board", timed(lambda: board_request({}), ROUNDS)),
        **summary("board_refresh", timed(lambda: board_request({"HX-Request": "true"}), ROUNDS)),
        **summary("due", timed(lambda: fleet_due(fleet=fleet, urgent_only=True), 50)),
        **summary("counts", timed(lambda: maintenance_counts(fleet=fleet), 50)),
    }


def main():
    import django

    django.setup()
    started = time.perf_counter()
    from django.core.management import call_command

    if os.environ.get("BENCH_REUSE"):  # measure again on the database the last run seeded, at today's schema
        from fleet.models import Fleet, User

        call_command("migrate", verbosity=0)
        user, fleet = User.objects.get(email="bench@example.com"), Fleet.objects.get(name="Bench Fleet")
    else:
        user, fleet = seed()
        print(f"seeded {VEHICLES} vehicles, {WORK_ORDERS} work orders in {time.perf_counter() - started:.0f} s")
    call_command("collectstatic", "--noinput", verbosity=0)  # the manifest of today's static files
    print("load average before measuring:", os.getloadavg(), flush=True)
    print("in process:", measure(user, fleet), flush=True)
    print("load average after measuring:", os.getloadavg(), flush=True)


if __name__ == "__main__":
    main()
