"""Tariffs and what charging cost: bad tariffs refused with a clear message and nothing saved; each session priced
from a billing record, its place's tariff or the default public one; currencies never added together."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from charging.models import ChargingSession, SessionSource
from tests.concurrency import held_by_another_worker
from tests.conftest import require_service
from tests.trips.conftest import vehicle_of
from trips.costs import sessions_cost
from trips.models import Assignment, CostBasis, Place, SessionCost, Tariff

NIGHT_AND_DAY = "Mon-Fri 7-22 0.30\nMon-Fri 0-7 0.10\nMon-Fri 22-24 0.10\nSat-Sun 0-24 0.10"


def save_tariff(client, fleet, **fields):
    data = {"place": "", "currency": "EUR", "kind": "flat", "price_per_kwh": "0.45", "bands": ""}
    return client.post(reverse("trips_tariff_save", args=[fleet.slug]), {**data, **fields})


def session_of(vehicle, *, start, hours, energy, latitude=52.52, longitude=13.405, **extra):
    return ChargingSession.objects.create(
        vehicle=vehicle, source=SessionSource.SYNC, started_at=start, ended_at=start + timedelta(hours=hours),
        energy_kwh=energy, latitude=latitude, longitude=longitude, **extra,
    )  # fmt: skip


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"currency": "EURO"}, "is not an ISO 4217 currency code"),
        ({"currency": "XYZ"}, "“XYZ” is not an ISO 4217 currency code"),
        ({"price_per_kwh": ""}, "Give the price of a kWh."),
        ({"kind": "tou", "bands": "Mon-Sun 0-24 0.3\nSat 20-23 0.5"}, "Saturday 20:00–23:00 has more than one price"),
        ({"kind": "tou", "bands": "Mon-Fri 0-24 0.3\nSat-Sun 0-22 0.2"}, "Saturday 22:00–24:00 has no price"),
        ({"kind": "tou", "bands": "Mon-Sun 22-6 0.3"}, "split a band over midnight into two lines"),
        ({"kind": "tou", "bands": "Weekdays 0-24 0.3"}, "for example “Mon-Fri 7-22 0.32”"),
    ],
)
def test_bad_tariffs_are_refused_with_a_clear_message(owner_client, fleet, fields, message):
    response = save_tariff(owner_client, fleet, **fields)
    assert response.status_code == 422
    assert message in response.content.decode()
    assert not Tariff.objects.exists()


@pytest.mark.django_db
def test_a_session_is_priced_by_the_hours_it_charged_in(owner_client, fleet, depot, vehicle):
    assert save_tariff(owner_client, fleet, place=depot.pk, kind="tou", bands=NIGHT_AND_DAY).status_code == 302
    # Monday 2 March 2026, 21:00–23:00 in Berlin (20:00–22:00 UTC): half the energy at 0.30, half at 0.10.
    session = session_of(vehicle, start=datetime(2026, 3, 2, 20, 0, tzinfo=UTC), hours=2, energy=10.0)
    sessions_cost(fleet=fleet)
    cost = SessionCost.objects.get(session=session)
    assert (cost.amount, cost.currency, cost.basis, cost.place) == (Decimal("2.00"), "EUR", CostBasis.PLACE, depot)
    assert "Mon-Fri 7-22 0.3" in owner_client.get(reverse("trips_tariffs", args=[fleet.slug])).content.decode()


@pytest.mark.django_db
def test_billing_records_take_precedence_and_currencies_are_never_added(owner_client, fleet, depot, driver):
    tesla, other = vehicle_of(fleet, "t-1", nickname="Tesla one"), vehicle_of(fleet, "t-2", nickname="Tesla two")
    Assignment.objects.create(driver=driver, vehicle=tesla, starts_at=datetime(2026, 1, 1, tzinfo=UTC))
    save_tariff(owner_client, fleet, price_per_kwh="0.40")  # default public tariff, EUR
    save_tariff(owner_client, fleet, place=depot.pk, price_per_kwh="0.20")
    start = datetime(2026, 3, 3, 9, 0, tzinfo=UTC)
    billed = session_of(tesla, start=start, hours=1, energy=30.0, latitude=48.1, longitude=11.5,
                        cost_energy=Decimal("14.50"), currency="USD")  # fmt: skip
    public = session_of(tesla, start=start + timedelta(days=1), hours=1, energy=10.0, latitude=48.1, longitude=11.5)
    at_depot = session_of(other, start=start + timedelta(days=2), hours=1, energy=20.0)
    session_of(other, start=start + timedelta(days=3), hours=1, energy=None)

    page = owner_client.get(reverse("charging_fleet", args=[fleet.slug]), {"start_date": "2026-03-01",
                                                                          "end_date": "2026-03-31"})  # fmt: skip
    costs = {c.session_id: c for c in SessionCost.objects.all()}
    assert (costs[billed.pk].basis, costs[billed.pk].amount, costs[billed.pk].currency) == (
        "record",
        Decimal("14.50"),
        "USD",
    )
    assert (costs[public.pk].basis, costs[public.pk].amount) == ("default", Decimal("4.00"))
    assert (costs[at_depot.pk].basis, costs[at_depot.pk].amount, costs[at_depot.pk].place) == (
        "place",
        Decimal("4.00"),
        depot,
    )
    text = page.content.decode()
    assert "What charging cost" in text and "1 session without a cost" in text
    # Tesla one: 14.50 USD and 4.00 EUR on two rows, never one sum of 18.50.
    assert "14.50 USD" in text and "4.00 EUR" in text and "18.50" not in text
    assert "Dana Driver" in text and "Depot" in text and "Elsewhere" in text


@pytest.mark.django_db
def test_a_changed_tariff_prices_sessions_again_at_once(owner_client, fleet, depot, vehicle):
    session = session_of(vehicle, start=datetime(2026, 3, 2, 8, 0, tzinfo=UTC), hours=1, energy=10.0)
    sessions_cost(fleet=fleet)
    assert SessionCost.objects.get(session=session).amount is None
    save_tariff(owner_client, fleet, place=depot.pk, price_per_kwh="0.25")
    # The vehicle's sessions show the new price before its next sync (which prices only the sessions it stores).
    page = owner_client.get(reverse("charging_vehicle", args=[fleet.slug, vehicle.pk])).content.decode()
    assert "2.50 EUR" in page
    assert SessionCost.objects.get(session=session).amount == Decimal("2.50")
    assert Place.objects.get().tariff.currency == "EUR"


@pytest.mark.django_db
def test_viewers_cannot_set_tariffs(viewer_client, fleet):
    assert save_tariff(viewer_client, fleet).status_code == 403
    assert not Tariff.objects.exists()


def _priced_sessions(fleet, vehicle, count, first=0):
    start = datetime(2026, 3, 2, 20, 0, tzinfo=UTC)
    for index in range(first, first + count):
        session_of(vehicle, start=start - timedelta(days=index), hours=1, energy=10.0)
    sessions_cost(fleet=fleet)


def _queries(client, url) -> tuple[int, str]:
    with CaptureQueriesContext(connection) as captured:
        page = client.get(url).content.decode()
    return len(captured.captured_queries), page


@pytest.mark.django_db
@pytest.mark.parametrize("page", ["vehicle", "fleet"])
def test_the_charging_pages_show_each_sessions_cost_in_constant_queries(owner_client, fleet, depot, page):
    vehicle = vehicle_of(fleet, make="VOLKSWAGEN", nickname="Van 7")
    save_tariff(owner_client, fleet, place=depot.pk, price_per_kwh="0.25")
    if page == "vehicle":
        url = reverse("charging_vehicle", args=[fleet.slug, vehicle.pk])
    else:
        url = reverse("charging_fleet", args=[fleet.slug]) + "?start_date=2026-01-01&end_date=2026-03-31"
    _priced_sessions(fleet, vehicle, 2)
    owner_client.get(url)  # what the first page view of a login caches
    few, shown = _queries(owner_client, url)
    assert shown.count("2.50 EUR") == 2
    _priced_sessions(fleet, vehicle, 18, first=2)  # the vehicle page's 20 rows
    many, shown = _queries(owner_client, url)
    assert shown.count("2.50 EUR") == 20
    assert many == few


@pytest.mark.django_db(transaction=True)
def test_a_session_priced_by_two_workers_at_once_gets_one_cost_and_no_error(fleet, depot, vehicle):
    # Two sync workers finish rounds of the same fleet together: both find the new session unpriced. The waits on
    # the unique index are what this proves; SQLite has no concurrent writers.
    require_service(connection.vendor == "postgresql", "PostgreSQL")
    Tariff.objects.create(fleet=fleet, place=depot, currency="EUR", price_per_kwh=Decimal("0.25"))
    session = session_of(vehicle, start=datetime(2026, 3, 2, 8, 0, tzinfo=UTC), hours=1, energy=10.0)
    # The other worker's row is not committed while this worker looks for unpriced sessions.
    with held_by_another_worker(lambda: sessions_cost(fleet=fleet)):
        assert sessions_cost(fleet=fleet) == 1  # waits for the other worker's row, then stores the same price
    cost = SessionCost.objects.get(session=session)
    assert (cost.amount, cost.currency, cost.basis) == (Decimal("2.50"), "EUR", CostBasis.PLACE)


@pytest.mark.django_db(transaction=True)
def test_a_session_deleted_by_a_settle_while_it_is_priced_is_left_out_without_an_error(fleet, depot, vehicle):
    # A round prices its vehicle's sessions while a webhook worker settles the vehicle and finds a session that no
    # observation supports any more: it is gone before its cost is stored. The wait on the deleted row is what this
    # proves.
    require_service(connection.vendor == "postgresql", "PostgreSQL")
    Tariff.objects.create(fleet=fleet, place=depot, currency="EUR", price_per_kwh=Decimal("0.25"))
    kept = session_of(vehicle, start=datetime(2026, 3, 2, 8, 0, tzinfo=UTC), hours=1, energy=10.0)
    gone = session_of(vehicle, start=datetime(2026, 3, 3, 8, 0, tzinfo=UTC), hours=1, energy=4.0)
    # The settling worker's delete is not committed while this worker prices the fleet.
    with held_by_another_worker(lambda: ChargingSession.objects.filter(pk=gone.pk).delete()):
        assert sessions_cost(fleet=fleet, vehicle_ids=[vehicle.pk]) == 1  # the gone session is not priced
    assert list(SessionCost.objects.values_list("session_id", "amount")) == [(kept.pk, Decimal("2.50"))]
