from django import forms

from .models import Patient, validate_date_of_birth


class PatientForm(forms.ModelForm):
    class Meta:
        model = Patient
        fields = ["mrn", "family_name", "given_name", "date_of_birth", "sex"]
        widgets = {"date_of_birth": forms.DateInput(attrs={"type": "date"})}

    def clean_date_of_birth(self):
        value = self.cleaned_data.get("date_of_birth")
        validate_date_of_birth(value, stored=self.instance.date_of_birth if self.instance.pk else None)
        return value
