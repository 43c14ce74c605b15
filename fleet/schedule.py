"""Every periodic task in one place.

Schedules live here, in code, rather than in django-celery-beat's tables: they are part of the
product, reviewed and tested like the rest, and the same on every installation. Each entry has an
``expires`` shorter than its interval, so runs missed while workers were down do not pile up.
"""

from celery.schedules import crontab

HOUR = 3600


def beat_schedule() -> dict:
    return {
        "invitations-prune": {
            "task": "fleet.tasks.invitations_prune",
            "schedule": crontab(minute=17, hour=3),
            "options": {"expires": HOUR},
        },
    }
