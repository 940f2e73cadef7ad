"""Patients' MRN and names folded for a search without case or accents (Patient.search_text), filled for the
patients stored before it. The folding is patients.search's own, not a copy: the rows filled here must fold as
every search does; a change to the folding needs a migration that fills the rows again."""

from django.db import migrations, models

from patients.search import search_text

BATCH = 2000


def fill(apps, schema_editor):
    Patient = apps.get_model("patients", "Patient")
    batch = []
    for patient in Patient.objects.only("pk", "mrn", "family_name", "given_name").iterator(chunk_size=BATCH):
        patient.search_text = search_text(
            mrn=patient.mrn, family_name=patient.family_name, given_name=patient.given_name
        )
        batch.append(patient)
        if len(batch) == BATCH:
            Patient.objects.bulk_update(batch, ["search_text"])
            batch = []
    Patient.objects.bulk_update(batch, ["search_text"])


class Migration(migrations.Migration):
    dependencies = [("patients", "0005_normalise_stored_mrns")]

    operations = [
        migrations.AddField(
            model_name="patient",
            name="search_text",
            field=models.TextField(blank=True, default="", editable=False),
        ),
        migrations.RunPython(fill, migrations.RunPython.noop),
    ]
