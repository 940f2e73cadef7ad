"""When anything a recording shows last changed (ECGRecording.updated_at), for a hospital's sync job that pages the
recordings changed since its last run. A recording stored before it is given the latest moment its rows tell of: its
upload, its analysis starting and ending, its results, its moves, its signed interpretations and the doctors'
decisions on its MI flag and its rhythm events (not a progress tick, which left no time behind)."""

from django.db import migrations, models
from django.db.models import F, OuterRef, Subquery
from django.db.models.functions import Coalesce, Greatest


def fill(apps, schema_editor):
    ECGRecording = apps.get_model("diagnostics", "ECGRecording")

    def latest(model_name: str, recording: str):
        rows = apps.get_model("diagnostics", model_name).objects.filter(**{recording: OuterRef("pk")})
        return Coalesce(Subquery(rows.order_by("-created_at").values("created_at")[:1]), F("created_at"))

    ECGRecording.objects.update(
        updated_at=Greatest(
            F("created_at"),
            Coalesce(F("started_at"), F("created_at")),
            Coalesce(F("finished_at"), F("created_at")),
            latest("Diagnosis", "recording"),
            latest("RecordingMove", "recording"),
            latest("Interpretation", "recording"),
            latest("Review", "diagnosis__recording"),
            latest("EventReview", "event__recording"),
        )
    )


class Migration(migrations.Migration):
    dependencies = [("diagnostics", "0016_diary_entry")]

    operations = [
        migrations.AddField(
            model_name="ecgrecording",
            name="updated_at",
            field=models.DateTimeField(
                auto_now=True,
                help_text="When anything the recording shows last changed: its status, progress or results, its "
                "patient, its interpretation, a doctor's decision on its MI flag or on one of its rhythm events",
            ),
        ),
        migrations.RunPython(fill, migrations.RunPython.noop),
        migrations.AddIndex(
            model_name="ecgrecording",
            index=models.Index(fields=["clinic", "updated_at", "id"], name="diagnostics_clinic__ed1b0b_idx"),
        ),
    ]
