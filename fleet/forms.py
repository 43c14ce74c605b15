from allauth.account.forms import SignupForm as AllauthSignupForm
from allauth.core import context
from django import forms
from django.utils.html import format_html, format_html_join

from fleet.adapters import pending_invitation
from fleet.models import Fleet, Role


class TimeZoneInput(forms.TextInput):
    """A field to type a zone into, with the choices as suggestions (common ones first) that narrow as one types:
    "york" finds "New York (America)". It shows and suggests the zones' labels and sends back the zone they name;
    the choice field behind it still refuses anything not in the list."""

    def __init__(self, attrs=None):
        super().__init__({"autocomplete": "off", "spellcheck": "false", **(attrs or {})})
        self.choices: list = []

    def _flat(self) -> list[tuple[str, str]]:
        flat = []
        for value_or_group, label in self.choices:
            grouped = isinstance(label, list | tuple)
            flat += label if grouped else [(value_or_group, label)]
        return flat

    def format_value(self, value):
        return dict(self._flat()).get(value, value)

    def value_from_datadict(self, data, files, name):
        typed = super().value_from_datadict(data, files, name)
        zones = {label: zone for zone, label in self._flat()}
        return zones.get(typed.strip(), typed.strip()) if isinstance(typed, str) else typed

    def render(self, name, value, attrs=None, renderer=None):
        options_id = f"{(attrs or {}).get('id') or name}-options"
        field = super().render(name, value, {**(attrs or {}), "list": options_id}, renderer)
        options = format_html_join("", '<option value="{}"></option>', ((label,) for _, label in self._flat()))
        return format_html('{}<datalist id="{}">{}</datalist>', field, options_id, options)


def threshold_percent(value):
    """A threshold in percent (the fleet's and each alert's): 0 or 100 would hold never or always."""
    if value is None or not 1 <= value <= 99:
        raise forms.ValidationError("Choose a percentage between 1 and 99.")
    return value


def stale_after_minutes(value):
    if value < 5:
        raise forms.ValidationError("Vehicles report every few minutes at best: choose 5 minutes or more.")
    return value


class FleetForm(forms.ModelForm):
    class Meta:
        model = Fleet
        fields = ["name", "time_zone", "unit_system"]
        widgets = {"time_zone": TimeZoneInput()}
        help_texts = {"time_zone": "Type a city or region, e.g. New York. Every time Fleet shows is in this zone."}


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
        return threshold_percent(self.cleaned_data["low_energy_percent"])

    def clean_stale_after_minutes(self):
        return stale_after_minutes(self.cleaned_data["stale_after_minutes"])


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


class SignupForm(AllauthSignupForm):
    """allauth's sign-up form; reached from an invitation, it shows the invited address fixed.

    The field is read-only in the page; the address is checked on the server as well (fleet/adapters.py), whatever
    was posted.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        invitation = pending_invitation(context.request)
        if invitation is not None:
            self.initial["email"] = invitation.email
            self.fields["email"].widget.attrs["readonly"] = True
            self.fields["email"].help_text = f"The address {invitation.fleet.name}'s invitation was sent to."
