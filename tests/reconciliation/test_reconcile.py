"""The owners' page of connections at Smartcar, reconciled with the fleet's records, against the simulator."""

import gc
import re

import pytest
from django.urls import reverse

from connect.models import AccountStatus
from fleet import formatting
from tests.vehicles.conftest import connect_simulated
from vehicles.models import Vehicle


@pytest.fixture
def connected(transactional_db, fleet):
    yield connect_simulated(fleet, count=3)
    gc.collect()  # closes the in-process clients' connections before the test database is dropped


def _page(client, fleet):
    return client.get(reverse("connect_reconcile", args=[fleet.slug]))


def test_everything_in_step(connected, owner_client, fleet):
    html = _page(owner_client, fleet).content.decode()

    assert "In step" in html
    assert "Connected and known (3)" in html


def test_accounts_and_vehicles_are_named_in_words_ids_only_under_details(connected, owner_client, fleet):
    lost = connected.vehicles[1]
    lost_id = lost.smartcar_id
    lost.delete()

    html = _page(owner_client, fleet).content.decode()

    # What the page shows: not the disclosures, nor the hidden fields that carry the id to Adopt.
    outside = re.sub(r"<details.*?</details>|<input type=\"hidden\"[^>]*>", "", html, flags=re.S)
    assert connected.account.smartcar_user_id[:8] not in html
    assert lost_id not in outside and lost_id in html
    assert not [v.smartcar_id for v in connected.vehicles if v.smartcar_id in outside]
    assert "Account with " in html  # no owner e-mail read yet: the account is named by its vehicles
    assert "A vehicle Fleet does not know yet" in html


def test_a_connection_deleted_at_smartcar_is_listed_and_cleaned_up(connected, owner_client, fleet):
    from simulator.models import Connection

    gone = connected.vehicles[0]
    Connection.objects.filter(vehicle__vehicle_id=gone.smartcar_id).delete()  # e.g. in Smartcar's Dashboard

    html = _page(owner_client, fleet).content.decode()

    assert "Known here, gone at Smartcar (1)" in html
    assert gone.smartcar_id in html
    assert "Connected and known (2)" in html

    owner_client.post(reverse("connect_connection_clean_up", args=[fleet.slug, gone.pk]))

    gone.refresh_from_db()
    assert not gone.is_connected
    assert "In step" in _page(owner_client, fleet).content.decode()


def test_a_vehicle_connected_at_smartcar_but_unknown_here_is_adopted(connected, owner_client, fleet):
    lost = connected.vehicles[1]
    facts = (lost.smartcar_id, lost.make, lost.model, lost.vin)
    lost.delete()

    html = _page(owner_client, fleet).content.decode()
    assert "Connected at Smartcar, unknown here (1)" in html

    owner_client.post(
        reverse("connect_connection_adopt", args=[fleet.slug, connected.account.pk]),
        {"smartcar_vehicle_id": facts[0]},
    )

    adopted = Vehicle.objects.get(smartcar_id=facts[0])
    assert (adopted.smartcar_id, adopted.make, adopted.model, adopted.vin) == facts
    assert adopted.fleet == fleet and adopted.account == connected.account and adopted.is_connected
    assert "In step" in _page(owner_client, fleet).content.decode()


def test_another_fleets_connections_never_show(connected, owner_client, fleet, other_fleet):
    other = connect_simulated(other_fleet, count=2, email="globex@sim.example", seed=11)

    html = _page(owner_client, fleet).content.decode()

    assert "Connected and known (3)" in html
    assert all(v.smartcar_id not in html for v in other.vehicles)
    # Nor can another fleet's account be used to adopt.
    response = owner_client.post(
        reverse("connect_connection_adopt", args=[fleet.slug, other.account.pk]),
        {"smartcar_vehicle_id": other.vehicles[0].smartcar_id},
    )
    assert response.status_code == 404


def test_a_disconnected_account_is_not_asked_about(connected, owner_client, fleet):
    connected.account.status = AccountStatus.DISCONNECTED
    connected.account.save()

    html = _page(owner_client, fleet).content.decode()

    assert "Connected and known (0)" in html


def test_only_owners_may_reconcile(connected, manager_client, fleet):
    assert _page(manager_client, fleet).status_code == 403
    vehicle = connected.vehicles[0]
    assert manager_client.post(reverse("connect_connection_clean_up", args=[fleet.slug, vehicle.pk])).status_code == 403
    vehicle.refresh_from_db()
    assert vehicle.is_connected


def test_connection_times_are_in_the_fleets_zone(connected, owner_client, fleet):
    from simulator.models import Connection

    fleet.time_zone = "Asia/Tokyo"
    fleet.save()
    html = _page(owner_client, fleet).content.decode()

    created = Connection.objects.order_by("pk").first().created_at
    assert formatting.moment(created, fleet.zone) in html
