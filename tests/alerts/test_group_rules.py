"""Alert thresholds per group of vehicles: a vehicle's own exception beats its groups', its groups' beat the fleet's;
a vehicle in two groups whose exceptions differ is warned as early as either asks. Exceptions apply at once, and the
rules page says where each vehicle's threshold comes from."""

import pytest
from django.urls import reverse

from alerts.evaluation import vehicles_evaluate
from alerts.models import Alert, AlertRule, AlertState, EventKind
from tests.alerts.conftest import nudge, sync_all
from tests.dashboard.factories import make_vehicles
from tests.vehicles.conftest import connect_simulated
from vehicles.models import VehicleGroup


def url(name, fleet, *args):
    return reverse(name, args=[fleet.slug, *args])


def at_thirty_percent(state):
    state["ev"].update(soc=0.30, plugged=False, charging="NOT_CHARGING", charger=None)


def low_alert(vehicle):
    return Alert.objects.filter(vehicle=vehicle, condition="low").first()


def exception(client, fleet, target: str, pk: int, threshold, *, enabled=True):
    prefix = target[0]
    data = {f"{prefix}-{target}": pk, f"{prefix}-condition": "low", f"{prefix}-threshold": threshold}
    if enabled:
        data[f"{prefix}-enabled"] = "on"
    response = client.post(url(f"alerts_{target}_rule_add", fleet), data)
    assert response.status_code == 302, response.content.decode()[-2000:]


def test_a_groups_threshold_opens_the_low_battery_alert_and_a_vehicles_own_beats_it(
    fleet, manager_client, transactional_db
):
    tesla = connect_simulated(fleet, makes=["TESLA"]).vehicles[0]
    nudge(tesla, at_thirty_percent)
    sync_all()
    assert low_alert(tesla) is None  # 30 % is not low for the fleet (20 %)

    vans = VehicleGroup.objects.create(fleet=fleet, name="Vans")
    manager_client.post(url("vehicle_group_add", fleet, vans.pk), {"vehicles": [tesla.pk]})
    exception(manager_client, fleet, "group", vans.pk, 35)
    alert = low_alert(tesla)
    assert alert.state == AlertState.OPEN and alert.summary == "Battery low (30 %)"  # at once, not at the next sync

    exception(manager_client, fleet, "vehicle", tesla.pk, 25)  # its own: 30 % is not low for it
    alert.refresh_from_db()
    assert alert.state == AlertState.RESOLVED

    manager_client.post(url("alerts_exception_delete", fleet, AlertRule.objects.get(vehicle=tesla).pk))
    alert.refresh_from_db()
    assert alert.state == AlertState.OPEN  # the group's threshold again
    assert list(alert.events.values_list("kind", flat=True)) == [
        EventKind.OPENED, EventKind.RESOLVED, EventKind.REOPENED
    ]  # fmt: skip

    manager_client.post(url("vehicle_group_remove", fleet, vans.pk, tesla.pk))  # leaving the group: the fleet's
    alert.refresh_from_db()
    assert alert.state == AlertState.RESOLVED


@pytest.fixture
def two_groups(fleet, db):
    vans, dawn = (
        VehicleGroup.objects.create(fleet=fleet, name="Vans"),
        VehicleGroup.objects.create(fleet=fleet, name="Dawn"),
    )
    return vans, dawn


def _rule(group, threshold=None, enabled=True, condition="low"):
    return AlertRule.objects.create(
        fleet=group.fleet, group=group, condition=condition, threshold=threshold, enabled=enabled
    )


@pytest.mark.django_db
def test_a_vehicle_in_two_groups_is_warned_as_early_as_either_asks(fleet, two_groups):
    vans, dawn = two_groups
    at_33, at_38 = make_vehicles(fleet, 2, battery_percent=33.0), make_vehicles(fleet, 1, battery_percent=38.0, start=5)
    both = [*at_33, *at_38]
    vans.vehicles.add(*both)
    dawn.vehicles.add(*both)
    _rule(vans, 35)
    _rule(dawn, 40)
    vehicles_evaluate(vehicle_ids=[v.pk for v in both])
    assert all(low_alert(v) for v in both)  # 40 %, Dawn's, applies to all three

    dawn_rule = AlertRule.objects.get(group=dawn)
    dawn_rule.threshold = 30
    dawn_rule.save()
    vehicles_evaluate(vehicle_ids=[v.pk for v in both])
    assert [low_alert(v).state for v in both] == [AlertState.OPEN, AlertState.OPEN, AlertState.RESOLVED]  # Vans' 35


@pytest.mark.django_db
def test_an_alert_on_in_one_group_beats_off_in_another_and_off_for_the_fleet_is_off(fleet, two_groups):
    vans, dawn = two_groups
    vehicle = make_vehicles(fleet, 1, battery_percent=10.0)[0]
    vans.vehicles.add(vehicle)
    dawn.vehicles.add(vehicle)
    _rule(vans, enabled=False)
    vehicles_evaluate(vehicle_ids=[vehicle.pk])
    assert low_alert(vehicle) is None

    _rule(dawn, enabled=True)
    vehicles_evaluate(vehicle_ids=[vehicle.pk])
    assert low_alert(vehicle).state == AlertState.OPEN

    AlertRule.objects.create(fleet=fleet, condition="low", enabled=False)  # the fleet's rule: off for everyone
    vehicles_evaluate(vehicle_ids=[vehicle.pk])
    assert low_alert(vehicle).state == AlertState.RESOLVED


@pytest.mark.django_db
def test_the_rules_page_says_where_each_threshold_comes_from(manager_client, fleet, two_groups):
    vans, _ = two_groups
    in_vans, own, plain = make_vehicles(fleet, 3, battery_percent=50.0)
    for vehicle, name in [(in_vans, "Van 1"), (own, "Hybrid"), (plain, "Pool car")]:
        vehicle.nickname = name
        vehicle.save()
    vans.vehicles.add(in_vans, own)
    _rule(vans, 35)
    _rule(vans, enabled=False, condition="unlocked_while_parked")
    AlertRule.objects.create(fleet=fleet, vehicle=own, condition="low", threshold=12)

    page = manager_client.get(url("alerts_rules", fleet)).content.decode()
    sources = page.split('id="sources"')[1]
    van_row = sources.split("Van 1")[1].split("</tr>")[0]
    assert "Low battery or fuel: 35 %" in van_row and "group Vans" in van_row
    assert "Unlocked while parked: off" in van_row
    assert "Oil life low: 15 %" in van_row and "the fleet" in van_row
    hybrid_row = sources.split("Hybrid")[1].split("</tr>")[0]
    assert "Low battery or fuel: 12 %" in hybrid_row and "its own exception" in hybrid_row
    assert "Pool car" not in sources and "Every other vehicle follows the fleet" in sources
    assert "highest of their thresholds applies" in page


@pytest.mark.django_db
def test_group_exceptions_are_refused_for_another_fleets_group_and_bad_thresholds(
    manager_client, fleet, other_fleet, two_groups
):
    vans, _ = two_groups
    theirs = VehicleGroup.objects.create(fleet=other_fleet, name="Theirs")
    data = {"g-group": theirs.pk, "g-condition": "low", "g-enabled": "on", "g-threshold": 30}
    refused = manager_client.post(url("alerts_group_rule_add", fleet), data)
    assert refused.status_code == 422 and "Select a valid choice" in refused.content.decode()
    too_high = manager_client.post(
        url("alerts_group_rule_add", fleet), {**data, "g-group": vans.pk, "g-threshold": 120}
    )
    assert too_high.status_code == 422 and "between 1 and 99" in too_high.content.decode()
    assert not AlertRule.objects.exists()

    their_rule = _rule(theirs, 30)
    assert manager_client.post(url("alerts_exception_delete", fleet, their_rule.pk)).status_code == 404
    assert AlertRule.objects.filter(pk=their_rule.pk).exists()


@pytest.mark.django_db
def test_a_deleted_group_takes_its_exceptions_with_it(
    manager_client, fleet, two_groups, django_capture_on_commit_callbacks
):
    vans, _ = two_groups
    vehicle = make_vehicles(fleet, 1, battery_percent=30.0)[0]
    vans.vehicles.add(vehicle)
    with django_capture_on_commit_callbacks(execute=True):
        exception(manager_client, fleet, "group", vans.pk, 35)
    assert low_alert(vehicle).state == AlertState.OPEN
    with django_capture_on_commit_callbacks(execute=True):
        manager_client.post(url("vehicle_group_delete", fleet, vans.pk))
    assert not AlertRule.objects.exists() and low_alert(vehicle).state == AlertState.RESOLVED


@pytest.mark.django_db
def test_viewers_cannot_add_or_remove_exceptions(viewer_client, fleet, two_groups):
    vans, _ = two_groups
    data = {"g-group": vans.pk, "g-condition": "low", "g-enabled": "on", "g-threshold": 30}
    assert viewer_client.post(url("alerts_group_rule_add", fleet), data).status_code == 403
    rule = _rule(vans, 30)
    assert viewer_client.post(url("alerts_exception_delete", fleet, rule.pk)).status_code == 403
    assert list(AlertRule.objects.values_list("threshold", flat=True)) == [30]


@pytest.mark.django_db
def test_the_exception_forms_ask_for_a_vehicle_and_a_group_in_words(manager_client, fleet):
    VehicleGroup.objects.create(fleet=fleet, name="Vans")
    page = manager_client.get(url("alerts_rules", fleet)).content.decode()
    assert '<option value="" selected>Choose a vehicle</option>' in page
    assert '<option value="" selected>Choose a group</option>' in page
    assert "---------" not in page
