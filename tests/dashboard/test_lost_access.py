"""Lost access never looks healthy: a vehicle whose connection was deleted at Smartcar, then synced with "Sync now",
needs reconnect on the overview's tile and table, on its page and on the Connections page, with the owner's action
in words — and Reconnect from its page brings it back."""

import html
import re

from django.test import Client
from django.urls import reverse

from tests.connect.browser import connect
from tests.simulator.platform_fixtures import management_auth
from vehicles.models import SyncState, VehicleStatus

OWNER_ACTION = "Ask the vehicle's owner to reconnect it"


def text(response) -> str:
    """The page as a person reads it: tags dropped, entities decoded, spaces collapsed."""
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", response.content.decode())))


def delete_connection_at_smartcar(client, vehicle) -> None:
    response = client.delete(
        f"/simulator/management/v2.0/management/connections?vehicle_id={vehicle.smartcar_id}",
        HTTP_AUTHORIZATION=management_auth(),
    )
    assert response.json()["connections"] == [
        {"userId": vehicle.account.smartcar_user_id, "vehicleId": vehicle.smartcar_id}
    ]


def test_a_vehicle_whose_connection_was_deleted_needs_reconnect_everywhere(owner_client, fleet, connected):
    ford = connected["FORD"]
    delete_connection_at_smartcar(owner_client, ford)

    owner_client.post(reverse("vehicle_sync", args=[fleet.slug, ford.pk]))

    assert VehicleStatus.objects.get(vehicle=ford).sync_state == SyncState.NEEDS_RECONNECT
    overview = owner_client.get(reverse("fleet_home", args=[fleet.slug]))
    tiles = {tile["key"]: tile["count"] for tile in overview.context["tiles"]}
    assert tiles["reconnect"] == 1
    assert tiles["failing"] == 1
    row = next(row for row in overview.context["rows"] if row.vehicle.pk == ford.pk)
    assert row.needs_reconnect
    assert OWNER_ACTION in text(overview)

    response = owner_client.get(reverse("vehicle_detail", args=[fleet.slug, ford.pk]))
    assert 'data-command="lock"' not in response.content.decode()  # a command would be refused as well
    page = text(response)
    assert "Fleet can no longer read this vehicle" in page
    assert "Smartcar refuses every read of this vehicle" in page
    assert OWNER_ACTION in page
    assert "Up to date" not in page
    assert "PERMISSION" not in page.split("Details")[0]  # Smartcar's own words only behind the disclosure

    response = owner_client.get(reverse("connect_accounts", args=[fleet.slug]))
    rows = {vin: row for row in response.content.decode().split("<tr>") for vin in [ford.vin] if vin in row}
    assert "Needs reconnect" in rows[ford.vin]
    connections = text(response)
    assert "Smartcar refuses every read of 1 vehicle of this account" in connections
    assert OWNER_ACTION in connections
    # The other vehicles of the account are still read.
    assert connections.count("Needs reconnect") == 1


def test_a_single_vehicle_is_reconnected_from_its_page(owner_client, fleet, connected):
    ford = connected["FORD"]
    delete_connection_at_smartcar(owner_client, ford)
    owner_client.post(reverse("vehicle_sync", args=[fleet.slug, ford.pk]))
    reconnect = reverse("connect_vehicle_reconnect", args=[fleet.slug, ford.pk])
    assert reconnect in owner_client.get(reverse("vehicle_detail", args=[fleet.slug, ford.pk])).content.decode()

    back = connect(owner_client, fleet, "4-vehicles@dashboard.example", start_url=reconnect)

    assert back["Location"] == reverse("vehicle_detail", args=[fleet.slug, ford.pk])
    assert VehicleStatus.objects.get(vehicle=ford).sync_state == SyncState.OK
    page = text(owner_client.get(back["Location"]))
    assert "Fleet can no longer read this vehicle" not in page
    assert "1 vehicle reconnected" in page


def test_viewers_are_not_offered_reconnect_and_cannot_post_it(fleet, viewer, connected):
    browser = Client()
    browser.force_login(viewer)
    ford = connected["FORD"]
    reconnect = reverse("connect_vehicle_reconnect", args=[fleet.slug, ford.pk])
    VehicleStatus.objects.filter(vehicle=ford).update(sync_state=SyncState.NEEDS_RECONNECT)
    page = browser.get(reverse("vehicle_detail", args=[fleet.slug, ford.pk])).content.decode()
    assert "Fleet can no longer read this vehicle" in page
    assert reconnect not in page
    assert browser.post(reconnect).status_code == 403


def test_another_fleets_vehicle_cannot_be_reconnected(fleet, other_fleet, connected):
    from fleet.models import User

    browser = Client()
    browser.force_login(User.objects.get(email="globex@example.com"))
    ford = connected["FORD"]
    assert browser.post(reverse("connect_vehicle_reconnect", args=[other_fleet.slug, ford.pk])).status_code == 404
