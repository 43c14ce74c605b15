"""Every input the API would refuse is refused by the form, on the field it concerns, with a clear message."""

from types import SimpleNamespace

from charging import forms
from charging.schedules import FordLocation, HourWindow

DEPOT = FordLocation(latitude=48.8566, longitude=2.3522, charge_limit=0.8, weekday=(HourWindow(22, 6),))


def ford_data(*, location=DEPOT.key, limit="80", weekday=(), weekend=(), deleted=()):
    data = {"location": location, "limit_percent": limit}
    for prefix, windows in (("weekday", weekday), ("weekend", weekend)):
        data[f"{prefix}-TOTAL_FORMS"] = str(len(windows))
        data[f"{prefix}-INITIAL_FORMS"] = "0"
        for index, (start, end) in enumerate(windows):
            data[f"{prefix}-{index}-start"] = start
            data[f"{prefix}-{index}-end"] = end
            if (prefix, index) in deleted:
                data[f"{prefix}-{index}-DELETE"] = "on"
    return data


def bound_ford(**kwargs):
    return forms.ford_forms(data=ford_data(**kwargs), location=None, locations=[DEPOT])


def all_valid(*parts):
    return all([part.is_valid() for part in parts])  # noqa: C419 — validate every part, no short-circuit


def test_a_ford_schedule_crossing_midnight_becomes_the_put_body():
    form, weekday, weekend = bound_ford(weekday=[("22:00", "06:00")], weekend=[("09:00", "17:00"), ("18:00", "20:00")])
    assert all_valid(form, weekday, weekend)
    location = forms.ford_location_from_forms(form, weekday, weekend)
    assert location.to_wire()["chargingLocation"] == {
        "chargeLimit": 0.8,
        "chargingWindows": {
            "weekday": [{"start": "22:00", "end": "06:00"}],
            "weekend": [{"start": "09:00", "end": "17:00"}, {"start": "18:00", "end": "20:00"}],
        },
    }


def test_an_empty_ford_schedule_is_allowed_and_clears_the_windows():
    form, weekday, weekend = bound_ford()
    assert all_valid(form, weekday, weekend)
    assert forms.ford_location_from_forms(form, weekday, weekend).has_schedule is False


def test_a_removed_ford_window_is_not_sent():
    form, weekday, weekend = bound_ford(weekday=[("22:00", "06:00"), ("01:00", "03:00")], deleted={("weekday", 1)})
    assert all_valid(form, weekday, weekend)
    assert forms.ford_location_from_forms(form, weekday, weekend).weekday == (HourWindow(22, 6),)


def test_ford_charge_limit_outside_50_to_100_percent_is_refused():
    for limit, message in (("49", "below 50 %"), ("101", "above 100 %"), ("", "between 50 and 100")):
        form, _, _ = bound_ford(limit=limit)
        assert not form.is_valid()
        assert message in form.errors["limit_percent"][0]


def test_ford_times_off_the_hour_are_refused_on_the_field():
    _, weekday, _ = bound_ford(weekday=[("17:30", "21:00")])
    assert not weekday.is_valid()
    assert weekday.forms[0].errors["start"] == ["Ford and Lincoln take whole hours only, e.g. 17:00."]


def test_overlapping_ford_windows_are_refused():
    _, weekday, _ = bound_ford(weekday=[("22:00", "06:00"), ("05:00", "07:00")])
    assert not weekday.is_valid()
    assert "overlaps 22:00–06:00" in weekday.forms[1].errors["start"][0]


def test_windows_of_weekday_and_weekend_may_share_hours():
    form, weekday, weekend = bound_ford(weekday=[("22:00", "06:00")], weekend=[("22:00", "06:00")])
    assert all_valid(form, weekday, weekend)


def test_a_location_the_vehicle_did_not_return_is_refused():
    form, _, _ = bound_ford(location="51.5,-0.12")
    assert not form.is_valid()
    assert "no saved charging location" in form.errors["location"][0]


def nissan_data(rows, deleted=()):
    data = {"nissan-TOTAL_FORMS": str(len(rows)), "nissan-INITIAL_FORMS": "0"}
    for index, (start, end, days) in enumerate(rows):
        data[f"nissan-{index}-start"] = start
        data[f"nissan-{index}-end"] = end
        data[f"nissan-{index}-days"] = list(days)
        if index in deleted:
            data[f"nissan-{index}-DELETE"] = "on"
    return data


def test_nissan_more_than_three_schedules_are_refused():
    rows = [(f"0{hour}:00", f"0{hour}:30", ["MONDAY"]) for hour in range(4)]
    _, formset = forms.nissan_forms(data=nissan_data(rows))
    assert not formset.is_valid()
    assert "at most 3" in formset.non_form_errors()[0]


def test_nissan_three_schedules_are_fine():
    rows = [(f"0{hour}:00", f"0{hour}:30", ["MONDAY"]) for hour in range(3)]
    _, formset = forms.nissan_forms(data=nissan_data(rows))
    assert formset.is_valid()
    assert len(formset.windows()) == 3


def test_nissan_schedule_without_days_is_refused():
    _, formset = forms.nissan_forms(data=nissan_data([("22:00", "06:00", [])]))
    assert not formset.is_valid()
    assert formset.forms[0].errors["days"] == ["Pick at least one day."]


def test_nissan_schedules_overlapping_on_a_day_are_refused_on_the_later_one():
    rows = [("22:00", "06:00", ["FRIDAY"]), ("08:00", "12:00", ["MONDAY"]), ("01:00", "05:00", ["SATURDAY", "SUNDAY"])]
    _, formset = forms.nissan_forms(data=nissan_data(rows))
    assert not formset.is_valid()
    assert formset.forms[2].errors["start"] == [
        "This schedule overlaps schedule 1 (22:00–06:00 Fri) on a day they share."
    ]
    assert not formset.forms[0].errors and not formset.forms[1].errors


def test_nissan_schedules_on_different_days_or_removed_may_share_hours():
    rows = [("22:00", "06:00", ["MONDAY"]), ("22:00", "06:00", ["TUESDAY"]), ("23:00", "01:00", ["MONDAY"])]
    _, formset = forms.nissan_forms(data=nissan_data(rows, deleted={2}))
    assert formset.is_valid()


def test_nissan_time_not_hh_mm_is_refused():
    _, formset = forms.nissan_forms(data=nissan_data([("25:00", "6", ["MONDAY"])]))
    assert not formset.is_valid()
    assert formset.forms[0].errors["start"] == ["Enter a time as HH:mm, e.g. 22:30."]
    assert formset.forms[0].errors["end"] == ["Enter a time as HH:mm, e.g. 22:30."]


def test_tesla_chosen_schedule_needs_its_time():
    form = forms.TeslaScheduleForm({"mode": "DEPARTURE_TIME", "start_time": "18:30"})
    assert not form.is_valid()
    assert form.errors["departure_time"] == ["Enter the departure time."]


def test_tesla_one_choice_enables_at_most_one_schedule():
    form = forms.TeslaScheduleForm({"mode": "START_TIME", "start_time": "23:30", "departure_time": "07:00"})
    assert form.is_valid()
    wanted = form.wanted()
    assert (wanted.start_enabled, wanted.departure_enabled) == (True, False)
    assert forms.TeslaScheduleForm({"mode": "BOTH"}).is_valid() is False


def test_charge_limit_is_sent_as_a_fraction_and_bounded():
    form = forms.ChargeLimitForm({"limit_percent": "85"})
    assert form.is_valid()
    assert form.to_wire() == {"limit": 0.85}
    assert not forms.ChargeLimitForm({"limit_percent": "40"}).is_valid()


def vehicle(make):
    return SimpleNamespace(make=make)


def test_nissan_cannot_be_told_to_stop_charging():
    form = forms.ChargeControlForm({"action": "STOP"}, vehicle=vehicle("NISSAN"))
    assert not form.is_valid()
    assert "only START" in form.errors["action"][0]
    assert forms.ChargeControlForm({"action": "START"}, vehicle=vehicle("NISSAN")).is_valid()


def test_gm_below_half_charge_cannot_start_or_stop():
    form = forms.ChargeControlForm({"action": "START"}, vehicle=vehicle("CHEVROLET"), battery_percent=42)
    assert not form.is_valid()
    assert "at least 50 %" in form.errors["action"][0]
    assert forms.ChargeControlForm({"action": "STOP"}, vehicle=vehicle("CADILLAC"), battery_percent=50).is_valid()
    assert forms.ChargeControlForm({"action": "STOP"}, vehicle=vehicle("TESLA"), battery_percent=10).is_valid()


def test_amperage_must_be_a_positive_whole_number():
    assert forms.AmperageForm({"amperage": "32"}).is_valid()
    assert not forms.AmperageForm({"amperage": "0"}).is_valid()
    assert not forms.AmperageForm({"amperage": "16.5"}).is_valid()
