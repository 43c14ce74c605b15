"""The operators' admin: every model of the app browsable and searchable, actions that act, secrets never shown."""

import gc
import uuid
from datetime import timedelta

import pytest
from django.apps import apps
from django.conf import settings
from django.contrib import admin
from django.urls import reverse
from django.utils import timezone

from alerts import services as alert_services
from connect import tokens
from connect.client import TokenPair
from connect.models import AccountStatus, SmartcarAccount, SubscriptionStatus, Webhook, WebhookEvent
from fleet.models import Invitation, User
from tests.vehicles.conftest import connect_simulated
from vehicles.models import Command, StatusHistory, Vehicle

APP_LABELS = ("fleet", "connect", "vehicles", "charging", "maintenance", "alerts", "trips")


def _app_models():
    """The app's models the admin can list: not those with a composite primary key (history and its rollups)."""
    return [m for m in apps.get_models() if m._meta.app_label in APP_LABELS and not m._meta.is_composite_pk]


@pytest.fixture
def superuser_client(client, db):
    client.force_login(User.objects.create_superuser(email="root@example.com", password="x" * 12))
    return client


def test_every_model_of_the_app_is_in_admin():
    missing = [m._meta.label for m in _app_models() if m not in admin.site._registry]
    assert missing == []


def test_a_vehicles_page_shows_its_recent_history(superuser_client, records):
    vehicle = records["vehicle"]
    StatusHistory.objects.create(vehicle=vehicle, field="battery_percent", number=63.5, recorded_at=timezone.now())
    page = superuser_client.get(reverse("admin:vehicles_vehicle_change", args=[vehicle.pk])).content.decode()
    assert "battery_percent = 63.5" in page


def test_the_simulator_keeps_its_own_section(superuser_client):
    page = superuser_client.get(reverse("admin:index"))
    sections = {app["app_label"]: {m["object_name"] for m in app["models"]} for app in page.context["app_list"]}
    assert "simulator" in sections
    assert "Webhook" in sections["simulator"] and "Webhook" in sections["connect"]  # two sides, two sections
    assert not any(m._meta.app_label == "simulator" for m in _app_models())


@pytest.fixture
def records(fleet, owner):
    """One row of the main models, the account holding known tokens."""
    pair = TokenPair(
        access_token="access-" + "a" * 40,
        refresh_token="refresh-" + "r" * 40,
        access_expires_at=timezone.now() + timedelta(hours=2),
        refresh_expires_at=timezone.now() + timedelta(days=60),
    )
    account = SmartcarAccount(fleet=fleet, smartcar_user_id=str(uuid.uuid4()))
    tokens.account_store_tokens(account=account, pair=pair)
    account.save()
    vehicle = Vehicle.objects.create(fleet=fleet, account=account, smartcar_id="v-1", make="TESLA", model="Model Y")
    webhook = Webhook.objects.create(smartcar_id=str(uuid.uuid4()))
    WebhookEvent.objects.create(
        webhook=webhook,
        event_id="e-1",
        event_name="eventBased",
        event_type="CHARGING_STARTED",
        vehicle=vehicle,
        body={},
    )
    Command.objects.create(vehicle=vehicle, user=owner, user_email=owner.email, kind="lock")
    invitation = Invitation.objects.create(fleet=fleet, email="new@example.com", invited_by=owner)
    endpoint, endpoint_secret = alert_services.endpoint_create(
        fleet=fleet, name="Ops", url="https://ops.example.com/in"
    )
    return {
        "pair": pair,
        "account": account,
        "vehicle": vehicle,
        "invitation": invitation,
        "endpoint": endpoint,
        "endpoint_secret": endpoint_secret,
    }


def test_every_list_loads_and_searches_and_every_change_page_opens(superuser_client, records):
    for model in _app_models():
        model_admin = admin.site._registry[model]
        name = f"admin:{model._meta.app_label}_{model._meta.model_name}"
        listing = superuser_client.get(reverse(f"{name}_changelist"), {"q": "x"} if model_admin.search_fields else {})
        assert listing.status_code == 200, model._meta.label
        first = model.objects.first()
        if first is not None:
            assert superuser_client.get(reverse(f"{name}_change", args=[first.pk])).status_code == 200, (
                model._meta.label
            )


def test_secrets_are_never_shown(superuser_client, records):
    secrets = [
        records["pair"].access_token,
        records["pair"].refresh_token,
        records["account"].access_token_encrypted[:40],
        records["account"].refresh_token_encrypted[:40],
        records["invitation"].token,
        settings.SMARTCAR_MANAGEMENT_TOKEN,
        records["endpoint_secret"],
        records["endpoint"].secret_encrypted[:40],
    ]
    pages = [
        reverse("admin:connect_smartcaraccount_change", args=[records["account"].pk]),
        reverse("admin:vehicles_vehicle_change", args=[records["vehicle"].pk]),
        reverse("admin:fleet_invitation_change", args=[records["invitation"].pk]),
        reverse("admin:connect_webhook_changelist"),
        reverse("admin:connect_webhookevent_changelist"),
        reverse("admin:alerts_endpoint_change", args=[records["endpoint"].pk]),
        reverse("admin:alerts_endpoint_changelist"),
    ]
    for url in pages:
        html = superuser_client.get(url).content.decode()
        assert not [s for s in secrets if s in html], url


def test_the_audit_log_is_read_only(superuser_client, records):
    command = Command.objects.get()
    url = reverse("admin:vehicles_command_change", args=[command.pk])
    superuser_client.post(url, {"kind": "unlock", "status": "done"})
    command.refresh_from_db()
    assert (command.kind, command.status) == ("lock", "pending")
    assert superuser_client.get(reverse("admin:vehicles_command_add")).status_code == 403


def test_mark_needs_reconnect_from_the_vehicles(superuser_client, records):
    superuser_client.post(
        reverse("admin:vehicles_vehicle_changelist"),
        {"action": "mark_needs_reconnect", "_selected_action": [records["vehicle"].pk]},
    )
    records["account"].refresh_from_db()
    assert records["account"].status == AccountStatus.NEEDS_RECONNECT


@pytest.fixture
def simulated(transactional_db, fleet, settings):
    settings.SMARTCAR_WEBHOOK_CALLBACK_URL = f"/webhooks/{settings.SMARTCAR_WEBHOOK_ID}/"
    yield connect_simulated(fleet, count=2)
    gc.collect()  # closes the in-process clients' connections before the test database is dropped


def test_bulk_subscribe_and_unsubscribe_and_disconnect_against_the_simulator(simulated, superuser_client):
    from simulator.models import Connection, Subscription

    ids = [v.pk for v in simulated.vehicles]
    changelist = reverse("admin:vehicles_vehicle_changelist")

    superuser_client.post(changelist, {"action": "webhooks_subscribe", "_selected_action": ids})
    assert Subscription.objects.count() == 2
    assert Vehicle.objects.filter(webhook_subscribed=True).count() == 2

    superuser_client.post(changelist, {"action": "webhooks_unsubscribe", "_selected_action": ids[:1]})
    assert Subscription.objects.count() == 1
    assert simulated.vehicles[0].webhook_subscriptions.get().status == SubscriptionStatus.UNSUBSCRIBED

    superuser_client.post(changelist, {"action": "disconnect", "_selected_action": ids[1:]})
    assert not Connection.objects.filter(vehicle__vehicle_id=simulated.vehicles[1].smartcar_id).exists()
    assert Vehicle.objects.get(pk=ids[1]).disconnected_at is not None


def test_sync_now_from_admin_fetches_the_vehicle(simulated, superuser_client):
    vehicle = simulated.vehicles[0]
    superuser_client.post(
        reverse("admin:vehicles_vehicle_changelist"), {"action": "sync_now", "_selected_action": [vehicle.pk]}
    )
    assert vehicle.endpoint_states.filter(last_success_at__isnull=False).exists()
