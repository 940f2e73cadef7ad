"""A doctor's decision on an MI flag (diagnostics.models.Review) is append-only, as the signed interpretations, the
recording moves and the audit trail are: a changed decision is a new review, the earlier one kept. On PostgreSQL the
database itself refuses to change or remove one."""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION diagnostics_review_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'MI reviews are append-only: record another decision instead';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER diagnostics_review_no_update_delete
    BEFORE UPDATE OR DELETE ON diagnostics_review
    FOR EACH ROW EXECUTE FUNCTION diagnostics_review_append_only();
"""
DROP = """
DROP TRIGGER IF EXISTS diagnostics_review_no_update_delete ON diagnostics_review;
DROP FUNCTION IF EXISTS diagnostics_review_append_only();
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("diagnostics", "0027_diagnosis_rhythm_recompute_attempts")]

    operations = [migrations.RunPython(forwards, backwards)]
