"""Reimbursement statements: a driver's home charging in a month at the home tariff, session by session; issued
statements are frozen copies that later data does not alter."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.urls import reverse

from charging.models import ChargingSession, SessionSource
from trips.models import Assignment, Place, PlaceKind, Statement, Tariff

FEB = datetime(2026, 2, 10, 19, 0, tzinfo=UTC)
HOME = (52.45, 13.30)


@pytest.fixture
def home_driver(fleet, driver):
    home = Place.objects.create(fleet=fleet, name="Dana's home", kind=PlaceKind.HOME, latitude=HOME[0],
                                longitude=HOME[1], radius_m=100)  # fmt: skip
    Tariff.objects.create(fleet=fleet, place=home, currency="EUR", price_per_kwh=Decimal("0.30"))
    driver.home = home
    driver.save()
    return driver


def charge(vehicle, start, energy, where=HOME, hours=3):
    return ChargingSession.objects.create(
        vehicle=vehicle, source=SessionSource.SYNC, started_at=start, ended_at=start + timedelta(hours=hours),
        energy_kwh=energy, latitude=where[0], longitude=where[1],
    )  # fmt: skip


def url(fleet, driver, **query):
    return reverse("trips_statement", args=[fleet.slug, driver.pk]), query


@pytest.mark.django_db
def test_a_month_of_home_charging_is_issued_and_then_stays_as_issued(owner_client, fleet, home_driver, vehicle, depot):
    Assignment.objects.create(driver=home_driver, vehicle=vehicle, starts_at=FEB - timedelta(days=5))
    first = charge(vehicle, FEB, 20.0)
    charge(vehicle, FEB + timedelta(days=2), 10.5)
    charge(vehicle, FEB + timedelta(days=3), 30.0, where=(depot.latitude, depot.longitude))  # at the depot
    charge(vehicle, FEB - timedelta(days=6), 15.0)  # before Dana had the vehicle
    unknown = charge(vehicle, FEB + timedelta(days=4), None)

    page = owner_client.get(*url(fleet, home_driver, month="2026-02")).content.decode()
    assert "Draft" in page and "Energy unknown: not reimbursed" in page and "9.15 EUR" in page

    owner_client.post(reverse("trips_statement_issue", args=[fleet.slug, home_driver.pk]), {"month": "2026-02"})
    statement = Statement.objects.get(driver=home_driver)
    assert (statement.energy_kwh, statement.amount, statement.currency) == (30.5, Decimal("9.15"), "EUR")
    assert [line.amount for line in statement.lines.all()] == [Decimal("6.00"), Decimal("3.15")]

    # Later changes do not alter it: a better energy figure, a new price.
    ChargingSession.objects.filter(pk=first.pk).update(energy_kwh=25.0)
    ChargingSession.objects.filter(pk=unknown.pk).update(energy_kwh=4.0)
    Tariff.objects.update(price_per_kwh=Decimal("0.50"))
    page = owner_client.get(*url(fleet, home_driver, month="2026-02")).content.decode()
    assert "9.15 EUR" in page and "the data has changed for 3 sessions" in page
    lines = owner_client.get(*url(fleet, home_driver, month="2026-02", format="csv")).content.decode().splitlines()
    assert [line.split(",")[5:8] for line in lines[1:]] == [["20.00", "6.00", "EUR"], ["10.50", "3.15", "EUR"]]

    response = owner_client.post(reverse("trips_statement_issue", args=[fleet.slug, home_driver.pk]),
                                 {"month": "2026-02"}, follow=True)  # fmt: skip
    assert "has been issued already" in response.content.decode() and Statement.objects.count() == 1


@pytest.mark.django_db
def test_no_statement_without_a_home_tariff_or_before_the_month_ends(owner_client, fleet, home_driver):
    issue = reverse("trips_statement_issue", args=[fleet.slug, home_driver.pk])
    this_month = datetime.now(UTC).astimezone(fleet.zone).strftime("%Y-%m")
    response = owner_client.post(issue, {"month": this_month}, follow=True)
    assert "The month is not over yet" in response.content.decode()
    Tariff.objects.all().delete()
    response = owner_client.post(issue, {"month": "2026-02"}, follow=True)
    assert "has no tariff" in response.content.decode() and not Statement.objects.exists()


@pytest.mark.django_db
def test_viewers_cannot_issue_and_other_fleets_statements_are_404(viewer_client, fleet, other_fleet, home_driver):
    issue = reverse("trips_statement_issue", args=[fleet.slug, home_driver.pk])
    assert viewer_client.post(issue, {"month": "2026-02"}).status_code == 403
    assert viewer_client.get(*url(fleet, home_driver, month="2026-02")).status_code == 200
    theirs = home_driver.__class__.objects.create(fleet=other_fleet, name="Theirs")
    assert viewer_client.get(*url(fleet, theirs)).status_code == 404
    assert not Statement.objects.exists()
