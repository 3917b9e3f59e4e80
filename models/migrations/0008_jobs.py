"""Jobs: procrastinate's queue schema, job runs, the notification outbox, trend statistics;
the emergency-list notification stamp; anonymisation marks (and the columns anonymisation
clears become nullable)."""

from tortoise import migrations
from tortoise.migrations import operations as ops
from models.migration_ops import ApplyJobEngineSchema
from models.households import EducationLevel, RelationToChild, WorkSituation
from models.jobs import JobRunStatus, OutboxStatus
from orjson import loads
from tortoise.fields.base import OnDelete
from tortoise.fields.data import JSON_DUMPS
from tortoise import fields
from tortoise.indexes import Index
from tortoise.contrib.postgres.fields import ArrayField

class Migration(migrations.Migration):
    dependencies = [('models', '0007_application_origin')]

    initial = False

    operations = [
        ops.CreateModel(
            name='JobRun',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('job', fields.CharField(max_length=48)),
                ('started_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('finished_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('status', fields.CharEnumField(default=JobRunStatus.RUNNING, description='RUNNING: RUNNING\nSUCCEEDED: SUCCEEDED\nFAILED: FAILED', enum_type=JobRunStatus, max_length=16)),
                ('dry_run', fields.BooleanField(default=False)),
                ('reference_date', fields.DateField()),
                ('trigger', fields.CharField(max_length=16)),
                ('scheduled_for', fields.BigIntField(null=True)),
                ('counts', fields.JSONField(default=dict, encoder=JSON_DUMPS, decoder=loads)),
                ('batches', fields.IntField(default=0)),
                ('error', fields.CharField(default='', max_length=200)),
            ],
            options={'table': 'job_run', 'app': 'models', 'indexes': [Index(fields=['job', 'started_at'])], 'pk_attr': 'id', 'table_description': 'One run of a job: when, which reference date, and how many rows each rule touched.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='OutboxMessage',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('kind', fields.CharField(max_length=32)),
                ('recipient', fields.ForeignKeyField('models.User', source_field='recipient_id', null=True, db_constraint=True, to_field='id', related_name='outbox_messages', on_delete=OnDelete.SET_NULL)),
                ('language', fields.CharField(default='nl', max_length=8)),
                ('params', fields.JSONField(default=dict, encoder=JSON_DUMPS, decoder=loads)),
                ('dedup_key', fields.CharField(unique=True, max_length=200)),
                ('status', fields.CharEnumField(default=OutboxStatus.PENDING, description='PENDING: PENDING\nSENT: SENT\nFAILED: FAILED\nDROPPED: DROPPED', enum_type=OutboxStatus, max_length=12)),
                ('attempts', fields.SmallIntField(default=0)),
                ('next_attempt_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('claimed_until', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('sent_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('last_error', fields.CharField(default='', max_length=200)),
            ],
            options={'table': 'outbox', 'app': 'models', 'indexes': [Index(fields=['status', 'next_attempt_at'])], 'pk_attr': 'id', 'table_description': 'A notification a person must get, written in the same transaction as the change it'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='RequestStatistic',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('municipality', fields.ForeignKeyField('models.Municipality', source_field='municipality_id', db_constraint=True, to_field='nis_code', related_name='request_statistics', on_delete=OnDelete.CASCADE)),
                ('month', fields.DateField()),
                ('requests', fields.IntField()),
                ('fulfilled', fields.IntField()),
                ('withdrawn', fields.IntField()),
                ('emergency', fields.IntField()),
                ('median_wait_days', fields.FloatField(null=True)),
                ('computed_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'request_statistic', 'app': 'models', 'unique_together': (('municipality', 'month'),), 'pk_attr': 'id', 'table_description': 'Anonymised trend figures per residence municipality and month of submission,'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='CareRequest',
            name='emergency_notified_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='CareRequest',
            name='emergency_notified_municipalities',
            field=ArrayField(element_type='varchar(5)', null=True),
        ),
        ops.AddField(
            model_name='Child',
            name='anonymised_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Household',
            name='anonymised_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AlterModelOptions(
            name='Parent',
            options={'table': 'parent', 'app': 'models', 'pk_attr': 'id', 'table_description': 'Applicant or partner of a household. Nationality, home language, work situation,'},
        ),
        ops.AlterField(
            model_name='Parent',
            name='education_level',
            field=fields.CharEnumField(null=True, description='NO_SECONDARY_DIPLOMA: NO_SECONDARY_DIPLOMA\nSECONDARY: SECONDARY\nHIGHER: HIGHER', enum_type=EducationLevel, max_length=24),
        ),
        ops.AlterField(
            model_name='Parent',
            name='home_language',
            field=fields.CharField(null=True, max_length=8),
        ),
        ops.AlterField(
            model_name='Parent',
            name='nationality',
            field=fields.CharField(null=True, max_length=2),
        ),
        ops.AlterField(
            model_name='Parent',
            name='relation_to_child',
            field=fields.CharEnumField(null=True, description='PARENT: PARENT\nFOSTER_PARENT: FOSTER_PARENT\nOTHER: OTHER', enum_type=RelationToChild, max_length=16),
        ),
        ops.AlterField(
            model_name='Parent',
            name='work_situation',
            field=fields.CharEnumField(null=True, description='WORKING: WORKING\nJOB_SEEKING: JOB_SEEKING\nIN_TRAINING: IN_TRAINING\nINTEGRATION_COURSE: INTEGRATION_COURSE\nNONE: NONE', enum_type=WorkSituation, max_length=24),
        ),
        ApplyJobEngineSchema("3.10.0"),
        # One real run per job and schedule tick, whichever worker picks it up.
        ops.RunSQL(
            "CREATE UNIQUE INDEX job_run_one_per_tick ON job_run (job, scheduled_for) "
            "WHERE scheduled_for IS NOT NULL AND NOT dry_run",
            "DROP INDEX job_run_one_per_tick",
        ),
        ops.RunSQL(
            "CREATE INDEX outbox_due_idx ON outbox (next_attempt_at) WHERE status = 'PENDING'",
            "DROP INDEX outbox_due_idx",
        ),
        ops.RunSQL(
            "CREATE INDEX care_request_emergency_unnotified_idx ON care_request (id) "
            "WHERE emergency_since IS NOT NULL AND emergency_notified_at IS NULL",
            "DROP INDEX care_request_emergency_unnotified_idx",
        ),
        # What the jobs look up by: a request's or a child's enrolments, a child's requests,
        # the locations of a municipality, the staff of a provider.
        ops.RunSQL(
            [
                "CREATE INDEX enrolment_request_idx ON enrolment (request_id)",
                "CREATE INDEX enrolment_child_idx ON enrolment (child_id, end_date)",
                "CREATE INDEX care_request_child_idx ON care_request (child_id)",
                "CREATE INDEX provider_location_municipality_idx "
                "ON provider_location (municipality_id)",
                "CREATE INDEX membership_provider_organisation_idx "
                "ON membership (provider_organisation_id) "
                "WHERE revoked_at IS NULL AND provider_organisation_id IS NOT NULL",
                "CREATE INDEX membership_provider_location_idx "
                "ON membership (provider_location_id) "
                "WHERE revoked_at IS NULL AND provider_location_id IS NOT NULL",
                # The retention job walks dossiers not yet anonymised in creation order,
                # and deletes what a closed account leaves.
                "CREATE INDEX child_retention_walk_idx ON child (created_at, id) "
                "WHERE anonymised_at IS NULL",
                "CREATE INDEX household_retention_walk_idx ON household (created_at, id) "
                "WHERE anonymised_at IS NULL",
                "CREATE INDEX outbox_recipient_pending_idx ON outbox (recipient_id) "
                "WHERE status = 'PENDING'",
                "CREATE INDEX saved_search_user_idx ON saved_search (user_id)",
                "CREATE INDEX care_request_emergency_idx ON care_request (id) "
                "WHERE emergency_since IS NOT NULL",
                "CREATE INDEX membership_user_idx ON membership (user_id)",
            ],
            [
                "DROP INDEX enrolment_request_idx",
                "DROP INDEX enrolment_child_idx",
                "DROP INDEX care_request_child_idx",
                "DROP INDEX provider_location_municipality_idx",
                "DROP INDEX membership_provider_organisation_idx",
                "DROP INDEX membership_provider_location_idx",
                "DROP INDEX membership_user_idx",
                "DROP INDEX child_retention_walk_idx",
                "DROP INDEX household_retention_walk_idx",
                "DROP INDEX outbox_recipient_pending_idx",
                "DROP INDEX saved_search_user_idx",
                "DROP INDEX care_request_emergency_idx",
            ],
        ),
    ]
