"""Charging history: car-maker records fetched by date range and page; one session per charge, whatever saw it."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse

from charging import history, sessions
from charging.models import ChargingObservation, ChargingSession, EnergySource, SessionSource
from tests.charging.conftest import V2_ONLY
from vehicles.models import EndpointState, StatusHistory, Vehicle


def add_records(vehicle, count: int, *, public: bool = True):
    from simulator import clock
    from simulator.models import Vehicle as SimulatedVehicle

    simulated = SimulatedVehicle.objects.get(vehicle_id=vehicle.smartcar_id)
    now = clock.now()
    records = []
    for index in range(count):
        start = now - timedelta(days=count - index, hours=3)
        records.append(
            {
                "chargeStart": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "chargeEnd": (start + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "location": "Supercharger Springfield",
                "energy": 20.0 + index,
                "isPublic": public,
                "startPercentRemaining": 0.3,
                "endPercentRemaining": 0.8,
                "chargingType": "DC",
                "recordId": f"record-{index}",
            }
        )
    simulated.state["charge_records"] = records
    simulated.save()
    return records


@V2_ONLY
def test_tesla_billing_records_are_paged_with_has_more_data(owner_client, fleet, connected):
    tesla = connected("TESLA")
    add_records(tesla, 12)
    url = reverse("charging_records", args=[fleet.slug, tesla.pk])
    first = owner_client.get(url, {"start_date": "", "end_date": "", "page": "1"})
    assert first.status_code == 200
    assert len(first.context["records"]) == 10
    assert first.context["has_more"] is True
    assert "Next page" in first.content.decode()
    second = owner_client.get(url, {"start_date": "", "end_date": "", "page": "2"}, HTTP_HX_REQUEST="true")
    assert len(second.context["records"]) == 2
    assert "Next page" not in second.content.decode()
    billed = ChargingSession.objects.filter(vehicle=tesla, source=SessionSource.BILLING_RECORD)
    assert billed.count() == 12
    newest = ChargingObservation.objects.get(vehicle=tesla, external_id="record-11").session
    assert newest.energy_source == EnergySource.RECORD
    # The simulator prices public charging at 0.45 a kWh, in the vehicle's region's currency.
    assert (newest.energy_kwh, newest.cost_energy, newest.cost_total, newest.currency) == (
        31.0,
        Decimal("13.95"),
        Decimal("13.95"),
        "USD",
    )
    # Fetching the same page again updates the rows instead of adding to them.
    owner_client.get(url, {"page": "1"})
    assert billed.count() == 12 == ChargingSession.objects.filter(vehicle=tesla).count()


@V2_ONLY
def test_bmw_charge_records_for_a_date_range(owner_client, fleet, connected):
    bmw = connected("BMW")
    records = add_records(bmw, 3, public=False)
    url = reverse("charging_records", args=[fleet.slug, bmw.pk])
    response = owner_client.get(url, {"start_date": records[1]["chargeStart"][:10], "end_date": ""})
    assert response.status_code == 200
    assert len(response.context["records"]) == 2
    stored = ChargingSession.objects.filter(vehicle=bmw, source=SessionSource.CHARGE_RECORD).order_by("started_at")
    assert [(s.start_percent, s.end_percent, s.charger_type, s.is_public) for s in stored] == [
        (30.0, 80.0, "DC", False),
        (30.0, 80.0, "DC", False),
    ]


@pytest.mark.django_db
def test_records_of_a_make_without_them_are_refused(owner_client, fleet):
    nissan = Vehicle.objects.create(
        fleet=fleet, smartcar_id="n", make="NISSAN", model="Leaf", permissions=["read_charge_records"]
    )
    response = owner_client.get(reverse("charging_records", args=[fleet.slug, nissan.pk]), {"start_date": ""})
    assert "available for BMW and MINI only" in response.content.decode()


@pytest.mark.django_db
def test_sessions_are_derived_from_synced_charging_state(fleet):
    vehicle = Vehicle.objects.create(fleet=fleet, smartcar_id="v", make="KIA", model="EV6")
    EndpointState.objects.create(
        vehicle=vehicle, path="/battery/nominal_capacity", body={"capacity": {"nominal": 80.0, "source": "SMARTCAR"}}
    )
    t0 = datetime(2026, 11, 2, 18, tzinfo=UTC)

    def reading(field, minutes, number=None, text=""):
        at = t0 + timedelta(minutes=minutes)
        StatusHistory.objects.create(vehicle=vehicle, field=field, number=number, text=text, recorded_at=at)

    reading("latitude", -30, 52.52)
    reading("longitude", -30, 13.40)
    reading("battery_percent", -5, 40)
    reading("charging_state", 0, text="CHARGING")
    reading("battery_percent", 60, 65)
    reading("battery_percent", 110, 80)
    reading("charging_state", 120, text="FULLY_CHARGED")
    reading("charging_state", 600, text="NOT_CHARGING")
    reading("charging_state", 900, text="CHARGING")  # still charging

    assert sessions.vehicle_sessions_settle(vehicle=vehicle) == 2
    assert sessions.vehicle_sessions_settle(vehicle=vehicle) == 2  # idempotent
    first, ongoing = ChargingSession.objects.filter(vehicle=vehicle, source=SessionSource.SYNC).order_by("started_at")
    assert (first.started_at, first.ended_at) == (t0, t0 + timedelta(minutes=120))
    assert (first.start_percent, first.end_percent, first.energy_kwh) == (40, 80, 32.0)
    assert first.energy_source == EnergySource.CAPACITY
    assert (first.latitude, first.longitude) == (52.52, 13.40)
    assert ongoing.ended_at is None and ongoing.energy_kwh is None
    weeks = history.totals_per_week(history.fleet_sessions(fleet=fleet), fleet.zone)
    assert [(row["week"].isoformat(), row["sessions"], row["energy_kwh"]) for row in weeks] == [("2026-11-02", 2, 32.0)]


@pytest.mark.django_db
def test_charging_webhook_events_open_and_close_a_session(fleet):
    vehicle = Vehicle.objects.create(fleet=fleet, smartcar_id="t", make="TESLA", model="Model 3")
    EndpointState.objects.create(vehicle=vehicle, path="/battery/nominal_capacity", body={"capacity": {"nominal": 60}})
    t0 = datetime(2026, 11, 3, 21, tzinfo=UTC)
    for minutes, level in ((-10, 20), (175, 70)):
        at = t0 + timedelta(minutes=minutes)
        StatusHistory.objects.create(vehicle=vehicle, field="battery_percent", number=level, recorded_at=at)
    started = sessions.charging_event_record(vehicle=vehicle, event_type="CHARGING_STARTED", event_time=t0)
    assert sessions.charging_event_record(vehicle=vehicle, event_type="CHARGING_STARTED", event_time=t0) == started
    end = t0 + timedelta(hours=3)
    closed = sessions.charging_event_record(vehicle=vehicle, event_type="CHARGING_COMPLETED", event_time=end)
    assert (closed.pk, closed.start_percent, closed.end_percent, closed.energy_kwh) == (started.pk, 20, 70, 30.0)
    # A re-delivered end changes nothing; an end without a start is ignored.
    assert sessions.charging_event_record(vehicle=vehicle, event_type="CHARGING_STOPPED", event_time=end) is None
    assert ChargingSession.objects.filter(vehicle=vehicle).count() == 1


def readings(vehicle, t0, *rows):
    """(minutes after t0, field, value) as the sync engine writes them."""
    for minutes, field, value in rows:
        at = t0 + timedelta(minutes=minutes)
        number, text = (None, value) if isinstance(value, str) else (value, "")
        StatusHistory.objects.create(vehicle=vehicle, field=field, number=number, text=text, recorded_at=at)


@pytest.mark.django_db
def test_events_and_readings_of_one_charge_are_one_session_ending_at_the_level_read_after_the_end(fleet):
    # The Ford seen: events at 20:00 and 21:00, polls at 20:10 (93 %, charging) and 21:05 (100 %, fully charged).
    # The end event comes before the poll that reads 100 %: the session still ends at 100 %, not 93.
    ford = Vehicle.objects.create(fleet=fleet, smartcar_id="f", make="FORD", model="Mustang Mach-E")
    EndpointState.objects.create(vehicle=ford, path="/battery/nominal_capacity", body={"capacity": {"nominal": 91}})
    t0 = datetime(2026, 11, 5, 20, tzinfo=UTC)
    readings(ford, t0, (-30, "battery_percent", 93), (-30, "charging_state", "NOT_CHARGING"))
    sessions.charging_event_record(vehicle=ford, event_type="CHARGING_STARTED", event_time=t0)
    readings(ford, t0, (10, "charging_state", "CHARGING"), (10, "battery_percent", 94))
    sessions.charging_event_record(vehicle=ford, event_type="CHARGING_COMPLETED", event_time=t0 + timedelta(hours=1))
    readings(ford, t0, (65, "charging_state", "FULLY_CHARGED"), (65, "battery_percent", 100))

    assert sessions.vehicle_sessions_settle_recent(vehicle=ford) == 1  # the periodic settle, after the poll

    (session,) = ChargingSession.objects.filter(vehicle=ford)
    assert (session.started_at, session.ended_at) == (t0, t0 + timedelta(hours=1))  # the events' times
    assert (session.start_percent, session.end_percent) == (93, 100)
    assert (session.energy_kwh, session.energy_source) == (6.37, EnergySource.CAPACITY)
    assert session.source == SessionSource.WEBHOOK
    assert session.seen_in == ["Charging events", "Synced readings"]


@pytest.mark.django_db
def test_a_record_two_events_and_the_readings_of_one_charge_are_one_session_with_the_records_energy(fleet):
    tesla = Vehicle.objects.create(fleet=fleet, smartcar_id="t", make="TESLA", model="Model Y")
    EndpointState.objects.create(vehicle=tesla, path="/battery/nominal_capacity", body={"capacity": {"nominal": 75}})
    t0 = datetime(2026, 11, 6, 9, tzinfo=UTC)
    readings(tesla, t0, (-5, "battery_percent", 20), (5, "charging_state", "CHARGING"), (50, "battery_percent", 60))
    readings(tesla, t0, (50, "charging_state", "NOT_CHARGING"))
    sessions.charging_event_record(vehicle=tesla, event_type="CHARGING_STARTED", event_time=t0)
    sessions.charging_event_record(vehicle=tesla, event_type="CHARGING_STOPPED", event_time=t0 + timedelta(minutes=45))
    sessions.observation_store(
        vehicle=tesla,
        source=SessionSource.BILLING_RECORD,
        external_id="R-1",
        started_at=t0 + timedelta(seconds=20),
        ended_at=t0 + timedelta(minutes=45),
        facts={"energy_kwh": 31.2, "cost_energy": "14.04", "currency": "USD", "is_public": True},
    )
    sessions.vehicle_sessions_settle(vehicle=tesla)

    (session,) = ChargingSession.objects.filter(vehicle=tesla)
    assert (session.energy_kwh, session.energy_source, session.source) == (31.2, "record", "billing_record")
    assert (session.start_percent, session.end_percent, session.cost_total) == (20, 60, Decimal("14.04"))
    assert session.started_at == t0 + timedelta(seconds=20)  # the car maker's own account of the times
    assert ChargingObservation.objects.filter(vehicle=tesla, session=session).count() == 3


@pytest.mark.django_db
def test_two_records_close_together_stay_two_charges_and_a_flicker_of_the_readings_is_none(fleet):
    bmw = Vehicle.objects.create(fleet=fleet, smartcar_id="b", make="BMW", model="i4")
    t0 = datetime(2026, 11, 7, 12, tzinfo=UTC)
    for index, (start, end) in enumerate(((0, 30), (32, 60))):
        sessions.observation_store(
            vehicle=bmw,
            source=SessionSource.CHARGE_RECORD,
            external_id=f"r{index}",
            started_at=t0 + timedelta(minutes=start),
            ended_at=t0 + timedelta(minutes=end),
            facts={"energy_kwh": 5.0},
        )
    # The readings saw one span over both (no poll fell between them): it joins the one it overlaps most.
    readings(bmw, t0, (5, "charging_state", "CHARGING"), (58, "charging_state", "NOT_CHARGING"))
    # Later the state flickers to CHARGING for one poll, the level unchanged: no charge.
    readings(bmw, t0, (300, "battery_percent", 80), (310, "charging_state", "CHARGING"))
    readings(bmw, t0, (320, "charging_state", "NOT_CHARGING"), (320, "battery_percent", 80))

    assert sessions.vehicle_sessions_settle(vehicle=bmw) == 2
    first, second = ChargingSession.objects.filter(vehicle=bmw).order_by("started_at")
    assert (first.ended_at, second.started_at) == (t0 + timedelta(minutes=30), t0 + timedelta(minutes=32))
    assert [first.seen_in, second.seen_in] == [
        ["BMW/MINI charge record"],
        ["BMW/MINI charge record", "Synced readings"],
    ]
    assert not ChargingObservation.objects.filter(vehicle=bmw, started_at__gte=t0 + timedelta(hours=5)).exists()


def test_the_fleet_page_updates_sessions_from_synced_readings(
    manager_client, fleet, django_capture_on_commit_callbacks
):
    vehicle = Vehicle.objects.create(fleet=fleet, smartcar_id="k", make="KIA", model="EV6")
    t0 = datetime(2026, 11, 4, 8, tzinfo=UTC)
    for minutes, text in ((0, "CHARGING"), (90, "NOT_CHARGING")):
        at = t0 + timedelta(minutes=minutes)
        StatusHistory.objects.create(vehicle=vehicle, field="charging_state", text=text, recorded_at=at)
    with django_capture_on_commit_callbacks(execute=True):
        response = manager_client.post(reverse("charging_sessions_derive", args=[fleet.slug]))
    assert response.status_code == 302
    session = ChargingSession.objects.get(vehicle=vehicle, source=SessionSource.SYNC)
    assert session.ended_at == t0 + timedelta(minutes=90)


@pytest.mark.django_db
def test_the_periodic_task_derives_sessions_for_every_fleet(fleet, other_fleet):
    from charging.tasks import sessions_derive_all

    at = datetime(2026, 11, 2, 18, tzinfo=UTC)
    for owner_fleet in (fleet, other_fleet):
        vehicle = Vehicle.objects.create(fleet=owner_fleet, smartcar_id=f"v-{owner_fleet.pk}", make="KIA", model="EV6")
        StatusHistory.objects.create(vehicle=vehicle, field="charging_state", text="CHARGING", recorded_at=at)

    sessions_derive_all.delay()  # eager in tests: the fan-out and each fleet's task run here

    assert set(ChargingSession.objects.values_list("vehicle__fleet", flat=True)) == {fleet.pk, other_fleet.pk}


def test_the_week_chart_needs_two_weeks_and_keeps_each_point_inside_its_week():
    berlin = ZoneInfo("Europe/Berlin")
    one = [{"week": date(2027, 5, 3), "energy_kwh": 18.5}]
    assert history.week_chart(one, berlin) == {}  # the table beside it says it; one point makes no axis
    two = [*one, {"week": date(2027, 5, 17), "energy_kwh": None}]
    chart = history.week_chart(two, berlin)["energy"]
    monday = int(datetime(2027, 5, 3, tzinfo=berlin).timestamp())
    later = int(datetime(2027, 5, 17, tzinfo=berlin).timestamp())
    assert chart["data"] == [[monday, later], [18.5, 0]]
    half_a_week = 3.5 * 86400
    assert chart["x_range"] == [monday - half_a_week, later + half_a_week]  # two weeks and a bit, not two years
    assert chart["y_min"] == 0


def _sessions_and_links():
    found = [
        {name: value for name, value in vars(session).items() if name not in ("_state", "id", "updated_at")}
        for session in ChargingSession.objects.order_by("vehicle_id", "started_at")
    ]
    links = sorted(
        (o.vehicle_id, o.source, o.external_id, o.session.started_at if o.session else None)
        for o in ChargingObservation.objects.select_related("session")
    )
    return found, links


@pytest.mark.django_db
def test_settling_many_vehicles_at_once_gives_each_the_sessions_it_gets_alone(fleet):
    """The sync round settles a group of vehicles together, each over its own window, their rows read together."""
    from django.utils import timezone

    now = timezone.now().replace(second=0, microsecond=0)
    kia = Vehicle.objects.create(fleet=fleet, smartcar_id="k", make="KIA", model="EV6")
    tesla = Vehicle.objects.create(fleet=fleet, smartcar_id="t", make="TESLA", model="Model Y")
    bmw = Vehicle.objects.create(fleet=fleet, smartcar_id="b", make="BMW", model="i4")
    for vehicle in (kia, tesla, bmw):
        EndpointState.objects.create(
            vehicle=vehicle, path="/battery/nominal_capacity", body={"capacity": {"nominal": 70}}
        )
    # Three days ago each charged once, outside the two days the recent settle revisits.
    for vehicle in (kia, tesla, bmw):
        readings(vehicle, now - timedelta(days=3), (0, "battery_percent", 30), (0, "charging_state", "CHARGING"))
        readings(vehicle, now - timedelta(days=3), (60, "charging_state", "NOT_CHARGING"), (60, "battery_percent", 50))
    sessions.vehicles_sessions_settle(vehicles=[kia, tesla, bmw])
    # Since: the Kia charged yesterday; the BMW has charged since before the window began; the Tesla's billing
    # record of four days ago arrived unsettled, which widens its window.
    readings(kia, now - timedelta(days=1), (0, "charging_state", "CHARGING"), (0, "battery_percent", 40))
    readings(kia, now - timedelta(days=1), (90, "charging_state", "NOT_CHARGING"), (90, "battery_percent", 85))
    readings(bmw, now - timedelta(days=2, hours=3), (0, "charging_state", "CHARGING"), (0, "battery_percent", 10))
    readings(bmw, now - timedelta(days=1), (0, "charging_state", "NOT_CHARGING"), (0, "battery_percent", 95))
    sessions.observation_store(
        vehicle=tesla,
        source=SessionSource.BILLING_RECORD,
        external_id="R-4",
        started_at=now - timedelta(days=4),
        ended_at=now - timedelta(days=4) + timedelta(minutes=40),
        facts={"energy_kwh": 12.5, "cost_energy": "5.63", "currency": "USD"},
    )

    alone = {vehicle.pk: sessions.vehicle_sessions_settle_recent(vehicle=vehicle) for vehicle in (kia, tesla, bmw)}
    settled_alone = _sessions_and_links()
    assert alone == {kia.pk: 1, tesla.pk: 2, bmw.pk: 1} and len(settled_alone[0]) == 6

    ChargingSession.objects.filter(started_at__gte=now - timedelta(days=2, hours=4)).delete()
    ChargingObservation.objects.filter(source=SessionSource.BILLING_RECORD).update(session=None)
    together = sessions.vehicles_sessions_settle_recent(vehicles=[kia, tesla, bmw])
    assert together == alone
    assert _sessions_and_links() == settled_alone
