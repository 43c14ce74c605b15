"""Drivers and who had which vehicle when: overlaps refused with a message, history kept, the vehicle page says who
has it now; other fleets' drivers are 404s and viewers cannot change anything."""

from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.trips.conftest import vehicle_of
from trips.models import Assignment, Driver


def post_assign(client, fleet, driver, vehicle, start, end=""):
    return client.post(
        reverse("trips_driver_assign", args=[fleet.slug, driver.pk]),
        {"vehicle": vehicle.pk, "starts_at": start, "ends_at": end},
    )


@pytest.mark.django_db
def test_a_named_driver_without_login_is_added_and_given_a_vehicle_in_the_fleets_time_zone(
    owner_client, fleet, vehicle
):
    response = owner_client.post(reverse("trips_driver_create", args=[fleet.slug]), {"name": "Sam Rivers"})
    driver = Driver.objects.get(fleet=fleet, name="Sam Rivers")
    assert response.status_code == 302 and driver.user is None

    assert post_assign(owner_client, fleet, driver, vehicle, "2026-03-02T08:00").status_code == 302
    (assignment,) = Assignment.objects.filter(driver=driver)
    # Berlin is UTC+1 in March: 08:00 there is 07:00 UTC.
    assert assignment.starts_at == datetime(2026, 3, 2, 7, 0, tzinfo=UTC) and assignment.ends_at is None

    page = owner_client.get(reverse("vehicle_detail", args=[fleet.slug, vehicle.pk])).content.decode()
    assert "Driver: " in page and "Sam Rivers" in page


@pytest.mark.django_db
def test_an_overlapping_assignment_is_refused_with_who_has_the_vehicle(owner_client, fleet, vehicle, driver):
    other = Driver.objects.create(fleet=fleet, name="Alex Other")
    assert post_assign(owner_client, fleet, driver, vehicle, "2026-03-02T08:00", "2026-03-05T18:00").status_code == 302

    response = post_assign(owner_client, fleet, other, vehicle, "2026-03-04T08:00", "2026-03-09T08:00")
    assert response.status_code == 422
    assert "Dana Driver has this vehicle from 2 Mar 2026 08:00 until 5 Mar 2026 18:00" in response.content.decode()
    assert not Assignment.objects.filter(driver=other).exists()

    # Touching end to start is no overlap; an open-ended one blocks everything after it.
    assert post_assign(owner_client, fleet, other, vehicle, "2026-03-05T18:00").status_code == 302
    response = post_assign(owner_client, fleet, driver, vehicle, "2026-04-01T08:00", "2026-04-02T08:00")
    assert response.status_code == 422 and "Alex Other has this vehicle from 5 Mar 2026 18:00 with no end" in (
        response.content.decode()
    )


@pytest.mark.django_db
def test_handing_back_keeps_the_history_and_frees_the_vehicle(owner_client, fleet, vehicle, driver):
    Assignment.objects.create(driver=driver, vehicle=vehicle, starts_at=timezone.now() - timedelta(days=3))
    (assignment,) = Assignment.objects.all()
    owner_client.post(reverse("trips_assignment_end", args=[fleet.slug, assignment.pk]))
    assignment.refresh_from_db()
    assert assignment.ends_at is not None
    page = owner_client.get(reverse("trips_driver", args=[fleet.slug, driver.pk])).content.decode()
    assert "Van 7" in page and "Has it now" not in page
    vehicle_page = owner_client.get(reverse("vehicle_detail", args=[fleet.slug, vehicle.pk])).content.decode()
    assert "No driver assigned" in vehicle_page


@pytest.mark.django_db
def test_an_end_before_the_start_is_refused(owner_client, fleet, vehicle, driver):
    response = post_assign(owner_client, fleet, driver, vehicle, "2026-03-02T08:00", "2026-03-01T08:00")
    assert response.status_code == 422 and "The end must come after the start." in response.content.decode()
    assert not Assignment.objects.exists()


@pytest.mark.django_db
def test_other_fleets_drivers_and_vehicles_are_out_of_reach(owner_client, fleet, other_fleet, driver):
    theirs = Driver.objects.create(fleet=other_fleet, name="Theirs")
    their_vehicle = vehicle_of(other_fleet, smartcar_id="v-theirs")
    assert owner_client.get(reverse("trips_driver", args=[fleet.slug, theirs.pk])).status_code == 404
    assert post_assign(owner_client, fleet, theirs, their_vehicle, "2026-03-02T08:00").status_code == 404
    # Their vehicle is not a choice for our driver.
    response = post_assign(owner_client, fleet, driver, their_vehicle, "2026-03-02T08:00")
    assert response.status_code == 422 and not Assignment.objects.exists()
    theirs_assignment = Assignment.objects.create(driver=theirs, vehicle=their_vehicle, starts_at=timezone.now())
    url = reverse("trips_assignment_end", args=[fleet.slug, theirs_assignment.pk])
    assert owner_client.post(url).status_code == 404
    assert owner_client.get(reverse("trips_drivers", args=[other_fleet.slug])).status_code == 404


@pytest.mark.django_db
def test_viewers_see_drivers_but_cannot_change_them(viewer_client, fleet, vehicle, driver):
    assert viewer_client.get(reverse("trips_drivers", args=[fleet.slug])).status_code == 200
    assert viewer_client.post(reverse("trips_driver_create", args=[fleet.slug]), {"name": "X"}).status_code == 403
    assert post_assign(viewer_client, fleet, driver, vehicle, "2026-03-02T08:00").status_code == 403
    assert not Assignment.objects.exists() and Driver.objects.count() == 1


@pytest.mark.django_db
def test_a_member_can_be_the_driver_and_names_are_unique(owner_client, fleet, owner, driver):
    response = owner_client.post(reverse("trips_driver_create", args=[fleet.slug]), {"name": "Owner", "user": owner.pk})
    assert response.status_code == 302 and Driver.objects.get(name="Owner").user == owner
    response = owner_client.post(reverse("trips_driver_create", args=[fleet.slug]), {"name": "dana driver"})
    assert response.status_code == 422 and "already" in response.content.decode()


@pytest.mark.django_db
def test_the_driver_form_offers_no_login_as_the_empty_member(owner_client, fleet):
    page = owner_client.get(reverse("trips_drivers", args=[fleet.slug])).content.decode()
    assert '<option value="" selected>No login</option>' in page and "---------" not in page
