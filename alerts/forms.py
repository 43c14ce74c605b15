from django import forms

from alerts import catalog, channels
from alerts.models import AlertState, Endpoint, Subscription
from fleet import units
from fleet.forms import stale_after_minutes, threshold_percent
from fleet.models import Fleet
from vehicles.models import Vehicle, VehicleGroup


class InboxQuery(forms.Form):
    state = forms.ChoiceField(
        choices=[
            (AlertState.OPEN, "Open"),
            (AlertState.ACKNOWLEDGED, "Acknowledged"),
            (AlertState.RESOLVED, "Resolved"),
        ],
        required=False,
    )
    condition = forms.ChoiceField(
        choices=[("", "Every kind")] + [(k.key, k.label) for k in catalog.KINDS], required=False
    )

    def values(self) -> dict:
        if not self.is_valid():
            return {"state": AlertState.OPEN, "condition": ""}
        return {"state": self.cleaned_data["state"] or AlertState.OPEN, "condition": self.cleaned_data["condition"]}


class AcknowledgeForm(forms.Form):
    note = forms.CharField(max_length=500, required=False, label="Note")


class ThresholdsForm(forms.ModelForm):
    """The fleet's thresholds: the dashboard's tiles and the alerts judge by these same numbers."""

    low_tire = forms.FloatField(label="Tire pressure low below", min_value=0)

    class Meta:
        model = Fleet
        fields = [
            "low_energy_percent",
            "stale_after_minutes",
            "low_oil_percent",
            "charge_by",
            "charge_by_below_percent",
        ]
        labels = {
            "low_energy_percent": "Low battery or fuel at or below (%)",
            "stale_after_minutes": "Data is stale after (minutes)",
            "low_oil_percent": "Oil life low at or below (%)",
            "charge_by": "Electric vehicles plugged in by",
            "charge_by_below_percent": "…when their battery is below (%)",
        }
        help_texts = {"charge_by": "In the fleet's time zone, e.g. 18:00. Leave empty for no such alert."}
        widgets = {"charge_by": forms.TimeInput(attrs={"type": "time"}, format="%H:%M")}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        system = self.instance.unit_system
        self.fields["low_tire"].label = f"Tire pressure low below ({units.label('pressure', system)})"
        self.fields["low_tire"].initial = round(units.pressure(self.instance.low_tire_kpa, system), 1)

    def clean_low_energy_percent(self):
        return threshold_percent(self.cleaned_data["low_energy_percent"])

    def clean_low_oil_percent(self):
        return threshold_percent(self.cleaned_data["low_oil_percent"])

    def clean_charge_by_below_percent(self):
        return threshold_percent(self.cleaned_data["charge_by_below_percent"])

    def clean_stale_after_minutes(self):
        return stale_after_minutes(self.cleaned_data["stale_after_minutes"])

    def clean_low_tire(self):
        value = self.cleaned_data["low_tire"]
        kpa = units.kpa(value, self.instance.unit_system)
        if not 100 <= kpa <= 400:
            raise forms.ValidationError("Choose a pressure a tire can have (between 15 and 58 psi, 100 and 400 kPa).")
        return kpa

    def save(self, commit=True):
        self.instance.low_tire_kpa = self.cleaned_data["low_tire"]
        return super().save(commit)


class RulesForm(forms.Form):
    """For every alerting condition: whether it alerts, and how long it must last first."""

    def __init__(self, *args, effective: dict, **kwargs):
        super().__init__(*args, **kwargs)
        self.rows = []
        for kind in catalog.KINDS:
            enabled, after = effective[kind.key]
            self.fields[f"{kind.key}-enabled"] = forms.BooleanField(required=False, initial=enabled, label=kind.label)
            self.fields[f"{kind.key}-after"] = forms.IntegerField(
                min_value=0, max_value=10080, initial=after, label=f"{kind.label}: after (minutes)"
            )
            self.rows.append((kind, self[f"{kind.key}-enabled"], self[f"{kind.key}-after"]))

    def rules(self) -> dict[str, tuple[bool, int]]:
        return {
            kind.key: (self.cleaned_data[f"{kind.key}-enabled"], self.cleaned_data[f"{kind.key}-after"])
            for kind in catalog.KINDS
        }


class ExceptionForm(forms.Form):
    """An exception to the fleet's rules for some vehicles: no alerts of a kind, or their own threshold."""

    condition = forms.ChoiceField(choices=[(k.key, k.label) for k in catalog.VEHICLE_KINDS], label="Alert")
    enabled = forms.BooleanField(required=False, initial=True, label="Alert for these vehicles")
    threshold = forms.FloatField(required=False, label="Their own threshold", help_text="Where the alert has one")

    def __init__(self, *args, fleet: Fleet, **kwargs):
        super().__init__(*args, **kwargs)
        self.fleet = fleet

    def clean(self):
        data = super().clean()
        kind = catalog.BY_KEY.get(data.get("condition", ""))
        threshold = data.get("threshold")
        if kind is not None and threshold is not None:
            if not kind.threshold:
                self.add_error("threshold", f"“{kind.label}” has no threshold of its own; leave this empty.")
            elif kind.threshold == "low_tire_kpa":
                data["threshold"] = units.kpa(threshold, self.fleet.unit_system)
            elif not 1 <= threshold <= 99:
                self.add_error("threshold", "Choose a percentage between 1 and 99.")
        return data


class VehicleRuleForm(ExceptionForm):
    """One vehicle's exception: it replaces the rules of the vehicle's groups."""

    vehicle = forms.ModelChoiceField(queryset=Vehicle.objects.none(), label="Vehicle", empty_label="Choose a vehicle")
    field_order = ["vehicle"]

    def __init__(self, *args, fleet: Fleet, **kwargs):
        super().__init__(*args, fleet=fleet, **kwargs)
        self.fields["vehicle"].queryset = Vehicle.objects.filter(fleet=fleet, disconnected_at__isnull=True)
        self.fields["enabled"].label = "Alert for this vehicle"
        self.fields["threshold"].label = "Its own threshold"


class GroupRuleForm(ExceptionForm):
    """A group's exception, for every vehicle in the group without one of its own."""

    group = forms.ModelChoiceField(queryset=VehicleGroup.objects.none(), label="Group", empty_label="Choose a group")
    field_order = ["group"]

    def __init__(self, *args, fleet: Fleet, **kwargs):
        super().__init__(*args, fleet=fleet, **kwargs)
        self.fields["group"].queryset = VehicleGroup.objects.filter(fleet=fleet)
        self.fields["enabled"].label = "Alert for the group's vehicles"
        self.fields["threshold"].label = "The group's threshold"


class SubscriptionForm(forms.ModelForm):
    conditions = forms.MultipleChoiceField(
        choices=[(k.key, k.label) for k in catalog.KINDS],
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Which alerts",
        help_text="None ticked: every kind.",
    )

    class Meta:
        model = Subscription
        fields = ["mode", "conditions", "vehicles", "quiet_from", "quiet_until", "weekly_report"]
        labels = {
            "mode": "E-mail me",
            "vehicles": "Which vehicles",
            "quiet_from": "Quiet hours from",
            "quiet_until": "Quiet hours until",
            "weekly_report": "Send me the fleet's weekly report (Monday morning)",
        }
        help_texts = {
            "vehicles": "None chosen: every vehicle.",
            "quiet_from": "In the fleet's time zone. Alerts that open in quiet hours are e-mailed when they end.",
        }
        widgets = {
            "mode": forms.RadioSelect,
            "quiet_from": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
            "quiet_until": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
        }

    def __init__(self, *args, fleet: Fleet, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["vehicles"].queryset = Vehicle.objects.filter(fleet=fleet, disconnected_at__isnull=True)
        self.fields["vehicles"].required = False

    def clean(self):
        data = super().clean()
        if (data.get("quiet_from") is None) != (data.get("quiet_until") is None):
            self.add_error("quiet_until", "Give both ends of the quiet hours, or neither.")
        return data


class EndpointForm(forms.ModelForm):
    url = forms.URLField(
        max_length=500,
        assume_scheme="https",
        label="Address (URL)",
        help_text="Fleet sends every alert change to it, signed with a secret shown once when you add it.",
    )

    class Meta:
        model = Endpoint
        fields = ["name", "url"]
        labels = {"name": "Name", "url": "Address (URL)"}
        help_texts = {"name": "For you, e.g. “Ops Slack” or “Ticketing”."}

    def clean_url(self):
        url = self.cleaned_data["url"]
        try:
            channels.url_check(url)
        except channels.RefusedURL as exc:
            raise forms.ValidationError(str(exc)) from exc
        return url
