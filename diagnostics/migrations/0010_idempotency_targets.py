"""An Idempotency-Key also replays a review or a signed interpretation: IdempotencyRecord names exactly one of a
recording, a review or an interpretation. The rows there all name a recording, so they stay valid; the table keeps
its name."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def forget_keys_of_other_writes(apps, schema_editor):
    # Going back, only an upload's key can be kept (``recording`` is required again); the others are forgotten.
    apps.get_model("diagnostics", "IdempotencyRecord").objects.filter(recording__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("diagnostics", "0009_interpretation"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="idempotencyrecord",
            name="interpretation",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to="diagnostics.interpretation",
            ),
        ),
        migrations.AddField(
            model_name="idempotencyrecord",
            name="review",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to="diagnostics.review",
            ),
        ),
        migrations.AlterField(
            model_name="idempotencyrecord",
            name="recording",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to="diagnostics.ecgrecording",
            ),
        ),
        migrations.RunPython(migrations.RunPython.noop, forget_keys_of_other_writes),
        migrations.AddConstraint(
            model_name="idempotencyrecord",
            constraint=models.CheckConstraint(
                condition=models.Q(recording__isnull=False, review__isnull=True, interpretation__isnull=True)
                | models.Q(recording__isnull=True, review__isnull=False, interpretation__isnull=True)
                | models.Q(recording__isnull=True, review__isnull=True, interpretation__isnull=False),
                name="idempotency_record_one_target",
            ),
        ),
    ]
