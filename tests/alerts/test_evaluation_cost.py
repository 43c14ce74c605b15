"""What judging costs on the sync path: a fixed number of queries whatever the number of vehicles judged, and alerts
that open together written together — so that evaluating conditions stays a small share of a sync round's CPU
(docs/benchmarks.md, Alerts)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from alerts.evaluation import vehicles_evaluate
from alerts.models import Alert, AlertEvent, AlertState
from tests.dashboard.factories import make_account, make_vehicles

pytestmark = pytest.mark.django_db


def queries_to_judge(vehicles) -> int:
    with CaptureQueriesContext(connection) as queries:
        vehicles_evaluate(vehicle_ids=[v.pk for v in vehicles])
    return len(queries)


def test_judging_more_vehicles_takes_no_more_queries(fleet):
    account = make_account(fleet)
    few = make_vehicles(fleet, 3, account=account)
    many = make_vehicles(fleet, 30, account=account, start=10)
    assert queries_to_judge(few) == queries_to_judge(many)


def test_alerts_that_open_together_are_written_together(fleet):
    account = make_account(fleet)
    few = make_vehicles(fleet, 2, account=account, battery_percent=8.0)
    many = make_vehicles(fleet, 20, account=account, battery_percent=8.0, start=10)
    assert queries_to_judge(few) == queries_to_judge(many)
    assert Alert.objects.filter(condition="low", state=AlertState.OPEN).count() == 22
    assert AlertEvent.objects.filter(kind="opened").count() == 22
