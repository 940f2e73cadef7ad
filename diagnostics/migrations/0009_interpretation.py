"""A doctor's signed interpretation of a recording (diagnostics.models.Interpretation). Append-only: on PostgreSQL
the database itself refuses to change or remove one, as it does audit events."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

CREATE = """
CREATE OR REPLACE FUNCTION diagnostics_interpretation_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'interpretations are append-only: sign an amendment instead';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER diagnostics_interpretation_no_update_delete
    BEFORE UPDATE OR DELETE ON diagnostics_interpretation
    FOR EACH ROW EXECUTE FUNCTION diagnostics_interpretation_append_only();
"""
DROP = """
DROP TRIGGER IF EXISTS diagnostics_interpretation_no_update_delete ON diagnostics_interpretation;
DROP FUNCTION IF EXISTS diagnostics_interpretation_append_only();
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
        ("diagnostics", "0008_beat_class_index"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="Interpretation",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("text", models.TextField()),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                (
                    "amends",
                    models.OneToOneField(
                        blank=True,
                        editable=False,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="amended_by",
                        to="diagnostics.interpretation",
                    ),
                ),
                (
                    "author",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT, related_name="+", to=settings.AUTH_USER_MODEL
                    ),
                ),
                (
                    "clinic",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT, related_name="+", to="accounts.clinic"
                    ),
                ),
                (
                    "recording",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="interpretations",
                        to="diagnostics.ecgrecording",
                    ),
                ),
            ],
            options={
                "ordering": ["-created_at", "-id"],
                "indexes": [
                    models.Index(fields=["recording", "-created_at", "-id"], name="diagnostics_recordi_f6b012_idx")
                ],
                "constraints": [
                    models.UniqueConstraint(
                        condition=models.Q(("amends__isnull", True)),
                        fields=("recording",),
                        name="interpretation_one_first_version",
                    )
                ],
            },
        ),
        migrations.RunPython(forwards, backwards),
    ]
