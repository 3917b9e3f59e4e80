"""The access log's references without foreign-key constraints (see models/access_log.py):
what the constraints did on delete, statement triggers do."""

from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields

TRIGGERS = """
CREATE FUNCTION loket_access_log_references() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'household' THEN
        DELETE FROM access_log l USING gone WHERE l.household_id = gone.id;
    ELSIF TG_TABLE_NAME = 'app_user' THEN
        UPDATE access_log l SET viewer_id = NULL FROM gone WHERE l.viewer_id = gone.id;
    ELSIF TG_TABLE_NAME = 'disclosure' THEN
        UPDATE access_log l SET disclosure_id = NULL FROM gone WHERE l.disclosure_id = gone.id;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER household_access_log AFTER DELETE ON household REFERENCING OLD TABLE AS gone
    FOR EACH STATEMENT EXECUTE FUNCTION loket_access_log_references();
CREATE TRIGGER app_user_access_log AFTER DELETE ON app_user REFERENCING OLD TABLE AS gone
    FOR EACH STATEMENT EXECUTE FUNCTION loket_access_log_references();
CREATE TRIGGER disclosure_access_log AFTER DELETE ON disclosure REFERENCING OLD TABLE AS gone
    FOR EACH STATEMENT EXECUTE FUNCTION loket_access_log_references();
"""
DROP_TRIGGERS = """
DROP TRIGGER disclosure_access_log ON disclosure;
DROP TRIGGER app_user_access_log ON app_user;
DROP TRIGGER household_access_log ON household;
DROP FUNCTION loket_access_log_references();
"""


class Migration(migrations.Migration):
    dependencies = [('models', '0010_inbox_rank')]

    initial = False

    operations = [
        ops.AlterField(
            model_name='AccessLogEntry',
            name='disclosure',
            field=fields.ForeignKeyField('models.Disclosure', source_field='disclosure_id', null=True, db_constraint=False, to_field='id', related_name='access_log_entries', on_delete=OnDelete.SET_NULL),
        ),
        ops.AlterField(
            model_name='AccessLogEntry',
            name='household',
            field=fields.ForeignKeyField('models.Household', source_field='household_id', null=True, db_constraint=False, to_field='id', related_name='access_log_entries', on_delete=OnDelete.CASCADE),
        ),
        ops.AlterField(
            model_name='AccessLogEntry',
            name='viewer',
            field=fields.ForeignKeyField('models.User', source_field='viewer_id', null=True, db_constraint=False, to_field='id', related_name='access_log_entries', on_delete=OnDelete.SET_NULL),
        ),
        # (AlterField records the change; the constraints are dropped here.)
        ops.RunSQL(
            "ALTER TABLE access_log DROP CONSTRAINT IF EXISTS access_log_household_id_fkey, "
            "DROP CONSTRAINT IF EXISTS access_log_viewer_id_fkey, "
            "DROP CONSTRAINT IF EXISTS access_log_disclosure_id_fkey",
            "ALTER TABLE access_log "
            "ADD CONSTRAINT access_log_household_id_fkey FOREIGN KEY (household_id) "
            "REFERENCES household(id) ON DELETE CASCADE, "
            "ADD CONSTRAINT access_log_viewer_id_fkey FOREIGN KEY (viewer_id) "
            "REFERENCES app_user(id) ON DELETE SET NULL, "
            "ADD CONSTRAINT access_log_disclosure_id_fkey FOREIGN KEY (disclosure_id) "
            "REFERENCES disclosure(id) ON DELETE SET NULL",
        ),
        ops.RunSQL(TRIGGERS, DROP_TRIGGERS),
    ]
