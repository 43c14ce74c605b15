"""Vehicle groups: managers create, rename, fill and delete them, on the groups pages and from a vehicle's page;
viewers see them and change nothing; another fleet's group or vehicle is a 404; bad input is refused in place."""

import pytest
from django.urls import reverse

from tests.dashboard.factories import make_vehicles
from vehicles.models import VehicleGroup

pytestmark = pytest.mark.django_db


def url(name, fleet, *args):
    return reverse(name, args=[fleet.slug, *args])


@pytest.fixture
def vans(fleet):
    group = VehicleGroup.objects.create(fleet=fleet, name="Vans")
    group.vehicles.add(*make_vehicles(fleet, 2, battery_percent=50.0))
    return group


def test_it_creates_a_group_and_adds_vehicles(manager_client, fleet):
    cars = make_vehicles(fleet, 3, battery_percent=50.0)
    response = manager_client.post(url("vehicle_group_create", fleet), {"name": "  Depot North "})
    group = VehicleGroup.objects.get(fleet=fleet)
    assert response.status_code == 302 and response.url == url("vehicle_group", fleet, group.pk)
    assert group.name == "Depot North"
    added = manager_client.post(url("vehicle_group_add", fleet, group.pk), {"vehicles": [cars[0].pk, cars[2].pk]})
    assert added.status_code == 302
    assert set(group.vehicles.all()) == {cars[0], cars[2]}
    page = manager_client.get(url("vehicle_group", fleet, group.pk)).content.decode()
    members = page.split("Add vehicles")[0]
    assert cars[0].get_absolute_url() in members and cars[1].get_absolute_url() not in members
    listing = manager_client.get(url("vehicle_groups", fleet)).content.decode()
    assert "Depot North" in listing and '<td class="num">2</td>' in listing


def test_a_name_taken_or_empty_is_refused_in_place(manager_client, fleet, vans):
    taken = manager_client.post(url("vehicle_group_create", fleet), {"name": "vans"})
    assert taken.status_code == 422 and "a group of this name already" in taken.content.decode()
    empty = manager_client.post(url("vehicle_group_rename", fleet, vans.pk), {"name": "   "})
    assert empty.status_code == 422 and "errorlist" in empty.content.decode()
    assert list(VehicleGroup.objects.values_list("name", flat=True)) == ["Vans"]


def test_it_renames_removes_a_vehicle_and_deletes_keeping_the_vehicles(manager_client, fleet, vans):
    first, second = vans.vehicles.order_by("pk")
    assert manager_client.post(url("vehicle_group_rename", fleet, vans.pk), {"name": "Vans (north)"}).status_code == 302
    vans.refresh_from_db()
    assert vans.name == "Vans (north)"
    manager_client.post(url("vehicle_group_remove", fleet, vans.pk, first.pk))
    assert list(vans.vehicles.all()) == [second]
    manager_client.post(url("vehicle_group_delete", fleet, vans.pk))
    assert not VehicleGroup.objects.exists()
    second.refresh_from_db()  # still in the fleet


def test_a_vehicle_page_shows_and_sets_its_groups(manager_client, fleet, vans):
    depot = VehicleGroup.objects.create(fleet=fleet, name="Depot North")
    vehicle = vans.vehicles.first()
    page = manager_client.get(vehicle.get_absolute_url()).content.decode()
    assert "Groups: " in page and ">Vans</a>" in page and "Change groups" in page
    response = manager_client.post(url("vehicle_groups_set", fleet, vehicle.pk), {"groups": [depot.pk]})
    assert response.status_code == 302
    assert list(vehicle.groups.all()) == [depot]


def test_viewers_see_groups_and_change_nothing(viewer_client, fleet, vans):
    page = viewer_client.get(url("vehicle_group", fleet, vans.pk)).content.decode()
    assert vans.vehicles.first().get_absolute_url() in page and "Remove from group" not in page and "Rename" not in page
    assert "New group" not in viewer_client.get(url("vehicle_groups", fleet)).content.decode()
    vehicle = vans.vehicles.first()
    for name, args, data in [
        ("vehicle_group_create", [], {"name": "Mine"}),
        ("vehicle_group_rename", [vans.pk], {"name": "Mine"}),
        ("vehicle_group_delete", [vans.pk], {}),
        ("vehicle_group_remove", [vans.pk, vehicle.pk], {}),
        ("vehicle_groups_set", [vehicle.pk], {"groups": []}),
    ]:
        assert viewer_client.post(url(name, fleet, *args), data).status_code == 403, name
    assert list(VehicleGroup.objects.values_list("name", flat=True)) == ["Vans"] and vans.vehicles.count() == 2


def test_another_fleets_group_and_vehicles_are_refused(manager_client, fleet, other_fleet, vans):
    theirs = VehicleGroup.objects.create(fleet=other_fleet, name="Theirs")
    their_car = make_vehicles(other_fleet, 1, start=10)[0]
    assert manager_client.get(url("vehicle_group", fleet, theirs.pk)).status_code == 404
    assert manager_client.post(url("vehicle_group_delete", fleet, theirs.pk)).status_code == 404
    refused = manager_client.post(url("vehicle_group_add", fleet, vans.pk), {"vehicles": [their_car.pk]})
    assert refused.status_code == 422 and "Select a valid choice" in refused.content.decode()
    mine = vans.vehicles.first()
    manager_client.post(url("vehicle_groups_set", fleet, mine.pk), {"groups": [theirs.pk]})
    assert list(mine.groups.all()) == [vans]
    assert not theirs.vehicles.exists()
