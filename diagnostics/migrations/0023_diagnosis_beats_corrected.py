from django.db import migrations, models
from django.db.models import Count, Q


def count_corrected(apps, schema_editor):
    """The beats already corrected, for the recordings corrected before the count was kept."""
    Beat = apps.get_model("diagnostics", "Beat")
    BeatCorrection = apps.get_model("diagnostics", "BeatCorrection")
    Diagnosis = apps.get_model("diagnostics", "Diagnosis")
    recordings = set(BeatCorrection.objects.values_list("recording_id", flat=True))
    for recording_id in recordings:
        n = Beat.objects.filter(recording_id=recording_id).aggregate(n=Count("id", filter=~Q(classified_as="")))["n"]
        Diagnosis.objects.filter(recording_id=recording_id).update(beats_corrected=n or 0)


class Migration(migrations.Migration):
    dependencies = [
        ("diagnostics", "0022_beat_families_corrections"),
    ]

    operations = [
        migrations.AddField(
            model_name="diagnosis",
            name="beats_corrected",
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.RunPython(count_corrected, migrations.RunPython.noop),
    ]
