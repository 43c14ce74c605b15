"""Schedules edited through the pages reach the simulated vehicles (re-read through the API), for all three makes.

Everything runs for real: the Django test client, the charging views, the Smartcar client over HTTP to the
in-process simulator, the Celery task (eager in tests) and the audit log.
"""

import pytest
from django.urls import reverse

from charging import services
from tests.charging.conftest import V2_ONLY, simulated_state
from vehicles.models import Command, CommandStatus, VehicleStatus


def hx(client, url, data):
    return client.post(url, data, HTTP_HX_REQUEST="true")


@V2_ONLY
def test_a_ford_location_schedule_is_stored_on_the_vehicle(manager_client, manager, fleet, connected):
    ford = connected("FORD")
    page = manager_client.get(reverse("charging_vehicle", args=[fleet.slug, ford.pk]))
    assert page.status_code == 200
    form = page.context["ford_form"]
    location = page.context["ford_location"]
    data = {
        "location": location.key,
        "limit_percent": "90",
        "read_fingerprint": form.initial["read_fingerprint"],
        "weekday-TOTAL_FORMS": "1",
        "weekday-INITIAL_FORMS": "0",
        "weekday-0-start": "22:00",
        "weekday-0-end": "06:00",
        "weekend-TOTAL_FORMS": "0",
        "weekend-INITIAL_FORMS": "0",
    }
    response = hx(manager_client, reverse("charging_ford_schedule", args=[fleet.slug, ford.pk]), data)
    assert response.status_code == 200, response.content.decode()[:2000]
    assert "Done:" in response.content.decode()

    (saved,) = services.ford_schedule_read(vehicle=ford).locations
    assert saved.charge_limit == 0.9
    assert [window.label for window in saved.weekday] == ["22:00–06:00"]
    assert saved.weekend == ()
    command = Command.objects.get(vehicle=ford)
    assert (command.kind, command.status, command.user_email) == ("ford_schedule", CommandStatus.DONE, manager.email)
    assert "weekdays none" in command.old_value
    assert command.new_value == "90 %, weekdays 22:00–06:00, weekends none"
    vehicle_page = manager_client.get(reverse("vehicle_detail", args=[fleet.slug, ford.pk])).content.decode()
    assert "Set charge schedule (location)" in vehicle_page  # the vehicle's command log names the change


@V2_ONLY
def test_adding_a_ford_window_offers_a_free_slot_and_shows_no_error(manager_client, fleet, connected):
    ford = connected("FORD")
    page = manager_client.get(reverse("charging_vehicle", args=[fleet.slug, ford.pk]))
    url = reverse("charging_ford_schedule", args=[fleet.slug, ford.pk])
    data = {
        "location": page.context["ford_location"].key,
        "limit_percent": "40",  # not yet valid: adding a window does not judge it
        "read_fingerprint": page.context["ford_form"].initial["read_fingerprint"],
        "weekday-TOTAL_FORMS": "1",
        "weekday-INITIAL_FORMS": "1",
        "weekday-0-start": "21:00",
        "weekday-0-end": "05:00",
        "weekend-TOTAL_FORMS": "0",
        "weekend-INITIAL_FORMS": "0",
        "add_weekday": "1",
    }
    response = hx(manager_client, url, data)
    html = response.content.decode()
    assert response.status_code == 200
    assert "errorlist" not in html and "Overlapping" not in html
    added = response.context["weekday_formset"].initial[1]
    assert (added["start"], added["end"]) == ("05:00", "13:00")  # the longest free run after 21:00–05:00
    assert 'name="limit_percent" value="40"' in html
    # The grown list saves as it is offered (once the limit is valid), with nothing overlapping.
    data.pop("add_weekday")
    data.update(
        limit_percent="80", **{"weekday-TOTAL_FORMS": "2", "weekday-1-start": "05:00", "weekday-1-end": "13:00"}
    )
    assert "Done:" in hx(manager_client, url, data).content.decode()
    (saved,) = services.ford_schedule_read(vehicle=ford).locations
    assert [window.label for window in saved.weekday] == ["21:00–05:00", "05:00–13:00"]
    assert not Command.objects.exclude(status=CommandStatus.DONE).exists()


@V2_ONLY
def test_a_nissan_schedule_is_converted_to_utc_and_back(manager_client, fleet, connected):
    # India keeps UTC+05:30 all year: a window starting after local midnight starts the day before in UTC.
    fleet.time_zone = "Asia/Kolkata"
    fleet.save()
    nissan = connected("NISSAN")
    page = manager_client.get(reverse("charging_vehicle", args=[fleet.slug, nissan.pk]))
    fingerprint = page.context["nissan_form"].initial["read_fingerprint"]
    data = {
        "read_fingerprint": fingerprint,
        "nissan-TOTAL_FORMS": "1",
        "nissan-INITIAL_FORMS": "0",
        "nissan-0-start": "00:30",
        "nissan-0-end": "05:00",
        "nissan-0-days": ["MONDAY", "SATURDAY"],
    }
    response = hx(manager_client, reverse("charging_nissan_schedule", args=[fleet.slug, nissan.pk]), data)
    assert "Done:" in response.content.decode(), response.content.decode()[:2000]

    (stored,) = services.nissan_schedule_read(vehicle=nissan)
    assert stored.to_wire() == {"start": "19:00", "end": "23:30", "days": ["FRIDAY", "SUNDAY"]}
    assert simulated_state(nissan)["nissan_schedules"][0]["days"] == ["FRIDAY", "SUNDAY"]
    page = manager_client.get(reverse("charging_vehicle", args=[fleet.slug, nissan.pk]))
    shown = page.context["nissan_formset"].initial
    assert shown == [{"start": "00:30", "end": "05:00", "days": ["MONDAY", "SATURDAY"]}]


@V2_ONLY
def test_a_tesla_schedule_switches_type_with_only_one_enabled(manager_client, fleet, connected):
    tesla = connected("TESLA")
    url = reverse("charging_tesla_schedule", args=[fleet.slug, tesla.pk])
    page = manager_client.get(reverse("charging_vehicle", args=[fleet.slug, tesla.pk]))
    fingerprint = page.context["tesla_form"].initial["read_fingerprint"]

    first = hx(manager_client, url, {"mode": "START_TIME", "start_time": "23:30", "read_fingerprint": fingerprint})
    assert "Done:" in first.content.decode()
    assert services.tesla_schedule_read(vehicle=tesla).mode == "START_TIME"
    # Saving again from the form the answer re-rendered: our own change is not taken for someone else's.
    again = first.context["tesla_form"].data.copy()
    again.update({"mode": "DEPARTURE_TIME", "departure_time": "07:15"})
    switched = hx(manager_client, url, again)
    assert "changed on the vehicle" not in switched.content.decode()
    assert "Done:" in switched.content.decode()
    schedule = services.tesla_schedule_read(vehicle=tesla)
    assert (schedule.start_enabled, schedule.departure_enabled) == (False, True)
    assert schedule.departure_time == 7 * 60 + 15
    assert list(Command.objects.filter(vehicle=tesla).values_list("new_value", flat=True)) == [
        "departure at 07:15",
        "start at 23:30",
    ]
    audit = manager_client.get(reverse("charging_vehicle", args=[fleet.slug, tesla.pk])).content.decode()
    assert "<td>Set charge schedule</td>" in audit
    assert "start at 23:30" in audit


@V2_ONLY
def test_turning_a_tesla_schedule_off_leaves_its_time_out(manager_client, fleet, connected):
    # tesla__set-charge-schedule.md gives "time" as HH:mm: a disable sends none (the simulator refuses a null).
    tesla = connected("TESLA")
    url = reverse("charging_tesla_schedule", args=[fleet.slug, tesla.pk])
    page = manager_client.get(reverse("charging_vehicle", args=[fleet.slug, tesla.pk]))
    data = {
        "mode": "START_TIME",
        "start_time": "23:30",
        "read_fingerprint": page.context["tesla_form"].initial["read_fingerprint"],
    }
    first = hx(manager_client, url, data)
    assert "Done:" in first.content.decode()
    off = first.context["tesla_form"].data.copy()
    off.update({"mode": "OFF", "start_time": ""})
    response = hx(manager_client, url, off)
    assert "Done:" in response.content.decode(), response.content.decode()[:2000]
    command = Command.objects.filter(vehicle=tesla).first()
    assert command.params["sent"]["requests"] == [{"type": "START_TIME", "enable": False}]
    assert simulated_state(tesla)["tesla_schedule"]["startTime"] == {"enabled": False, "time": "23:30"}


@V2_ONLY
def test_a_schedule_changed_on_the_vehicle_since_the_form_opened_is_not_overwritten_silently(
    manager_client, fleet, connected
):
    tesla = connected("TESLA")
    page = manager_client.get(reverse("charging_vehicle", args=[fleet.slug, tesla.pk]))
    stale = page.context["tesla_form"].initial["read_fingerprint"]
    # Someone changes the schedule in the car (here: through the API) after the manager opened the form.
    services.charging_change_run(
        vehicle=tesla,
        user=None,
        kind="tesla_schedule",
        params={"requests": [{"type": "START_TIME", "enable": True, "time": "01:00"}], "wanted": {}},
        old_value=None,
    )
    url = reverse("charging_tesla_schedule", args=[fleet.slug, tesla.pk])
    data = {"mode": "START_TIME", "start_time": "22:00", "read_fingerprint": stale}
    response = hx(manager_client, url, data)
    html = response.content.decode()
    assert "changed on the vehicle since you opened this form" in html
    assert services.tesla_schedule_read(vehicle=tesla).start_time == 60  # untouched
    # Saving again (the form now carries the fresh state and the overwrite confirmation) goes through.
    confirm = response.context["tesla_form"].data
    response = hx(manager_client, url, confirm)
    assert "Done:" in response.content.decode()
    assert services.tesla_schedule_read(vehicle=tesla).start_time == 22 * 60


@V2_ONLY
def test_an_api_error_after_submission_is_shown_with_its_resolution_and_nothing_changes(
    manager_client, fleet, connected
):
    tesla = connected("TESLA")
    from simulator.models import Vehicle as SimulatedVehicle

    # Unplugged: the amperage endpoint answers a vehicle state error.
    simulated = SimulatedVehicle.objects.get(vehicle_id=tesla.smartcar_id)
    simulated.state["ev"]["plugged"] = False
    simulated.state["ev"]["charging"] = "NOT_CHARGING"
    simulated.save()
    response = hx(manager_client, reverse("charging_amperage", args=[fleet.slug, tesla.pk]), {"amperage": 16})
    html = response.content.decode()
    assert "Not changed:" in html, html[:2000]
    command = Command.objects.get(vehicle=tesla)
    assert command.status == CommandStatus.ERROR
    assert command.error_message
    assert simulated_state(tesla)["ev"]["amps_requested"] is None


@V2_ONLY
def test_unknown_location_coordinates_are_refused_before_the_put(manager_client, fleet, connected):
    ford = connected("FORD")
    data = {
        "location": "1.0,2.0",
        "limit_percent": "80",
        "weekday-TOTAL_FORMS": "0",
        "weekday-INITIAL_FORMS": "0",
        "weekend-TOTAL_FORMS": "0",
        "weekend-INITIAL_FORMS": "0",
    }
    response = hx(manager_client, reverse("charging_ford_schedule", args=[fleet.slug, ford.pk]), data)
    assert response.status_code == 422
    assert "no saved charging location at these coordinates" in response.content.decode()
    assert not Command.objects.exists()


def test_charge_limit_goes_through_the_vehicle_commands_audit(manager_client, fleet, connected):
    tesla = connected("TESLA")
    VehicleStatus.objects.create(vehicle=tesla, battery_percent=55, charge_limit_percent=80)
    response = hx(manager_client, reverse("charging_limit", args=[fleet.slug, tesla.pk]), {"limit_percent": 70})
    assert "Done:" in response.content.decode(), response.content.decode()[:1500]
    assert simulated_state(tesla)["ev"]["limit"] == 0.7
    command = Command.objects.get(vehicle=tesla)
    assert (command.kind, command.old_value, command.new_value) == ("charge_limit", "80 %", "70 %")


@V2_ONLY
def test_the_amperage_recorded_is_the_one_the_api_reports_it_set(manager_client, fleet, connected):
    # Reference: smartcar-api/tesla__set-charge-ammeter.md — above the charger's maximum the maximum is set, and the
    # answer's message names the amperage actually set.
    tesla = connected("TESLA")
    from simulator.models import Vehicle as SimulatedVehicle

    simulated = SimulatedVehicle.objects.get(vehicle_id=tesla.smartcar_id)
    simulated.state["ev"].update(plugged=True)
    simulated.state["ev"]["charger"]["max_amps"] = 16
    simulated.save()
    response = hx(manager_client, reverse("charging_amperage", args=[fleet.slug, tesla.pk]), {"amperage": 40})
    command = Command.objects.get(vehicle=tesla)
    assert (command.kind, command.new_value) == ("charge_amperage", "16 A")
    assert (command.readback, command.observed_value) == ("confirmed", "16 A")
    assert "16 A is set on the vehicle — confirmed" in response.content.decode()


def test_after_a_change_the_panels_it_concerns_show_the_vehicle_s_new_values(manager_client, fleet, connected):
    tesla = connected("TESLA")
    VehicleStatus.objects.create(vehicle=tesla, battery_percent=55, charge_limit_percent=80)
    response = hx(manager_client, reverse("charging_limit", args=[fleet.slug, tesla.pk]), {"limit_percent": 70})
    html = response.content.decode()
    assert "limit 70 %" in html and "limit 80 %" not in html  # not "limit 80" beside "Done: 70 %"
    command = Command.objects.get(vehicle=tesla)
    url = reverse("charging_change_status", args=[fleet.slug, tesla.pk, command.pk])
    polled = manager_client.get(url, HTTP_HX_REQUEST="true")
    assert polled.status_code == 286
    refreshed = polled.content.decode()
    assert '<p class="muted" id="charge-status" hx-swap-oob="true">' in refreshed and "limit 70 %" in refreshed


@V2_ONLY
def test_after_a_nissan_schedule_save_the_schedule_on_the_vehicle_is_shown_as_it_is_now(
    manager_client, fleet, connected
):
    nissan = connected("NISSAN")
    page = manager_client.get(reverse("charging_vehicle", args=[fleet.slug, nissan.pk]))
    data = {
        "read_fingerprint": page.context["nissan_form"].initial["read_fingerprint"],
        "nissan-TOTAL_FORMS": "1",
        "nissan-INITIAL_FORMS": "0",
        "nissan-0-start": "01:00",
        "nissan-0-end": "05:00",
        "nissan-0-days": ["MONDAY"],
    }
    response = hx(manager_client, reverse("charging_nissan_schedule", args=[fleet.slug, nissan.pk]), data)
    html = response.content.decode()
    # The fleet is in Berlin (UTC+1 in winter, +2 in summer): the vehicle holds the window in UTC.
    (stored,) = services.nissan_schedule_read(vehicle=nissan)
    assert f"On the vehicle (UTC): {stored.label}" in html
    command = Command.objects.get(vehicle=nissan)
    assert command.readback == "confirmed"
    url = reverse("charging_change_status", args=[fleet.slug, nissan.pk, command.pk])
    polled = manager_client.get(url, HTTP_HX_REQUEST="true").content.decode()
    assert 'id="nissan-on-vehicle" hx-swap-oob="true">On the vehicle (UTC): ' + stored.label in polled


@pytest.mark.parametrize("api_version", ["3"], indirect=True)
def test_on_api_v3_a_schedule_v3_lacks_is_refused_in_one_line_before_any_call(manager_client, fleet, connected):
    from simulator.models import BillingCounter

    ford = connected("FORD")
    page = manager_client.get(reverse("charging_vehicle", args=[fleet.slug, ford.pk])).content.decode()
    assert "Charge schedule by location is not offered by Smartcar API v3, which Fleet uses." in page
    data = {"location": "x", "limit_percent": "90", "weekday-TOTAL_FORMS": "0", "weekday-INITIAL_FORMS": "0",
            "weekend-TOTAL_FORMS": "0", "weekend-INITIAL_FORMS": "0"}  # fmt: skip
    response = hx(manager_client, reverse("charging_ford_schedule", args=[fleet.slug, ford.pk]), data)
    assert "not offered by Smartcar API v3" in response.content.decode()
    assert not Command.objects.exists()
    assert not BillingCounter.objects.exists()
