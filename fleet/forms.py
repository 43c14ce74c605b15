from django import forms

from fleet.models import Fleet, Role


class FleetForm(forms.ModelForm):
    class Meta:
        model = Fleet
        fields = ["name", "time_zone", "unit_system"]


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
