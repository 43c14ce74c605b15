"""Limits and faults of the simulated vehicle API, and every documented error on demand."""

import json
import os
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection, connections

from simulator import faults
from simulator.errors import ERRORS, ApiError
from simulator.models import BillingCounter, FaultSettings
from tests.conftest import require_service

from .conftest import API
from .test_vehicle_api import assert_error

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(("type_", "code"), sorted(ERRORS, key=lambda key: (key[0], key[1] or "")))
def test_every_documented_error_can_be_produced_with_its_documented_body(api, sim_vehicle, type_, code):
    vehicle = sim_vehicle("TESLA")
    vehicle.state["force_error"] = f"{type_}:{code}" if code else type_
    vehicle.save()
    status = ERRORS[(type_, code)][0]
    response = api.get(f"/vehicles/{vehicle.vehicle_id}/odometer")
    body = assert_error(response, status, type_, code)
    assert set(body) >= {"type", "code", "description", "docURL", "statusCode", "requestId", "resolution"}
    assert ("detail" in body) == (type_ == "VALIDATION")


def test_an_error_can_be_forced_on_some_paths_only_alone_and_in_a_batch(api, sim_vehicle):
    vehicle = sim_vehicle("TESLA")
    vehicle.state["force_error"] = {"odometer": "RESOURCE_NOT_FOUND:PATH", "tesla/charge": "UPSTREAM:RATE_LIMIT"}
    vehicle.save()
    assert_error(api.get(f"/vehicles/{vehicle.vehicle_id}/odometer"), 404, "RESOURCE_NOT_FOUND", "PATH")
    assert api.get(f"/vehicles/{vehicle.vehicle_id}/location").status_code == 200
    response = api.post(
        f"/vehicles/{vehicle.vehicle_id}/batch",
        data=json.dumps({"requests": [{"path": "/tesla/charge"}, {"path": "/location"}]}),
        content_type="application/json",
    )
    codes = {
        item["path"]: (item["code"], item["body"].get("code")) for item in json.loads(response.content)["responses"]
    }
    assert codes == {"/tesla/charge": (502, "RATE_LIMIT"), "/location": (200, None)}


def test_an_unknown_api_version_is_resource_not_found_version(client, db):
    response = client.get("/simulator/api/v1.0/vehicles")
    body = json.loads(response.content)
    assert (response.status_code, body["type"], body["code"]) == (404, "RESOURCE_NOT_FOUND", "VERSION")


def test_an_unexpected_failure_is_a_documented_server_error_not_a_debug_page(api, sim_vehicle):
    vehicle = sim_vehicle("TESLA")
    vehicle.state = {"seed": 1}  # a state the simulator cannot read
    vehicle.save()
    assert_error(api.get(f"/vehicles/{vehicle.vehicle_id}/odometer"), 500, "SERVER", "INTERNAL")


def in_one_minute(attempt):
    """What ``attempt()`` answered, from an attempt that fell within one real minute, the window the simulator counts a
    rate limit in. An attempt that crossed into the next minute (a loaded machine may spend seconds on it, a second
    process tens of seconds) was counted in two windows: it is made again rather than judged, on vehicles of its own
    (``attempt`` makes them), whose counts and simulated state the attempt before did not touch."""
    for _ in range(3):
        minute = int(time.time() // 60)
        answers = attempt()
        if int(time.time() // 60) == minute:
            return answers
    pytest.fail("no attempt fitted in one minute")


def limited(sim_vehicle, per_minute: int):
    vehicle = sim_vehicle("TESLA")
    vehicle.requests_per_minute = per_minute
    vehicle.save()
    return vehicle


def test_a_vehicle_over_its_rate_limit_gets_429_with_retry_after(api, sim_vehicle):
    def attempt():
        url = f"/vehicles/{limited(sim_vehicle, 2).vehicle_id}/odometer"
        return [api.get(url) for _ in range(3)]

    first, second, third = in_one_minute(attempt)
    assert (first.status_code, second.status_code) == (200, 200)
    assert_error(third, 429, "RATE_LIMIT", "VEHICLE")
    assert 1 <= int(third["Retry-After"]) <= 60


def test_the_global_rate_limit_applies_per_vehicle(api, sim_vehicle, sim_faults):
    sim_faults.requests_per_minute = 1
    sim_faults.save()

    def attempt():
        first, second = sim_vehicle("TESLA"), sim_vehicle("FORD")
        return [api.get(f"/vehicles/{vehicle.vehicle_id}/odometer").status_code for vehicle in (first, second, first)]

    assert in_one_minute(attempt) == [200, 200, 429]


def test_fixed_latency_delays_the_answer(api, sim_vehicle):
    vehicle = sim_vehicle("TESLA")
    vehicle.latency_ms = 300
    vehicle.save()
    started = time.monotonic()
    assert api.get(f"/vehicles/{vehicle.vehicle_id}/odometer").status_code == 200
    assert time.monotonic() - started >= 0.3


def test_realistic_latency_spreads_like_oem_round_trips(sim_vehicle, sim_faults):
    sim_faults.realistic_latency = True
    vehicle = sim_vehicle("TESLA")
    draws = sorted(faults.latency_seconds(vehicle, sim_faults) for _ in range(2000))
    median = draws[len(draws) // 2]
    assert 6 < median < 13
    assert draws[0] >= 1.5 and draws[-1] <= 300
    assert sum(3 <= d <= 45 for d in draws) / len(draws) > 0.9


@pytest.mark.parametrize(
    ("field", "expected"),
    [("upstream_rate", {"UPSTREAM"}), ("asleep_rate", {"VEHICLE_STATE"})],
)
def test_injected_errors_at_the_chosen_rate(api, sim_vehicle, sim_faults, field, expected):
    setattr(sim_faults, field, 1.0)
    sim_faults.save()
    vehicle = sim_vehicle("TESLA")
    response = api.get(f"/vehicles/{vehicle.vehicle_id}/odometer")
    body = json.loads(response.content)
    assert body["type"] in expected
    assert response.status_code == (502 if field == "upstream_rate" else 409)
    if field == "asleep_rate":
        assert body["code"] in ("ASLEEP", "UNREACHABLE")


def test_a_vehicles_fault_rate_overrides_the_global_rates(api, sim_vehicle):
    vehicle = sim_vehicle("TESLA")
    vehicle.fault_rate = 0.0
    vehicle.save()
    FaultSettings.objects.update_or_create(pk=1, defaults={"upstream_rate": 1.0})
    assert api.get(f"/vehicles/{vehicle.vehicle_id}/odometer").status_code == 200


def test_an_injected_timeout_hangs_then_reports_no_response(api, sim_vehicle, sim_faults, settings):
    settings.SIMULATOR_TIMEOUT_SECONDS = 0.2
    sim_faults.timeout_rate = 1.0
    sim_faults.save()
    vehicle = sim_vehicle("TESLA")
    started = time.monotonic()
    assert_error(api.get(f"/vehicles/{vehicle.vehicle_id}/odometer"), 502, "UPSTREAM", "NO_RESPONSE")
    assert time.monotonic() - started >= 0.2


def test_an_injected_malformed_body_is_not_json(api, sim_vehicle, sim_faults):
    sim_faults.malformed_rate = 1.0
    sim_faults.save()
    vehicle = sim_vehicle("TESLA")
    response = api.get(f"/vehicles/{vehicle.vehicle_id}/odometer")
    assert response.status_code == 200
    with pytest.raises(ValueError):
        json.loads(response.content)


def test_hyundai_and_kia_answer_about_twenty_requests_a_day(api, sim_vehicle):
    vehicle = sim_vehicle("HYUNDAI", model="IONIQ 5")
    url = f"/vehicles/{vehicle.vehicle_id}/odometer"
    for _ in range(faults.DAILY_QUOTA):
        assert api.get(url).status_code == 200
    assert_error(api.get(url), 502, "UPSTREAM", "RATE_LIMIT")
    batch = api.post(f"/vehicles/{vehicle.vehicle_id}/batch", {"requests": [{"path": "/odometer"}]})
    assert json.loads(batch.content)["responses"][0]["body"]["code"] == "RATE_LIMIT"
    assert BillingCounter.objects.get(vehicle=vehicle).calls == faults.DAILY_QUOTA
    other = sim_vehicle("KIA", model="EV6")
    assert api.get(f"/vehicles/{other.vehicle_id}/odometer").status_code == 200


def test_a_batch_past_the_daily_quota_is_answered_partly(api, sim_vehicle):
    vehicle = sim_vehicle("KIA", model="EV6")
    BillingCounter.objects.create(vehicle=vehicle, day=faults.billing_day(), calls=faults.DAILY_QUOTA - 2)
    paths = ["/odometer", "/battery", "/location", "/vin"]
    answer = json.loads(
        api.post(f"/vehicles/{vehicle.vehicle_id}/batch", {"requests": [{"path": p} for p in paths]}).content
    )
    assert [item["code"] for item in answer["responses"]] == [200, 200, 502, 502]


def test_a_gm_vehicle_in_deep_sleep_answers_asleep_until_driven(api, sim_vehicle, sim_clock):
    vehicle = sim_vehicle("CHEVROLET", model="Silverado", routine="parked")
    vehicle.state["trip_chance"] = 0
    vehicle.save()
    url = f"/vehicles/{vehicle.vehicle_id}/odometer"
    sim_clock.advance(timedelta(days=2))
    assert api.get(url).status_code == 200
    sim_clock.advance(timedelta(days=4))
    assert_error(api.get(url), 409, "VEHICLE_STATE", "ASLEEP")
    assert_error(api.post(f"/vehicles/{vehicle.vehicle_id}/security", {"action": "LOCK"}), 409, "VEHICLE_STATE",
                 "ASLEEP")  # fmt: skip


def test_a_flat_12v_battery_makes_the_vehicle_unreachable(api, sim_vehicle):
    vehicle = sim_vehicle("FORD", model="Explorer")
    vehicle.state["aux_v"] = 11.5
    vehicle.save()
    assert_error(api.get(f"/vehicles/{vehicle.vehicle_id}/odometer"), 409, "VEHICLE_STATE", "UNREACHABLE")


def test_billed_calls_are_readable_from_code(api, sim_vehicle):
    first, second = sim_vehicle("TESLA"), sim_vehicle("FORD")
    api.get(f"/vehicles/{first.vehicle_id}/odometer")
    api.post(f"/vehicles/{second.vehicle_id}/batch", {"requests": [{"path": "/odometer"}, {"path": "/location"}]})
    assert faults.billed_calls(vehicle=first) == 1
    assert faults.billed_calls(vehicle=second, day=faults.billing_day()) == 2
    assert faults.billed_calls() == 3


def test_a_batch_member_can_time_out_and_the_batch_waits_for_it(api, sim_vehicle, sim_faults, settings):
    settings.SIMULATOR_TIMEOUT_SECONDS = 0.2
    sim_faults.timeout_rate = 1.0
    sim_faults.save()
    vehicle = sim_vehicle("TESLA")
    started = time.monotonic()
    response = api.post(f"/vehicles/{vehicle.vehicle_id}/batch", {"requests": [{"path": "/odometer"}]})
    assert time.monotonic() - started >= 0.2
    assert response.status_code == 200
    (member,) = json.loads(response.content)["responses"]
    assert (member["code"], member["body"]["type"], member["body"]["code"]) == (502, "UPSTREAM", "NO_RESPONSE")


def test_a_batch_member_can_carry_a_malformed_body(api, sim_vehicle, sim_faults):
    sim_faults.malformed_rate = 1.0
    sim_faults.save()
    vehicle = sim_vehicle("TESLA")
    paths = ["/odometer", "/battery"]
    response = api.post(f"/vehicles/{vehicle.vehicle_id}/batch", {"requests": [{"path": p} for p in paths]})
    members = json.loads(response.content)["responses"]  # the batch answer itself is JSON
    assert [(m["path"], m["code"]) for m in members] == [(p, 200) for p in paths]
    assert all(not isinstance(m["body"], dict) for m in members)


def test_two_requests_at_once_for_the_last_call_of_a_minute_get_one_answer_and_one_refusal(
    transactional_db, sim_vehicle, sim_faults
):
    """Two server processes count a vehicle's last allowed call at the same moment: the one counted first is
    answered. Each pauses after its count is written while the other counts (the order two processes may take)."""
    require_service(connection.vendor == "postgresql", "PostgreSQL (two connections counting at once)")

    def at_once() -> list[str]:
        vehicle = limited(sim_vehicle, 2)

        def answer() -> str:
            try:
                faults.check_rate_limit(vehicle, sim_faults)
            except ApiError:
                return "refused"
            return "answered"

        assert answer() == "answered"  # the minute's first call
        counted, go_on = threading.Event(), threading.Event()
        outcomes: list[str] = []

        def paused_after_counting(execute, sql, params, many, context):
            result = execute(sql, params, many, context)
            if "simulator_requestcounter" in sql and sql.lstrip().startswith(("UPDATE", "INSERT")):
                counted.set()
                go_on.wait(30)
            return result

        def first_process():
            try:
                with connection.execute_wrapper(paused_after_counting):
                    outcomes.append(answer())
            finally:
                counted.set()
                connections.close_all()

        first = threading.Thread(target=first_process)
        first.start()
        try:
            assert counted.wait(30)
            second = answer()
        finally:
            go_on.set()
            first.join(30)
        return [*outcomes, second]

    assert in_one_minute(at_once) == ["answered", "refused"]


def test_the_rate_limit_is_counted_across_server_processes(transactional_db, api, sim_vehicle, sim_token):
    """A second server process answering the same vehicle counts against the same limit (not one limit each)."""
    require_service(connection.vendor == "postgresql", "PostgreSQL (shared by a second process)")

    def attempt():
        url = f"/vehicles/{limited(sim_vehicle, 2).vehicle_id}/odometer"
        return api.get(url), _get_in_another_process(API + url, sim_token.access_token), api.get(url)

    first, other, third = in_one_minute(attempt)
    assert first.status_code == 200
    # Counted there before anything else (its simulated clock is not pinned: the vehicle may answer otherwise).
    assert other != 429
    assert_error(third, 429, "RATE_LIMIT", "VEHICLE")


def _get_in_another_process(path: str, token: str) -> int:
    database = connection.settings_dict
    credentials = quote(database["USER"] or "", safe="")
    if database["PASSWORD"]:
        credentials += ":" + quote(database["PASSWORD"], safe="")
    host, port = database["HOST"] or "127.0.0.1", database["PORT"] or 5432
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "fleet.settings",
        "DATABASE_URL": f"postgres://{credentials}@{host}:{port}/{database['NAME']}",
        "SECRET_KEY": settings.SECRET_KEY,
        "TOKEN_ENCRYPTION_KEYS": ",".join(settings.TOKEN_ENCRYPTION_KEYS),
        "SMARTCAR_MODE": "simulated",
        "SMARTCAR_REDIRECT_URI": settings.SMARTCAR_REDIRECT_URI,
        "ALLOWED_HOSTS": "testserver",
        "SECURE_SSL_REDIRECT": "false",
    }
    script = (
        "import django; django.setup(); from django.test import Client; "
        f"print(Client().get({path!r}, HTTP_AUTHORIZATION='Bearer {token}').status_code)"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], env=environment, capture_output=True, text=True, timeout=60, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return int(done.stdout.strip().splitlines()[-1])
