"""The vehicle page: every value grouped with its age, sync state in plain words, history, and tenant isolation."""

import html
import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from connect.models import AccountStatus
from tests.dashboard.factories import make_account, make_vehicles
from vehicles.models import (
    Activity,
    DueReason,
    EndpointState,
    FleetSync,
    StatusHistory,
    SyncState,
    Vehicle,
    VehicleStatus,
    VehicleSync,
    make_label,
)


def page(client, vehicle):
    return client.get(reverse("vehicle_detail", args=[vehicle.fleet.slug, vehicle.pk]))


def test_it_shows_each_group_with_its_values_and_data_age(owner_client, fleet):
    vehicle = make_vehicles(fleet, 1, account=make_account(fleet), tire_pressure_front_left_kpa=180.0)[0]
    EndpointState.objects.create(
        vehicle=vehicle,
        path="/tesla/charge/wattmeter",
        body={"wattage": 7200, "amperage": 32},
        data_age=timezone.now() - timedelta(minutes=9),
    )
    body = page(owner_client, vehicle).content.decode()
    for heading in ("Energy", "Charging", "Location", "Security", "Tires", "Engine"):
        assert f"<h2>{heading} <small" in body
    assert "80 %" in body and "320 km" in body and "180 kPa" in body and "Locked" in body
    # A make-specific reading shows every field it answered, with its own age.
    assert "/tesla/charge/wattmeter" in body and "wattage" in body and "7200" in body and "9 min ago" in body


def test_a_vehicle_never_synced_says_so(owner_client, fleet):
    vehicle = make_vehicles(fleet, 1, account=make_account(fleet))[0]
    VehicleStatus.objects.filter(vehicle=vehicle).delete()
    body = page(owner_client, vehicle).content.decode()
    assert "Not synced yet" in body
    assert "No readings yet" in body


def test_an_account_needing_reconnect_explains_what_to_do(owner_client, fleet):
    account = make_account(fleet, status=AccountStatus.NEEDS_RECONNECT)
    vehicle = make_vehicles(fleet, 1, account=account, sync_state=SyncState.NEEDS_RECONNECT)[0]
    body = html.unescape(page(owner_client, vehicle).content.decode())
    assert "Fleet can no longer read this vehicle" in body
    assert "Smartcar no longer accepts the sign-in of this vehicle's owner" in body
    assert "Ask the vehicle's owner to reconnect it" in body
    assert reverse("connect_vehicle_reconnect", args=[fleet.slug, vehicle.pk]) in body
    assert "renewed. Ask the vehicle's owner to reconnect" in body  # and commands say why they are not offered
    assert 'data-command="lock"' not in body


@time_machine.travel(datetime(2026, 1, 15, 10, 0, tzinfo=UTC), tick=False)  # the retry falls on the same day
def test_a_vehicle_backing_off_says_when_it_retries(owner_client, fleet):
    vehicle = make_vehicles(fleet, 1, account=make_account(fleet), sync_state=SyncState.BACKING_OFF)[0]
    retry = timezone.now() + timedelta(minutes=40)
    VehicleSync.objects.create(vehicle=vehicle, backoff_until=retry)
    body = page(owner_client, vehicle).content.decode()
    assert "The vehicle is asleep or out of reach" in body
    assert f"Next try at {retry.astimezone(fleet.zone):%H:%M}: the vehicle did not answer" in body


def test_history_feeds_the_charts_in_fleet_units_and_the_map(owner_client, fleet):
    vehicle = make_vehicles(fleet, 1, account=make_account(fleet))[0]
    now = timezone.now()
    for hours, (battery, lat) in enumerate([(90.0, 52.50), (70.0, 52.52)]):
        at = now - timedelta(hours=2 - hours)
        StatusHistory.objects.create(vehicle=vehicle, field="battery_percent", number=battery, recorded_at=at)
        StatusHistory.objects.create(vehicle=vehicle, field="latitude", number=lat, recorded_at=at)
        StatusHistory.objects.create(vehicle=vehicle, field="longitude", number=13.4, recorded_at=at)
    response = page(owner_client, vehicle)
    assert response.context["charts"]["energy"]["data"][1] == [90.0, 70.0, 70.0]  # held until the last sync
    assert [p[:2] for p in response.context["track"]] == [[52.5, 13.4], [52.52, 13.4]]
    body = response.content.decode()
    assert 'id="chart-data"' in body and 'id="track-data"' in body


def test_another_fleets_vehicle_is_a_404(owner_client, fleet, other_fleet):
    theirs = make_vehicles(other_fleet, 1, account=make_account(other_fleet))[0]
    url = reverse("vehicle_detail", args=[fleet.slug, theirs.pk])
    assert owner_client.get(url).status_code == 404
    command = reverse("vehicle_command", args=[fleet.slug, theirs.pk])
    assert owner_client.post(command, {"kind": "lock", "confirmed": "yes"}).status_code == 404


def test_viewers_see_no_command_buttons_and_are_refused(viewer_client, fleet):
    vehicle = make_vehicles(fleet, 1, account=make_account(fleet))[0]
    body = page(viewer_client, vehicle).content.decode()
    assert "data-command=" not in body
    response = viewer_client.post(
        reverse("vehicle_command", args=[fleet.slug, vehicle.pk]), {"kind": "lock", "confirmed": "yes"}
    )
    assert response.status_code == 403
    assert not vehicle.commands.exists()


def test_without_javascript_a_command_asks_for_confirmation_first(manager_client, fleet):
    vehicle = make_vehicles(fleet, 1, account=make_account(fleet))[0]
    url = reverse("vehicle_command", args=[fleet.slug, vehicle.pk])
    response = manager_client.post(url, {"kind": "charge_limit", "limit_percent": "80"})
    body = response.content.decode()
    assert response.status_code == 200
    assert "Set the charge limit?" in body and 'name="confirmed" value="yes"' in body and 'value="80"' in body
    assert not vehicle.commands.exists()


def test_a_single_reading_draws_no_chart_but_says_history_is_coming(owner_client, fleet):
    vehicle = make_vehicles(fleet, 1, account=make_account(fleet))[0]
    VehicleStatus.objects.filter(vehicle=vehicle).update(last_success_at=None)
    at = timezone.now()
    StatusHistory.objects.create(vehicle=vehicle, field="battery_percent", number=80.0, recorded_at=at)
    response = page(owner_client, vehicle)
    assert response.context["charts"] == {}
    assert "charts fill in as readings change" in response.content.decode()


def test_vehicle_info_names_make_model_year_and_vin(owner_client, fleet):
    vehicle = make_vehicles(fleet, 1, account=make_account(fleet))[0]
    groups = {group["key"]: group for group in page(owner_client, vehicle).context["groups"]}
    assert dict(groups["info"]["values"]) == {
        "Make": make_label(vehicle.make),
        "Model": vehicle.model,
        "Year": str(vehicle.year),
        "VIN": vehicle.vin,
    }


def sync_card(client, vehicle) -> str:
    body = html.unescape(page(client, vehicle).content.decode())
    return body.split('aria-label="Sync state">', 1)[1].split("</section>", 1)[0]


def test_old_data_is_never_up_to_date_and_says_how_old(owner_client, fleet):
    fleet.stale_after_minutes = 15
    fleet.save()
    old = timezone.now() - timedelta(minutes=21)
    vehicle = make_vehicles(fleet, 1, account=make_account(fleet), data_age=old, charging_state="CHARGING")[0]
    VehicleSync.objects.create(vehicle=vehicle, next_sync_at=timezone.now() + timedelta(minutes=72))

    card = sync_card(owner_client, vehicle)

    assert "Up to date" not in card
    assert "Data is old: newest reading 21 min ago" in card
    assert "Older than the fleet's limit of 15 minutes" in card


def test_fresh_data_is_up_to_date_with_its_age(owner_client, fleet):
    vehicle = make_vehicles(fleet, 1, account=make_account(fleet))[0]
    VehicleSync.objects.create(vehicle=vehicle, next_sync_at=timezone.now() + timedelta(minutes=5))
    card = sync_card(owner_client, vehicle)
    assert "Up to date" in card
    assert "Newest reading 4 min ago." in card
    assert "the usual pace for a parked vehicle" in card


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("rate_limited", "Smartcar asked Fleet to wait that long (rate limit)"),
        ("asleep", "the vehicle did not answer, and Fleet waits longer each time rather than wake it"),
        ("budget_spent", "has used this month's call budget (300 calls) up to today's share"),
        ("brand_limit", "Hyundai answers only 20 requests a day for each vehicle, and today's are spent"),
        ("budget_tight", "reads are spaced out to fit the fleet's budget of 300 calls a month"),
        ("webhooks", "the usual pace for a charging vehicle; charging events arrive by webhook in between"),
    ],
)
def test_the_next_read_says_why_it_is_when_it_is(owner_client, fleet, case, expected):
    now = timezone.now()
    make = "HYUNDAI" if case == "brand_limit" else "TESLA"
    state = {"rate_limited": SyncState.RATE_LIMITED, "asleep": SyncState.BACKING_OFF}.get(case, SyncState.OK)
    vehicle = make_vehicles(
        fleet, 1, account=make_account(fleet), make=make, sync_state=state, activity=Activity.CHARGING
    )[0]
    VehicleStatus.objects.filter(vehicle=vehicle).update(last_sync_at=now)
    sync = VehicleSync(vehicle=vehicle, next_sync_at=now + timedelta(minutes=72))
    if case in ("rate_limited", "asleep"):
        sync.backoff_until = sync.next_sync_at
    if case in ("budget_spent", "budget_tight"):
        FleetSync.objects.create(fleet=fleet, monthly_call_budget_per_vehicle=300)
    if case == "budget_spent":
        sync.month, sync.billed_calls_month = now.date().replace(day=1), 300
    if case == "webhooks":
        Vehicle.objects.filter(pk=vehicle.pk).update(webhook_subscribed=True)
    if case == "brand_limit":
        sync.next_sync_reason = DueReason.BRAND_LIMIT
    sync.save()

    card = sync_card(owner_client, vehicle)

    assert f"at {(now + timedelta(minutes=72)).astimezone(fleet.zone):%H:%M}" in card
    assert expected in card


def test_api_v3_s_one_read_of_every_signal_dates_every_group(owner_client, fleet):
    vehicle = make_vehicles(fleet, 1, account=make_account(fleet))[0]
    EndpointState.objects.create(
        vehicle=vehicle, path="/signals", body=[], data_age=timezone.now() - timedelta(minutes=7)
    )
    body = page(owner_client, vehicle).content.decode()
    for heading in ("Energy", "Charging", "Location", "Security"):
        assert f'<h2>{heading} <small class="muted">7 min ago</small>' in body, heading
    assert body.count("<code>/signals</code>") == 1


def test_vehicle_systems_are_named_in_words(owner_client, fleet):
    from vehicles.models import SystemStatus

    vehicle = make_vehicles(fleet, 1, account=make_account(fleet))[0]
    now = timezone.now()
    for system_id, status in (("SYSTEM_ABS", "ALERT"), ("SYSTEM_TPMS", "OK")):
        SystemStatus.objects.create(
            vehicle=vehicle, system_id=system_id, status=status, changed_at=now, last_seen_at=now
        )
    body = page(owner_client, vehicle).content.decode()
    assert "Anti-lock braking system" in body and "Tyre pressure monitoring" in body and ">Alert<" in body
    assert "SYSTEM_ABS" not in body and "ALERT" not in body


def test_what_each_reading_came_from_is_named_in_words_with_its_path_inside(owner_client, fleet):
    vehicle = make_vehicles(fleet, 1, account=make_account(fleet))[0]
    EndpointState.objects.create(
        vehicle=vehicle, path="/charge", body={"state": "CHARGING"}, data_age=timezone.now() - timedelta(minutes=3)
    )
    body = page(owner_client, vehicle).content.decode()

    summaries = re.findall(r"<summary>(.*?)</summary>", body, re.S)
    assert any(summary.startswith("Charge status") for summary in summaries), summaries
    assert not [summary for summary in summaries if "/" in re.sub(r"<[^>]+>", "", summary)]
    assert "Read from <code>/charge</code>" in body


def test_a_charge_under_way_reads_still_charging_and_where_it_is(owner_client, fleet):
    from charging.models import ChargingSession, SessionSource

    vehicle = make_vehicles(fleet, 1, account=make_account(fleet))[0]
    ChargingSession.objects.create(
        vehicle=vehicle,
        source=SessionSource.SYNC,
        started_at=timezone.now(),
        start_percent=43,
        latitude=33.7867,
        longitude=-84.3573,
    )
    row = re.search(
        r"<h2>Charging sessions</h2>.*?<tbody>(.*?)</tbody>", page(owner_client, vehicle).content.decode(), re.S
    )
    assert "<td>Still charging</td>" in row[1] and "<td>33.78670, -84.35730</td>" in row[1]
