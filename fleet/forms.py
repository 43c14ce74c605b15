from django import forms

from fleet.models import Fleet, Role


class FleetForm(forms.ModelForm):
    class Meta:
        model = Fleet
        fields = ["name", "time_zone", "unit_system"]


class FleetSettingsForm(FleetForm):
    class Meta(FleetForm.Meta):
        fields = [
            *FleetForm.Meta.fields,
            "low_energy_percent",
            "stale_after_minutes",
            "webhooks_subscribe_new_vehicles",
        ]
        labels = {
            "low_energy_percent": "Low battery or fuel (%)",
            "stale_after_minutes": "Data is stale after (minutes)",
        }

    def clean_low_energy_percent(self):
        value = self.cleaned_data["low_energy_percent"]
        if not 1 <= value <= 99:
            raise forms.ValidationError("Choose a percentage between 1 and 99.")
        return value

    def clean_stale_after_minutes(self):
        value = self.cleaned_data["stale_after_minutes"]
        if value < 5:
            raise forms.ValidationError("Vehicles report every few minutes at best: choose 5 minutes or more.")
        return value


class InvitationForm(forms.Form):
    email = forms.EmailField(label="E-mail address")
    role = forms.ChoiceField(choices=Role.choices, initial=Role.VIEWER)

    def __init__(self, *args, fleet: Fleet, **kwargs):
        super().__init__(*args, **kwargs)
        self.fleet = fleet

    def clean_email(self):
        email = self.cleaned_data["email"].strip().lower()
        if self.fleet.memberships.filter(user__email__iexact=email).exists():
            raise forms.ValidationError("This person is already a member of the fleet.")
        return email


class MembershipRoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)
