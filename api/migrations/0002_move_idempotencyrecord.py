# IdempotencyRecord now belongs to diagnostics (same table); the api app forgets it without touching the database.
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("api", "0001_initial"),
        ("diagnostics", "0002_idempotencyrecord"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="IdempotencyRecord")],
            database_operations=[],
        ),
    ]
