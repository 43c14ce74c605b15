"""Connect vehicles, end to end: our pages, the simulated Connect pages, the callback, the simulated API.

Tests that reach the simulator use committed data (``transactional_db``, see conftest.py); each costs a table
flush, so related checks share one test.
"""

from datetime import timedelta

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from connect import vault
from connect.models import AccountStatus, SmartcarAccount
from tests.connect.browser import answer_from_connect, connect, query_of
from vehicles.models import Vehicle, make_label


def messages_of(response) -> str:
    return " ".join(str(m) for m in get_messages(response.wsgi_request))


@pytest.fixture
def simulator(transactional_db):
    from simulator.platform import ensure_default_application

    return ensure_default_application()


def test_a_manager_connects_five_vehicles_and_connecting_again_updates_them(manager_client, fleet, simulator):
    response = connect(manager_client, fleet, "5-vehicles@example.com")

    assert response.status_code == 302
    assert response["Location"] == fleet.get_absolute_url()
    assert "5 vehicles connected" in messages_of(response)
    account = SmartcarAccount.objects.get(fleet=fleet)
    assert account.status == AccountStatus.ACTIVE
    assert account.access_expires_at > timezone.now() + timedelta(hours=1)
    vehicles = list(Vehicle.objects.filter(fleet=fleet))
    assert len(vehicles) == 5
    assert all(v.account == account and v.make and v.model and v.year and len(v.vin) == 17 for v in vehicles)
    assert all("read_vehicle_info" in v.permissions for v in vehicles)
    page = manager_client.get(fleet.get_absolute_url()).content.decode()
    assert all(vehicle.model in page for vehicle in vehicles)
    assert vault.decrypt(account.access_token_encrypted) not in page

    again = connect(manager_client, fleet, "5-vehicles@example.com")

    assert "5 vehicles already connected" in messages_of(again)
    assert SmartcarAccount.objects.count() == 1
    assert sorted(Vehicle.objects.values_list("pk", flat=True)) == sorted(v.pk for v in vehicles)


def test_a_vehicle_already_in_another_fleet_is_refused(owner_client, fleet, other_fleet, simulator):
    from fleet.models import User

    globex = Client()
    globex.force_login(User.objects.get(email="globex@example.com"))
    connect(globex, other_fleet, "2-vehicles@example.com")
    taken = list(Vehicle.objects.filter(fleet=other_fleet))

    response = connect(owner_client, fleet, "2-vehicles@example.com")

    text = messages_of(response)
    assert "another fleet" in text
    assert taken[0].vin in text
    assert not SmartcarAccount.objects.filter(fleet=fleet).exists()
    assert set(Vehicle.objects.values_list("fleet_id", flat=True)) == {other_fleet.pk}


def test_connect_errors_come_back_as_plain_words_and_connect_nothing(owner_client, fleet, simulator):
    for email, words in [
        ("no-vehicles@example.com", "No vehicles were found"),
        ("invalid-subscription@example.com", "subscription"),
        ("server-error@example.com", "try again"),
        ("configuration-error@example.com", "configuration problem"),
    ]:
        response = owner_client.get(answer_from_connect(owner_client, fleet, email))
        assert response.status_code == 302
        assert words in messages_of(response), email

    back = answer_from_connect(owner_client, fleet, "incompatible@example.com")
    vehicle = query_of(back)
    text = messages_of(owner_client.get(back))
    assert "not compatible" in text
    assert vehicle["vin"] in text and vehicle["model"] in text and vehicle["year"] in text
    assert f"{vehicle['year']} {make_label(vehicle['make'])} {vehicle['model']}" in text  # "BMW", "Tesla"

    denied = connect(owner_client, fleet, "2-vehicles@example.com", approve=False)
    assert "not granted" in messages_of(denied)

    assert not SmartcarAccount.objects.exists() and not Vehicle.objects.exists()


def test_viewers_cannot_connect_vehicles(viewer_client, fleet):
    response = viewer_client.post(reverse("connect_start", args=[fleet.slug]))
    assert response.status_code == 403


def test_connect_vehicles_needs_a_post_with_csrf(fleet, owner):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(owner)
    assert browser.post(reverse("connect_start", args=[fleet.slug])).status_code == 403
    assert not SmartcarAccount.objects.exists()


def test_opening_connect_in_the_browser_leads_to_the_connections_page(owner_client, fleet, other_fleet):
    connections = reverse("connect_accounts", args=[fleet.slug])

    answer = owner_client.get(reverse("connect_start", args=[fleet.slug]))
    assert (answer.status_code, answer["Location"]) == (302, connections)
    assert owner_client.get(answer["Location"]).status_code == 200
    # The same for an account's reconnect, which only its button performs.
    answer = owner_client.get(reverse("connect_account_reconnect", args=[fleet.slug, 1]))
    assert (answer.status_code, answer["Location"]) == (302, connections)
    # Another fleet's address leads to that fleet's page, which is a 404 like any page of it.
    answer = owner_client.get(reverse("connect_start", args=[other_fleet.slug]), follow=True)
    assert answer.status_code == 404
    assert owner_client.put(reverse("connect_start", args=[fleet.slug])).status_code == 405


def test_the_authorize_url_asks_for_the_configured_scope_and_mode(owner_client, fleet, settings):
    response = owner_client.post(reverse("connect_start", args=[fleet.slug]))
    query = query_of(response["Location"])
    assert query["scope"].split() == settings.SMARTCAR_SCOPE
    assert "control_security" in query["scope"] and "read_odometer" in query["scope"]
    assert query["mode"] == settings.SMARTCAR_CONNECT_MODE
    assert query["redirect_uri"] == settings.SMARTCAR_REDIRECT_URI
    assert query["response_type"] == "code"
    assert len(query["state"]) >= 32
    assert "approval_prompt" not in query
