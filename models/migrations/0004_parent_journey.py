"""The parent journey: partners, invitations, consent ledger, mandate consent records,
sources of priority information, postal codes, rate-limit windows."""

from tortoise import migrations
from tortoise.migrations import operations as ops

from models.migration_ops import AddFilledField
from models.accounts import ReferralKind
from models.consents import ConsentAction, ConsentPurpose
from models.households import ConsentMethod, InformationSource, InvitationKind
from models.requests import ApplicationStatus
from tortoise.contrib.postgres.fields import ArrayField
from tortoise.fields.base import OnDelete
from uuid import uuid4
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0003_rrn_hashes_under_every_key')]

    initial = False

    operations = [
        ops.AlterField(
            model_name="AccessLogEntry",
            name="household",
            field=fields.ForeignKeyField(
                "models.Household",
                source_field="household_id",
                null=True,
                db_constraint=True,
                to_field="id",
                related_name="access_log_entries",
                on_delete=OnDelete.CASCADE,
            ),
        ),
        ops.AddField(
            model_name="AccessLogEntry",
            name="outcome",
            field=fields.CharField(null=True, max_length=16),
        ),
        ops.CreateModel(
            name='ConsentEvent',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('household', fields.ForeignKeyField('models.Household', source_field='household_id', db_constraint=True, to_field='id', related_name='consent_events', on_delete=OnDelete.CASCADE)),
                ('parent', fields.ForeignKeyField('models.Parent', source_field='parent_id', db_constraint=True, to_field='id', related_name='consent_events', on_delete=OnDelete.CASCADE)),
                ('purpose', fields.CharEnumField(description='RESEARCH_CONTACT: RESEARCH_CONTACT\nSATISFACTION_SURVEY: SATISFACTION_SURVEY\nCHILDCARE_NEWS: CHILDCARE_NEWS', enum_type=ConsentPurpose, max_length=24)),
                ('action', fields.CharEnumField(description='GRANTED: GRANTED\nREVOKED: REVOKED', enum_type=ConsentAction, max_length=8)),
                ('at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('recorded_by', fields.ForeignKeyField('models.User', source_field='recorded_by_id', null=True, db_constraint=True, to_field='id', related_name='consent_events_recorded', on_delete=OnDelete.SET_NULL)),
            ],
            options={'table': 'consent_event', 'app': 'models', 'indexes': [Index(fields=['parent_id', 'purpose', 'at'])], 'pk_attr': 'id', 'table_description': 'One entry of the ledger (append-only).'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Invitation',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('kind', fields.CharEnumField(description='PARTNER: PARTNER\nCLAIM: CLAIM', enum_type=InvitationKind, max_length=8)),
                ('household', fields.ForeignKeyField('models.Household', source_field='household_id', db_constraint=True, to_field='id', related_name='invitations', on_delete=OnDelete.CASCADE)),
                ('parent', fields.ForeignKeyField('models.Parent', source_field='parent_id', null=True, db_constraint=True, to_field='id', related_name='invitations', on_delete=OnDelete.CASCADE)),
                ('code_digest', fields.CharField(unique=True, max_length=64)),
                ('created_by', fields.ForeignKeyField('models.User', source_field='created_by_id', null=True, db_constraint=True, to_field='id', related_name='invitations_made', on_delete=OnDelete.SET_NULL)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('expires_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('used_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('used_by', fields.ForeignKeyField('models.User', source_field='used_by_id', null=True, db_constraint=True, to_field='id', related_name='invitations_used', on_delete=OnDelete.SET_NULL)),
                ('revoked_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'invitation', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A one-time code: a partner joining a household (PARTNER), or a parent claiming a'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='RateLimitWindow',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('key', fields.CharField(max_length=96)),
                ('window_start', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('hits', fields.IntField(default=0)),
            ],
            options={'table': 'rate_limit_window', 'app': 'models', 'unique_together': (('key', 'window_start'),), 'pk_attr': 'id', 'table_description': 'Fixed-window counters for abuse limits (uniqueness check, sign-in). `key` is a'},
            bases=['Model'],
        ),
        ops.AlterField(
            model_name='Application',
            name='status',
            field=fields.CharEnumField(default=ApplicationStatus.PENDING, description='PENDING: PENDING\nOFFERED: OFFERED\nWAITLISTED: WAITLISTED\nREFUSED: REFUSED\nDECLINED: DECLINED\nENROLLED: ENROLLED\nWITHDRAWN: WITHDRAWN\nCLOSED: CLOSED', enum_type=ApplicationStatus, max_length=16),
        ),
        ops.AddField(
            model_name='CareRequest',
            name='closed_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Household',
            name='situation_recorded_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        AddFilledField(
            model_name='Household',
            name='situation_source',
            field=fields.CharEnumField(default=InformationSource.PARENT, description='PARENT: PARENT\nREFERRAL_WORKER: REFERRAL_WORKER\nADMIN: ADMIN', enum_type=InformationSource, max_length=16),
            fill="'PARENT'",
        ),
        ops.AddField(
            model_name='Household',
            name='situation_source_organisation',
            field=fields.ForeignKeyField('models.ReferralOrganisation', source_field='situation_source_organisation_id', null=True, db_constraint=True, to_field='id', related_name='sourced_households', on_delete=OnDelete.SET_NULL),
        ),
        ops.AddField(
            model_name='Mandate',
            name='consent_given_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        AddFilledField(
            model_name='Mandate',
            name='consent_method',
            field=fields.CharEnumField(default=ConsentMethod.ONLINE, description='ONLINE: ONLINE\nSIGNED_FORM: SIGNED_FORM\nIN_PERSON: IN_PERSON\nPHONE: PHONE', enum_type=ConsentMethod, max_length=16),
            fill="'ONLINE'",
        ),
        AddFilledField(
            model_name='Mandate',
            name='consent_note',
            field=fields.CharField(default='', max_length=500),
            fill="''",
        ),
        ops.AddField(
            model_name='Mandate',
            name='recorded_by',
            field=fields.ForeignKeyField('models.User', source_field='recorded_by_id', null=True, db_constraint=True, to_field='id', related_name='mandates_recorded', on_delete=OnDelete.SET_NULL),
        ),
        ops.AddField(
            model_name='Mandate',
            name='revoked_by',
            field=fields.ForeignKeyField('models.User', source_field='revoked_by_id', null=True, db_constraint=True, to_field='id', related_name='mandates_revoked', on_delete=OnDelete.SET_NULL),
        ),
        AddFilledField(
            model_name='Municipality',
            name='postal_codes',
            field=ArrayField(default=list, element_type='TEXT'),
            fill="'{}'",
        ),
        ops.AddField(
            model_name='Parent',
            name='situation_recorded_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        AddFilledField(
            model_name='Parent',
            name='situation_source',
            field=fields.CharEnumField(default=InformationSource.PARENT, description='PARENT: PARENT\nREFERRAL_WORKER: REFERRAL_WORKER\nADMIN: ADMIN', enum_type=InformationSource, max_length=16),
            fill="'PARENT'",
        ),
        ops.AddField(
            model_name='Parent',
            name='situation_source_organisation',
            field=fields.ForeignKeyField('models.ReferralOrganisation', source_field='situation_source_organisation_id', null=True, db_constraint=True, to_field='id', related_name='sourced_parents', on_delete=OnDelete.SET_NULL),
        ),
        AddFilledField(
            model_name='ReferralOrganisation',
            name='kind',
            field=fields.CharEnumField(default=ReferralKind.OTHER, description='OCMW: OCMW\nVDAB: VDAB\nKIND_EN_GEZIN: KIND_EN_GEZIN\nCAW: CAW\nOTHER: OTHER', enum_type=ReferralKind, max_length=16),
            fill="'OTHER'",
        ),
        ops.RunSQL(
            "CREATE UNIQUE INDEX mandate_one_active ON mandate (household_id, "
            "referral_organisation_id) WHERE revoked_at IS NULL",
            "DROP INDEX mandate_one_active",
        ),
        # A child never holds two places at once.
        ops.RunSQL(
            "CREATE UNIQUE INDEX enrolment_one_current_per_child ON enrolment (child_id) "
            "WHERE end_date IS NULL",
            "DROP INDEX enrolment_one_current_per_child",
        ),
        ops.RunSQL(
            "CREATE UNIQUE INDEX parent_one_applicant ON parent (household_id) WHERE is_applicant",
            "DROP INDEX parent_one_applicant",
        ),
        ops.RunSQL(
            "CREATE INDEX invitation_household_idx ON invitation (household_id)",
            "DROP INDEX invitation_household_idx",
        ),
        ops.RunSQL(
            "CREATE INDEX consent_event_purpose_idx ON consent_event (purpose, parent_id, at)",
            "DROP INDEX consent_event_purpose_idx",
        ),
        ops.RunSQL(
            "CREATE INDEX rate_limit_window_start_idx ON rate_limit_window (window_start)",
            "DROP INDEX rate_limit_window_start_idx",
        ),
    ]
