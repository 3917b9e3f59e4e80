"""Data-subject rights: agreements as access conditions, the disclosure register, reports,
erasure requests, data exports; access-log entries linked to a disclosure."""

from tortoise import migrations
from tortoise.migrations import operations as ops
from models.privacy import AgreementKind, ErasureStatus, ExportStatus, ReportKind, ReportStatus
from orjson import loads
from tortoise.fields.base import OnDelete
from tortoise.fields.data import JSON_DUMPS
from uuid import uuid4
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0008_jobs')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Agreement',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('kind', fields.CharEnumField(description='PROCESSING: PROCESSING\nCONFIDENTIALITY: CONFIDENTIALITY', enum_type=AgreementKind, max_length=16)),
                ('provider_organisation', fields.ForeignKeyField('models.ProviderOrganisation', source_field='provider_organisation_id', null=True, db_constraint=True, to_field='id', related_name='agreements', on_delete=OnDelete.CASCADE)),
                ('referral_organisation', fields.ForeignKeyField('models.ReferralOrganisation', source_field='referral_organisation_id', null=True, db_constraint=True, to_field='id', related_name='agreements', on_delete=OnDelete.CASCADE)),
                ('sick_child_service', fields.ForeignKeyField('models.SickChildService', source_field='sick_child_service_id', null=True, db_constraint=True, to_field='id', related_name='agreements', on_delete=OnDelete.CASCADE)),
                ('counter', fields.ForeignKeyField('models.Counter', source_field='counter_id', null=True, db_constraint=True, to_field='id', related_name='agreements', on_delete=OnDelete.CASCADE)),
                ('user', fields.ForeignKeyField('models.User', source_field='user_id', null=True, db_constraint=True, to_field='id', related_name='agreements', on_delete=OnDelete.CASCADE)),
                ('version', fields.CharField(max_length=40)),
                ('signed_on', fields.DateField()),
                ('ends_on', fields.DateField(null=True)),
                ('recorded_by', fields.ForeignKeyField('models.User', source_field='recorded_by_id', null=True, db_constraint=True, to_field='id', related_name='agreements_recorded', on_delete=OnDelete.SET_NULL)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'agreement', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A signed agreement; exactly one party column is set (CHECK in the migration).'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='DataExport',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('household', fields.ForeignKeyField('models.Household', source_field='household_id', db_constraint=True, to_field='id', related_name='exports', on_delete=OnDelete.CASCADE)),
                ('requested_by', fields.ForeignKeyField('models.User', source_field='requested_by_id', null=True, db_constraint=True, to_field='id', related_name='exports', on_delete=OnDelete.SET_NULL)),
                ('requested_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('status', fields.CharEnumField(default=ExportStatus.PENDING, description='PENDING: PENDING\nREADY: READY\nDOWNLOADED: DOWNLOADED\nEXPIRED: EXPIRED', enum_type=ExportStatus, max_length=16)),
                ('content', fields.BinaryField(null=True)),
                ('token_digest', fields.CharField(null=True, unique=True, max_length=64)),
                ('ready_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('expires_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('downloaded_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'data_export', 'app': 'models', 'pk_attr': 'id', 'table_description': "A machine-readable copy of a household's data for a parent, made by a job and"},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Disclosure',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('household', fields.ForeignKeyField('models.Household', source_field='household_id', db_constraint=True, to_field='id', related_name='disclosures', on_delete=OnDelete.CASCADE)),
                ('authority', fields.CharField(max_length=200)),
                ('legal_basis', fields.CharField(max_length=500)),
                ('data_disclosed', fields.CharField(max_length=1000)),
                ('disclosed_on', fields.DateField()),
                ('secret', fields.BooleanField(default=False)),
                ('recorded_by', fields.ForeignKeyField('models.User', source_field='recorded_by_id', null=True, db_constraint=True, to_field='id', related_name='disclosures_recorded', on_delete=OnDelete.SET_NULL)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'disclosure', 'app': 'models', 'pk_attr': 'id', 'table_description': "A disclosure of a household's data to an authority (police, justice, tax), recorded"},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ErasureRequest',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('household', fields.ForeignKeyField('models.Household', source_field='household_id', null=True, db_constraint=True, to_field='id', related_name='erasure_requests', on_delete=OnDelete.SET_NULL)),
                ('parent', fields.ForeignKeyField('models.Parent', source_field='parent_id', null=True, db_constraint=True, to_field='id', related_name='erasure_requests', on_delete=OnDelete.SET_NULL)),
                ('requested_by', fields.ForeignKeyField('models.User', source_field='requested_by_id', null=True, db_constraint=True, to_field='id', related_name='erasure_requests', on_delete=OnDelete.SET_NULL)),
                ('requested_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('status', fields.CharEnumField(description='DONE: DONE\nPARTIAL: PARTIAL\nREFUSED: REFUSED', enum_type=ErasureStatus, max_length=16)),
                ('decision', fields.JSONField(default=list, encoder=JSON_DUMPS, decoder=loads)),
                ('decided_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'erasure_request', 'app': 'models', 'pk_attr': 'id', 'table_description': "A parent's request to be forgotten, and the decision with its reasons."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Report',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('kind', fields.CharEnumField(description='DATA_BREACH: DATA_BREACH\nCOMPLAINT: COMPLAINT', enum_type=ReportKind, max_length=16)),
                ('status', fields.CharEnumField(default=ReportStatus.OPEN, description='OPEN: OPEN\nTRIAGED: TRIAGED\nCLOSED: CLOSED', enum_type=ReportStatus, max_length=16)),
                ('reporter', fields.ForeignKeyField('models.User', source_field='reporter_id', null=True, db_constraint=True, to_field='id', related_name='reports', on_delete=OnDelete.SET_NULL)),
                ('contact_email', fields.CharField(default='', max_length=254)),
                ('text', fields.TextField(unique=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('notification_deadline', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('authority_notified_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('closed_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('severity', fields.CharField(default='', max_length=16)),
            ],
            options={'table': 'report', 'app': 'models', 'indexes': [Index(fields=['status', 'created_at'])], 'pk_attr': 'id', 'table_description': 'A suspected data breach or a complaint, from anyone; admins triage and close it.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ReportNote',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('report', fields.ForeignKeyField('models.Report', source_field='report_id', db_constraint=True, to_field='id', related_name='notes', on_delete=OnDelete.CASCADE)),
                ('author', fields.ForeignKeyField('models.User', source_field='author_id', null=True, db_constraint=True, to_field='id', related_name='report_notes', on_delete=OnDelete.SET_NULL)),
                ('text', fields.TextField(unique=False)),
                ('at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'report_note', 'app': 'models', 'pk_attr': 'id', 'table_description': "An admin's note on a report (triage, decisions, closing)."},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='AccessLogEntry',
            name='disclosure',
            field=fields.ForeignKeyField('models.Disclosure', source_field='disclosure_id', null=True, db_constraint=True, to_field='id', related_name='access_log_entries', on_delete=OnDelete.SET_NULL),
        ),
        # Exactly one party: an organisation (processing) or a person (confidentiality).
        ops.RunSQL(
            """ALTER TABLE agreement ADD CONSTRAINT agreement_one_party CHECK (
                 (kind = 'PROCESSING' AND user_id IS NULL AND num_nonnulls(
                    provider_organisation_id, referral_organisation_id, sick_child_service_id,
                    counter_id) = 1)
                 OR (kind = 'CONFIDENTIALITY' AND user_id IS NOT NULL AND num_nonnulls(
                    provider_organisation_id, referral_organisation_id, sick_child_service_id,
                    counter_id) = 0))""",
            "ALTER TABLE agreement DROP CONSTRAINT agreement_one_party",
        ),
        ops.RunSQL(
            [
                "CREATE INDEX agreement_provider_organisation_idx "
                "ON agreement (provider_organisation_id) WHERE provider_organisation_id IS NOT NULL",
                "CREATE INDEX agreement_referral_organisation_idx "
                "ON agreement (referral_organisation_id) WHERE referral_organisation_id IS NOT NULL",
                "CREATE INDEX agreement_sick_child_service_idx "
                "ON agreement (sick_child_service_id) WHERE sick_child_service_id IS NOT NULL",
                "CREATE INDEX agreement_counter_idx ON agreement (counter_id) "
                "WHERE counter_id IS NOT NULL",
                "CREATE INDEX agreement_user_idx ON agreement (user_id) WHERE user_id IS NOT NULL",
                "CREATE INDEX disclosure_household_idx ON disclosure (household_id)",
                "CREATE INDEX erasure_request_household_idx ON erasure_request (household_id)",
                "CREATE INDEX data_export_household_idx ON data_export (household_id)",
                "CREATE INDEX access_log_disclosure_idx ON access_log (disclosure_id) "
                "WHERE disclosure_id IS NOT NULL",
            ],
            [
                "DROP INDEX agreement_provider_organisation_idx",
                "DROP INDEX agreement_referral_organisation_idx",
                "DROP INDEX agreement_sick_child_service_idx",
                "DROP INDEX agreement_counter_idx",
                "DROP INDEX agreement_user_idx",
                "DROP INDEX disclosure_household_idx",
                "DROP INDEX erasure_request_household_idx",
                "DROP INDEX data_export_household_idx",
                "DROP INDEX access_log_disclosure_idx",
            ],
        ),
    ]
