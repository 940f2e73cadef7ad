"""An event's beats are None for VF/VFL (what is detected inside it are waves, not beats): the events stored, the
Holter summaries' VF/VFL episodes and the withdrawn events kept on beat corrections lose the count they had of the
detections inside."""

from django.db import migrations, models


def vf_counts_no_beats(apps, schema_editor):
    Event = apps.get_model("diagnostics", "Event")
    Diagnosis = apps.get_model("diagnostics", "Diagnosis")
    BeatCorrection = apps.get_model("diagnostics", "BeatCorrection")
    Event.objects.filter(type="vf").exclude(beats=None).update(beats=None)
    for pk, rhythm in Diagnosis.objects.filter(rhythm__vf__0__isnull=False).values_list("pk", "rhythm").iterator():
        rhythm["vf"] = [episode | {"beats": None} for episode in rhythm["vf"]]
        Diagnosis.objects.filter(pk=pk).update(rhythm=rhythm)
    for correction in BeatCorrection.objects.exclude(withdrawn_events=[]).only("pk", "withdrawn_events").iterator():
        events = [e | {"beats": None} if e.get("type") == "vf" else e for e in correction.withdrawn_events]
        if events != correction.withdrawn_events:
            BeatCorrection.objects.filter(pk=correction.pk).update(withdrawn_events=events)


class Migration(migrations.Migration):
    dependencies = [
        ("diagnostics", "0032_diagnosis_figures_once"),
    ]

    operations = [
        migrations.AlterField(
            model_name="event",
            name="beats",
            field=models.PositiveIntegerField(
                blank=True, help_text="None for VF/VFL: what is detected inside it are waves, not beats", null=True
            ),
        ),
        migrations.RunPython(vf_counts_no_beats, migrations.RunPython.noop),
    ]
