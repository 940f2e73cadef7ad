from django import forms

from .models import Patient, validate_date_of_birth


class PatientForm(forms.ModelForm):
    # the patient as the form was opened (services.version_of): a colleague's save since is not undone unseen
    version = forms.CharField(required=False, widget=forms.HiddenInput(attrs={"autocomplete": "off"}))

    class Meta:
        model = Patient
        fields = ["mrn", "family_name", "given_name", "date_of_birth", "sex"]
        widgets = {"date_of_birth": forms.DateInput(attrs={"type": "date"})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            from .services import version_of

            self.fields["version"].initial = version_of(self.instance)

    def patient_fields(self) -> dict:
        """The patient's fields, as the services take them."""
        return {name: self.cleaned_data[name] for name in self.Meta.fields}

    def clean_date_of_birth(self):
        value = self.cleaned_data.get("date_of_birth")
        validate_date_of_birth(value, stored=self.instance.date_of_birth if self.instance.pk else None)
        return value
