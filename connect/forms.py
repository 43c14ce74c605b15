from django import forms


class DisconnectForm(forms.Form):
    HISTORY_CHOICES = [
        ("keep", "Keep the vehicles and their history (read-only, no more syncing)"),
        ("delete", "Delete the vehicles and all their history"),
    ]
    history = forms.ChoiceField(choices=HISTORY_CHOICES, widget=forms.RadioSelect, initial="keep", label="History")

    def clean(self):
        cleaned = super().clean()
        cleaned["delete_history"] = cleaned.get("history") == "delete"
        return cleaned
