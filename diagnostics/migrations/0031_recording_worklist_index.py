"""A doctor's worklist (the clinic's done recordings no doctor has interpreted, oldest first) and its count read from
(clinic, status, created_at, id): the page in order from the index, the count from the index alone. Built CONCURRENTLY
on PostgreSQL, as 0029's: a plain CREATE INDEX would stop uploads writing recordings for as long as it builds."""

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
        ("diagnostics", "0030_ordering_by_recording_key"),
    ]

    operations = [
        AddIndexConcurrentlyWherePossible(
            model_name="ecgrecording",
            index=models.Index(fields=["clinic", "status", "created_at", "id"], name="recording_worklist_idx"),
        ),
    ]
