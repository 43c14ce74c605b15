"""Alert transitions delivered end to end: webhooks to a local receiver that checks the signature, e-mails per
member subscription with quiet hours and a daily digest; retries with back-off, a failing channel paused, one
channel's failure never holding back another, each transition delivered once."""

from datetime import datetime, time, timedelta

import pytest
from django.core import mail
from django.utils import timezone

from alerts import channels, delivery
from alerts.evaluation import vehicles_evaluate
from alerts.models import Alert, Delivery, DeliveryStatus, Endpoint, Mode, Subscription
from connect import vault
from tests.alerts.conftest import nudge, sync_all
from tests.alerts.receiver import Receiver
from tests.dashboard.factories import make_vehicles
from tests.vehicles.conftest import connect_simulated
from vehicles.models import VehicleStatus

SECRET = "whsec_test-secret"


@pytest.fixture(autouse=True)
def private_addresses_allowed(settings):
    settings.ALERT_WEBHOOKS_ALLOW_PRIVATE = True  # the receiver listens on 127.0.0.1


def endpoint_for(fleet, url, secret=SECRET):
    return Endpoint.objects.create(fleet=fleet, name="Ops", url=url, secret_encrypted=vault.encrypt(secret))


def test_a_condition_reaches_the_receiver_signed_once_per_transition(fleet, transactional_db):
    tesla = connect_simulated(fleet, makes=["TESLA"]).vehicles[0]
    with Receiver(SECRET) as receiver:
        endpoint_for(fleet, receiver.url)
        nudge(tesla, lambda s: s["ev"].update(soc=0.07, plugged=False, charging="NOT_CHARGING"))
        sync_all()
        sync_all()  # still low: nothing new to deliver
        nudge(tesla, lambda s: s["ev"].update(soc=0.7))
        sync_all()
    assert receiver.refused == []
    assert receiver.types() == ["alert.opened", "alert.resolved"]
    opened = receiver.accepted[0]
    assert opened["alert"]["title"] == "Low battery or fuel" and opened["vehicle"]["vin"] == tesla.vin
    assert opened["text"].startswith("Opened: Low battery or fuel")
    assert len({body["_delivery"] for body in receiver.accepted}) == 2
    assert set(Delivery.objects.values_list("status", flat=True)) == {DeliveryStatus.SENT}


@pytest.fixture
def low_vehicle(fleet):
    return make_vehicles(fleet, 1, battery_percent=60.0)[0]


def make_low(vehicle, django_capture_on_commit_callbacks, percent=5.0):
    VehicleStatus.objects.filter(vehicle=vehicle).update(battery_percent=percent)
    with django_capture_on_commit_callbacks(execute=True):
        vehicles_evaluate(vehicle_ids=[vehicle.pk])


def test_a_wrong_secret_is_refused_by_the_receiver_and_retried_later(
    fleet, low_vehicle, db, django_capture_on_commit_callbacks
):
    with Receiver(SECRET) as receiver:
        endpoint = endpoint_for(fleet, receiver.url, secret="whsec_another")
        make_low(low_vehicle, django_capture_on_commit_callbacks)
        sent = Delivery.objects.get()
        assert receiver.refused and not receiver.accepted
        assert (sent.status, sent.attempts, sent.response_status) == (DeliveryStatus.PENDING, 1, 401)
        assert sent.due_at > timezone.now() + timedelta(seconds=20)  # back-off kept in the row

        Endpoint.objects.filter(pk=endpoint.pk).update(secret_encrypted=vault.encrypt(SECRET))
        assert delivery.deliveries_sweep(now=timezone.now()) == 0  # not due yet
        with django_capture_on_commit_callbacks(execute=True):
            delivery.deliveries_sweep(now=sent.due_at)
        delivery.delivery_send(delivery_id=sent.pk, now=sent.due_at)
    sent.refresh_from_db()
    assert (sent.status, sent.attempts) == (DeliveryStatus.SENT, 2)
    assert receiver.types() == ["alert.opened"]


def test_a_channel_failing_again_and_again_is_paused_and_e_mail_still_goes(
    fleet, owner, low_vehicle, db, django_capture_on_commit_callbacks, monkeypatch
):
    monkeypatch.setattr(delivery, "PAUSE_AFTER", 2)
    Subscription.objects.create(fleet=fleet, user=owner, mode=Mode.IMMEDIATE)
    with Receiver(SECRET) as receiver:
        receiver.fail_with = 503
        endpoint = endpoint_for(fleet, receiver.url)
        make_low(low_vehicle, django_capture_on_commit_callbacks)
        webhook = Delivery.objects.get(channel="webhook")
        delivery.delivery_send(delivery_id=webhook.pk, now=timezone.now() + timedelta(minutes=1))
    endpoint.refresh_from_db()
    webhook.refresh_from_db()
    assert endpoint.paused_at is not None and endpoint.consecutive_failures == 2
    assert webhook.status == DeliveryStatus.FAILED
    assert [m.to for m in mail.outbox] == [[owner.email]]  # the e-mail went regardless
    assert "Low battery or fuel" in mail.outbox[0].subject
    # A paused channel gets nothing new until resumed.
    Alert.objects.all().delete()
    make_low(low_vehicle, django_capture_on_commit_callbacks, percent=4.0)
    assert Alert.objects.get().events.get().deliveries.filter(channel="webhook").count() == 0
    assert Alert.objects.get().events.get().deliveries.filter(channel="email").count() == 1


def test_a_bouncing_address_does_not_stop_the_other_deliveries(
    fleet, owner, manager, low_vehicle, db, django_capture_on_commit_callbacks, monkeypatch
):
    Subscription.objects.create(fleet=fleet, user=owner, mode=Mode.IMMEDIATE)
    Subscription.objects.create(fleet=fleet, user=manager, mode=Mode.IMMEDIATE)
    real_send = delivery.send_mail

    def bouncing(subject, body, sender, to):
        if to == [owner.email]:
            raise ConnectionRefusedError("550 mailbox unavailable")
        return real_send(subject, body, sender, to)

    monkeypatch.setattr(delivery, "send_mail", bouncing)
    make_low(low_vehicle, django_capture_on_commit_callbacks)
    statuses = dict(Delivery.objects.values_list("user__email", "status"))
    assert statuses == {owner.email: DeliveryStatus.PENDING, manager.email: DeliveryStatus.SENT}
    assert [m.to for m in mail.outbox] == [[manager.email]]


def test_subscriptions_choose_kinds_and_vehicles_and_quiet_hours_hold_e_mails(
    fleet, owner, manager, viewer, db, django_capture_on_commit_callbacks
):
    first, second = make_vehicles(fleet, 2, battery_percent=60.0)
    Subscription.objects.create(fleet=fleet, user=owner, mode=Mode.IMMEDIATE, conditions=["low_tire"])
    only_second = Subscription.objects.create(fleet=fleet, user=manager, mode=Mode.IMMEDIATE)
    only_second.vehicles.set([second])
    Subscription.objects.create(
        fleet=fleet, user=viewer, mode=Mode.IMMEDIATE, quiet_from=time(0), quiet_until=time(0, 0, 1)
    )
    make_low(first, django_capture_on_commit_callbacks)
    assert mail.outbox == [] or [m.to for m in mail.outbox] == [[viewer.email]]  # quiet for one second at midnight

    sub = Subscription.objects.get(user=viewer)
    at = datetime(2026, 3, 2, 23, 30, tzinfo=fleet.zone)
    sub.quiet_from, sub.quiet_until = time(22), time(7)
    assert delivery.quiet_end(sub, at) == datetime(2026, 3, 3, 7, 0, tzinfo=fleet.zone)
    assert delivery.quiet_end(sub, datetime(2026, 3, 3, 6, 0, tzinfo=fleet.zone)) == datetime(
        2026, 3, 3, 7, 0, tzinfo=fleet.zone
    )
    noon = datetime(2026, 3, 3, 12, 0, tzinfo=fleet.zone)
    assert delivery.quiet_end(sub, noon) == noon


def test_an_e_mail_held_by_quiet_hours_goes_when_they_end(
    fleet, viewer, low_vehicle, db, django_capture_on_commit_callbacks
):
    now = timezone.now().astimezone(fleet.zone)
    start = (now - timedelta(minutes=5)).time()
    end = (now + timedelta(minutes=55)).time()
    Subscription.objects.create(fleet=fleet, user=viewer, mode=Mode.IMMEDIATE, quiet_from=start, quiet_until=end)
    make_low(low_vehicle, django_capture_on_commit_callbacks)
    held = Delivery.objects.get()
    assert mail.outbox == [] and held.status == DeliveryStatus.PENDING
    assert held.due_at > timezone.now() + timedelta(minutes=50)
    with django_capture_on_commit_callbacks(execute=True):
        delivery.deliveries_sweep(now=held.due_at)
    delivery.delivery_send(delivery_id=held.pk, now=held.due_at)
    assert [m.to for m in mail.outbox] == [[viewer.email]]


def test_the_daily_digest_comes_once_after_seven_in_the_fleets_zone(
    fleet, viewer, low_vehicle, db, django_capture_on_commit_callbacks
):
    Subscription.objects.create(fleet=fleet, user=viewer, mode=Mode.DIGEST)
    make_low(low_vehicle, django_capture_on_commit_callbacks)
    assert mail.outbox == []  # not immediately
    opened = Alert.objects.get().opened_at.astimezone(fleet.zone)
    next_morning = datetime.combine(opened.date(), time(7, 5), tzinfo=fleet.zone)
    if next_morning <= opened:  # the first 07:05 after the alert opened: the hourly beat's first digest with it
        next_morning += timedelta(days=1)
    assert delivery.digests_send(now=next_morning - timedelta(hours=1)) == 0  # 06:05 there: too early
    assert delivery.digests_send(now=next_morning) == 1
    assert delivery.digests_send(now=next_morning + timedelta(hours=1)) == 0  # once a day
    assert "1 alert since yesterday" in mail.outbox[0].subject and "Battery low" in mail.outbox[0].body


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("ftp://hooks.example.com/x", "starting with https://"),
        ("https://localhost/alerts", "Fleet itself"),
        ("http://testserver/x", "Fleet itself"),
        ("http://10.1.2.3/hook", "private or local network"),
        ("http://127.0.0.1:9/hook", "private or local network"),
        ("http://[::1]/hook", "private or local network"),
        ("http://169.254.169.254/latest/meta-data", "private or local network"),
    ],
)
def test_webhook_addresses_that_are_not_allowed_are_refused(settings, url, words):
    settings.ALERT_WEBHOOKS_ALLOW_PRIVATE = False
    with pytest.raises(channels.RefusedURL, match=words):
        channels.url_check(url)


def test_a_public_address_passes_and_private_ones_pass_only_when_allowed(settings):
    settings.ALERT_WEBHOOKS_ALLOW_PRIVATE = False
    channels.url_check("https://93.184.215.14/hook")
    settings.ALERT_WEBHOOKS_ALLOW_PRIVATE = True
    channels.url_check("http://10.1.2.3/hook")
    with pytest.raises(channels.RefusedURL, match="Fleet itself"):
        channels.url_check("http://localhost:8000/")
