"""The charging pages: tenant isolation, roles, and refusals made before any call to Smartcar."""

from datetime import UTC, datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from charging.models import ChargingSession, SessionSource
from vehicles.models import Command, Vehicle, VehicleStatus

ALL = ["read_charge", "read_charge_locations", "read_charge_records", "control_charge", "read_battery"]


def vehicle_of(fleet, make="NISSAN", smartcar_id="v-1", permissions=ALL):
    return Vehicle.objects.create(
        fleet=fleet, smartcar_id=smartcar_id, make=make, model="Model", year=2023, vin="", permissions=permissions
    )


def nissan_post(rows):
    data = {"nissan-TOTAL_FORMS": str(len(rows)), "nissan-INITIAL_FORMS": "0", "read_fingerprint": ""}
    for index, (start, end, days) in enumerate(rows):
        data.update({f"nissan-{index}-start": start, f"nissan-{index}-end": end, f"nissan-{index}-days": days})
    return data


@pytest.mark.django_db
def test_another_fleets_vehicle_is_a_404_on_every_page(owner_client, other_fleet, fleet):
    theirs = vehicle_of(other_fleet)
    for name in ("charging_vehicle", "charging_records"):
        assert owner_client.get(reverse(name, args=[fleet.slug, theirs.pk])).status_code == 404
    for name in ("charging_nissan_schedule", "charging_limit", "charging_control", "charging_amperage"):
        assert owner_client.post(reverse(name, args=[fleet.slug, theirs.pk]), {}).status_code == 404
    # Nor through the other fleet's own slug, which this user does not belong to.
    assert owner_client.get(reverse("charging_vehicle", args=[other_fleet.slug, theirs.pk])).status_code == 404
    assert owner_client.get(reverse("charging_fleet", args=[other_fleet.slug])).status_code == 404


@pytest.mark.django_db
def test_viewers_cannot_change_anything(viewer_client, fleet):
    vehicle = vehicle_of(fleet)
    url = reverse("charging_nissan_schedule", args=[fleet.slug, vehicle.pk])
    assert viewer_client.post(url, nissan_post([("22:00", "06:00", ["MONDAY"])])).status_code == 403
    assert (
        viewer_client.post(reverse("charging_limit", args=[fleet.slug, vehicle.pk]), {"limit_percent": 80}).status_code
        == 403
    )
    assert viewer_client.post(reverse("charging_bulk_new", args=[fleet.slug]), {"make": "NISSAN"}).status_code == 403
    assert not Command.objects.exists()


@pytest.mark.django_db
def test_writes_need_the_csrf_token(client, manager, fleet):
    client.handler.enforce_csrf_checks = True
    client.force_login(manager)
    vehicle = vehicle_of(fleet)
    response = client.post(reverse("charging_limit", args=[fleet.slug, vehicle.pk]), {"limit_percent": 80})
    assert response.status_code == 403
    assert not Command.objects.exists()


@pytest.mark.django_db
def test_bad_nissan_input_is_refused_on_its_fields_before_any_call(manager_client, fleet):
    # The vehicle has no Smartcar account: any call would fail; the form must refuse first.
    vehicle = vehicle_of(fleet)
    url = reverse("charging_nissan_schedule", args=[fleet.slug, vehicle.pk])
    four = [(f"0{hour}:00", f"0{hour}:30", ["MONDAY"]) for hour in range(4)]
    response = manager_client.post(url, nissan_post(four), HTTP_HX_REQUEST="true")
    assert response.status_code == 422
    assert "at most 3" in response.content.decode()
    response = manager_client.post(url, nissan_post([("22:00", "06:00", [])]), HTTP_HX_REQUEST="true")
    assert response.status_code == 422
    assert "Pick at least one day." in response.content.decode()
    assert not Command.objects.exists()


@pytest.mark.django_db
def test_adding_a_nissan_schedule_shows_no_error_before_the_manager_saves(manager_client, fleet):
    vehicle = vehicle_of(fleet)
    url = reverse("charging_nissan_schedule", args=[fleet.slug, vehicle.pk])
    # One row as entered so far, with a time that does not read yet: adding a row does not judge it.
    data = {**nissan_post([("7:3", "06:00", [])]), "add_nissan": "1"}
    response = manager_client.post(url, data, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert response.status_code == 200
    assert "errorlist" not in html
    assert 'name="nissan-0-start" value="7:3"' in html  # what was entered stays
    assert 'name="nissan-1-start" value="22:00"' in html
    assert not Command.objects.exists()
    # Saved as it is, the same rows are judged and each error shows on its field.
    data = {**nissan_post([("7:3", "06:00", []), ("22:00", "06:00", [])])}
    html = manager_client.post(url, data, HTTP_HX_REQUEST="true").content.decode()
    assert html.count("Pick at least one day.") == 2 and "Enter a time as HH:mm" in html


@pytest.mark.django_db
def test_adding_a_nissan_schedule_in_bulk_shows_no_error_before_the_preview(manager_client, fleet):
    data = {**nissan_post([("23:00", "05:00", [])]), "make": "NISSAN", "add_nissan": "1"}
    html = manager_client.post(reverse("charging_bulk_new", args=[fleet.slug]), data).content.decode()
    assert "errorlist" not in html
    assert 'name="nissan-1-start"' in html


@pytest.mark.django_db
def test_a_make_without_the_endpoint_is_refused_with_a_clear_message(manager_client, fleet):
    toyota = vehicle_of(fleet, make="TOYOTA")
    url = reverse("charging_nissan_schedule", args=[fleet.slug, toyota.pk])
    response = manager_client.post(url, nissan_post([("22:00", "06:00", ["MONDAY"])]), HTTP_HX_REQUEST="true")
    assert "Charge schedule is available for Nissan only; this is a Toyota." in response.content.decode()
    assert not Command.objects.exists()
    page = manager_client.get(reverse("charging_vehicle", args=[fleet.slug, toyota.pk]))
    assert "charge schedules for Ford, Lincoln, Nissan and Tesla only" in page.content.decode()


@pytest.mark.django_db
def test_a_missing_permission_is_refused_before_any_call(manager_client, fleet):
    vehicle = vehicle_of(fleet, make="TESLA", permissions=["read_charge"])
    response = manager_client.post(
        reverse("charging_amperage", args=[fleet.slug, vehicle.pk]), {"amperage": 32}, HTTP_HX_REQUEST="true"
    )
    assert "did not grant charge control, which charging amperage needs" in response.content.decode()
    assert not Command.objects.exists()


@pytest.mark.django_db
def test_nissan_stop_and_gm_below_half_are_refused(manager_client, fleet):
    nissan = vehicle_of(fleet, make="NISSAN", smartcar_id="n")
    response = manager_client.post(reverse("charging_control", args=[fleet.slug, nissan.pk]), {"action": "STOP"})
    assert response.status_code == 422
    assert "Nissan accepts only START" in response.content.decode()
    bolt = vehicle_of(fleet, make="CHEVROLET", smartcar_id="c")
    VehicleStatus.objects.create(vehicle=bolt, battery_percent=31)
    response = manager_client.post(reverse("charging_control", args=[fleet.slug, bolt.pk]), {"action": "START"})
    assert response.status_code == 422
    assert "need at least 50 % charge" in response.content.decode()
    assert not Command.objects.exists()


@pytest.mark.django_db
def test_charge_limit_outside_the_range_is_refused(manager_client, fleet):
    vehicle = vehicle_of(fleet)
    response = manager_client.post(reverse("charging_limit", args=[fleet.slug, vehicle.pk]), {"limit_percent": 45})
    assert response.status_code == 422
    assert "cannot be below 50 %" in response.content.decode()
    assert not Command.objects.exists()


@pytest.mark.django_db
def test_the_charging_page_writes_numbers_and_makes_as_every_page_does(manager_client, fleet):
    hummer = vehicle_of(fleet, make="GMC", smartcar_id="g")
    VehicleStatus.objects.create(vehicle=hummer, battery_percent=93.0, charge_limit_percent=100.0, charging_state="")
    ChargingSession.objects.create(
        vehicle=hummer,
        source=SessionSource.SYNC,
        started_at=datetime(2026, 11, 16, 20, tzinfo=UTC),
        start_percent=41.04,
        end_percent=99.6,
        energy_kwh=61.46,
        latitude=52.520008,
        longitude=13.404954,
    )
    html = manager_client.get(reverse("charging_vehicle", args=[fleet.slug, hummer.pk])).content.decode()
    assert "Battery 93 %" in html and "limit 100 %" in html and ".0 %" not in html
    assert "GMC vehicles need at least 50 %" in html and "Gmc" not in html
    assert (
        '<td class="num">61.5</td>' in html and '<td class="num">41</td>' in html and '<td class="num">100</td>' in html
    )
    assert "52.52001, 13.40495" in html


@pytest.mark.django_db
def test_fleet_charging_page_totals_and_csv(owner_client, fleet, other_fleet):
    van = vehicle_of(fleet, make="BMW", smartcar_id="bmw")
    theirs = vehicle_of(other_fleet, make="BMW", smartcar_id="other")
    common = {"source": SessionSource.CHARGE_RECORD, "ended_at": None}
    ChargingSession.objects.create(
        vehicle=van, started_at=datetime(2026, 11, 16, 20, tzinfo=UTC), energy_kwh=30, **common
    )
    ChargingSession.objects.create(
        vehicle=van,
        started_at=datetime(2026, 11, 18, 20, tzinfo=UTC),
        energy_kwh=12.5,
        location="=HYPERLINK(evil)",
        **common,
    )
    ChargingSession.objects.create(
        vehicle=theirs, started_at=datetime(2026, 11, 18, tzinfo=UTC), energy_kwh=99, **common
    )
    query = {"start_date": "2026-11-01", "end_date": "2026-11-30"}
    page = owner_client.get(reverse("charging_fleet", args=[fleet.slug]), query)
    html = page.content.decode()
    assert page.status_code == 200
    assert "42.5" in html  # both sessions of the fleet's vehicle, one week
    assert page.context["charts"] == {}  # one week: the table says it, a chart of one point would not
    assert "99" not in html.replace("99.", "")  # nothing of the other fleet
    csv = owner_client.get(reverse("charging_fleet_csv", args=[fleet.slug]), query)
    lines = csv.content.decode().strip().splitlines()
    assert csv["Content-Type"] == "text/csv"
    assert len(lines) == 3
    assert "'=HYPERLINK(evil)" in lines[2]  # a formula from outside is neutralised
    row = dict(zip(lines[0].split(","), lines[2].split(","), strict=True))
    assert row["energy_kwh"] == "12.5"


@pytest.mark.django_db
def test_the_charging_page_is_in_the_navigation(owner_client, fleet):
    page = owner_client.get(reverse("fleet_home", args=[fleet.slug]))
    assert reverse("charging_fleet", args=[fleet.slug]) in page.content.decode()


@pytest.mark.django_db
def test_the_vehicle_page_and_the_charging_page_link_each_other(owner_client, fleet):
    vehicle = vehicle_of(fleet, make="TOYOTA")
    charging_url = reverse("charging_vehicle", args=[fleet.slug, vehicle.pk])
    assert charging_url in owner_client.get(vehicle.get_absolute_url()).content.decode()
    assert vehicle.get_absolute_url() in owner_client.get(charging_url).content.decode()


@pytest.mark.django_db
def test_operators_see_sessions_and_bulk_runs_in_admin(admin_client, fleet):
    van = vehicle_of(fleet, make="BMW", smartcar_id="bmw")
    ChargingSession.objects.create(vehicle=van, source=SessionSource.SYNC, started_at=datetime(2026, 11, 2, tzinfo=UTC))
    for name in ("chargingsession", "bulkschedulerun", "charginglocationlabel"):
        assert admin_client.get(reverse(f"admin:charging_{name}_changelist")).status_code == 200


@pytest.mark.django_db
def test_a_session_not_ended_reads_still_charging_in_its_end_column(owner_client, fleet):
    van = vehicle_of(fleet)
    ChargingSession.objects.create(vehicle=van, source=SessionSource.SYNC, started_at=timezone.now())
    html = owner_client.get(reverse("charging_fleet", args=[fleet.slug])).content.decode()

    assert "<td>Still charging</td>" in html
