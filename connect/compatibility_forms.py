"""Forms of the compatibility pages (connect/compatibility.py): read-only queries, submitted with GET."""

from django import forms
from django.conf import settings

from connect.compatibility import ENGINE_TYPES, MAKES_BY_REGION, REGIONS
from connect.permissions import permission_label
from connect.vin import InvalidVin, vin_validate
from vehicles.models import make_label


def _permission_choices():
    return [(p, permission_label(p)) for p in settings.SMARTCAR_SCOPE]


class VinCheckForm(forms.Form):
    vin = forms.CharField(label="VIN", max_length=40, help_text="17 characters, on the windscreen or the registration")
    country = forms.RegexField(
        regex=r"^[A-Za-z]{2}$",
        max_length=2,
        initial="US",
        help_text="Where the vehicle was sold (ISO 3166 two-letter code). Smartcar lists capabilities for US only.",
        error_messages={"invalid": "Two letters, e.g. US, CA or DE."},
    )
    permissions = forms.MultipleChoiceField(
        choices=_permission_choices,
        widget=forms.CheckboxSelectMultiple,
        help_text="What Fleet would ask the owner for",
    )

    def clean_vin(self):
        try:
            return vin_validate(self.cleaned_data["vin"])
        except InvalidVin as exc:
            raise forms.ValidationError(str(exc)) from exc

    def clean_country(self):
        return self.cleaned_data["country"].upper()


class MatrixForm(forms.Form):
    region = forms.ChoiceField(choices=list(REGIONS.items()), initial="US")
    make = forms.MultipleChoiceField(
        required=False,
        choices=sorted({(m, make_label(m)) for makes in MAKES_BY_REGION.values() for m in makes}),
        help_text="None chosen: every make of the region",
    )
    type = forms.MultipleChoiceField(
        label="Engine type", required=False, choices=list(ENGINE_TYPES.items()), widget=forms.CheckboxSelectMultiple
    )
    permissions = forms.MultipleChoiceField(required=False, choices=_permission_choices)

    def clean(self):
        cleaned = super().clean() or {}
        region, makes = cleaned.get("region"), cleaned.get("make") or []
        if region:
            elsewhere = [m for m in makes if m not in MAKES_BY_REGION[region]]
            if elsewhere:
                self.add_error("make", f"Not a make of {REGIONS[region]}: {', '.join(elsewhere)}.")
        return cleaned
