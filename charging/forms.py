"""Forms that refuse, field by field, everything the API would refuse — before any call is made.

Each form turns its cleaned data into the wire body of its endpoint (``to_wire``/``wanted``), using the plain
values of charging/schedules.py.
"""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError

from charging import schedules
from charging.schedules import DayWindow, FordLocation, HourWindow, ScheduleFormatError, TeslaSchedule
from fleet.formatting import quantity
from vehicles.models import make_label

HOUR_CHOICES = [(f"{hour:02d}:00", f"{hour:02d}:00") for hour in range(24)]
DAY_CHOICES = [(day, day.title()) for day in schedules.WEEKDAYS]


class ChargeLimitPercentField(forms.IntegerField):
    """A charge limit as the manager reads it (50–100 %); the API's 0.5–1 fraction comes from ``fraction``."""

    def __init__(self, **kwargs):
        kwargs.setdefault("label", "Charge limit (%)")
        super().__init__(
            min_value=int(schedules.CHARGE_LIMIT_MIN * 100),
            max_value=int(schedules.CHARGE_LIMIT_MAX * 100),
            error_messages={
                "min_value": "The charge limit cannot be below 50 %% (the API takes 0.5 to 1).",
                "max_value": "The charge limit cannot be above 100 %%.",
                "required": "Enter a charge limit between 50 and 100 %.",
                "invalid": "Enter a whole percentage between 50 and 100.",
            },
            **kwargs,
        )

    @staticmethod
    def fraction(percent: int) -> float:
        return round(percent / 100, 2)


class ChangeGuardMixin(forms.Form):
    """Carries the fingerprint of the schedule as it was when the form was opened.

    The view compares it with a fresh read before saving; ``overwrite`` is ticked by the manager to save over a
    change made on the vehicle in the meantime.
    """

    read_fingerprint = forms.CharField(widget=forms.HiddenInput, required=False)
    overwrite = forms.BooleanField(required=False, widget=forms.HiddenInput)


# --- Charge limit, start/stop, amperage ---------------------------------------------------------------------------


class ChargeLimitForm(forms.Form):
    # Reference: smartcar-api/evs__set-charge-limit.md — "Cannot be less than 0.5, or greater than 1."
    limit_percent = ChargeLimitPercentField()

    def to_wire(self) -> dict:
        return {"limit": ChargeLimitPercentField.fraction(self.cleaned_data["limit_percent"])}


GM_MAKES = {"CHEVROLET", "GMC", "BUICK", "CADILLAC"}
GM_MINIMUM_PERCENT = 50


class ChargeControlForm(forms.Form):
    """START or STOP, with the make notes of evs__control-charge.md enforced where the app can know them."""

    # Reference: smartcar-api/evs__control-charge.md
    action = forms.ChoiceField(choices=[("START", "Start charging"), ("STOP", "Stop charging")])

    def __init__(self, *args, vehicle, battery_percent: float | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.vehicle = vehicle
        self.battery_percent = battery_percent

    def clean_action(self):
        action = self.cleaned_data["action"]
        make = self.vehicle.make.upper()
        if make == "NISSAN" and action == "STOP":
            # "Currently only START charge commands are supported in the US." The app stores no sales region for a
            # vehicle, and Nissan's other charging endpoints are US-only, so STOP is refused for every Nissan
            # rather than sent to fail at the car maker.
            raise ValidationError("Nissan accepts only START through the API in the US; stop charging in the car.")
        if make in GM_MAKES and self.battery_percent is not None and self.battery_percent < GM_MINIMUM_PERCENT:
            # "These vehicles require a minimum charge of 50% in order to be able to start or stop charging."
            # When the level is unknown the API is left to decide.
            raise ValidationError(
                f"{make_label(self.vehicle.make)} vehicles need at least 50 % charge to start or stop charging "
                f"remotely; this one is at {quantity(self.battery_percent, 'percent')}."
            )
        return action

    def to_wire(self) -> dict:
        return {"action": self.cleaned_data["action"]}


class AmperageForm(forms.Form):
    # Reference: smartcar-api/tesla__set-charge-ammeter.md — the page gives no bounds: a value above what the charger
    # supports is capped by the vehicle (the capped value comes back in the message). The bound of 80 A is the one the
    # vehicle page's amperage command applies (vehicles/commands.py), which carries this change out.
    amperage = forms.IntegerField(
        label="Amperage for this session (A)",
        min_value=1,
        max_value=80,
        error_messages={
            "min_value": "Enter at least 1 A.",
            "max_value": "Enter at most 80 A.",
            "invalid": "Enter a whole number of amperes.",
        },
    )

    def to_wire(self) -> dict:
        return {"amperage": self.cleaned_data["amperage"]}


# --- Ford and Lincoln ----------------------------------------------------------------------------------------------


def _clean_whole_hour(value: str) -> int:
    try:
        return schedules.parse_whole_hour(value)
    except ScheduleFormatError:
        raise ValidationError("Ford and Lincoln take whole hours only, e.g. 17:00.") from None


class HourWindowForm(forms.Form):
    start = forms.CharField(widget=forms.Select(choices=HOUR_CHOICES), error_messages={"required": "Pick a start."})
    end = forms.CharField(widget=forms.Select(choices=HOUR_CHOICES), error_messages={"required": "Pick an end."})

    def clean_start(self):
        return _clean_whole_hour(self.cleaned_data["start"])

    def clean_end(self):
        return _clean_whole_hour(self.cleaned_data["end"])

    def clean(self):
        data = super().clean()
        if data.get("start") is not None and data.get("start") == data.get("end"):
            self.add_error("end", "The window ends when it starts; pick a later (or next-day) end.")
        return data

    def window(self) -> HourWindow:
        return HourWindow(self.cleaned_data["start"], self.cleaned_data["end"])


class BaseHourWindowFormSet(forms.BaseFormSet):
    """Weekday or weekend windows: any number (none clears the schedule), never two sharing an hour.

    The API keeps the two lists apart ("weekday (Monday - Friday)", "weekend (Saturday - Sunday)"), so windows are
    compared within one list only; a Friday-night window running into Saturday is the vehicle's to reconcile.
    """

    def windows(self) -> list[HourWindow]:
        return [form.window() for form in self.forms if form.cleaned_data and not self._should_delete_form(form)]

    def clean(self):
        if any(self.errors):
            return
        kept = [form for form in self.forms if form.cleaned_data and not self._should_delete_form(form)]
        windows = [form.window() for form in kept]
        for first, second in schedules.overlapping_pairs(windows):
            kept[second].add_error(
                "start", f"This window overlaps {windows[first].label}; windows of one list must not overlap."
            )
        if any(form.errors for form in kept):
            raise ValidationError("Overlapping windows.")


HourWindowFormSet = forms.formset_factory(HourWindowForm, formset=BaseHourWindowFormSet, extra=0, can_delete=True)


class FordLocationForm(ChangeGuardMixin):
    """One saved charging location: which (by its coordinates), its charge limit; the windows are two formsets."""

    location = forms.CharField(widget=forms.HiddenInput)
    limit_percent = ChargeLimitPercentField()

    def __init__(self, *args, locations: list[FordLocation], **kwargs):
        super().__init__(*args, **kwargs)
        self.locations = {location.key: location for location in locations}

    def clean_location(self):
        key = self.cleaned_data["location"]
        if key not in self.locations:
            # ford__set-charge-schedule-by-location.md: "you must use a location from the GET … endpoint".
            raise ValidationError(
                "The vehicle has no saved charging location at these coordinates. Only locations where it charged "
                "in the last 90 days can be scheduled."
            )
        return self.locations[key]


def ford_forms(*, data=None, location: FordLocation | None, locations: list[FordLocation], extra: dict | None = None):
    """The location form and its weekday/weekend formsets, bound to ``data`` or filled from ``location``."""
    extra = extra or {}
    if data is not None:
        form = FordLocationForm(data, locations=locations)
        weekday = HourWindowFormSet(data, prefix="weekday")
        weekend = HourWindowFormSet(data, prefix="weekend")
    else:
        assert location is not None
        form = FordLocationForm(
            initial={"location": location.key, "limit_percent": round(location.charge_limit * 100), **extra},
            locations=locations,
        )
        weekday = HourWindowFormSet(prefix="weekday", initial=[window.to_wire() for window in location.weekday])
        weekend = HourWindowFormSet(prefix="weekend", initial=[window.to_wire() for window in location.weekend])
    return form, weekday, weekend


def ford_location_from_forms(form: FordLocationForm, weekday, weekend) -> FordLocation:
    saved = form.cleaned_data["location"]
    return FordLocation(
        latitude=saved.latitude,
        longitude=saved.longitude,
        charge_limit=ChargeLimitPercentField.fraction(form.cleaned_data["limit_percent"]),
        weekday=tuple(weekday.windows()),
        weekend=tuple(weekend.windows()),
    )


# --- Nissan --------------------------------------------------------------------------------------------------------


def _clean_hh_mm(value: str) -> int:
    try:
        return schedules.parse_hh_mm(value)
    except ScheduleFormatError:
        raise ValidationError("Enter a time as HH:mm, e.g. 22:30.") from None


class DayWindowForm(forms.Form):
    """A Nissan window in the fleet's time zone."""

    start = forms.CharField(widget=forms.TimeInput(attrs={"type": "time"}), max_length=5)
    end = forms.CharField(widget=forms.TimeInput(attrs={"type": "time"}), max_length=5)
    days = forms.MultipleChoiceField(
        choices=DAY_CHOICES,
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": "Pick at least one day."},
    )

    def clean_start(self):
        return _clean_hh_mm(self.cleaned_data["start"])

    def clean_end(self):
        return _clean_hh_mm(self.cleaned_data["end"])

    def clean(self):
        data = super().clean()
        if data.get("start") is not None and data.get("start") == data.get("end"):
            self.add_error("end", "The window ends when it starts; pick a different end.")
        return data

    def window(self) -> DayWindow:
        return DayWindow(self.cleaned_data["start"], self.cleaned_data["end"], frozenset(self.cleaned_data["days"]))


class BaseDayWindowFormSet(forms.BaseFormSet):
    def windows(self) -> list[DayWindow]:
        return [form.window() for form in self.forms if form.cleaned_data and not self._should_delete_form(form)]

    def clean(self):
        if any(self.errors):
            return
        if len(self.windows()) > schedules.NISSAN_MAX_SCHEDULES:
            raise ValidationError("Nissan keeps at most 3 charge schedules; remove one.")
        # nissan__set-charge-schedule.md says nothing of schedules that overlap (its example's two schedules fall on
        # different days), nor what the vehicle does with them; the app refuses them, as Ford's windows of one list,
        # so that what is saved has one meaning. Days belong to the start: Friday 22:00–06:00 covers Saturday 03:00.
        kept = [form for form in self.forms if form.cleaned_data and not self._should_delete_form(form)]
        windows = [form.window() for form in kept]
        for first, second in schedules.overlapping_pairs(windows):
            kept[second].add_error(
                "start", f"This schedule overlaps schedule {first + 1} ({windows[first].label}) on a day they share."
            )
        if any(form.errors for form in kept):
            raise ValidationError("Overlapping schedules.")


DayWindowFormSet = forms.formset_factory(
    DayWindowForm,
    formset=BaseDayWindowFormSet,
    extra=0,
    can_delete=True,
    max_num=schedules.NISSAN_MAX_SCHEDULES,
    validate_max=True,
)
DayWindowFormSet.error_messages = {
    **forms.BaseFormSet.default_error_messages,
    "too_many_forms": "Nissan keeps at most 3 charge schedules; remove one.",
}


class NissanScheduleForm(ChangeGuardMixin):
    """The guard fields; the windows are a DayWindowFormSet with prefix ``nissan``."""


def nissan_forms(*, data=None, local_windows: list[DayWindow] | None = None, extra: dict | None = None):
    if data is not None:
        return NissanScheduleForm(data), DayWindowFormSet(data, prefix="nissan")
    initial = [
        {"start": schedules.format_hh_mm(w.start), "end": schedules.format_hh_mm(w.end), "days": w.ordered_days()}
        for w in local_windows or []
    ]
    return NissanScheduleForm(initial=extra or {}), DayWindowFormSet(prefix="nissan", initial=initial)


# --- Adding a row -------------------------------------------------------------------------------------------------
# "Add a window" re-renders the forms with one more row and sends nothing. The forms come back unbound, filled with
# what the manager entered: nothing is validated, so no error shows before the manager saves.


def as_entered(form: forms.Form) -> dict:
    """The raw values a bound form received, as initial values for an unbound copy (nothing is validated)."""
    return {name: form[name].data for name in form.fields}


def formset_as_entered(formset: forms.BaseFormSet, *, new_row: dict | None = None) -> forms.BaseFormSet:
    rows = [as_entered(form) for form in formset.forms]
    if new_row is not None:
        rows.append(new_row)
    return type(formset)(prefix=formset.prefix, initial=rows)


def entered_hour_windows(formset: forms.BaseFormSet) -> list[HourWindow]:
    """The windows of a Ford list as entered so far, leaving out removed rows and what does not read as hours."""
    windows = []
    for row in (as_entered(form) for form in formset.forms):
        if row.get("DELETE"):
            continue
        try:
            windows.append(HourWindow(schedules.parse_whole_hour(row["start"]), schedules.parse_whole_hour(row["end"])))
        except ScheduleFormatError:
            continue
    return windows


def hour_formset_with_free_row(formset: forms.BaseFormSet) -> forms.BaseFormSet | None:
    """The Ford list with a new window that overlaps none entered; None when every hour is already taken."""
    free = schedules.free_window(entered_hour_windows(formset))
    if free is None:
        return None
    return formset_as_entered(formset, new_row=free.to_wire())


NEW_NISSAN_ROW = {"start": "22:00", "end": "06:00", "days": []}  # no day yet: it cannot overlap another schedule


# --- Tesla ---------------------------------------------------------------------------------------------------------


class TeslaScheduleForm(ChangeGuardMixin):
    """One choice of which schedule is in force makes "only one enabled at a time" impossible to get wrong."""

    mode = forms.ChoiceField(
        label="Schedule in force",
        choices=[
            ("OFF", "None — charge as soon as plugged in"),
            (schedules.START_TIME, "Start charging at a time"),
            (schedules.DEPARTURE_TIME, "Be charged by a departure time"),
        ],
        widget=forms.RadioSelect,
    )
    start_time = forms.CharField(
        label="Start time", required=False, widget=forms.TimeInput(attrs={"type": "time"}), max_length=5
    )
    departure_time = forms.CharField(
        label="Departure time", required=False, widget=forms.TimeInput(attrs={"type": "time"}), max_length=5
    )

    def clean_start_time(self):
        value = self.cleaned_data["start_time"]
        return _clean_hh_mm(value) if value else None

    def clean_departure_time(self):
        value = self.cleaned_data["departure_time"]
        return _clean_hh_mm(value) if value else None

    def clean(self):
        data = super().clean()
        mode = data.get("mode")
        if mode == schedules.START_TIME and data.get("start_time") is None and "start_time" not in self.errors:
            self.add_error("start_time", "Enter the time charging should start.")
        if (
            mode == schedules.DEPARTURE_TIME
            and data.get("departure_time") is None
            and "departure_time" not in self.errors
        ):
            self.add_error("departure_time", "Enter the departure time.")
        return data

    def wanted(self) -> TeslaSchedule:
        data = self.cleaned_data
        return TeslaSchedule(
            start_enabled=data["mode"] == schedules.START_TIME,
            start_time=data["start_time"],
            departure_enabled=data["mode"] == schedules.DEPARTURE_TIME,
            departure_time=data["departure_time"],
        )


def tesla_initial(schedule: TeslaSchedule) -> dict:
    def time(value):
        return "" if value is None else schedules.format_hh_mm(value)

    return {
        "mode": schedule.mode,
        "start_time": time(schedule.start_time),
        "departure_time": time(schedule.departure_time),
    }


# --- Bulk apply and history ----------------------------------------------------------------------------------------


class DateRangeForm(forms.Form):
    """A date range for charge records (both optional: the API defaults to the last 30 days)."""

    start_date = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end_date = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    page = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)

    def clean(self):
        data = super().clean()
        if data.get("start_date") and data.get("end_date") and data["start_date"] > data["end_date"]:
            self.add_error("end_date", "The end date is before the start date.")
        return data
