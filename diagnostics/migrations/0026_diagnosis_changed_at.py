"""A diagnosis's ``changed_at``: when a beat correction, its undoing or the rhythm recomputed after one last changed
it, for its Last-Modified. Set for the diagnoses corrected before it, from their corrections and recomputation (a
failed recomputation's time was not kept: the latest correction's or undoing's stands for it)."""

from datetime import datetime

from django.db import migrations, models


def corrected_at(apps, schema_editor):
    Diagnosis = apps.get_model("diagnostics", "Diagnosis")
    BeatCorrection = apps.get_model("diagnostics", "BeatCorrection")
    latest: dict[int, datetime] = {}
    for recording_id, made, undone in BeatCorrection.objects.values_list("recording_id", "created_at", "undone_at"):
        for when in (made, undone):
            if when is not None and (recording_id not in latest or when > latest[recording_id]):
                latest[recording_id] = when
    for diagnosis in Diagnosis.objects.filter(recording_id__in=list(latest)).only(
        "pk", "recording_id", "rhythm_recomputed_at"
    ):
        times = [latest[diagnosis.recording_id], diagnosis.rhythm_recomputed_at]
        Diagnosis.objects.filter(pk=diagnosis.pk).update(changed_at=max(t for t in times if t is not None))


class Migration(migrations.Migration):
    dependencies = [
        ("diagnostics", "0025_rhythm_inputs"),
    ]

    operations = [
        migrations.AddField(
            model_name="diagnosis",
            name="changed_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.RunPython(corrected_at, migrations.RunPython.noop),
    ]
