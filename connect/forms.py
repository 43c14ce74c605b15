from django import forms


class DisconnectForm(forms.Form):
    history = forms.ChoiceField(widget=forms.RadioSelect, initial="keep", label="History")

    def __init__(self, *args, vehicles: int, **kwargs):
        super().__init__(*args, **kwargs)
        if vehicles == 1:
            choices = [
                ("keep", "Keep the vehicle and its history (read-only, no more syncing)"),
                ("delete", "Delete the vehicle and all its history"),
            ]
        else:
            choices = [
                ("keep", "Keep the vehicles and their history (read-only, no more syncing)"),
                ("delete", "Delete the vehicles and all their history"),
            ]
        history = self.fields["history"]
        assert isinstance(history, forms.ChoiceField)
        history.choices = choices

    def clean(self):
        cleaned = super().clean() or {}
        cleaned["delete_history"] = cleaned.get("history") == "delete"
        return cleaned
