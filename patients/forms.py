from django import forms

from .models import Patient


class PatientForm(forms.ModelForm):
    class Meta:
        model = Patient
        fields = ["mrn", "family_name", "given_name", "date_of_birth", "sex"]
        widgets = {"date_of_birth": forms.DateInput(attrs={"type": "date"})}

    def __init__(self, *args, clinic_id: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.clinic_id = clinic_id

    def clean_mrn(self):
        mrn = self.cleaned_data["mrn"].strip()
        clash = Patient.objects.filter(clinic_id=self.clinic_id, mrn=mrn)
        if self.instance.pk:
            clash = clash.exclude(pk=self.instance.pk)
        if clash.exists():
            raise forms.ValidationError("Another patient of this clinic has this medical record number.")
        return mrn
