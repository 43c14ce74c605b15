"""The weekly report of a fleet, e-mailed on Monday morning (fleet's time zone) to the members who opted in.

What it says: the alerts open now, the vehicles that need reconnecting, active trouble codes, the energy charged in
the last seven days, and how fresh the fleet's data is — each counted by the same conditions as the dashboard.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.core.mail import send_mail
from django.db.models import Sum
from django.template.loader import render_to_string
from django.utils import timezone

from alerts import catalog
from alerts.models import Alert, AlertState, Subscription
from charging.models import ChargingSession
from fleet import formatting
from fleet.models import Fleet
from vehicles import conditions
from vehicles.conditions import Limits
from vehicles.models import DiagnosticTroubleCode, Vehicle

logger = logging.getLogger(__name__)

REPORT_WEEKDAY = 0  # Monday
REPORT_HOUR = 7


@dataclass
class Report:
    fleet: Fleet
    open_alerts: list
    reconnect: list
    trouble_codes: int
    energy_kwh: str
    stale: int
    never: int
    vehicles: int


def report_build(*, fleet: Fleet, now: datetime) -> Report:
    limits = Limits.for_fleet(fleet, now)
    connected = Vehicle.objects.filter(fleet=fleet)
    open_alerts = list(
        Alert.objects.filter(fleet=fleet, state__in=[AlertState.OPEN, AlertState.ACKNOWLEDGED])
        .select_related("vehicle")
        .order_by("opened_at")[:50]
    )
    for alert in open_alerts:
        alert.label = catalog.label(alert.condition)
    energy = ChargingSession.objects.filter(vehicle__fleet=fleet, started_at__gte=now - timedelta(days=7)).aggregate(
        total=Sum("energy_kwh")
    )["total"]
    return Report(
        fleet=fleet,
        open_alerts=open_alerts,
        reconnect=list(connected.filter(conditions.NEEDS_RECONNECT.q(limits))[:50]),
        trouble_codes=DiagnosticTroubleCode.objects.filter(vehicle__fleet=fleet, cleared_at__isnull=True).count(),
        energy_kwh=formatting.quantity(energy or 0, "energy"),
        stale=connected.filter(conditions.STALE.q(limits)).count(),
        never=connected.filter(conditions.NEVER_SYNCED.q(limits)).count(),
        vehicles=connected.filter(disconnected_at__isnull=True).count(),
    )


def reports_send(*, now: datetime | None = None) -> int:
    """Hourly: each opted-in member gets this week's report once, after Monday 07:00 in the fleet's time zone."""
    now = now or timezone.now()
    sent = 0
    built: dict[int, Report] = {}
    for subscription in Subscription.objects.filter(weekly_report=True).select_related("fleet", "user"):
        zone = subscription.fleet.zone
        local = now.astimezone(zone)
        monday = local.date() - timedelta(days=(local.weekday() - REPORT_WEEKDAY) % 7)
        due = datetime.combine(monday, datetime.min.time(), tzinfo=zone) + timedelta(hours=REPORT_HOUR)
        if local < due or (subscription.last_report_at and subscription.last_report_at >= due):
            continue
        try:
            report = built.get(subscription.fleet_id) or report_build(fleet=subscription.fleet, now=now)
            built[subscription.fleet_id] = report
            body = render_to_string("alerts/email/weekly.txt", {"report": report, "now": now})
            send_mail(f"{report.fleet.name}: the week in Fleet", body, None, [subscription.user.email])
        except Exception:
            logger.exception("weekly report for subscription %s failed", subscription.pk)
            continue
        Subscription.objects.filter(pk=subscription.pk).update(last_report_at=now)
        sent += 1
    return sent
