"""Through the real simulator and the real HTTP stack: subscribe, a vehicle starts charging, the dashboard shows it.

The simulator delivers on the same site in-process (simulator/webhooks.py), signed with the management token; the
receiver stores the event and a worker (eager here) processes it. The vehicle is backing off, so no poll can have
brought the news: only the webhook did.
"""

import gc
from datetime import timedelta

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from charging.models import ChargingSession
from connect import subscriptions, transports
from connect.models import EventStatus, SubscriptionStatus, WebhookEvent, WebhookSubscription
from fleet.celery import app as project_app
from tests.vehicles.conftest import ALL_READ, connect_simulated
from vehicles.models import EndpointState, VehicleStatus, VehicleSync

PUBLIC_CHARGER = {"kind": "DC", "kw": 150.0, "volts": 400, "max_amps": 375, "phases": 1, "public": True, "place": "x"}


@pytest.fixture
def tesla(transactional_db, settings, fleet, api_version):
    # As in the demo: the simulator registers the app's webhook with the receiver's URL as its callback.
    settings.SMARTCAR_WEBHOOK_CALLBACK_URL = f"/webhooks/{settings.SMARTCAR_WEBHOOK_ID}/"
    # The simulator answers and delivers on threads of its own, which use Celery's default app, not the calling
    # thread's current one: it must be the project's (a test that starts a worker of another app may leave its own).
    project_app.set_default()
    connected = connect_simulated(fleet, makes=["TESLA"], permissions=[*ALL_READ, "control_charge"])
    yield connected.vehicles[0], connected.sim_vehicles[0]
    gc.collect()  # closes the in-process clients' connections before the test database is dropped


def _plugged_in_and_stopped(sim_vehicle) -> None:
    sim_vehicle.refresh_from_db()
    sim_vehicle.state["trip_chance"] = 0
    sim_vehicle.state["ev"].update(
        plugged=True, charger=PUBLIC_CHARGER, charging="NOT_CHARGING", user_stopped=True, soc=0.4, limit=0.9
    )
    sim_vehicle.save()


def test_a_vehicle_that_starts_charging_shows_as_charging_through_the_webhook(tesla, owner_client, fleet):
    from simulator.models import Delivery, Subscription

    vehicle, sim_vehicle = tesla
    result = subscriptions.vehicle_webhooks_subscribe(vehicle=vehicle)
    assert result.errors == []
    assert Subscription.objects.filter(vehicle=sim_vehicle, webhook__webhook_id=settings.SMARTCAR_WEBHOOK_ID).exists()
    vehicle.refresh_from_db()
    assert vehicle.webhook_subscribed
    _plugged_in_and_stopped(sim_vehicle)
    # Asleep as far as the sync engine knows: no poll happens before the back-off ends.
    VehicleSync.objects.update_or_create(
        vehicle=vehicle, defaults={"backoff_until": timezone.now() + timedelta(hours=1)}
    )

    # Someone starts charging (the vehicle's own app, say): the simulator announces it — CHARGING_STARTED on API v2,
    # a VEHICLE_STATE with the charging status on API v3.
    transports.current().vehicle_client(vehicle.account).charge_start(vehicle.smartcar_id)

    assert set(Delivery.objects.values_list("last_status", flat=True)) == {"200"}
    event = WebhookEvent.objects.order_by("received_at", "pk").last()
    assert (event.vehicle, event.status) == (vehicle, EventStatus.PROCESSED)
    assert VehicleStatus.objects.get(vehicle=vehicle).charging_state == "CHARGING"
    assert not EndpointState.objects.filter(vehicle=vehicle, last_success_at__isnull=False).exists()  # never polled
    assert ChargingSession.objects.filter(vehicle=vehicle, ended_at=None).exists()
    page = owner_client.get(reverse("fleet_home", args=[fleet.slug]))
    assert '<span class="badge info">Charging</span>' in page.content.decode()


def test_subscribe_and_unsubscribe_from_the_vehicle_page(tesla, manager_client, fleet):
    from simulator.models import Subscription

    vehicle, sim_vehicle = tesla
    page = manager_client.get(vehicle.get_absolute_url())
    assert "Subscribe to webhooks" in page.content.decode()

    manager_client.post(reverse("vehicle_webhooks_subscribe", args=[fleet.slug, vehicle.pk]))

    assert Subscription.objects.filter(vehicle=sim_vehicle).exists()
    assert "Unsubscribe from webhooks" in manager_client.get(vehicle.get_absolute_url()).content.decode()

    manager_client.post(reverse("vehicle_webhooks_unsubscribe", args=[fleet.slug, vehicle.pk]))

    assert not Subscription.objects.filter(vehicle=sim_vehicle).exists()
    vehicle.refresh_from_db()
    assert not vehicle.webhook_subscribed
    # The choice is remembered: the automatic sweep leaves the vehicle alone.
    assert WebhookSubscription.objects.get(vehicle=vehicle).status == SubscriptionStatus.UNSUBSCRIBED
    assert subscriptions.vehicles_to_subscribe() == []


def test_new_vehicles_are_subscribed_by_the_sweep_when_the_fleet_says_so(tesla, fleet, other_fleet):
    from simulator.models import Subscription

    vehicle, sim_vehicle = tesla
    other = connect_simulated(other_fleet, makes=["FORD"], email="other@sim.example").vehicles[0]
    other_fleet.webhooks_subscribe_new_vehicles = False
    other_fleet.save()

    assert subscriptions.vehicles_subscribe_pending() == 1

    assert Subscription.objects.filter(vehicle=sim_vehicle).exists()
    vehicle.refresh_from_db()
    other.refresh_from_db()
    assert vehicle.webhook_subscribed and not other.webhook_subscribed
    assert subscriptions.vehicles_subscribe_pending() == 0  # settled: not asked again


def test_a_viewer_cannot_subscribe_and_another_fleets_vehicle_is_not_found(tesla, viewer_client, client, other_fleet):
    vehicle, _ = tesla
    url = reverse("vehicle_webhooks_subscribe", args=[vehicle.fleet.slug, vehicle.pk])
    assert viewer_client.post(url).status_code == 403

    outsider = other_fleet.memberships.get().user
    client.force_login(outsider)
    assert client.post(reverse("vehicle_webhooks_subscribe", args=[other_fleet.slug, vehicle.pk])).status_code == 404
    vehicle.refresh_from_db()
    assert not vehicle.webhook_subscribed


def test_a_disconnected_vehicles_subscription_is_forgotten_so_a_reconnect_subscribes_it_again(tesla):
    from connect.services import vehicle_disconnect

    vehicle, _ = tesla
    subscriptions.vehicle_webhooks_subscribe(vehicle=vehicle)
    vehicle_disconnect(vehicle=vehicle, delete_history=False)

    subscriptions.vehicles_subscribe_pending()

    vehicle.refresh_from_db()
    assert not vehicle.webhook_subscribed
    assert not WebhookSubscription.objects.filter(vehicle=vehicle).exists()
    # Connected again through Connect: the vehicle and its account are active again.
    vehicle.disconnected_at = None
    vehicle.save()
    vehicle.account.status = "active"
    vehicle.account.save()
    assert subscriptions.vehicles_to_subscribe() == [vehicle.pk]
