"""The dealer's service records read from either API version's answer into one shape (vehicles/service_history.py)."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from vehicles.service_history import v2_records, v3_history


def signal(code, body, status="SUCCESS"):
    return {"type": "signal", "attributes": {"code": code, "body": body, "status": {"value": status}}, "meta": {}}


RECORD = {
    "id": "SVC-2024-001",
    "cost": {"amount": 150, "currency": "USD"},
    "time": "2024-01-15T14:30:00Z",
    "tasks": [{"id": "TSK-001", "description": "Oil Change"}, {"id": "TSK-002"}],
    "details": [{"id": "DTL-001", "description": "5W-30 Synthetic Oil Used"}],
    "odometer": 50000,
}


def test_v3_reads_the_documented_example():
    history = v3_history([signal("service-records", {"values": [RECORD, {"time": "no date"}, "junk"]})])
    assert history.shared is True
    [record] = history.records
    assert record.at == datetime(2024, 1, 15, 14, 30, tzinfo=UTC)
    assert (record.tasks, record.details) == (("Oil Change",), ("5W-30 Synthetic Oil Used",))
    assert (record.odometer_km, record.cost, record.currency) == (50000, Decimal("150"), "USD")


@pytest.mark.parametrize(
    ("odometer", "odometer_signal", "km"),
    [
        (50000, None, 50000),  # no unit anywhere: the metric the client asks for
        (10000, {"unit": "miles", "value": 12000}, 16093.44),  # the unit the vehicle's odometer signal carries
        ({"unit": "miles", "value": 10000}, {"unit": "kilometers", "value": 1}, 16093.44),  # a unit of its own
        ({"unit": "furlongs", "value": 10000}, None, None),  # an unknown unit is no reading
    ],
)
def test_v3_takes_the_odometer_in_the_unit_it_can_know(odometer, odometer_signal, km):
    items = [signal("service-records", {"values": [{**RECORD, "odometer": odometer}]})]
    if odometer_signal:
        items.append(signal("odometer-traveleddistance", odometer_signal))
    assert v3_history(items).records[0].odometer_km == (pytest.approx(km) if km else None)


def test_v3_without_the_signal_or_with_its_error_shares_nothing():
    assert v3_history([signal("odometer-traveleddistance", {"unit": "km", "value": 1})]).shared is False
    assert v3_history([signal("service-records", None, status="ERROR")]).shared is False
    assert v3_history({"not": "a list"}).shared is False


def test_v2_reads_the_endpoints_body():
    body = [
        {
            "serviceDate": "2026-03-02T23:30:00.000Z", "odometerDistance": 10000.0,
            "serviceTasks": [{"taskId": "1", "taskDescription": "Oil and filter change"}],
            "serviceDetails": [{"type": "Dealer", "value": "Springfield"}],
            "serviceCost": {"totalCost": 120.5, "currency": "USD"},
        },
        {"serviceDate": None},
    ]  # fmt: skip
    [record] = v2_records(body)
    assert (record.tasks, record.details) == (("Oil and filter change",), ("Springfield",))
    assert (record.cost, record.currency, record.odometer_km) == (Decimal("120.5"), "USD", 10000.0)
