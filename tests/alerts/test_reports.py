"""The weekly report: to members who opted in, once, after Monday 07:00 in the fleet's time zone, with the open
alerts, vehicles to reconnect, trouble codes, energy charged and data freshness."""

from datetime import datetime, time, timedelta

import pytest
from django.core import mail
from django.utils import timezone

from alerts.evaluation import vehicles_evaluate
from alerts.models import Subscription
from alerts.reports import reports_send
from charging.models import ChargingSession
from connect.models import AccountStatus
from tests.dashboard.factories import make_account, make_vehicles

pytestmark = pytest.mark.django_db


def test_the_weekly_report_goes_once_to_those_who_asked(fleet, owner, viewer):
    Subscription.objects.create(fleet=fleet, user=viewer, weekly_report=True, mode="off")
    Subscription.objects.create(fleet=fleet, user=owner, weekly_report=False)
    low = make_vehicles(fleet, 1, battery_percent=6.0)[0]
    lost = make_vehicles(fleet, 1, start=5, account=make_account(fleet, status=AccountStatus.NEEDS_RECONNECT))[0]
    vehicles_evaluate(vehicle_ids=[low.pk, lost.pk])
    today = timezone.now().astimezone(fleet.zone).date()
    monday = today + timedelta(days=(7 - today.weekday()) % 7 or 7)
    before = datetime.combine(monday, time(6, 50), tzinfo=fleet.zone)
    after = datetime.combine(monday, time(7, 10), tzinfo=fleet.zone)
    ChargingSession.objects.create(vehicle=low, source="sync", started_at=after - timedelta(days=2), energy_kwh=31.4)
    ChargingSession.objects.create(vehicle=low, source="sync", started_at=after - timedelta(days=9), energy_kwh=50)
    assert reports_send(now=before) == 0
    assert reports_send(now=after) == 1
    assert reports_send(now=after + timedelta(hours=3)) == 0  # once a week
    message = mail.outbox[0]
    assert message.to == [viewer.email]
    assert "Open alerts: 2" in message.body and "Battery low (6 %)" in message.body
    assert "Vehicles that need reconnecting: 1" in message.body
    assert "Energy charged in the last 7 days: 31.4 kWh" in message.body
    assert "2 connected vehicles" in message.body
