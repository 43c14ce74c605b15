"""Every periodic task in one place.

Schedules live here, in code, rather than in django-celery-beat's tables: they are part of the
product, reviewed and tested like the rest, and the same on every installation. Each entry has an
``expires`` shorter than its interval, so runs missed while workers were down do not pile up.
"""

from celery.schedules import crontab
from django.conf import settings

HOUR = 3600


def beat_schedule() -> dict:
    schedule = {
        "invitations-prune": {
            "task": "fleet.tasks.invitations_prune",
            "schedule": crontab(minute=17, hour=3),
            "options": {"expires": HOUR},
        },
        # Vehicles sync (vehicles/tasks.py): lease due vehicles every few seconds; due times live in the database.
        "vehicles-sync-dispatch": {
            "task": "vehicles.tasks.sync_dispatch",
            "schedule": float(settings.SYNC_DISPATCH_SECONDS),
            "options": {"expires": max(1, settings.SYNC_DISPATCH_SECONDS - 1)},
        },
        # Token vault (connect/tasks.py): refresh tokens nearing their 60-day end are renewed before they lapse.
        "connect-accounts-refresh-ending": {
            "task": "connect.tasks.accounts_refresh_ending",
            "schedule": crontab(minute=29, hour="*/6"),
            "options": {"expires": HOUR},
        },
        # Charging sessions derived from synced readings (charging/history.py), one task per fleet.
        "charging-sessions-derive": {
            "task": "charging.tasks.sessions_derive_all",
            "schedule": crontab(minute="*/15"),
            "options": {"expires": 600},
        },
        # Webhooks (connect/subscriptions.py): vehicles of fleets that subscribe new vehicles automatically.
        "connect-vehicles-subscribe-pending": {
            "task": "connect.tasks.vehicles_subscribe_pending",
            "schedule": 30.0,
            "options": {"expires": 25},
        },
        # The outbox (fleet/outbox.py): commands and webhook events stored while the broker was down go to workers.
        "outbox-sweep": {
            "task": "fleet.tasks.outbox_sweep",
            "schedule": 10.0,
            "options": {"expires": 9},
        },
        # Commands (vehicles/commands.py) stuck past the task time limit: sent again once, or read back.
        "vehicles-commands-settle": {
            "task": "vehicles.tasks.commands_settle",
            "schedule": 60.0,
            "options": {"expires": 50},
        },
        # Alerts (alerts/evaluation.py): delays that passed and conditions that start with time (stale data).
        "alerts-due-check": {
            "task": "alerts.tasks.due_check",
            "schedule": 60.0,
            "options": {"expires": 50},
        },
        "alerts-deliveries-sweep": {
            "task": "alerts.tasks.deliveries_sweep",
            "schedule": 15.0,
            "options": {"expires": 14},
        },
        "alerts-reports-send": {
            "task": "alerts.tasks.reports_send",
            "schedule": crontab(minute=4),
            "options": {"expires": 50 * 60},
        },
        "alerts-digests-send": {
            "task": "alerts.tasks.digests_send",
            "schedule": crontab(minute=2),
            "options": {"expires": 50 * 60},
        },
        # History (vehicles/history.py): months of partitions kept ahead, whole months dropped after the retention,
        # rollups of the hours and days just completed.
        "vehicles-history-partitions-ensure": {
            "task": "vehicles.tasks.history_partitions_ensure",
            "schedule": crontab(minute=37, hour=2),
            "options": {"expires": HOUR},
        },
        "vehicles-history-prune": {
            "task": "vehicles.tasks.history_prune",
            "schedule": crontab(minute=43, hour=3),
            "options": {"expires": HOUR},
        },
        "vehicles-history-rollup": {
            "task": "vehicles.tasks.history_rollup",
            "schedule": crontab(minute="7,37"),
            "options": {"expires": 25 * 60},
        },
    }
    if settings.SIMULATED:
        # Webhook retries wait 25, 50 and 100 s; a 5 s tick keeps them close to those times.
        schedule["simulator-webhook-deliveries-retry"] = {
            "task": "simulator.tasks_webhooks.webhook_deliveries_retry",
            "schedule": 5.0,
            "options": {"expires": 4},
        }
        # Simulated vehicles drive and charge between requests too, so charging webhooks fire unasked.
        schedule["simulator-vehicles-advance"] = {
            "task": "simulator.tasks.vehicles_advance",
            "schedule": 30.0,
            "options": {"expires": 25},
        }
    return schedule
