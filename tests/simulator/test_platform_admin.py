"""Admin of the simulated platform: secrets masked or write-only, webhooks verified on registration."""

import json

import pytest
import smartcar
from django.conf import settings

from fleet.models import User
from simulator.models import Delivery, Webhook
from simulator.oauth import token_exchange_code
from tests.simulator.platform_fixtures import CallbackServer, default_application, make_code, make_user


@pytest.fixture
def admin_client(client, db):
    client.force_login(User.objects.create_superuser(email="ops@example.com", password="x" * 12))
    return client


@pytest.fixture
def token(db):
    application = default_application()
    return token_exchange_code(application=application, code=make_code(application, make_user()).code, redirect_uri="")


def test_tokens_are_never_shown_in_full(admin_client, token):
    pages = [
        admin_client.get("/admin/simulator/token/"),
        admin_client.get(f"/admin/simulator/token/{token.pk}/change/"),
        admin_client.get("/admin/simulator/authorizationcode/"),
    ]

    for page in pages:
        assert page.status_code == 200
        html = page.content.decode()
        assert token.access_token not in html
        assert token.refresh_token not in html
    assert token.access_token[:4] + "…" in pages[0].content.decode()


def test_application_secrets_are_write_only(admin_client, db):
    application = default_application()

    page = admin_client.get(f"/admin/simulator/application/{application.pk}/change/")
    assert page.status_code == 200
    assert settings.SMARTCAR_CLIENT_SECRET not in page.content.decode()
    assert settings.SMARTCAR_MANAGEMENT_TOKEN not in page.content.decode()

    response = admin_client.post(
        f"/admin/simulator/application/{application.pk}/change/",
        {
            "name": application.name,
            "client_id": application.client_id,
            "redirect_uris": application.redirect_uris,
            "new_client_secret": "",
            "new_management_token": "rotated-amt",
        },
    )
    assert response.status_code == 302
    application.refresh_from_db()
    assert application.client_secret == settings.SMARTCAR_CLIENT_SECRET
    assert application.management_token == "rotated-amt"


def test_registering_a_webhook_sends_the_verify_challenge(admin_client, settings, django_capture_on_commit_callbacks):
    settings.SMARTCAR_SIMULATOR_ORIGIN = "http://simulator.example"
    application = default_application()

    def answer(body):
        challenge = json.loads(body)["payload"]["challenge"]
        return 200, json.dumps({"challenge": smartcar.hash_challenge(application.management_token, challenge)}).encode()

    with CallbackServer(answer=answer) as receiver, django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            "/admin/simulator/webhook/add/",
            {"application": application.pk, "name": "Charging", "callback_url": receiver.url},
        )

    assert response.status_code == 302
    assert Webhook.objects.get().verified_at is not None
    assert json.loads(receiver.requests[0]["body"])["eventName"] == "verify"


def test_the_delivery_list_shows_status_and_attempts(admin_client, db):
    webhook = Webhook.objects.create(application=default_application(), callback_url="/nowhere")
    Delivery.objects.create(webhook=webhook, event_name="CHARGING_STARTED", body="{}", attempts=4, last_status="500")

    page = admin_client.get("/admin/simulator/delivery/")

    assert page.status_code == 200
    assert "pending" in page.content.decode()
