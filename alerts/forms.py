"""Forms of the drivers, places and trips pages; times are read in the fleet's time zone (the views override the
current zone while a form is cleaned)."""

from django import forms
from django.core.exceptions import ValidationError

from trips.currencies import is_currency
from trips.hours import hours_parse, hours_to_json
from trips.models import Driver, Place, PlaceKind, Purpose, TariffKind, Trip
from trips.tariffs import bands_parse
from vehicles.models import Vehicle

DATETIME = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")


class DriverForm(forms.ModelForm):
    class Meta:
        model = Driver
        fields = ["name", "user", "email"]
        labels = {"user": "Member (optional)", "email": "E-mail (optional)"}
        help_texts = {"user": "Leave empty for a driver who does not sign in to Fleet."}

    def __init__(self, *args, fleet, **kwargs):
        super().__init__(*args, **kwargs)
        self.fleet = fleet
        self.instance.fleet = fleet
        user_field = self.fields["user"]
        user_field.queryset = user_field.queryset.filter(memberships__fleet=fleet)  # type: ignore[attr-defined]
        user_field.empty_label = "No login"  # type: ignore[attr-defined]

    def clean_name(self):
        name = self.cleaned_data["name"].strip()
        others = Driver.objects.filter(fleet=self.fleet, name__iexact=name).exclude(pk=self.instance.pk)
        if others.exists():
            raise forms.ValidationError("The fleet has a driver of this name already.")
        return name


class DriverHomeForm(forms.Form):
    home = forms.ModelChoiceField(queryset=Place.objects.none(), required=False, label="Home",
                                  empty_label="No home place")  # fmt: skip

    def __init__(self, *args, fleet, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["home"].queryset = Place.objects.filter(fleet=fleet, kind=PlaceKind.HOME)  # type: ignore[attr-defined]


class AssignmentForm(forms.Form):
    vehicle = forms.ModelChoiceField(queryset=Vehicle.objects.none())
    starts_at = forms.DateTimeField(label="From", widget=DATETIME)
    ends_at = forms.DateTimeField(label="Until (optional)", required=False, widget=DATETIME)

    def __init__(self, *args, fleet, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["vehicle"].queryset = Vehicle.objects.filter(fleet=fleet)  # type: ignore[attr-defined]
        self.fields["vehicle"].label_from_instance = lambda vehicle: vehicle.display_name  # type: ignore[attr-defined]

    def clean(self):
        data = super().clean()
        if data.get("starts_at") and data.get("ends_at") and data["ends_at"] <= data["starts_at"]:
            self.add_error("ends_at", "The end must come after the start.")
        return data


def _hours_field() -> forms.CharField:
    return forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        label="Opening hours (optional)",
        help_text="One line for each set of days: days, then hours in the fleet's time zone, for example "
        "“Mon-Fri 7-19” and “Sat 8-12”. Days not written are closed. A vehicle that leaves while the place is "
        "closed raises the alert “Left a place outside its hours”.",
    )


def _hours_clean(text: str) -> list:
    try:
        return hours_to_json(hours_parse(text))
    except ValidationError as error:
        raise forms.ValidationError(error.messages) from None


class PlaceForm(forms.ModelForm):
    hours = _hours_field()

    class Meta:
        model = Place
        fields = ["name", "kind", "latitude", "longitude", "radius_m"]
        labels = {"radius_m": "Radius (metres)"}

    def __init__(self, *args, fleet, **kwargs):
        super().__init__(*args, **kwargs)
        self.fleet = fleet
        self.instance.fleet = fleet
        self.fields["latitude"].widget.attrs["step"] = "any"
        self.fields["longitude"].widget.attrs["step"] = "any"

    def clean_name(self):
        name = self.cleaned_data["name"].strip()
        if Place.objects.filter(fleet=self.fleet, name__iexact=name).exclude(pk=self.instance.pk).exists():
            raise forms.ValidationError("The fleet has a place of this name already.")
        return name

    def clean_hours(self):
        self.instance.opening_hours = _hours_clean(self.cleaned_data["hours"])
        return self.cleaned_data["hours"]


class PlaceHoursForm(forms.Form):
    hours = _hours_field()

    def clean_hours(self):
        return _hours_clean(self.cleaned_data["hours"])


class TripPurposeForm(forms.ModelForm):
    class Meta:
        model = Trip
        fields = ["purpose", "purpose_note"]
        labels = {"purpose": "Business or private", "purpose_note": "Purpose"}

    def clean(self):
        data = super().clean()
        if data.get("purpose") == Purpose.BUSINESS and not data.get("purpose_note", "").strip():
            self.add_error("purpose_note", "A business trip needs its purpose for the logbook.")
        return data


class TariffForm(forms.Form):
    place = forms.ModelChoiceField(
        queryset=Place.objects.none(), required=False, empty_label="Default public tariff (charges anywhere else)"
    )
    currency = forms.CharField(max_length=12, help_text="Three letters, ISO 4217: EUR, USD, GBP…")
    kind = forms.ChoiceField(choices=TariffKind.choices, label="Priced", widget=forms.RadioSelect,
                             initial=TariffKind.FLAT)  # fmt: skip
    price_per_kwh = forms.DecimalField(
        required=False, min_value=0, max_digits=8, decimal_places=4, label="Price per kWh (one price)"
    )
    bands = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        label="Prices by weekday and hour",
        help_text="One band a line: days, hours, price per kWh. For example “Mon-Fri 7-22 0.32”, “Mon-Fri 0-7 0.18”, "
        "“Mon-Fri 22-24 0.18”, “Sat-Sun 0-24 0.18”. Every hour of the week needs exactly one price.",
    )

    def __init__(self, *args, fleet, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["place"].queryset = Place.objects.filter(fleet=fleet)  # type: ignore[attr-defined]

    def clean_currency(self):
        code = self.cleaned_data["currency"].strip().upper()
        if not is_currency(code):
            raise forms.ValidationError(f"“{code}” is not an ISO 4217 currency code; use one such as EUR, USD or GBP.")
        return code

    def clean(self):
        data = super().clean()
        if data.get("kind") == TariffKind.FLAT:
            if data.get("price_per_kwh") is None and "price_per_kwh" not in self.errors:
                self.add_error("price_per_kwh", "Give the price of a kWh.")
            data["parsed_bands"] = []
        elif data.get("kind") == TariffKind.TIME_OF_USE:
            try:
                data["parsed_bands"] = bands_parse(data.get("bands") or "")
            except ValidationError as error:
                self.add_error("bands", error)
        return data
