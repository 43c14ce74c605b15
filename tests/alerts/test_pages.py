"""The inbox, an alert's page, acknowledging with a note, the badge and the rules page: who may do what, another
fleet's alerts are a 404, bad input is refused field by field with nothing saved."""

import pytest
from django.urls import reverse

from alerts.evaluation import vehicles_evaluate
from alerts.models import Alert, AlertRule, AlertState, EventKind
from tests.dashboard.factories import make_vehicles

pytestmark = pytest.mark.django_db


@pytest.fixture
def low(fleet):
    vehicle = make_vehicles(fleet, 1, battery_percent=9.0)[0]
    vehicles_evaluate(vehicle_ids=[vehicle.pk])
    return Alert.objects.get(vehicle=vehicle, condition="low")


def url(name, fleet, *args):
    return reverse(name, args=[fleet.slug, *args])


def test_it_lists_open_alerts_and_filters_by_state_and_kind(viewer_client, fleet, low):
    page = viewer_client.get(url("alerts_inbox", fleet)).content.decode()
    assert f'id="alert-{low.pk}"' in page and "Battery low (9 %)" in page and "Low battery or fuel" in page
    assert "Rules and thresholds" not in page  # viewers do not configure
    resolved = viewer_client.get(url("alerts_inbox", fleet), {"state": "resolved"}).content.decode()
    assert f'id="alert-{low.pk}"' not in resolved and "Nothing resolved yet" in resolved
    other_kind = viewer_client.get(
        url("alerts_inbox", fleet), {"condition": "low_tire"}, headers={"HX-Request": "true"}
    )
    body = other_kind.content.decode()
    assert f'id="alert-{low.pk}"' not in body and "<html" not in body  # the list alone for htmx


def test_the_badge_counts_open_alerts(viewer_client, fleet, low):
    assert (
        '<span class="badge bad" title="Open alerts">1</span>'
        in viewer_client.get(url("alerts_badge", fleet)).content.decode()
    )
    Alert.objects.filter(pk=low.pk).update(state=AlertState.RESOLVED)
    assert "badge" not in viewer_client.get(url("alerts_badge", fleet)).content.decode()
    nav = viewer_client.get(url("alerts_inbox", fleet)).content.decode()
    assert f'hx-get="{url("alerts_badge", fleet)}"' in nav


def test_a_manager_acknowledges_with_a_note_and_the_history_shows_who(manager_client, manager, fleet, low):
    response = manager_client.post(url("alerts_acknowledge", fleet, low.pk), {"note": "Driver is charging now"})
    assert response.status_code == 302
    low.refresh_from_db()
    assert (low.state, low.acknowledged_by, low.note) == (AlertState.ACKNOWLEDGED, manager, "Driver is charging now")
    page = manager_client.get(url("alerts_detail", fleet, low.pk)).content.decode()
    assert "Acknowledged" in page and manager.email in page and "Driver is charging now" in page
    listed = manager_client.get(url("alerts_inbox", fleet), {"state": "acknowledged"}).content.decode()
    assert f'id="alert-{low.pk}"' in listed


def test_a_note_too_long_is_refused_and_nothing_changes(manager_client, fleet, low):
    response = manager_client.post(url("alerts_acknowledge", fleet, low.pk), {"note": "x" * 501})
    assert response.status_code == 422 and "at most 500 characters" in response.content.decode()
    low.refresh_from_db()
    assert low.state == AlertState.OPEN and not low.events.filter(kind=EventKind.ACKNOWLEDGED).exists()


def test_viewers_cannot_acknowledge_or_open_the_rules(viewer_client, fleet, low):
    assert viewer_client.post(url("alerts_acknowledge", fleet, low.pk), {"note": ""}).status_code == 403
    assert viewer_client.get(url("alerts_rules", fleet)).status_code == 403
    low.refresh_from_db()
    assert low.state == AlertState.OPEN


def test_another_fleets_alert_is_a_404(client, other_fleet, fleet, low):
    outsider = other_fleet.memberships.get().user
    client.force_login(outsider)
    assert client.get(url("alerts_detail", other_fleet, low.pk)).status_code == 404
    assert client.post(url("alerts_acknowledge", other_fleet, low.pk), {"note": "mine"}).status_code == 404
    assert client.get(url("alerts_inbox", fleet)).status_code == 404
    low.refresh_from_db()
    assert low.state == AlertState.OPEN


def _rules_post(fleet, **changes):
    data = {
        "t-low_energy_percent": 20, "t-stale_after_minutes": 180, "t-low_oil_percent": 15, "t-charge_by": "18:00",
        "t-charge_by_below_percent": 50, "t-low_tire": 190,
    }  # fmt: skip
    from alerts.catalog import KINDS

    for kind in KINDS:
        data[f"r-{kind.key}-after"] = kind.after_minutes
        if kind.enabled:
            data[f"r-{kind.key}-enabled"] = "on"
    return {**data, **changes}


def test_a_manager_sets_thresholds_and_rules(manager_client, fleet):
    response = manager_client.post(
        url("alerts_rules", fleet),
        _rules_post(fleet, **{"t-low_energy_percent": 25, "r-unlocked_while_parked-after": 5}),
    )
    assert response.status_code == 302
    fleet.refresh_from_db()
    assert fleet.low_energy_percent == 25 and fleet.charge_by.hour == 18
    rule = AlertRule.objects.get(fleet=fleet, condition="unlocked_while_parked", vehicle=None)
    assert (rule.enabled, rule.after_minutes) == (True, 5)
    assert not AlertRule.objects.get(fleet=fleet, condition="rate_limited").enabled


def test_bad_rules_are_refused_per_field_and_nothing_is_saved(manager_client, fleet):
    response = manager_client.post(
        url("alerts_rules", fleet),
        _rules_post(fleet, **{"t-low_energy_percent": 25, "t-low_tire": 5, "r-low-after": -1}),
    )
    assert response.status_code == 422
    body = response.content.decode()
    assert "Choose a pressure a tire can have" in body and "greater than or equal to 0" in body
    fleet.refresh_from_db()
    assert fleet.low_energy_percent == 20 and not AlertRule.objects.exists()


def test_a_vehicle_exception_changes_its_alerts_and_another_fleets_vehicle_is_refused(
    manager_client, fleet, other_fleet
):
    mine = make_vehicles(fleet, 1, battery_percent=30.0)[0]
    theirs = make_vehicles(other_fleet, 1, battery_percent=30.0)[0]
    data = {"v-vehicle": mine.pk, "v-condition": "low", "v-enabled": "on", "v-threshold": 35}
    assert manager_client.post(url("alerts_vehicle_rule_add", fleet), data).status_code == 302
    vehicles_evaluate(vehicle_ids=[mine.pk])
    assert Alert.objects.get(vehicle=mine).condition == "low"

    refused = manager_client.post(url("alerts_vehicle_rule_add", fleet), {**data, "v-vehicle": theirs.pk})
    assert refused.status_code == 422 and "Select a valid choice" in refused.content.decode()
    no_threshold = manager_client.post(
        url("alerts_vehicle_rule_add", fleet), {**data, "v-condition": "trouble_codes", "v-threshold": 3}
    )
    assert no_threshold.status_code == 422 and "has no threshold of its own" in no_threshold.content.decode()
    assert AlertRule.objects.count() == 1


@pytest.mark.django_db
def test_the_inbox_says_alerts_can_be_about_the_whole_fleet(viewer_client, fleet):
    page = viewer_client.get(reverse("alerts_inbox", args=[fleet.slug])).content.decode()
    assert "or when Smartcar pauses the reading of the whole fleet" in page
    assert "No vehicle, and nothing about the whole fleet, is in a state that alerts right now." in page
