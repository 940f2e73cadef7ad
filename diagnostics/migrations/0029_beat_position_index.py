"""The beats within a stretch of the signal read (recording, position). Built CONCURRENTLY on PostgreSQL, as 0008's
and 0024's beat indexes: a plain CREATE INDEX would stop the workers writing beats to the largest table for as long
as it builds."""

from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class AddIndexConcurrentlyWherePossible(AddIndexConcurrently):
    """CREATE INDEX CONCURRENTLY on PostgreSQL; a plain index on another database (SQLite, the embedded run)."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            return super().database_forwards(app_label, schema_editor, from_state, to_state)
        return migrations.AddIndex.database_forwards(self, app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            return super().database_backwards(app_label, schema_editor, from_state, to_state)
        return migrations.AddIndex.database_backwards(self, app_label, schema_editor, from_state, to_state)


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY cannot run inside a transaction

    dependencies = [
        ("diagnostics", "0028_review_append_only"),
    ]

    operations = [
        AddIndexConcurrentlyWherePossible(
            model_name="beat",
            index=models.Index(fields=["recording", "position"], name="beat_position_idx"),
        ),
    ]
