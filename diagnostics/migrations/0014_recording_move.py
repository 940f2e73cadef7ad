"""A recording moved from the patient it was filed under to the right one (diagnostics.models.RecordingMove).
Append-only: on PostgreSQL the database itself refuses to change or remove one, as it does audit events and
interpretations."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

CREATE = """
CREATE OR REPLACE FUNCTION diagnostics_recordingmove_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'recording moves are append-only: move the recording again instead';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER diagnostics_recordingmove_no_update_delete
    BEFORE UPDATE OR DELETE ON diagnostics_recordingmove
    FOR EACH ROW EXECUTE FUNCTION diagnostics_recordingmove_append_only();
"""
DROP = """
DROP TRIGGER IF EXISTS diagnostics_recordingmove_no_update_delete ON diagnostics_recordingmove;
DROP FUNCTION IF EXISTS diagnostics_recordingmove_append_only();
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0006_installation"),
        ("diagnostics", "0013_idempotency_event_review"),
        ("patients", "0006_patient_search_text"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="RecordingMove",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("reason", models.CharField(max_length=500)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                (
                    "clinic",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT, related_name="+", to="accounts.clinic"
                    ),
                ),
                (
                    "from_patient",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT, related_name="+", to="patients.patient"
                    ),
                ),
                (
                    "moved_by",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT, related_name="+", to=settings.AUTH_USER_MODEL
                    ),
                ),
                (
                    "recording",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT, related_name="moves", to="diagnostics.ecgrecording"
                    ),
                ),
                (
                    "to_patient",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT, related_name="+", to="patients.patient"
                    ),
                ),
            ],
            options={
                "ordering": ["id"],
                "indexes": [models.Index(fields=["recording", "id"], name="diagnostics_recordi_d5b7ed_idx")],
                "constraints": [
                    models.CheckConstraint(
                        condition=models.Q(("from_patient", models.F("to_patient")), _negated=True),
                        name="recording_move_to_another_patient",
                    )
                ],
            },
        ),
        migrations.RunPython(forwards, backwards),
    ]
