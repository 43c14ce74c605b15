"""The simulated management API: listing and deleting an application's vehicle connections."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from simulator.models import Application, Connection, Subscription, Webhook
from tests.simulator.platform_fixtures import (
    basic_auth,
    default_application,
    make_connection,
    make_user,
    make_vehicle,
    management_auth,
)

URL = "/simulator/management/v2.0/management/connections"


@pytest.fixture
def application(db):
    return default_application()


@pytest.fixture
def connections(application):
    """Five connections made a minute apart (oldest first): two users, one of them in test mode."""
    alice, bob = make_user("alice@example.com"), make_user("bob@example.com")
    made = []
    start = timezone.now() - timedelta(hours=1)
    for minute, (owner, mode) in enumerate(
        [(alice, "live"), (bob, "live"), (alice, "test"), (bob, "live"), (alice, "live")]
    ):
        with time_machine.travel(start + timedelta(minutes=minute), tick=False):
            made.append(make_connection(application, make_vehicle(owner), mode=mode))
    return made


def get(client, params=None, auth=None):
    return client.get(URL, params or {}, HTTP_AUTHORIZATION=auth or management_auth())


def test_it_lists_connections_newest_first_in_the_documented_shape(client, connections):
    response = get(client)

    assert response.status_code == 200
    body = response.json()
    assert [c["vehicleId"] for c in body["connections"]] == [c.vehicle.vehicle_id for c in reversed(connections)]
    first = body["connections"][0]
    assert set(first) == {"userId", "vehicleId", "connectedAt", "mode"}
    assert first["userId"] == connections[-1].user.user_id
    assert first["connectedAt"].endswith("Z")
    assert body["paging"] == {"cursor": None}


def test_it_pages_with_a_cursor(client, connections):
    first = get(client, {"limit": 2}).json()
    second = get(client, {"limit": 2, "cursor": first["paging"]["cursor"]}).json()
    third = get(client, {"limit": 2, "cursor": second["paging"]["cursor"]}).json()

    seen = [c["vehicleId"] for page in (first, second, third) for c in page["connections"]]
    assert seen == [c.vehicle.vehicle_id for c in reversed(connections)]
    assert len(third["connections"]) == 1
    assert third["paging"]["cursor"] is None


def test_it_filters_by_user_vehicle_and_mode(client, connections):
    alice = connections[0].user

    by_user = get(client, {"user_id": alice.user_id}).json()["connections"]
    by_vehicle = get(client, {"vehicle_id": connections[1].vehicle.vehicle_id}).json()["connections"]
    by_mode = get(client, {"mode": "test"}).json()["connections"]

    assert {c["userId"] for c in by_user} == {alice.user_id}
    assert len(by_user) == 3
    assert [c["vehicleId"] for c in by_vehicle] == [connections[1].vehicle.vehicle_id]
    assert [c["vehicleId"] for c in by_mode] == [connections[2].vehicle.vehicle_id]


def test_it_shows_only_the_authenticated_applications_connections(client, connections):
    other = Application.objects.create(name="Other", client_id="other", redirect_uris="", management_token="other-amt")
    make_connection(other, make_vehicle(make_user("carol@example.com")))

    mine = get(client).json()["connections"]
    theirs = get(client, auth=management_auth("other-amt")).json()["connections"]

    assert len(mine) == 5
    assert len(theirs) == 1


@pytest.mark.parametrize(
    "params",
    [{"limit": 101}, {"limit": 0}, {"limit": "ten"}, {"mode": "party"}, {"cursor": "not-a-cursor"}, {"cursor": "WzFd"}],
)
def test_bad_parameters_get_a_validation_error(client, connections, params):
    response = get(client, params)

    assert response.status_code == 400
    body = response.json()
    assert body["type"] == "VALIDATION"
    assert body["statusCode"] == 400
    assert body["detail"][0]["field"] in params
    assert response["SC-Request-Id"] == body["requestId"]


def test_a_limit_of_one_hundred_is_allowed(client, connections):
    assert get(client, {"limit": 100}).status_code == 200


@pytest.mark.parametrize(
    "auth",
    [
        basic_auth("default", "wrong-token"),
        basic_auth("someone", "fleet-demo-management-token"),
        "Basic !!!",
        "Bearer fleet-demo-management-token",
        "",
    ],
)
def test_bad_credentials_get_an_authentication_error(client, connections, auth):
    response = client.get(URL, HTTP_AUTHORIZATION=auth) if auth else client.get(URL)

    assert response.status_code == 401
    body = response.json()
    assert body["type"] == "AUTHENTICATION"
    assert body["code"] is None
    assert body["resolution"]["type"] == "REAUTHENTICATE"
    assert set(body) >= {"type", "code", "description", "docURL", "statusCode", "requestId", "resolution"}


def test_delete_by_vehicle_disconnects_it_and_its_webhook_subscriptions(client, application, connections):
    target = connections[1]
    webhook = Webhook.objects.create(application=application, callback_url="/hooks/")
    Subscription.objects.create(webhook=webhook, vehicle=target.vehicle)

    response = client.delete(f"{URL}?vehicle_id={target.vehicle.vehicle_id}", HTTP_AUTHORIZATION=management_auth())

    assert response.status_code == 200
    assert response.json() == {"connections": [{"userId": target.user.user_id, "vehicleId": target.vehicle.vehicle_id}]}
    assert not Connection.objects.filter(pk=target.pk).exists()
    assert not Subscription.objects.exists()
    assert Connection.objects.count() == 4


def test_delete_by_user_disconnects_all_their_vehicles(client, connections):
    alice = connections[0].user

    response = client.delete(f"{URL}/?user_id={alice.user_id}", HTTP_AUTHORIZATION=management_auth())

    assert response.status_code == 200
    assert len(response.json()["connections"]) == 3
    assert not Connection.objects.filter(user=alice).exists()
    assert Connection.objects.count() == 2


@pytest.mark.parametrize("query", ["", "?user_id=a&vehicle_id=b"])
def test_delete_needs_exactly_one_filter(client, connections, query):
    response = client.delete(URL + query, HTTP_AUTHORIZATION=management_auth())

    assert response.status_code == 400
    assert response.json()["type"] == "VALIDATION"
    assert Connection.objects.count() == 5


def test_delete_needs_the_management_token(client, connections):
    response = client.delete(f"{URL}?vehicle_id={connections[0].vehicle.vehicle_id}")

    assert response.status_code == 401
    assert Connection.objects.count() == 5


def test_other_methods_get_a_documented_error(client, connections):
    response = client.post(URL, HTTP_AUTHORIZATION=management_auth())

    assert response.status_code == 404
    assert response.json()["type"] == "RESOURCE_NOT_FOUND"


@pytest.mark.parametrize("path", ["/simulator/management/v2.0/management/other", "/simulator/management/v1.0/x"])
def test_unknown_management_paths_get_the_documented_error_body(client, db, path):
    response = client.get(path, HTTP_AUTHORIZATION=management_auth())

    assert response.status_code == 404
    assert response.json()["type"] == "RESOURCE_NOT_FOUND"
    assert response.json()["code"] == "PATH"
