"""Every change to the maintenance of a fleet is recorded — who, when, what — and shown where it matters, in words:
a service added, changed, its vehicles chosen by hand, removed; a due point reset by finished work."""

import pytest
from django.urls import reverse
from django.utils import timezone

from fleet.models import User
from maintenance.models import Change, ServicePoint, ServiceTask, WorkOrder
from vehicles.models import VehicleStatus


@pytest.fixture
def anna(manager):
    manager.name = "Anna"
    manager.save()
    return manager


def program_url(fleet):
    return reverse("maintenance_program", args=[fleet.slug])


def task_url(task):
    return reverse("maintenance_program_task", args=[task.fleet.slug, task.pk])


def task_form(task, **fields):
    data = {
        "name": task.name, "every_km": task.every_km or "", "every_months": task.every_months or "",
        "make": task.make, "model": task.model, "vehicles": [v.pk for v in task.vehicles.all()],
    }  # fmt: skip
    return {**data, **fields}


def page(client, url) -> str:
    return client.get(url).content.decode()


def test_a_service_added_and_its_interval_changed_are_told_in_words_on_its_page(
    manager_client, anna, fleet, vehicles, viewer, client
):
    manager_client.post(program_url(fleet), {"name": "Oil change", "every_km": "10000", "make": "CHEVROLET"})
    task = ServiceTask.objects.get()
    response = manager_client.post(task_url(task), task_form(task, every_km="15000"))
    assert response.status_code == 302
    history = page(manager_client, task_url(task))
    assert "Anna changed the interval from 10,000 km to 15,000 km" in history
    assert "Anna added “Oil change” to the program: the interval 10,000 km and the make Chevrolet" in history
    # The program's page lists its changes too; a viewer reads them.
    client.force_login(viewer)
    assert "Anna changed the interval from 10,000 km to 15,000 km" in page(client, program_url(fleet))
    assert "Anna changed the interval from 10,000 km to 15,000 km" in page(client, task_url(task))
    change = Change.objects.filter(service_task=task).last()
    assert (change.user, change.fields) == (anna, {"every_km": [10000, 15000]})
    assert change.at <= timezone.now()


def test_the_words_follow_the_fleets_units(manager_client, anna, fleet, vehicles, oil_change):
    manager_client.post(task_url(oil_change), task_form(oil_change, every_km="16093"))
    fleet.unit_system = "imperial"
    fleet.save()
    assert "Anna changed the interval from 9,321 mi to 10,000 mi" in page(manager_client, task_url(oil_change))


def test_vehicles_chosen_by_hand_and_taken_off_are_recorded(manager_client, anna, fleet, vehicles, oil_change):
    tesla, other = vehicles[0], vehicles[1]
    manager_client.post(task_url(oil_change), task_form(oil_change, vehicles=[tesla.pk, other.pk]))
    manager_client.post(task_url(oil_change), task_form(oil_change, vehicles=[other.pk]))
    history = page(manager_client, task_url(oil_change))
    assert f"Anna assigned {tesla.display_name} and {other.display_name} by hand" in history
    assert f"Anna took {tesla.display_name} off" in history
    assert list(oil_change.vehicles.all()) == [other]


def test_a_refused_or_empty_edit_records_nothing(manager_client, anna, vehicles, oil_change):
    assert manager_client.post(task_url(oil_change), task_form(oil_change, every_km="5")).status_code == 422
    assert manager_client.post(task_url(oil_change), task_form(oil_change)).status_code == 302
    assert not Change.objects.exists()
    assert "No change yet" in page(manager_client, task_url(oil_change))


def test_a_removed_service_keeps_its_record_on_the_programs_page(manager_client, anna, fleet, oil_change):
    manager_client.post(task_url(oil_change), {"action": "delete"})
    assert not ServiceTask.objects.exists()
    change = Change.objects.get()
    assert (change.action, change.subject, change.service_task) == ("removed", "Oil change", None)
    assert "Anna removed “Oil change” from the program" in page(manager_client, program_url(fleet))


def test_finished_work_that_resets_a_due_point_is_on_the_services_history(
    manager_client, anna, fleet, vehicles, oil_change
):
    bolt = vehicles[3]
    VehicleStatus.objects.filter(vehicle=bolt).update(odometer_km=15200.0)
    manager_client.post(reverse("maintenance_work_order_from_service", args=[fleet.slug, bolt.pk, oil_change.pk]))
    order = WorkOrder.objects.get()
    manager_client.post(order.get_absolute_url(), {"title": order.title, "status": "done"})
    point = ServicePoint.objects.get(vehicle=bolt, task=oil_change)
    assert not point.baseline
    said = (
        f"Anna finished work order #{order.pk} on {bolt.display_name}: “Oil change” is counted again from "
        f"{point.done_on.day} {point.done_on:%b %Y} at 15,200 km"
    )
    assert said in page(manager_client, task_url(oil_change))
    assert said in page(manager_client, order.get_absolute_url())


def test_viewers_change_nothing_and_nothing_is_recorded(viewer_client, fleet, vehicles, oil_change):
    assert viewer_client.post(task_url(oil_change), task_form(oil_change, every_km="20000")).status_code == 403
    assert viewer_client.post(task_url(oil_change), {"action": "delete"}).status_code == 403
    oil_change.refresh_from_db()
    assert oil_change.every_km == 15000 and not Change.objects.exists()


def test_the_record_is_read_only_in_admin(client, manager_client, anna, vehicles, oil_change):
    manager_client.post(task_url(oil_change), task_form(oil_change, every_km="20000"))
    change = Change.objects.get()
    client.force_login(User.objects.create_superuser(email="root@example.com", password="x" * 12))
    url = reverse("admin:maintenance_change_change", args=[change.pk])
    assert "manager@example.com" in client.get(url).content.decode()
    client.post(url, {"subject": "Something else", "user_email": "someone@example.com"})
    change.refresh_from_db()
    assert (change.subject, change.user_email) == ("Oil change", "manager@example.com")
    assert client.get(reverse("admin:maintenance_change_add")).status_code == 403
    assert client.post(reverse("admin:maintenance_change_delete", args=[change.pk]), {"post": "yes"}).status_code == 403
    assert Change.objects.filter(pk=change.pk).exists()
    # Services are changed on the fleet's pages, where the change is recorded, not here.
    client.post(reverse("admin:maintenance_servicetask_change", args=[oil_change.pk]), {"every_km": "1"})
    oil_change.refresh_from_db()
    assert oil_change.every_km == 20000
