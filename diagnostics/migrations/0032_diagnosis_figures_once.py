"""The figures a diagnosis's results carried before a doctor's corrections changed them (Diagnosis.figures_once), so
the FHIR report sends one they no longer carry as entered-in-error. Of the results corrected before: an MI screen a
correction left not assessable had a score and flag (its reason says so); the heart rates a recomputed rhythm had
before are not known, and are not sent so."""

from django.db import migrations, models

# diagnostics.corrections.MI_AFTER_CORRECTIONS, as it was when this was written
MI_AFTER_CORRECTIONS = " After a doctor's beat corrections: "


def mi_scored_before(apps, schema_editor):
    Diagnosis = apps.get_model("diagnostics", "Diagnosis")
    Diagnosis.objects.filter(mi_reason__contains=MI_AFTER_CORRECTIONS, mi_score__isnull=True).update(
        figures_once=["mi-flag", "mi-score"]
    )


class Migration(migrations.Migration):
    dependencies = [
        ("diagnostics", "0031_recording_worklist_index"),
    ]

    operations = [
        migrations.AddField(
            model_name="diagnosis",
            name="figures_once",
            field=models.JSONField(blank=True, default=list),
        ),
        migrations.RunPython(mi_scored_before, migrations.RunPython.noop),
    ]
