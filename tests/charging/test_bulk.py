"""One schedule applied to many vehicles: choose, preview, run as a task, progress and per-vehicle results."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from charging import services
from charging.models import BulkScheduleRun, BulkStatus, TargetStatus
from fleet.outbox import outbox_sweep
from tests.charging.conftest import V2_ONLY
from vehicles.models import Command, CommandStatus, Vehicle


def force_error(vehicle, error: str):
    from simulator.models import Vehicle as SimulatedVehicle

    simulated = SimulatedVehicle.objects.get(vehicle_id=vehicle.smartcar_id)
    simulated.state["force_error"] = error
    simulated.save()


@V2_ONLY
def test_bulk_apply_of_a_nissan_schedule_with_some_vehicles_failing(manager_client, fleet, connected):
    fine, asleep, fine_too = connected("NISSAN"), connected("NISSAN"), connected("NISSAN")
    tesla = connected("TESLA")
    force_error(asleep, "VEHICLE_STATE:ASLEEP")
    url = reverse("charging_bulk_new", args=[fleet.slug])

    choose = manager_client.get(url, {"make": "NISSAN"})
    offered = {vehicle.pk for vehicle in choose.context["form"].vehicles.fields["vehicles"].queryset}
    assert offered == {fine.pk, asleep.pk, fine_too.pk}  # only the make chosen

    data = {
        "make": "NISSAN",
        "vehicles": [fine.pk, asleep.pk, fine_too.pk],
        "nissan-TOTAL_FORMS": "1",
        "nissan-INITIAL_FORMS": "0",
        "nissan-0-start": "23:00",
        "nissan-0-end": "05:00",
        "nissan-0-days": ["MONDAY", "TUESDAY"],
    }
    preview = manager_client.post(url, data)
    assert preview.status_code == 200
    assert "Preview:" in preview.content.decode()
    assert not BulkScheduleRun.objects.exists()  # a preview changes nothing

    started = manager_client.post(url, {**data, "confirm": "1"})
    run = BulkScheduleRun.objects.get()
    assert started.status_code == 302
    assert started["Location"] == reverse("charging_bulk_run", args=[fleet.slug, run.pk])

    # The task ran (eagerly in tests); polling the progress fragment ends the polling with htmx's 286.
    progress = manager_client.get(started["Location"], HTTP_HX_REQUEST="true")
    assert progress.status_code == 286
    html = progress.content.decode()
    assert "Finished: 2 applied, 1 failed" in html
    assert "asleep" in html
    statuses = dict(run.targets.values_list("vehicle_id", "status"))
    applied, failed = TargetStatus.APPLIED, TargetStatus.FAILED
    assert statuses == {fine.pk: applied, asleep.pk: failed, fine_too.pk: applied}

    force_error(asleep, "")
    for vehicle in (fine, fine_too):
        assert [window.to_wire() for window in services.nissan_schedule_read(vehicle=vehicle)] == run.payload[
            "chargeSchedules"
        ]
    assert services.nissan_schedule_read(vehicle=asleep) == []
    # Each change sent is in its vehicle's audit log; the asleep vehicle failed at the fresh read, before any change
    # was sent, so its log has nothing — its failure is in the run's result list.
    assert Command.objects.filter(kind="nissan_schedule", status=CommandStatus.DONE).count() == 2
    assert not Command.objects.filter(vehicle__in=[asleep, tesla]).exists()


@V2_ONLY
def test_a_bulk_run_started_while_the_broker_is_down_is_applied_when_it_is_back(
    manager_client, fleet, connected, broker_down
):
    nissan = connected("NISSAN")
    data = {
        "make": "NISSAN",
        "vehicles": [nissan.pk],
        "nissan-TOTAL_FORMS": "1",
        "nissan-INITIAL_FORMS": "0",
        "nissan-0-start": "23:00",
        "nissan-0-end": "05:00",
        "nissan-0-days": ["MONDAY"],
        "confirm": "1",
    }
    started = manager_client.post(reverse("charging_bulk_new", args=[fleet.slug]), data)
    assert started.status_code == 302  # the manager is told it is queued, not shown an error
    run = BulkScheduleRun.objects.get()
    assert (run.status, run.enqueued_at) == (BulkStatus.QUEUED, None)
    later = timezone.now() + timedelta(seconds=10)
    assert outbox_sweep(now=later) == 0  # still down: nothing lost, nothing sent

    broker_down.restore()
    assert outbox_sweep(now=later) == 1
    run.refresh_from_db()
    assert run.status == BulkStatus.DONE
    assert run.targets.get().status == TargetStatus.APPLIED
    assert [window.to_wire() for window in services.nissan_schedule_read(vehicle=nissan)] == run.payload[
        "chargeSchedules"
    ]
    assert outbox_sweep(now=later) == 0  # handed over once


@pytest.mark.django_db
def test_bulk_apply_needs_at_least_one_vehicle(manager_client, fleet):
    Vehicle.objects.create(
        fleet=fleet, smartcar_id="t", make="TESLA", model="3", permissions=["read_charge", "control_charge"]
    )
    url = reverse("charging_bulk_new", args=[fleet.slug])
    response = manager_client.post(url, {"make": "TESLA", "mode": "START_TIME", "start_time": "23:00"})
    assert "Choose at least one vehicle." in response.content.decode()
    assert not BulkScheduleRun.objects.exists()


@pytest.mark.django_db
def test_bulk_nissan_form_adds_a_second_schedule_without_starting_anything(manager_client, fleet):
    url = reverse("charging_bulk_new", args=[fleet.slug])
    data = {
        "make": "NISSAN",
        "nissan-TOTAL_FORMS": "1",
        "nissan-INITIAL_FORMS": "0",
        "nissan-0-start": "23:00",
        "nissan-0-end": "05:00",
        "nissan-0-days": ["MONDAY"],
        "add_nissan": "1",
    }
    response = manager_client.post(url, data)
    assert response.context["form"].nissan.total_form_count() == 2
    assert 'name="nissan-1-start"' in response.content.decode()
    assert not BulkScheduleRun.objects.exists()
