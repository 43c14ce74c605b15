"""The channel pages: each member's own e-mail settings (viewers included), the fleet's webhooks for owners and
managers — added with a secret shown once, refused addresses, the test button through a local receiver that checks
the signature, the delivery log, resume after a pause; another fleet's webhook is a 404."""

import html
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from alerts.models import Delivery, DeliveryStatus, Endpoint, Mode, Subscription
from connect import vault
from tests.alerts.receiver import Receiver
from tests.dashboard.factories import make_vehicles

pytestmark = pytest.mark.django_db


def url(name, fleet, *args):
    return reverse(name, args=[fleet.slug, *args])


def test_the_weekly_report_checkbox_sits_inside_its_label_like_the_apps_other_checkboxes(viewer_client, fleet):
    page = html.unescape(viewer_client.get(url("alerts_subscription", fleet)).content.decode())
    # The label wraps the box (a flex row: box, then words), as on the sign-in page; a label after it would stack.
    assert re.search(
        r'<div class="field checkbox">\s*<label><input type="checkbox" name="weekly_report"[^>]*> '
        r"Send me the fleet's weekly report \(Monday morning\)</label>",
        page,
    )


def test_a_viewer_subscribes_themselves_to_some_alerts_of_some_vehicles(viewer_client, viewer, fleet):
    first, _ = make_vehicles(fleet, 2)
    page = viewer_client.get(url("alerts_subscription", fleet))
    assert page.status_code == 200 and "My alert e-mails" in page.content.decode()
    response = viewer_client.post(
        url("alerts_subscription", fleet),
        {"mode": "immediate", "conditions": ["low", "trouble_codes"], "vehicles": [first.pk],
         "quiet_from": "22:00", "quiet_until": "07:00", "weekly_report": "on"},
    )  # fmt: skip
    assert response.status_code == 302
    subscription = Subscription.objects.get(user=viewer, fleet=fleet)
    assert subscription.mode == Mode.IMMEDIATE and subscription.conditions == ["low", "trouble_codes"]
    assert list(subscription.vehicles.all()) == [first] and subscription.weekly_report
    assert subscription.quiet_from.hour == 22


def test_half_quiet_hours_or_another_fleets_vehicle_are_refused(viewer_client, viewer, fleet, other_fleet):
    theirs = make_vehicles(other_fleet, 1)[0]
    response = viewer_client.post(
        url("alerts_subscription", fleet), {"mode": "immediate", "quiet_from": "22:00", "vehicles": [theirs.pk]}
    )
    body = response.content.decode()
    assert response.status_code == 422
    assert "Give both ends of the quiet hours" in body and "Select a valid choice" in body
    assert not Subscription.objects.exists()


def test_webhooks_are_for_owners_and_managers(viewer_client, fleet):
    assert viewer_client.get(url("alerts_endpoints", fleet)).status_code == 403
    assert (
        viewer_client.post(url("alerts_endpoints", fleet), {"name": "x", "url": "https://a.example"}).status_code == 403
    )


def test_no_webhooks_yet_says_what_they_are_for_and_how_to_add_one(manager_client, fleet, other_fleet):
    Endpoint.objects.create(fleet=other_fleet, name="Theirs", url="https://theirs.example/in", secret_encrypted="x")
    page = manager_client.get(url("alerts_endpoints", fleet)).content.decode()
    assert "No webhooks yet" in page
    assert "no other system hears of them" in page and "give it a name and that address below" in page
    assert "Add webhook</button>" in page and "signed with a secret shown once" in page  # the address's help
    Endpoint.objects.create(fleet=fleet, name="Ops", url="https://ops.example/in", secret_encrypted="x")
    page = manager_client.get(url("alerts_endpoints", fleet)).content.decode()
    assert "No webhooks yet" not in page and "Ops" in page


def test_a_refused_address_is_explained_and_nothing_is_saved(manager_client, fleet, settings):
    settings.ALERT_WEBHOOKS_ALLOW_PRIVATE = False
    for address, words in [
        ("ftp://files.example.com/in", "starting with https://"),
        ("http://192.168.1.20/hook", "private or local network"),
        ("http://localhost:8000/fleets/", "Fleet itself"),
    ]:
        response = manager_client.post(url("alerts_endpoints", fleet), {"name": "Ops", "url": address})
        assert response.status_code == 422 and words in response.content.decode(), address
    assert not Endpoint.objects.exists()


def test_a_manager_adds_a_webhook_sees_its_secret_once_and_tests_it(
    manager_client, fleet, settings, django_capture_on_commit_callbacks
):
    settings.ALERT_WEBHOOKS_ALLOW_PRIVATE = True
    with Receiver("") as receiver:
        response = manager_client.post(url("alerts_endpoints", fleet), {"name": "Ops chat", "url": receiver.url})
        assert response.status_code == 200
        endpoint = Endpoint.objects.get()
        secret = vault.decrypt(endpoint.secret_encrypted)
        assert secret.startswith("whsec_") and secret in response.content.decode()
        assert secret not in endpoint.secret_encrypted
        receiver.secret = secret
        detail = manager_client.get(url("alerts_endpoint", fleet, endpoint.pk)).content.decode()
        assert secret not in detail and "Nothing sent yet" in detail

        with django_capture_on_commit_callbacks(execute=True):
            manager_client.post(url("alerts_endpoint_action", fleet, endpoint.pk, "test"))
    assert receiver.types() == ["test"] and receiver.refused == []
    log = manager_client.get(url("alerts_endpoint", fleet, endpoint.pk)).content.decode()
    assert "Delivered" in log


def test_a_paused_webhook_shows_failing_and_resumes(manager_client, fleet):
    endpoint = Endpoint.objects.create(
        fleet=fleet, name="Tickets", url="https://tickets.example/in", secret_encrypted=vault.encrypt("s"),
        paused_at=timezone.now(), consecutive_failures=10,
    )  # fmt: skip
    Delivery.objects.create(
        fleet=fleet, channel="webhook", endpoint=endpoint, status=DeliveryStatus.FAILED, due_at=timezone.now(),
        created_at=timezone.now(), attempts=6, last_error="ReceiverRefused: the receiver answered 503",
    )  # fmt: skip
    listing = manager_client.get(url("alerts_endpoints", fleet)).content.decode()
    assert "Failing — paused" in listing
    detail = manager_client.get(url("alerts_endpoint", fleet, endpoint.pk)).content.decode()
    assert "after 6 tries" in detail and "the receiver answered 503" in detail
    manager_client.post(url("alerts_endpoint_action", fleet, endpoint.pk, "resume"))
    endpoint.refresh_from_db()
    assert endpoint.paused_at is None and endpoint.consecutive_failures == 0


def test_another_fleets_webhook_is_a_404(client, other_fleet, fleet):
    endpoint = Endpoint.objects.create(
        fleet=fleet, name="Ops", url="https://ops.example/in", secret_encrypted=vault.encrypt("s")
    )
    client.force_login(other_fleet.memberships.get().user)
    assert client.get(url("alerts_endpoint", other_fleet, endpoint.pk)).status_code == 404
    assert client.post(url("alerts_endpoint_action", other_fleet, endpoint.pk, "delete")).status_code == 404
    assert Endpoint.objects.filter(pk=endpoint.pk).exists()


def test_an_unknown_action_is_a_404(manager_client, fleet):
    endpoint = Endpoint.objects.create(fleet=fleet, name="Ops", url="https://ops.example/in", secret_encrypted="x")
    assert manager_client.post(url("alerts_endpoint_action", fleet, endpoint.pk, "explode")).status_code == 404
