"""Forms of the vehicle groups pages and the vehicle page's choice of groups."""

from django import forms

from vehicles.models import Vehicle, VehicleGroup


def _connected(fleet):
    return Vehicle.objects.filter(fleet=fleet, disconnected_at__isnull=True)


class GroupForm(forms.ModelForm):
    class Meta:
        model = VehicleGroup
        fields = ["name"]
        labels = {"name": "Name"}
        help_texts = {"name": "For instance “Vans”, “Depot North” or “Plug-in hybrids”."}

    def __init__(self, *args, fleet, **kwargs):
        super().__init__(*args, **kwargs)
        self.fleet = fleet
        self.instance.fleet = fleet

    def clean_name(self):
        name = self.cleaned_data["name"].strip()
        if not name:
            raise forms.ValidationError("Give the group a name.")
        others = VehicleGroup.objects.filter(fleet=self.fleet, name__iexact=name).exclude(pk=self.instance.pk)
        if others.exists():
            raise forms.ValidationError("The fleet has a group of this name already.")
        return name


class GroupVehiclesForm(forms.Form):
    """Vehicles to add to a group: the fleet's connected vehicles not in it yet."""

    vehicles = forms.ModelMultipleChoiceField(
        queryset=Vehicle.objects.none(), label="Vehicles", help_text="Hold Ctrl (⌘ on a Mac) to choose several."
    )

    def __init__(self, *args, group: VehicleGroup, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["vehicles"].queryset = _connected(group.fleet_id).exclude(groups=group)  # type: ignore[attr-defined]
        self.fields["vehicles"].widget.attrs["size"] = 8


class VehicleGroupsForm(forms.Form):
    """The groups one vehicle is in (the vehicle page)."""

    groups = forms.ModelMultipleChoiceField(
        queryset=VehicleGroup.objects.none(), required=False, widget=forms.CheckboxSelectMultiple, label="Groups"
    )

    def __init__(self, *args, vehicle: Vehicle, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["groups"].queryset = VehicleGroup.objects.filter(fleet_id=vehicle.fleet_id)  # type: ignore[attr-defined]
        self.fields["groups"].initial = list(vehicle.groups.values_list("pk", flat=True))
