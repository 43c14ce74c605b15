"""The fleet overview: tiles, the vehicle table (sort, filter, search, pages), live refresh and CSV export."""

import html
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from connect.models import AccountStatus
from fleet.models import UnitSystem
from tests.dashboard.factories import make_account, make_vehicles
from vehicles.models import Activity, SyncState, Vehicle, VehicleGroup, VehicleStatus


def overview(client, fleet, htmx: bool = False, **params):
    headers = {"HX-Request": "true"} if htmx else {}
    return client.get(reverse("fleet_home", args=[fleet.slug]), params, headers=headers)


def shown(response) -> list[str]:
    return [row.vehicle.vin for row in response.context["rows"]]


@pytest.fixture
def mixed_fleet(fleet):
    """One vehicle in each interesting state, plus two that are just fine."""
    account = make_account(fleet)
    broken = make_account(fleet, status=AccountStatus.NEEDS_RECONNECT)
    old = timezone.now() - timedelta(hours=5)
    return {
        "fine": make_vehicles(fleet, 2, account=account, start=0),
        "driving": make_vehicles(fleet, 1, account=account, start=10, activity=Activity.DRIVING, is_locked=False)[0],
        "charging": make_vehicles(fleet, 1, account=account, start=20, charging_state="CHARGING", is_plugged_in=True)[
            0
        ],
        "low": make_vehicles(fleet, 1, account=account, start=30, battery_percent=12.0)[0],
        "dtc": make_vehicles(fleet, 1, account=account, start=40, make="CHEVROLET", active_dtc_count=2)[0],
        "unlocked": make_vehicles(fleet, 1, account=account, start=50, is_locked=False)[0],
        "asleep": make_vehicles(fleet, 1, account=account, start=60, activity=Activity.ASLEEP, data_age=old)[0],
        "reconnect": make_vehicles(fleet, 1, account=broken, start=70, sync_state=SyncState.NEEDS_RECONNECT)[0],
    }


def test_tiles_count_each_state(owner_client, fleet, mixed_fleet):
    tiles = {tile["key"]: tile["count"] for tile in overview(owner_client, fleet).context["tiles"]}
    assert tiles == {
        "": 9,
        "driving": 1,
        "charging": 1,
        "low": 1,
        # The DTC vehicle and the one left unlocked while parked; the driving one is unlocked but not parked.
        "attention": 2,
        "asleep": 1,
        "failing": 1,
        "reconnect": 1,
    }


def test_vehicles_needing_reconnect_are_explained_with_what_to_do(owner_client, fleet, mixed_fleet):
    body = html.unescape(overview(owner_client, fleet).content.decode())
    assert "1 vehicle stopped syncing because Smartcar no longer gives Fleet access to it" in body
    assert "Ask the vehicle's owner to reconnect it" in body
    assert reverse("connect_accounts", args=[fleet.slug]) in body


def test_failing_syncs_have_a_tile_a_filter_and_their_reason_in_words(owner_client, fleet):
    account = make_account(fleet)
    fine = make_vehicles(fleet, 1, account=account, start=0)[0]
    rate_limited = make_vehicles(fleet, 2, account=account, start=10, sync_state=SyncState.RATE_LIMITED)
    unreachable = make_vehicles(fleet, 1, account=account, start=20, sync_state=SyncState.UNREACHABLE)[0]
    errors = make_vehicles(fleet, 1, account=account, start=30, sync_state=SyncState.RETRYING)[0]
    lost = make_vehicles(fleet, 1, account=account, start=40, sync_state=SyncState.NEEDS_RECONNECT)[0]
    asleep = make_vehicles(fleet, 1, account=account, start=50, sync_state=SyncState.BACKING_OFF)[0]

    response = overview(owner_client, fleet)

    tiles = {tile["key"]: tile for tile in response.context["tiles"]}
    assert tiles["failing"]["label"] == "Sync failing"
    assert tiles["failing"]["count"] == 5
    assert tiles["failing"]["alert"]
    # Waiting out a rate limit, or for Smartcar to answer, is not a vehicle asleep or offline.
    assert tiles["asleep"]["count"] == 1
    body = response.content.decode()
    assert (
        "Sync failing for 5 vehicles: rate limited (2), needs reconnect (1), Smartcar unreachable (1), "
        "errors from Smartcar (1)." in body
    )
    badges = {row.vehicle.vin: row.sync_failing for row in response.context["rows"]}
    assert badges[rate_limited[0].vin] == "rate limited"
    assert badges[unreachable.vin] == "Smartcar unreachable"
    assert badges[errors.vin] == "errors from Smartcar"
    assert badges[lost.vin] == "needs reconnect"
    assert badges[fine.vin] == badges[asleep.vin] == ""

    filtered = shown(overview(owner_client, fleet, state="failing"))
    assert sorted(filtered) == sorted(v.vin for v in [*rate_limited, unreachable, errors, lost])
    assert shown(overview(owner_client, fleet, state="asleep")) == [asleep.vin]


def test_no_trouble_code_is_no_badge_and_badges_speak_words(owner_client, fleet):
    account = make_account(fleet)
    make_vehicles(fleet, 1, account=account, start=0, active_dtc_count=0)
    make_vehicles(fleet, 1, account=account, start=1, make="CHEVROLET", active_dtc_count=2, system_alert_count=1)
    body = overview(owner_client, fleet).content.decode()
    assert "0 DTC" not in body
    assert "DTC" not in body
    assert '<span class="badge bad">2 trouble codes</span>' in body
    assert '<span class="badge bad">1 system alert</span>' in body


def test_a_plug_in_hybrid_shows_its_electric_and_its_fuel_range(owner_client, fleet):
    make_vehicles(
        fleet,
        1,
        account=make_account(fleet),
        make="FORD",
        battery_percent=61.0,
        range_km=56.0,
        fuel_percent=80.0,
        fuel_range_km=468.0,
    )
    body = overview(owner_client, fleet).content.decode()
    assert "<td>56 km electric<small>468 km fuel</small></td>" in body
    assert "<td>61 %<small>80 % fuel</small></td>" in body
    row = first_csv_row(owner_client, fleet)
    assert (row["electric_range_km"], row["fuel_range_km"]) == ("56", "468")


def first_csv_row(client, fleet) -> dict[str, str]:
    lines = b"".join(client.get(reverse("fleet_overview_csv", args=[fleet.slug])).streaming_content).decode()
    header, first = lines.splitlines()[:2]
    return dict(zip(header.split(","), first.split(","), strict=True))


def test_the_csv_uses_the_pages_words_and_numbers(owner_client, fleet):
    status = {"battery_percent": 99.6, "charging_state": "CHARGING", "is_plugged_in": True, "odometer_km": 12345.4}
    make_vehicles(fleet, 1, account=make_account(fleet), make="MERCEDES_BENZ", **status)
    body = overview(owner_client, fleet).content.decode()
    assert "<td>100 %" in body and '<span class="badge info">Charging</span>' in body
    assert ">Mercedes-Benz</option>" in body  # the make filter
    row = first_csv_row(owner_client, fleet)
    assert (row["make"], row["charging"], row["battery_percent"]) == ("Mercedes-Benz", "Charging", "100")
    assert (row["odometer_km"], row["latitude"]) == ("12345", "52.52000")
    assert "MERCEDES_BENZ" not in row.values() and "CHARGING" not in row.values()


def test_a_tile_filters_the_table(owner_client, fleet, mixed_fleet):
    response = overview(owner_client, fleet, state="attention")
    assert sorted(shown(response)) == sorted([mixed_fleet["dtc"].vin, mixed_fleet["unlocked"].vin])
    assert "unlocked while parked" in response.content.decode()
    assert shown(overview(owner_client, fleet, state="low")) == [mixed_fleet["low"].vin]


def test_it_searches_by_vin_and_name_and_filters_by_make(owner_client, fleet, mixed_fleet):
    Vehicle.objects.filter(pk=mixed_fleet["charging"].pk).update(nickname="Depot van 7")
    assert shown(overview(owner_client, fleet, q="depot VAN")) == [mixed_fleet["charging"].vin]
    assert shown(overview(owner_client, fleet, q=mixed_fleet["low"].vin[-6:])) == [mixed_fleet["low"].vin]
    assert shown(overview(owner_client, fleet, make="CHEVROLET")) == [mixed_fleet["dtc"].vin]


def test_it_filters_by_vehicle_group_and_the_refresh_pages_and_csv_keep_the_group(owner_client, fleet):
    account = make_account(fleet)
    vans = VehicleGroup.objects.create(fleet=fleet, name="Vans")
    VehicleGroup.objects.create(fleet=fleet, name="Depot North")
    members = make_vehicles(fleet, 60, account=account, start=0, battery_percent=9.0)
    make_vehicles(fleet, 30, account=account, start=100)
    vans.vehicles.add(*members)

    page = overview(owner_client, fleet, group=vans.pk)
    body = page.content.decode()
    assert f'<option value="{vans.pk}" selected>Vans</option>' in body and ">Depot North</option>" in body
    assert "60 of 90 vehicles, group Vans ·" in body
    # The refresh, the next page, the tiles and the export all keep the group.
    assert f"group={vans.pk}" in page.context["live_url"] and f"group={vans.pk}" in page.context["page_urls"]["next"]
    assert all(f"group={vans.pk}" in tile["url"] for tile in page.context["tiles"])
    second = overview(owner_client, fleet, group=vans.pk, page=2)
    assert sorted(shown(page) + shown(second)) == sorted(v.vin for v in members)
    refresh = overview(owner_client, fleet, htmx=True, group=vans.pk, page=2).content.decode()
    assert f'hx-get="?group={vans.pk}&amp;page=2"' in refresh
    assert members[-1].vin in refresh and "Depot North" not in refresh
    with_state = overview(owner_client, fleet, group=vans.pk, state="low", sort="-energy")
    assert with_state.context["page"].paginator.count == 60
    csv_body = b"".join(
        owner_client.get(reverse("fleet_overview_csv", args=[fleet.slug]), {"group": vans.pk}).streaming_content
    )
    assert len(csv_body.decode().strip().splitlines()) == 1 + 60


def test_with_a_group_filter_the_tiles_say_they_count_the_whole_fleet(owner_client, fleet):
    account = make_account(fleet)
    vans = VehicleGroup.objects.create(fleet=fleet, name="Vans")
    vans.vehicles.add(*make_vehicles(fleet, 2, account=account, start=0))
    make_vehicles(fleet, 10, account=account, start=10)

    body = html.unescape(overview(owner_client, fleet, group=vans.pk).content.decode())
    assert "2 of 12 vehicles, group Vans" in body
    assert "The tiles count the whole fleet" in body
    assert '<span class="count">12</span><span class="label">Total in fleet</span>' in body
    assert "tile active" not in body  # the whole fleet's total is not what the table shows
    plain = html.unescape(overview(owner_client, fleet).content.decode())
    assert "12 vehicles" in plain and "whole fleet" not in plain and "tile active" in plain


def test_another_fleets_group_filters_nothing_and_reveals_nothing(owner_client, fleet, other_fleet):
    make_vehicles(fleet, 3, account=make_account(fleet))
    theirs = VehicleGroup.objects.create(fleet=other_fleet, name="Their secret group")
    theirs.vehicles.add(*make_vehicles(other_fleet, 2, account=make_account(other_fleet), start=500))
    for group in (theirs.pk, "abc", "-1", 10**12):
        response = overview(owner_client, fleet, group=group)
        assert response.status_code == 200
        assert len(shown(response)) == 3 and response.context["query"]["group"] == ""
        assert "Their secret group" not in response.content.decode()
    assert 'name="group"' not in overview(owner_client, fleet).content.decode()  # no groups: no group filter


def test_it_sorts_by_battery_both_ways(owner_client, fleet, mixed_fleet):
    ascending = overview(owner_client, fleet, sort="energy")
    assert shown(ascending)[0] == mixed_fleet["low"].vin
    descending = overview(owner_client, fleet, sort="-energy")
    assert shown(descending)[-1] == mixed_fleet["low"].vin


def test_unknown_sort_filter_and_page_fall_back_to_defaults(owner_client, fleet, mixed_fleet):
    default = shown(overview(owner_client, fleet))
    odd = overview(owner_client, fleet, sort="password", state="on-fire", make="DELOREAN", page="abc")
    assert odd.status_code == 200
    assert shown(odd) == default
    assert shown(overview(owner_client, fleet, page="999")) == default  # past the end: the last page


def test_it_pages_fifty_vehicles_at_a_time(owner_client, fleet):
    make_vehicles(fleet, 120, account=make_account(fleet))
    first, last = overview(owner_client, fleet), overview(owner_client, fleet, page=3)
    assert len(first.context["rows"]) == 50
    assert len(last.context["rows"]) == 20
    assert "Page 3 of 3" in last.content.decode()


@pytest.mark.parametrize("sort", ["energy", "-energy", "make", "-name"])
def test_a_filtered_table_pages_and_counts_the_matches_in_every_order(owner_client, fleet, sort):
    account = make_account(fleet)
    make_vehicles(fleet, 30, account=account)  # 80 %: not low
    low = make_vehicles(fleet, 70, account=account, start=30, make="FORD", battery_percent=9.0)
    for percent, vehicle in enumerate(low):
        VehicleStatus.objects.filter(vehicle=vehicle).update(battery_percent=percent / 10)
    pages = [overview(owner_client, fleet, state="low", sort=sort, page=number) for number in (1, 2, 9)]
    assert [page.context["page"].paginator.count for page in pages] == [70, 70, 70]
    assert "70 of 100 vehicles, low battery or fuel ·" in pages[0].content.decode()
    assert [len(page.context["rows"]) for page in pages] == [50, 20, 20]  # past the end: the last page
    everything = shown(pages[0]) + shown(pages[1])
    assert sorted(everything) == sorted(v.vin for v in low)
    if sort.lstrip("-") == "energy":
        ordered = [v.vin for v in low] if sort == "energy" else [v.vin for v in reversed(low)]
        assert everything == ordered


def test_values_are_shown_in_the_fleets_unit_system(owner_client, fleet):
    make_vehicles(fleet, 1, account=make_account(fleet), range_km=320.0, odometer_km=16093.44)
    assert "320 km" in overview(owner_client, fleet).content.decode()
    fleet.unit_system = UnitSystem.IMPERIAL
    fleet.save()
    page = overview(owner_client, fleet).content.decode()
    assert "199 mi" in page
    assert "10,000 mi" in page


def test_data_age_is_relative_and_old_data_is_marked_stale(owner_client, fleet):
    account = make_account(fleet)
    make_vehicles(fleet, 1, account=account, start=0)  # 4 minutes old
    make_vehicles(fleet, 1, account=account, start=1, data_age=timezone.now() - timedelta(hours=5))
    page = overview(owner_client, fleet).content.decode()
    assert "4 min ago" in page
    assert "5 h ago" in page
    assert page.count(">stale</span>") == 1


def test_the_htmx_refresh_is_only_the_live_fragment(owner_client, fleet, mixed_fleet):
    response = overview(owner_client, fleet, htmx=True, state="charging")
    body = response.content.decode()
    assert "<html" not in body
    assert body.lstrip().startswith('<div id="fleet-live"')
    assert 'hx-trigger="every 30s' in body
    assert "HX-Request" in response["Vary"]
    assert mixed_fleet["charging"].vin in body
    assert mixed_fleet["low"].vin not in body


def test_every_hx_get_has_a_real_href(owner_client, fleet, mixed_fleet):
    body = overview(owner_client, fleet).content.decode()
    assert body.count("hx-get=") > 10
    for chunk in body.split("<a ")[1:]:
        tag = chunk.split(">", 1)[0]
        if "hx-get=" in tag:
            assert "href=" in tag, tag


def test_an_empty_fleet_explains_itself_and_offers_connect(owner_client, viewer, client, fleet):
    page = overview(owner_client, fleet).content.decode()
    assert "No vehicles yet" in page
    assert "Connect vehicles</button>" in page
    client.force_login(viewer)
    page = overview(client, fleet).content.decode()
    assert "Ask a manager or the owner" in page
    assert "Connect vehicles</button>" not in page


def test_another_fleets_vehicles_never_show(owner_client, fleet, other_fleet):
    make_vehicles(fleet, 1, account=make_account(fleet), start=0)
    theirs = make_vehicles(other_fleet, 3, account=make_account(other_fleet), start=500)
    response = overview(owner_client, fleet)
    assert response.context["tiles"][0]["count"] == 1
    assert theirs[0].vin not in response.content.decode()
    csv_body = b"".join(owner_client.get(reverse("fleet_overview_csv", args=[fleet.slug])).streaming_content)
    assert theirs[0].vin.encode() not in csv_body


def test_csv_export_is_the_filtered_table_in_fleet_units(owner_client, fleet, mixed_fleet):
    Vehicle.objects.filter(pk=mixed_fleet["low"].pk).update(nickname="=HYPERLINK(evil)")
    fleet.unit_system = UnitSystem.IMPERIAL
    fleet.save()
    response = owner_client.get(reverse("fleet_overview_csv", args=[fleet.slug]), {"state": "low"})
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    lines = b"".join(response.streaming_content).decode().strip().splitlines()
    assert lines[0].split(",")[7:9] == ["electric_range_mi", "fuel_range_mi"]
    assert len(lines) == 2
    assert lines[1].startswith("'=HYPERLINK(evil)")  # a spreadsheet shows it, never runs it
    assert mixed_fleet["low"].vin in lines[1]


def _queries(client, fleet, htmx: bool, **params) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = overview(client, fleet, htmx=htmx, **params)
        assert response.status_code == 200
    return len(captured)


def _queries_of_every_view(client, fleet) -> dict[tuple, int]:
    from dashboard.overview import SORTS, STATES

    # The refresh (the full page adds the navigation's queries to the same ones).
    counts = {("page",): _queries(client, fleet, False)}
    for sort in [*SORTS, "-energy"]:
        counts[("sort", sort)] = _queries(client, fleet, True, sort=sort, page=2)
    group = VehicleGroup.objects.get(fleet=fleet).pk
    for state in [*STATES, "disconnected"]:
        counts[("state", state)] = _queries(client, fleet, True, state=state, q="a")
        counts[("state", state, "group")] = _queries(client, fleet, True, state=state, group=group, page=2)
        for sort in SORTS:
            counts[("state", state, sort)] = _queries(client, fleet, True, state=state, sort=sort, page=2)
    return counts


def test_every_sort_and_filter_runs_as_many_queries_for_10_as_for_300_vehicles(owner_client, fleet):
    account = make_account(fleet)
    make_vehicles(fleet, 9, account=account)
    # One vehicle in each state, so that no filter shows an empty page (an empty page skips loading rows).
    make_vehicles(fleet, 1, account=account, start=9, make="FORD", active_dtc_count=1, battery_percent=9.0)
    group = VehicleGroup.objects.create(fleet=fleet, name="Vans")
    group.vehicles.add(*Vehicle.objects.filter(fleet=fleet))
    small = _queries_of_every_view(owner_client, fleet)
    group.vehicles.add(
        *make_vehicles(fleet, 290, account=account, start=10, make="FORD", active_dtc_count=1, battery_percent=9.0)
    )
    large = _queries_of_every_view(owner_client, fleet)
    assert small == large


def test_the_page_and_its_refresh_run_the_same_queries_for_10_or_1000_vehicles(owner_client, fleet):
    account = make_account(fleet)
    make_vehicles(fleet, 10, account=account)
    small = (_queries(owner_client, fleet, False), _queries(owner_client, fleet, True))
    make_vehicles(fleet, 990, account=account, start=10, make="FORD", active_dtc_count=1)
    large = (_queries(owner_client, fleet, False), _queries(owner_client, fleet, True))
    assert small == large
    fragment = overview(owner_client, fleet, htmx=True)
    assert fragment.content.decode().count("<tr>") == 50 + 1  # the header row and a full page
    assert len(fragment.content) <= 40 * 1024


def test_the_tiles_are_read_once_per_summary_window_and_the_table_stays_live(owner_client, fleet, settings):
    from django.core.cache import cache

    settings.DASHBOARD_SUMMARY_SECONDS = 10
    cache.clear()
    account = make_account(fleet)
    make_vehicles(fleet, 3, account=account)
    first = overview(owner_client, fleet, htmx=False)
    assert first.context["tiles"][0]["count"] == 3

    make_vehicles(fleet, 2, account=account, start=3, make="FORD", battery_percent=9.0)
    cached_queries = _queries(owner_client, fleet, False)
    within = overview(owner_client, fleet, htmx=False, state="low")
    # Within the window the tiles (and the filter's makes) come from the cache, the filtered table is read live.
    assert within.context["tiles"][0]["count"] == 3
    assert within.context["page"].paginator.count == 2
    assert cached_queries < _queries_uncached(owner_client, fleet)

    # A changed threshold of the fleet is a new summary at once; so is an expired one.
    fleet.low_energy_percent = 5
    fleet.save()
    assert overview(owner_client, fleet, htmx=False).context["tiles"][0]["count"] == 5
    cache.clear()
    fleet.low_energy_percent = 20
    fleet.save()
    counts = {tile["key"]: tile["count"] for tile in overview(owner_client, fleet, htmx=False).context["tiles"]}
    assert counts[""] == 5 and counts["low"] == 2


def _queries_uncached(client, fleet) -> int:
    from django.core.cache import cache

    cache.clear()
    return _queries(client, fleet, False)
