"""Forms for the service program and work orders: every limit refused with a message that says why."""

from __future__ import annotations

from decimal import Decimal

from django import forms

from fleet import formatting, units
from maintenance.models import ServiceTask, WorkOrder, WorkOrderStatus
from maintenance.services import fleet_today, previous_odometer
from vehicles.models import Vehicle, make_label

# What a service interval can sensibly be: outside these, a typo (an extra zero, months typed as days).
KM_RANGE = (500, 200_000)
MONTHS_RANGE = (1, 60)
OIL_RANGE = (1, 99)
TIRE_KPA_RANGE = (100, 400)
MAX_COST = Decimal("1000000")
MAX_ODOMETER_KM = 2_000_000
# Quantities typed in the fleet's units and stored metric (fleet/units.py): km and kPa from what was typed.
TO_STORED = {"distance": units.km, "pressure": units.kpa}


def typed(stored: float, kind: str, system: str, decimals: int = 0) -> float:
    """A stored value as a form shows it in the fleet's units; other kinds (months, %) as they are."""
    if kind not in TO_STORED:
        return stored
    value = units.CONVERTERS[kind](stored, system)
    return round(value, decimals) if decimals else round(value)


def unit_words(kind: str, system: str) -> str:
    return units.label(kind, system) if kind in TO_STORED else kind


class ServiceTaskForm(forms.ModelForm):
    vehicles = forms.ModelMultipleChoiceField(queryset=Vehicle.objects.none(), required=False)

    class Meta:
        model = ServiceTask
        fields = [
            "name", "every_km", "every_months", "oil_life_below_percent", "tire_pressure_below_kpa", "make", "model",
            "vehicles",
        ]  # fmt: skip
        labels = {
            "name": "Name",
            "every_km": "Every ({unit})",
            "every_months": "Every ({unit})",
            "oil_life_below_percent": "When oil life falls below ({unit})",
            "tire_pressure_below_kpa": "When a tire falls below ({unit})",
            "make": "For every vehicle of the make",
            "model": "Model (empty: every model of the make)",
            "vehicles": "And these vehicles",
        }
        help_texts = {"every_km": "", "make": "", "model": "", "vehicles": ""}

    # Each bounded field's range, as stored, and its kind: a quantity typed in the fleet's units, or a unit of its own.
    BOUNDS = {
        "every_km": (*KM_RANGE, "distance"),
        "every_months": (*MONTHS_RANGE, "months"),
        "oil_life_below_percent": (*OIL_RANGE, "%"),
        "tire_pressure_below_kpa": (*TIRE_KPA_RANGE, "pressure"),
    }

    def __init__(self, *args, fleet, **kwargs):
        super().__init__(*args, **kwargs)
        self.fleet, self.system = fleet, fleet.unit_system
        makes = Vehicle.objects.filter(fleet=fleet).values_list("make", flat=True).distinct().order_by("make")
        self.fields["make"] = forms.ChoiceField(
            label=self.Meta.labels["make"], required=False, choices=[("", "—"), *((m, make_label(m)) for m in makes)]
        )
        self.fields["vehicles"].queryset = Vehicle.objects.filter(fleet=fleet, disconnected_at__isnull=True)
        self.fields["vehicles"].label = self.Meta.labels["vehicles"]
        self.fields["vehicles"].widget.attrs["size"] = 6
        for name, (_low, _high, kind) in self.BOUNDS.items():
            # Checked in clean_<field> with one message naming the range; no browser-side min/max that would hide it.
            self.fields[name] = forms.IntegerField(
                label=self.Meta.labels[name].format(unit=unit_words(kind, self.system)),
                required=False,
                widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
            )
            stored = getattr(self.instance, name)
            if stored is not None:
                self.initial[name] = typed(stored, kind, self.system)

    def _in_range(self, name: str):
        value = self.cleaned_data.get(name)
        low, high, kind = self.BOUNDS[name]
        if value is None:
            return None
        stored = getattr(self.instance, name)
        if stored is not None and value == typed(stored, kind, self.system):
            return stored  # as it was: not moved by a round trip through miles
        if kind in TO_STORED:
            value = round(TO_STORED[kind](value, self.system))
        if not low <= value <= high:
            low_typed, high_typed = typed(low, kind, self.system), typed(high, kind, self.system)
            unit = unit_words(kind, self.system)
            raise forms.ValidationError(f"Enter a value between {low_typed:,.0f} and {high_typed:,.0f} {unit}.")
        return value

    def clean_every_km(self):
        return self._in_range("every_km")

    def clean_every_months(self):
        return self._in_range("every_months")

    def clean_oil_life_below_percent(self):
        return self._in_range("oil_life_below_percent")

    def clean_tire_pressure_below_kpa(self):
        return self._in_range("tire_pressure_below_kpa")

    def clean_name(self):
        name = self.cleaned_data["name"].strip()
        taken = ServiceTask.objects.filter(fleet=self.fleet, name__iexact=name).exclude(pk=self.instance.pk)
        if taken.exists():
            raise forms.ValidationError("The program already has a service of that name.")
        return name

    def clean(self):
        data = super().clean()
        triggers = ("every_km", "every_months", "oil_life_below_percent", "tire_pressure_below_kpa")
        if not self.errors and all(data.get(name) is None for name in triggers):
            raise forms.ValidationError(
                "Say when the service falls due: a distance, a number of months or a threshold."
            )
        if data.get("model") and not data.get("make"):
            self.add_error("model", "Choose the make the model belongs to.")
        return data

    def save(self, commit=True):
        self.instance.fleet = self.fleet
        return super().save(commit)


class WorkOrderNewForm(forms.Form):
    vehicle = forms.ModelChoiceField(queryset=Vehicle.objects.none(), empty_label="Choose a vehicle")
    title = forms.CharField(max_length=200, label="What needs doing")
    assignee = forms.CharField(max_length=100, required=False, label="Assigned to", help_text="A person or a workshop")
    due_on = forms.DateField(required=False, label="Due by", widget=forms.DateInput(attrs={"type": "date"}))
    notes = forms.CharField(required=False, max_length=5000, widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args, fleet, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["vehicle"].queryset = Vehicle.objects.filter(fleet=fleet, disconnected_at__isnull=True)


def _money(label: str) -> forms.DecimalField:
    return forms.DecimalField(
        label=label, required=False, max_digits=10, decimal_places=2, widget=forms.NumberInput(attrs={"step": "0.01"})
    )


class WorkOrderForm(forms.ModelForm):
    """A workshop's edit of an order. Nothing is saved unless every field is acceptable."""

    parts_cost = _money("Parts cost")
    labour_cost = _money("Labour cost")
    completion_odometer_km = forms.FloatField(required=False)

    class Meta:
        model = WorkOrder
        fields = [
            "title", "status", "assignee", "due_on", "notes", "parts_cost", "labour_cost", "completed_on",
            "completion_odometer_km",
        ]  # fmt: skip
        labels = {"title": "What needs doing", "assignee": "Assigned to", "due_on": "Due by",
                  "completed_on": "Completed on"}  # fmt: skip
        help_texts = {"assignee": "A person or a workshop"}
        widgets = {
            "due_on": forms.DateInput(attrs={"type": "date"}),
            "completed_on": forms.DateInput(attrs={"type": "date"}),
            "notes": forms.Textarea(attrs={"rows": 4}),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.system = self.instance.fleet.unit_system
        odometer = self.fields["completion_odometer_km"]
        odometer.label = f"Odometer at completion ({units.label('distance', self.system)})"
        stored = self.instance.completion_odometer_km
        if stored is not None:
            self.initial["completion_odometer_km"] = typed(stored, "distance", self.system, 1)

    def _cost(self, name: str):
        value = self.cleaned_data.get(name)
        if value is not None and value < 0:
            raise forms.ValidationError("A cost cannot be negative.")
        if value is not None and value >= MAX_COST:
            raise forms.ValidationError("That is more than a work order can cost; check the amount.")
        return value

    def clean_parts_cost(self):
        return self._cost("parts_cost")

    def clean_labour_cost(self):
        return self._cost("labour_cost")

    def clean_completed_on(self):
        day = self.cleaned_data.get("completed_on")
        if day and day > fleet_today(self.instance.fleet):
            raise forms.ValidationError("Work cannot be completed on a date still to come.")
        return day

    def clean_completion_odometer_km(self):
        value, stored = self.cleaned_data.get("completion_odometer_km"), self.instance.completion_odometer_km
        if value is None:
            return None
        if stored is not None and value == typed(stored, "distance", self.system, 1):
            return stored  # as it was: not moved by a round trip through miles
        km = units.km(value, self.system)
        if not 0 <= km <= MAX_ODOMETER_KM:
            most = formatting.quantity(MAX_ODOMETER_KM, "distance", self.system)
            raise forms.ValidationError(f"Enter the odometer reading, between 0 and {most}.")
        return km

    def clean(self):
        data = super().clean()
        km = data.get("completion_odometer_km")
        if km is not None and "completion_odometer_km" not in self.errors:
            previous = previous_odometer(self.instance, data.get("completed_on"))
            if previous is not None and km < previous[0]:
                self.add_error(
                    "completion_odometer_km",
                    f"That is below the {formatting.quantity(previous[0], 'distance', self.system)} {previous[1]}.",
                )
        status = data.get("status")
        recorded = data.get("completed_on") or km is not None
        was_done = self.instance.status == WorkOrderStatus.DONE  # the form sets the instance only after clean()
        if status != WorkOrderStatus.DONE and recorded and not self.errors and not was_done:
            self.add_error("status", "Mark the order done to record its completion.")
        return data
