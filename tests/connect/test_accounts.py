"""The connections page: reconnect an account that needs it, disconnect a vehicle or an account."""

import html

import pytest
from django.contrib.messages import get_messages
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import timezone

from connect import client as smartcar
from connect.models import AccountStatus, SmartcarAccount
from tests.connect.browser import connect
from vehicles.models import Vehicle


def messages_of(response) -> str:
    return " ".join(str(m) for m in get_messages(response.wsgi_request))


@pytest.fixture
def connected(owner_client, fleet, transactional_db):
    from simulator.platform import ensure_default_application

    ensure_default_application()
    connect(owner_client, fleet, "3-vehicles@example.com")
    return SmartcarAccount.objects.get(fleet=fleet)


def smartcar_connections(account) -> set[str]:
    return {c["vehicleId"] for c in smartcar.connections_list(user_id=account.smartcar_user_id)}


def test_disconnecting_a_vehicle_and_keeping_its_history(owner_client, fleet, connected):
    from connect import vault

    page = owner_client.get(reverse("connect_accounts", args=[fleet.slug])).content.decode()
    assert "Connected" in page
    assert vault.decrypt(connected.access_token_encrypted) not in page
    assert vault.decrypt(connected.refresh_token_encrypted) not in page
    vehicle = connected.vehicles.first()
    url = reverse("connect_vehicle_disconnect", args=[fleet.slug, vehicle.pk])
    assert vehicle.vin in owner_client.get(url).content.decode()

    response = owner_client.post(url, {"history": "keep"})

    assert response.status_code == 302
    vehicle.refresh_from_db()
    assert not vehicle.is_connected
    assert vehicle.smartcar_id not in smartcar_connections(connected)
    assert len(smartcar_connections(connected)) == 2
    assert SmartcarAccount.objects.get(pk=connected.pk).status == AccountStatus.ACTIVE


def test_disconnecting_a_whole_account_and_deleting_its_history(owner_client, fleet, connected):
    response = owner_client.post(
        reverse("connect_account_disconnect", args=[fleet.slug, connected.pk]), {"history": "delete"}
    )

    assert response.status_code == 302
    assert not SmartcarAccount.objects.exists()
    assert not Vehicle.objects.exists()
    assert smartcar_connections(connected) == set()


def test_disconnecting_an_account_and_keeping_history_once_smartcar_answers(owner_client, fleet, connected, settings):
    url = reverse("connect_account_disconnect", args=[fleet.slug, connected.pk])
    with override_settings(SMARTCAR_MANAGEMENT_URL="http://127.0.0.1:9/v2.0"):
        response = owner_client.post(url, {"history": "keep"})
    assert "nothing was changed" in messages_of(response)
    assert Vehicle.objects.filter(disconnected_at__isnull=True).count() == 3

    owner_client.post(url, {"history": "keep"})

    assert SmartcarAccount.objects.get(pk=connected.pk).status == AccountStatus.DISCONNECTED
    assert Vehicle.objects.filter(disconnected_at__isnull=True).count() == 0
    assert Vehicle.objects.count() == 3
    assert smartcar_connections(connected) == set()


def test_an_account_that_needs_reconnect_is_reconnected_in_one_click(owner_client, fleet, connected):
    SmartcarAccount.objects.filter(pk=connected.pk).update(status=AccountStatus.NEEDS_RECONNECT)
    page = owner_client.get(reverse("connect_accounts", args=[fleet.slug])).content.decode()
    assert "Reconnect" in page

    reconnect = reverse("connect_account_reconnect", args=[fleet.slug, connected.pk])
    response = owner_client.post(reconnect)

    assert response.status_code == 302
    assert "approval_prompt=force" in response["Location"]
    connect(owner_client, fleet, "3-vehicles@example.com", start_url=reconnect)
    assert SmartcarAccount.objects.get().status == AccountStatus.ACTIVE
    assert Vehicle.objects.count() == 3

    # Reconnecting with another car-maker account connects that one and says the first still needs it.
    SmartcarAccount.objects.filter(pk=connected.pk).update(status=AccountStatus.NEEDS_RECONNECT)
    response = connect(owner_client, fleet, "1-vehicle@example.com", start_url=reconnect)
    assert "still needs to be reconnected" in messages_of(response)
    assert SmartcarAccount.objects.get(pk=connected.pk).status == AccountStatus.NEEDS_RECONNECT


def test_the_reconnect_summary_counts_the_vehicles_reconnected(owner_client, fleet, connected):
    SmartcarAccount.objects.filter(pk=connected.pk).update(status=AccountStatus.NEEDS_RECONNECT)
    reconnect = reverse("connect_account_reconnect", args=[fleet.slug, connected.pk])

    response = connect(owner_client, fleet, "3-vehicles@example.com", start_url=reconnect)

    assert "3 vehicles reconnected." in messages_of(response)
    assert "already connected" not in messages_of(response)
    # Connecting the same account again while it works reconnects nothing.
    response = connect(owner_client, fleet, "3-vehicles@example.com")
    assert messages_of(response).endswith(" 3 vehicles already connected and brought up to date.")


def test_a_vehicle_whose_access_was_lost_syncs_again_at_once_after_reconnect(owner_client, fleet, connected):
    from tests.simulator.platform_fixtures import management_auth
    from vehicles.models import SyncState, VehicleStatus, VehicleSync

    vehicle = connected.vehicles.first()
    owner_client.delete(
        f"/simulator/management/v2.0/management/connections?vehicle_id={vehicle.smartcar_id}",
        HTTP_AUTHORIZATION=management_auth(),
    )
    owner_client.post(reverse("vehicle_sync", args=[fleet.slug, vehicle.pk]))
    assert VehicleStatus.objects.get(vehicle=vehicle).sync_state == SyncState.NEEDS_RECONNECT
    assert VehicleSync.objects.get(vehicle=vehicle).backoff_until is not None

    reconnect = reverse("connect_account_reconnect", args=[fleet.slug, connected.pk])
    response = connect(owner_client, fleet, "3-vehicles@example.com", start_url=reconnect)

    assert "1 vehicle reconnected, 2 vehicles already connected" in messages_of(response)
    # Read again straight away (the task runs in the test's thread), not after the back-off of the lost access.
    status = VehicleStatus.objects.get(vehicle=vehicle)
    assert status.sync_state == SyncState.OK
    assert status.last_error == ""
    assert VehicleSync.objects.get(vehicle=vehicle).backoff_until is None


def test_a_disconnected_account_does_not_claim_its_access_renews(owner_client, fleet, connected):
    page = owner_client.get(reverse("connect_accounts", args=[fleet.slug])).content.decode()
    assert "access renews automatically" in page

    owner_client.post(reverse("connect_account_disconnect", args=[fleet.slug, connected.pk]), {"history": "keep"})

    page = owner_client.get(reverse("connect_accounts", args=[fleet.slug])).content.decode()
    assert "access renews automatically" not in page
    assert "Fleet no longer has access" in page


def test_the_single_vehicle_disconnect_page_speaks_of_one_vehicle(owner_client, fleet, connected):
    vehicle = connected.vehicles.first()
    page = html.unescape(
        owner_client.get(reverse("connect_vehicle_disconnect", args=[fleet.slug, vehicle.pk])).content.decode()
    )
    assert f"Disconnect {vehicle.display_name}" in page
    assert "Fleet stops reading this vehicle" in page
    assert "Keep the vehicle and its history" in page
    assert "Delete the vehicle and all its history" in page
    card = page.split('<div class="card narrow">', 1)[1].split("</div>\n</div>", 1)[0]
    assert "vehicles " not in card and "these" not in card

    account_page = html.unescape(
        owner_client.get(reverse("connect_account_disconnect", args=[fleet.slug, connected.pk])).content.decode()
    )
    assert "Fleet stops reading these 3 vehicles" in account_page
    assert "Keep the vehicles and their history" in account_page


def test_an_account_is_named_by_its_owners_email_where_smartcar_gives_it(owner_client, fleet, connected):
    from vehicles.models import EndpointState

    page = owner_client.get(reverse("connect_accounts", args=[fleet.slug])).content.decode()
    assert connected.smartcar_user_id[:8] not in page  # never Smartcar's id
    first = connected.vehicles.order_by("pk").first()
    assert f"Account with {first.display_name} and 2 more vehicles" in page

    # What sync stores from Tesla's user info (tesla__get-user-info.md), where the owner granted read_user_profile.
    EndpointState.objects.create(
        vehicle=first, path="/tesla/user/info", body={"email": "driver@owner.example"}, fetched_at=timezone.now()
    )

    page = owner_client.get(reverse("connect_accounts", args=[fleet.slug])).content.decode()
    assert "<h2>driver@owner.example" in page


def test_only_owners_disconnect_viewers_never_reconnect_other_fleets_see_nothing(fleet, other_fleet, connected):
    from fleet.models import Membership, Role, User

    def browser_of(email: str, role: str | None = None) -> Client:
        user = User.objects.create_user(email=email) if role else User.objects.get(email=email)
        if role:
            Membership.objects.create(user=user, fleet=fleet, role=role)
        browser = Client()
        browser.force_login(user)
        return browser

    vehicle = connected.vehicles.first()
    vehicle_url = reverse("connect_vehicle_disconnect", args=[fleet.slug, vehicle.pk])
    account_url = reverse("connect_account_disconnect", args=[fleet.slug, connected.pk])
    reconnect_url = reverse("connect_account_reconnect", args=[fleet.slug, connected.pk])
    manager = browser_of("boss@example.com", Role.MANAGER)
    assert manager.post(vehicle_url, {"history": "delete"}).status_code == 403
    assert manager.post(account_url, {"history": "delete"}).status_code == 403
    viewer = browser_of("looker@example.com", Role.VIEWER)
    assert viewer.post(reconnect_url).status_code == 403

    outsider = browser_of("globex@example.com")
    slug = other_fleet.slug
    assert outsider.post(reverse("connect_account_reconnect", args=[slug, connected.pk])).status_code == 404
    assert outsider.get(reverse("connect_account_disconnect", args=[slug, connected.pk])).status_code == 404
    vehicle_elsewhere = reverse("connect_vehicle_disconnect", args=[slug, vehicle.pk])
    assert outsider.post(vehicle_elsewhere, {"history": "delete"}).status_code == 404
    assert outsider.get(reverse("connect_accounts", args=[fleet.slug])).status_code == 404
    assert Vehicle.objects.filter(disconnected_at__isnull=True).count() == 3
