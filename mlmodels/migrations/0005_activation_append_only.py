"""A version's activations (mlmodels.models.ModelActivation) are the record of which model analysed a task's
recordings from when to when: append-only, as the audit trail and the MI reviews are. On PostgreSQL the database
itself refuses to change or remove one."""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION mlmodels_modelactivation_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'model activations are append-only: activate another version instead';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER mlmodels_modelactivation_no_update_delete
    BEFORE UPDATE OR DELETE ON mlmodels_modelactivation
    FOR EACH ROW EXECUTE FUNCTION mlmodels_modelactivation_append_only();
"""
DROP = """
DROP TRIGGER IF EXISTS mlmodels_modelactivation_no_update_delete ON mlmodels_modelactivation;
DROP FUNCTION IF EXISTS mlmodels_modelactivation_append_only();
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("mlmodels", "0004_model_activation_history")]

    operations = [migrations.RunPython(forwards, backwards)]
