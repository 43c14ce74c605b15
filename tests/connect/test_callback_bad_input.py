"""The Connect callback refuses everything it did not start: each case a clear message, a log line, no account."""

from datetime import timedelta
from urllib.parse import urlencode

import pytest
import time_machine
from django.contrib.messages import get_messages
from django.test import Client, override_settings
from django.urls import reverse

from connect.models import SmartcarAccount
from tests.connect.browser import answer_from_connect, query_of
from vehicles.models import Vehicle

CALLBACK = reverse("connect_callback")


def messages_of(response) -> str:
    return " ".join(str(m) for m in get_messages(response.wsgi_request))


@pytest.fixture
def simulator(transactional_db):
    from simulator.platform import ensure_default_application

    return ensure_default_application()


def test_a_forged_or_missing_state_is_refused(owner_client, fleet, simulator, caplog):
    back = answer_from_connect(owner_client, fleet, "2-vehicles@example.com")
    forged = {**query_of(back), "state": "forged-" + "x" * 40}

    response = owner_client.get(CALLBACK + "?" + urlencode(forged))

    assert response.status_code == 400
    assert "does not belong to a connection started here" in response.content.decode()
    assert "unknown state" in caplog.text
    assert forged["code"] not in caplog.text
    missing = owner_client.get(CALLBACK + "?" + urlencode({"code": forged["code"]}))
    assert missing.status_code == 400
    assert not SmartcarAccount.objects.exists()


def test_a_replayed_callback_is_refused_and_changes_nothing(owner_client, fleet, simulator):
    back = answer_from_connect(owner_client, fleet, "2-vehicles@example.com")
    assert owner_client.get(back).status_code == 302
    before = list(SmartcarAccount.objects.values("pk", "access_token_encrypted"))

    replay = owner_client.get(back)

    assert replay.status_code == 400
    assert "already used" in replay.content.decode()
    assert list(SmartcarAccount.objects.values("pk", "access_token_encrypted")) == before
    assert Vehicle.objects.count() == 2


def test_a_state_older_than_ten_minutes_is_refused(owner_client, fleet, simulator):
    with time_machine.travel(timedelta(0), tick=True) as traveller:
        back = answer_from_connect(owner_client, fleet, "2-vehicles@example.com")
        traveller.shift(timedelta(minutes=11))
        response = owner_client.get(back)
    assert response.status_code == 400
    assert "10 minutes" in response.content.decode()
    assert not SmartcarAccount.objects.exists()


def test_a_callback_in_another_users_session_or_signed_out_is_refused(manager_client, fleet, owner, simulator):
    back = answer_from_connect(manager_client, fleet, "2-vehicles@example.com")
    someone_else = Client()
    someone_else.force_login(owner)

    assert someone_else.get(back).status_code == 400
    signed_out = Client().get(back)
    assert signed_out.status_code == 302
    assert signed_out["Location"].startswith(reverse("account_login"))
    assert not SmartcarAccount.objects.exists()


def test_a_missing_or_reused_code_is_refused(owner_client, fleet, simulator, caplog):
    back = answer_from_connect(owner_client, fleet, "2-vehicles@example.com")
    response = owner_client.get(CALLBACK + "?" + urlencode({"state": query_of(back)["state"]}))
    assert "no authorization code" in messages_of(response)
    assert not SmartcarAccount.objects.exists()

    first = answer_from_connect(owner_client, fleet, "2-vehicles@example.com")
    owner_client.get(first)
    spent_code = query_of(first)["code"]
    second = answer_from_connect(owner_client, fleet, "2-vehicles@example.com")
    before = list(SmartcarAccount.objects.values())

    response = owner_client.get(CALLBACK + "?" + urlencode({"state": query_of(second)["state"], "code": spent_code}))

    assert "already used or has expired" in messages_of(response)
    assert list(SmartcarAccount.objects.values()) == before
    assert spent_code not in caplog.text


def test_next_never_leads_off_the_site(owner_client, fleet, simulator):
    back = answer_from_connect(owner_client, fleet, "2-vehicles@example.com", next="https://evil.example/steal")
    response = owner_client.get(back + "&" + urlencode({"next": "//evil.example/"}))
    assert response.status_code == 302
    assert response["Location"] == fleet.get_absolute_url()

    connections = reverse("connect_accounts", args=[fleet.slug])
    back = answer_from_connect(owner_client, fleet, "2-vehicles@example.com", next=connections)
    assert owner_client.get(back)["Location"] == connections


def test_a_broken_token_endpoint_leaves_no_partial_account(owner_client, fleet, simulator, caplog):
    for auth_url in (
        "http://127.0.0.1:9/oauth/token",  # the token endpoint is down
        "http://localhost/healthz",  # it answers, but not with tokens
    ):
        back = answer_from_connect(owner_client, fleet, "2-vehicles@example.com")
        with override_settings(SMARTCAR_AUTH_URL=auth_url):
            response = owner_client.get(back)
        assert response.status_code == 302
        assert "nothing was connected" in messages_of(response), auth_url
        assert not SmartcarAccount.objects.exists() and not Vehicle.objects.exists()
        assert "code exchange" in caplog.text
        assert query_of(back)["code"] not in caplog.text


def test_the_callback_of_a_fleet_one_no_longer_belongs_to_is_404(owner_client, manager, fleet, simulator):
    from fleet.models import Membership

    manager_browser = Client()
    manager_browser.force_login(manager)
    back = answer_from_connect(manager_browser, fleet, "2-vehicles@example.com")
    Membership.objects.filter(user=manager).delete()
    assert manager_browser.get(back).status_code == 404
    assert not SmartcarAccount.objects.exists()
