"""``make run``'s demo shows alerts within minutes: the demo's simulated account starts with a low battery, a trouble
code and a vehicle left unlocked with its trunk open, which the first sync round turns into alerts."""

import io
from datetime import timedelta

from django.core.management import call_command
from django.utils import timezone

from alerts.evaluation import due_check
from alerts.models import Alert, AlertState
from tests.alerts.conftest import sync_all


def test_the_demo_opens_alerts_on_its_first_sync_and_the_unlocked_one_ten_minutes_later(transactional_db, settings):
    settings.CSRF_COOKIE_SECURE = False  # as under `make run`: plain http
    call_command("demo", stdout=io.StringIO())
    sync_all()
    opened = set(Alert.objects.filter(state=AlertState.OPEN).values_list("condition", flat=True))
    assert {"low", "trouble_codes"} <= opened
    waiting = set(Alert.objects.filter(state=AlertState.PENDING).values_list("condition", flat=True))
    assert waiting == {"unlocked_while_parked", "open_while_parked"}
    due_check(now=timezone.now() + timedelta(minutes=11))
    assert {"unlocked_while_parked", "open_while_parked"} <= set(
        Alert.objects.filter(state=AlertState.OPEN).values_list("condition", flat=True)
    )
