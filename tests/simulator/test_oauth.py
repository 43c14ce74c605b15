"""The simulated token endpoint: code exchange, refresh rotation and OAuth errors."""

from datetime import timedelta

import pytest
import time_machine
from django.conf import settings
from django.utils import timezone

from simulator.models import Application, Token
from simulator.oauth import refresh_count
from tests.simulator.platform_fixtures import basic_auth, client_auth, default_application, make_code, make_user

URL = "/simulator/oauth/token"


@pytest.fixture
def application(db):
    return default_application()


@pytest.fixture
def code(application):
    return make_code(application, make_user())


def post(client, data, auth=None):
    return client.post(URL, data, HTTP_AUTHORIZATION=auth or client_auth())


def exchange(client, code):
    return post(
        client, {"grant_type": "authorization_code", "code": code.code, "redirect_uri": settings.SMARTCAR_REDIRECT_URI}
    )


def refresh(client, refresh_token):
    return post(client, {"grant_type": "refresh_token", "refresh_token": refresh_token})


def test_it_exchanges_a_code_for_a_two_hour_token_pair(client, code):
    response = exchange(client, code)

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in", "refresh_token"}
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 7200
    assert response["Cache-Control"] == "no-store"
    token = Token.objects.get(access_token=body["access_token"])
    assert token.refresh_token == body["refresh_token"]
    assert token.user == code.user
    assert abs(token.access_expires_at - (timezone.now() + timedelta(hours=2))) < timedelta(seconds=5)
    assert abs(token.refresh_expires_at - (timezone.now() + timedelta(days=60))) < timedelta(seconds=5)


def test_a_code_works_only_once(client, code):
    assert exchange(client, code).status_code == 200

    again = exchange(client, code)

    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"
    assert Token.objects.count() == 1


def test_a_code_expires_after_ten_minutes(client, code):
    with time_machine.travel(timezone.now() + timedelta(minutes=10, seconds=1)):
        response = exchange(client, code)

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


def test_a_code_still_works_just_before_ten_minutes(client, code):
    with time_machine.travel(timezone.now() + timedelta(minutes=9, seconds=50)):
        assert exchange(client, code).status_code == 200


def test_the_redirect_uri_must_match_the_one_used_in_connect(client, code):
    response = post(
        client, {"grant_type": "authorization_code", "code": code.code, "redirect_uri": "https://evil.example/cb"}
    )

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


def test_another_application_cannot_use_the_code(client, code):
    Application.objects.create(name="Other", client_id="other", client_secret="other-secret", redirect_uris="")

    response = post(
        client, {"grant_type": "authorization_code", "code": code.code}, auth=basic_auth("other", "other-secret")
    )

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


@pytest.mark.parametrize(
    "auth",
    [
        basic_auth("fleet-demo-client", "wrong-secret"),
        basic_auth("no-such-client", "fleet-demo-secret"),
        "Basic not-base64!",
        "Bearer something",
    ],
)
def test_bad_client_credentials_are_invalid_client(client, code, auth):
    response = post(client, {"grant_type": "authorization_code", "code": code.code}, auth=auth)

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert response["WWW-Authenticate"].startswith("Basic")
    assert not Token.objects.exists()


def test_missing_client_credentials_are_invalid_client(client, code):
    response = client.post(URL, {"grant_type": "authorization_code", "code": code.code})

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({}, "invalid_request"),
        ({"grant_type": "authorization_code"}, "invalid_request"),
        ({"grant_type": "refresh_token"}, "invalid_request"),
        ({"grant_type": "password", "username": "a", "password": "b"}, "unsupported_grant_type"),
        ({"grant_type": "refresh_token", "refresh_token": "nope"}, "invalid_grant"),
    ],
)
def test_bad_requests_get_oauth_error_bodies(client, application, data, error):
    response = post(client, data)

    assert response.status_code == 400
    assert response.json()["error"] == error
    assert response.json()["error_description"]


def test_it_answers_only_post(client, application):
    response = client.get(URL)

    assert response.status_code == 405
    assert response.json()["error"] == "invalid_request"


def test_a_refresh_rotates_the_pair(client, code):
    first = exchange(client, code).json()

    second = refresh(client, first["refresh_token"])

    assert second.status_code == 200
    body = second.json()
    assert body["refresh_token"] != first["refresh_token"]
    assert body["access_token"] != first["access_token"]
    assert body["expires_in"] == 7200
    assert refresh_count() == 1
    assert refresh(client, body["refresh_token"]).status_code == 200
    assert refresh_count() == 2


def test_a_used_refresh_token_works_for_one_more_minute_then_stops(client, code):
    first = exchange(client, code).json()
    used_at = timezone.now()
    with time_machine.travel(used_at, tick=False):
        newest = refresh(client, first["refresh_token"]).json()

    with time_machine.travel(used_at + timedelta(seconds=50), tick=False):
        assert refresh(client, first["refresh_token"]).status_code == 200

    with time_machine.travel(used_at + timedelta(seconds=61), tick=False):
        late = refresh(client, first["refresh_token"])
        assert late.status_code == 400
        assert late.json()["error"] == "invalid_grant"
        assert refresh(client, newest["refresh_token"]).status_code == 200


def test_a_refresh_token_expires_after_sixty_days(client, code):
    first = exchange(client, code).json()

    with time_machine.travel(timezone.now() + timedelta(days=60, seconds=1)):
        response = refresh(client, first["refresh_token"])

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"
    assert refresh_count() == 0


def test_the_application_is_registered_from_settings(db):
    application = default_application()

    assert application.client_id == settings.SMARTCAR_CLIENT_ID
    assert application.client_secret == settings.SMARTCAR_CLIENT_SECRET
    assert application.management_token == settings.SMARTCAR_MANAGEMENT_TOKEN
    assert settings.SMARTCAR_REDIRECT_URI in application.redirect_uri_list
    assert default_application().pk == application.pk
    assert Application.objects.count() == 1


def test_settings_changes_reach_the_registered_application(db, settings):
    application = default_application()
    application.redirect_uris += "\nhttps://added-in-admin.example/cb"
    application.save()
    settings.SMARTCAR_CLIENT_SECRET = "rotated-secret"
    settings.SMARTCAR_REDIRECT_URI = "http://localhost:8000/connect/callback/"

    application = default_application()

    assert application.client_secret == "rotated-secret"
    assert "https://added-in-admin.example/cb" in application.redirect_uri_list
    assert "http://localhost:8000/connect/callback/" in application.redirect_uri_list
    assert "http://127.0.0.1:8000/connect/callback/" in application.redirect_uri_list


def test_an_access_token_opens_the_vehicle_api_for_two_hours(client, code):
    body = exchange(client, code).json()
    bearer = f"Bearer {body['access_token']}"

    assert client.get("/simulator/api/v2.0/user", HTTP_AUTHORIZATION=bearer).status_code == 200
    with time_machine.travel(timezone.now() + timedelta(hours=1, minutes=59)):
        assert client.get("/simulator/api/v2.0/user", HTTP_AUTHORIZATION=bearer).status_code == 200
    with time_machine.travel(timezone.now() + timedelta(hours=2, seconds=1)):
        expired = client.get("/simulator/api/v2.0/user", HTTP_AUTHORIZATION=bearer)
    assert expired.status_code == 401
    assert expired.json()["type"] == "AUTHENTICATION"
