"""MRNs stored before they were kept in their plain form (NFKC, outer spaces off): each is rewritten, unless
the plain form is another patient's MRN in the clinic (then both are one patient twice: they are left for the
clinic to merge, and the migration prints them)."""

import unicodedata

from django.db import migrations


def normalise(apps, schema_editor):
    Patient = apps.get_model("patients", "Patient")
    left = []
    for patient in Patient.objects.only("pk", "clinic_id", "mrn").iterator():
        plain = unicodedata.normalize("NFKC", patient.mrn).strip()
        if plain == patient.mrn:
            continue
        clash = Patient.objects.filter(clinic_id=patient.clinic_id, mrn__iexact=plain).exclude(pk=patient.pk)
        if clash.exists():
            left.append((patient.pk, patient.mrn))
            continue
        Patient.objects.filter(pk=patient.pk).update(mrn=plain)
    for pk, mrn in left:
        print(f"  patient {pk}: MRN {mrn!r} is another patient's in its plain form; left as it is, to merge")


class Migration(migrations.Migration):
    dependencies = [("patients", "0004_mrn_unique_any_case")]

    operations = [migrations.RunPython(normalise, migrations.RunPython.noop)]
