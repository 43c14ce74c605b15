"""Trips from history rows: movement chained into trips, gaps kept as unknown movement with the odometer's difference
(or none), never a distance made up from positions; each run reads only what arrived since the last."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection

from tests.concurrency import held_by_another_worker
from tests.conftest import require_service
from tests.trips.conftest import vehicle_of
from trips.derive import vehicles_trips_derive
from trips.models import Assignment, SessionCost, Trip, TripKind, TripProgress
from vehicles.models import StatusHistory

T0 = datetime(2026, 3, 2, 7, 0, tzinfo=UTC)


def readings(vehicle, *rows):
    """rows: (minutes after T0, odometer or None, latitude, longitude)."""
    for minutes, odometer, latitude, longitude in rows:
        moment = T0 + timedelta(minutes=minutes)
        for field, value in (("odometer_km", odometer), ("latitude", latitude), ("longitude", longitude)):
            if value is not None:
                StatusHistory.objects.create(vehicle=vehicle, field=field, recorded_at=moment, number=value)


@pytest.mark.django_db
def test_readings_minutes_apart_are_one_trip_from_the_odometer(fleet, depot, driver):
    vehicle = vehicle_of(fleet)
    Assignment.objects.create(driver=driver, vehicle=vehicle, starts_at=T0 - timedelta(days=1))
    readings(vehicle, (0, 1000.0, 52.52, 13.405), (10, 1003.1, 52.54, 13.42), (20, 1007.4, 52.56, 13.44))
    vehicles_trips_derive(vehicle_ids=[vehicle.pk])
    readings(vehicle, (30, 1009.0, 52.57, 13.45), (75, None, 52.57, 13.4501))  # a later reading: it stood still
    vehicles_trips_derive(vehicle_ids=[vehicle.pk])

    (trip,) = Trip.objects.filter(vehicle=vehicle)
    assert trip.kind == TripKind.TRIP and not trip.ongoing
    assert (trip.start_after, trip.started_at) == (T0, T0 + timedelta(minutes=10))
    assert (trip.end_after, trip.ended_at) == (T0 + timedelta(minutes=20), T0 + timedelta(minutes=30))
    assert trip.distance_km == pytest.approx(9.0)
    assert trip.start_place == depot and trip.end_place is None
    assert trip.driver == driver and trip.readings == 3


@pytest.mark.django_db
def test_a_move_seen_only_across_a_long_gap_is_unknown_movement_with_the_measured_distance(fleet):
    vehicle = vehicle_of(fleet)
    readings(vehicle, (0, 1000.0, 52.52, 13.405), (360, 1060.0, 52.52, 13.405), (420, None, 52.52, 13.4051))
    vehicles_trips_derive(vehicle_ids=[vehicle.pk])
    (segment,) = Trip.objects.filter(vehicle=vehicle)
    assert segment.kind == TripKind.UNKNOWN and segment.distance_km == 60.0


@pytest.mark.django_db
def test_without_odometer_readings_the_distance_stays_unknown(fleet):
    vehicle = vehicle_of(fleet)
    readings(vehicle, (0, None, 52.52, 13.405), (10, None, 52.55, 13.43), (20, None, 52.58, 13.46))
    readings(vehicle, (90, None, 52.58, 13.4601))
    vehicles_trips_derive(vehicle_ids=[vehicle.pk])
    (trip,) = Trip.objects.filter(vehicle=vehicle)
    assert trip.kind == TripKind.TRIP and trip.distance_km is None and trip.end_latitude == 52.58


@pytest.mark.django_db
def test_derivation_is_incremental_and_leaves_tagged_trips_alone(fleet):
    vehicle = vehicle_of(fleet)
    readings(vehicle, (0, 10.0, 1.0, 1.0), (5, 12.0, 1.01, 1.0), (10, 14.0, 1.02, 1.0), (60, None, 1.0201, 1.0))
    vehicles_trips_derive(vehicle_ids=[vehicle.pk])
    Trip.objects.update(purpose="business", purpose_note="Client visit")
    progress = TripProgress.objects.get(vehicle=vehicle)
    assert progress.derived_until == T0 + timedelta(minutes=60)
    assert vehicles_trips_derive(vehicle_ids=[vehicle.pk]) == 0  # nothing new: nothing written
    readings(vehicle, (120, 14.0, 1.0201, 1.0), (130, 20.0, 1.05, 1.0), (135, 21.0, 1.06, 1.0))
    vehicles_trips_derive(vehicle_ids=[vehicle.pk])
    first, second = Trip.objects.filter(vehicle=vehicle).order_by("started_at")
    assert (first.purpose, first.distance_km) == ("business", 4.0)
    assert second.ongoing and second.distance_km == 7.0 and second.purpose == ""


def _commuting_history(days):
    """Rows as the sync engine writes them: two commutes a day read every 5 minutes, a reading while parked after
    each, and on the second day a drive seen only across a gap of hours (the vehicle was not read)."""
    rows, odometer = [], 1000.0
    home, work = (52.52, 13.405), (52.60, 13.455)
    rows += [(T0, "odometer_km", odometer), (T0, "latitude", home[0]), (T0, "longitude", home[1])]
    for day in range(days):
        midnight = T0 - timedelta(hours=7) + timedelta(days=day)
        for leave, origin, target in ((7.5, home, work), (17.0, work, home)):
            for step in range(1, 7):
                moment = midnight + timedelta(hours=leave, minutes=5 * step)
                odometer += 2.2
                share = step / 6
                rows += [
                    (moment, "odometer_km", odometer),
                    (moment, "latitude", origin[0] + (target[0] - origin[0]) * share),
                    (moment, "longitude", origin[1] + (target[1] - origin[1]) * share),
                    (moment, "battery_percent", 80.0 - step),
                ]
            rows.append((midnight + timedelta(hours=leave + 1), "battery_percent", 73.0))  # read while parked
        if day == 1:
            odometer += 31.0
            rows.append((midnight + timedelta(hours=23), "odometer_km", odometer))
    return rows


def _store(vehicle, rows):
    StatusHistory.objects.bulk_create(
        StatusHistory(vehicle=vehicle, field=field, recorded_at=moment, number=number) for moment, field, number in rows
    )


def _trips(vehicle):
    return [
        {name: value for name, value in vars(trip).items() if name not in ("_state", "id")}
        for trip in Trip.objects.filter(vehicle=vehicle).order_by("started_at")
    ]


@pytest.mark.django_db
def test_derivation_after_every_round_gives_the_trips_of_one_derivation_from_scratch(fleet, depot, driver):
    vehicle = vehicle_of(fleet)
    Assignment.objects.create(driver=driver, vehicle=vehicle, starts_at=T0 - timedelta(days=1))
    rows = _commuting_history(days=3)
    _store(vehicle, rows)
    vehicles_trips_derive(vehicle_ids=[vehicle.pk])
    from_scratch = _trips(vehicle)
    assert len(from_scratch) == 7
    assert [trip["kind"] for trip in from_scratch].count(TripKind.UNKNOWN) == 1

    StatusHistory.objects.filter(vehicle=vehicle).delete()
    Trip.objects.all().delete()
    TripProgress.objects.all().delete()
    rounds = sorted({moment.replace(minute=moment.minute // 20 * 20) for moment, _, _ in rows})
    for start in rounds:  # a sync round every 20 minutes of the history brings what was recorded in them
        _store(vehicle, [row for row in rows if start <= row[0] < start + timedelta(minutes=20)])
        vehicles_trips_derive(vehicle_ids=[vehicle.pk])
    assert _trips(vehicle) == from_scratch


@pytest.mark.django_db
def test_a_sync_round_settles_the_charging_sessions_of_its_vehicles_and_prices_them(fleet):
    from django.utils import timezone

    from charging.models import ChargingSession
    from vehicles.signals import readings_stored
    from vehicles.sync.round import Round

    vehicle, parked = vehicle_of(fleet), vehicle_of(fleet, smartcar_id="v-2")
    plugged = timezone.now().replace(microsecond=0) - timedelta(hours=2)
    # Another vehicle's session, not priced yet: the group prices its own vehicles' sessions, not the fleet's (at
    # 10,000 vehicles a scan of every session after every group of 50).
    elsewhere = ChargingSession.objects.create(
        vehicle=vehicle_of(fleet, smartcar_id="v-3"), source="sync", started_at=plugged, ended_at=plugged
    )
    for one in (vehicle, parked):
        for minutes, field, number, text in (
            (0, "charging_state", None, "CHARGING"),
            (0, "battery_percent", 40.0, ""),
            (90, "charging_state", None, "FULLY_CHARGED"),
            (90, "battery_percent", 80.0, ""),
        ):
            StatusHistory.objects.create(
                vehicle=one, field=field, number=number, text=text, recorded_at=plugged + timedelta(minutes=minutes)
            )

    readings_stored.send_robust(sender=Round, vehicle_ids=[vehicle.pk])  # the round stored only the first

    session = ChargingSession.objects.get(vehicle=vehicle)
    assert (session.started_at, session.end_percent) == (plugged, 80.0)
    assert session.cost.missing or session.cost.amount is not None
    assert not ChargingSession.objects.filter(vehicle=parked).exists()
    assert not SessionCost.objects.filter(session=elsewhere).exists()


@pytest.mark.django_db(transaction=True)
def test_a_new_vehicle_derived_by_two_workers_at_once_gets_its_trips_once_and_no_error(fleet):
    # A round's group is announced after its leases are released, so a second round of the same vehicle ("Sync now",
    # a webhook's targeted sync) can derive while the first one's derivation is still open. The waits on the progress
    # row are what this proves; SQLite has no concurrent writers.
    require_service(connection.vendor == "postgresql", "PostgreSQL")
    vehicle = vehicle_of(fleet)
    readings(vehicle, (0, 10.0, 1.0, 1.0), (5, 12.0, 1.01, 1.0), (10, 14.0, 1.02, 1.0), (60, None, 1.0201, 1.0))
    # The other worker's trips and progress are not committed while this worker derives.
    with held_by_another_worker(lambda: vehicles_trips_derive(vehicle_ids=[vehicle.pk])):
        assert vehicles_trips_derive(vehicle_ids=[vehicle.pk]) == 0  # waits for the other's progress: nothing left
    (trip,) = Trip.objects.filter(vehicle=vehicle)
    assert trip.distance_km == 4.0 and not trip.ongoing
    assert TripProgress.objects.get(vehicle=vehicle).derived_until == T0 + timedelta(minutes=60)
