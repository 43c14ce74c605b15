"""The logbook: a month of trips per vehicle or driver as a page, a printable page and a CSV; tagging by managers
and by the trip's own driver, refused to other viewers and across fleets."""

from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse

from tests.trips.conftest import vehicle_of
from trips.models import Driver, Trip, TripKind

START = datetime(2026, 3, 2, 7, 0, tzinfo=UTC)


def trip_of(vehicle, driver=None, *, kind=TripKind.TRIP, distance=12.5, started=START):
    return Trip.objects.create(
        vehicle=vehicle, driver=driver, kind=kind, start_after=started - timedelta(minutes=5), started_at=started,
        end_after=started + timedelta(minutes=20), ended_at=started + timedelta(minutes=25), distance_km=distance,
        start_odometer_km=1000, end_odometer_km=1000 + (distance or 0), start_latitude=52.5, start_longitude=13.4,
        end_latitude=52.6, end_longitude=13.5,
    )  # fmt: skip


def tag(client, fleet, trip, purpose, note="", **extra):
    return client.post(
        reverse("trips_trip_purpose", args=[fleet.slug, trip.pk]), {"purpose": purpose, "purpose_note": note}, **extra
    )


@pytest.mark.django_db
def test_the_month_page_and_csv_list_trips_with_totals_and_unknown_movement_apart(owner_client, fleet, vehicle):
    Trip.objects.filter(pk=trip_of(vehicle).pk).update(purpose="business", purpose_note="=HYPERLINK()")
    trip_of(vehicle, kind=TripKind.UNKNOWN, distance=40.0, started=START + timedelta(hours=5))
    trip_of(vehicle, started=START + timedelta(days=40))  # another month
    url = reverse("trips_vehicle", args=[fleet.slug, vehicle.pk])
    page = owner_client.get(url, {"month": "2026-03"}).content.decode()
    assert "Logbook of Van 7" in page and "March 2026" in page and "Unknown movement" in page
    assert "Times are those of the readings" in page
    lines = owner_client.get(url, {"month": "2026-03", "format": "csv"}).content.decode().splitlines()
    assert len(lines) == 3
    first = dict(zip(lines[0].split(","), lines[1].split(","), strict=True))
    assert first["distance_km"] == "12.5" and first["purpose"] == "Business"
    assert first["purpose_note"] == "'=HYPERLINK()"  # no formula reaches a spreadsheet
    assert first["moving_by"] == "2026-03-02T08:00+01:00"  # the fleet's time zone
    assert "Checked and signed" in owner_client.get(url, {"month": "2026-03", "print": "1"}).content.decode()


@pytest.mark.django_db
def test_the_month_page_leads_to_the_months_around_it_its_csv_and_its_printable_page(owner_client, fleet, vehicle):
    page = owner_client.get(reverse("trips_vehicle", args=[fleet.slug, vehicle.pk]), {"month": "2026-03"})
    body = page.content.decode()
    assert '<a class="button secondary" href="?month=2026-02">← February 2026</a>' in body
    assert '<a class="button secondary" href="?month=2026-04">April 2026 →</a>' in body
    assert 'href="?month=2026-03&amp;format=csv">Download CSV</a>' in body
    assert 'href="?month=2026-03&amp;print=1">Printable page</a>' in body


@pytest.mark.django_db
def test_a_business_trip_needs_its_purpose(manager_client, fleet, vehicle):
    trip = trip_of(vehicle)
    response = tag(manager_client, fleet, trip, "business", headers={"HX-Request": "true"})
    assert response.status_code == 422 and "needs its purpose" in response.content.decode()
    trip.refresh_from_db()
    assert trip.purpose == ""
    response = tag(manager_client, fleet, trip, "business", "Customer visit", headers={"HX-Request": "true"})
    trip.refresh_from_db()
    assert response.status_code == 200 and (trip.purpose, trip.purpose_note) == ("business", "Customer visit")
    assert trip.tagged_by is not None


@pytest.mark.django_db
def test_a_viewer_tags_their_own_trips_only(viewer_client, viewer, fleet, vehicle):
    theirs = trip_of(vehicle, Driver.objects.create(fleet=fleet, name="Viewer", user=viewer))
    someone_elses = trip_of(
        vehicle, Driver.objects.create(fleet=fleet, name="Other"), started=START + timedelta(hours=2)
    )
    assert tag(viewer_client, fleet, theirs, "private").status_code == 302
    assert tag(viewer_client, fleet, someone_elses, "private").status_code == 403
    theirs.refresh_from_db()
    someone_elses.refresh_from_db()
    assert (theirs.purpose, someone_elses.purpose) == ("private", "")


@pytest.mark.django_db
def test_other_fleets_trips_are_404(owner_client, fleet, other_fleet):
    theirs = trip_of(vehicle_of(other_fleet, smartcar_id="v-x"))
    assert tag(owner_client, fleet, theirs, "private").status_code == 404
    assert owner_client.get(reverse("trips_vehicle", args=[fleet.slug, theirs.vehicle_id])).status_code == 404
