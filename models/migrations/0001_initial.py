from tortoise import migrations
from tortoise.migrations import operations as ops
from models.accounts import Role
from models.households import EducationLevel, FamilySituation, RelationToChild, WorkSituation
from models.providers import LocationKind, TariffKind
from models.requests import ApplicationStatus, RequestStatus
from orjson import loads
from tortoise.fields.base import OnDelete
from tortoise.fields.data import JSON_DUMPS
from uuid import uuid4
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    initial = True

    operations = [
        ops.CreateModel(
            name='ProviderOrganisation',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('name', fields.CharField(max_length=200)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'provider_organisation', 'app': 'models', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ReferralOrganisation',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('name', fields.CharField(max_length=200)),
            ],
            options={'table': 'referral_organisation', 'app': 'models', 'pk_attr': 'id', 'table_description': 'An organisation of referral workers (toeleiders): OCMW, VDAB, Kind en Gezin, ...'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Region',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('name', fields.CharField(unique=True, max_length=120)),
            ],
            options={'table': 'region', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A group of municipalities, e.g. the Leuven region of Interleuven.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Municipality',
            fields=[
                ('nis_code', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=5)),
                ('name', fields.CharField(max_length=120)),
                ('region', fields.ForeignKeyField('models.Region', source_field='region_id', null=True, db_constraint=True, to_field='id', related_name='municipalities', on_delete=OnDelete.SET_NULL)),
            ],
            options={'table': 'municipality', 'app': 'models', 'pk_attr': 'nis_code', 'table_description': 'A Belgian municipality identified by its NIS (REFNIS) code.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Counter',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('name', fields.CharField(unique=True, max_length=160)),
                ('municipalities', fields.ManyToManyField('models.Municipality', unique=True, db_constraint=True, through='counter_municipality', forward_key='municipality_id', backward_key='counter_id', related_name='counters', on_delete=OnDelete.CASCADE)),
            ],
            options={'table': 'counter', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A local counter (lokaal loket kinderopvang); its area is a set of municipalities.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Household',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('municipality', fields.ForeignKeyField('models.Municipality', source_field='municipality_id', db_constraint=True, to_field='nis_code', related_name='households', on_delete=OnDelete.RESTRICT)),
                ('family_situation', fields.CharEnumField(description='SINGLE_PARENT: SINGLE_PARENT\nTWO_PARENTS: TWO_PARENTS', enum_type=FamilySituation, max_length=16)),
                ('income_below_threshold', fields.BooleanField(null=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'household', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A dossier: one or two parents with their children and care requests.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Child',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('household', fields.ForeignKeyField('models.Household', source_field='household_id', db_constraint=True, to_field='id', related_name='children', on_delete=OnDelete.CASCADE)),
                ('first_name', fields.CharField(max_length=100)),
                ('nickname', fields.CharField(default='', max_length=100)),
                ('last_name', fields.CharField(max_length=100)),
                ('birth_date', fields.DateField(null=True)),
                ('expected_birth_date', fields.DateField(null=True)),
                ('rrn_hash', fields.BinaryField(null=True)),
                ('rrn_key_id', fields.CharField(null=True, max_length=16)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'child', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A child, possibly unborn (expected birth date, no RRN yet).'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ProviderLocation',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('organisation', fields.ForeignKeyField('models.ProviderOrganisation', source_field='organisation_id', db_constraint=True, to_field='id', related_name='locations', on_delete=OnDelete.RESTRICT)),
                ('name', fields.CharField(max_length=200)),
                ('street', fields.CharField(max_length=200)),
                ('postal_code', fields.CharField(max_length=4)),
                ('municipality', fields.ForeignKeyField('models.Municipality', source_field='municipality_id', db_constraint=True, to_field='nis_code', related_name='locations', on_delete=OnDelete.RESTRICT)),
                ('kind', fields.CharEnumField(description='GROUP: GROUP\nFAMILY: FAMILY', enum_type=LocationKind, max_length=16)),
                ('capacity', fields.IntField()),
                ('tariff', fields.CharEnumField(description='INCOME_RELATED: INCOME_RELATED\nFREE_PRICE: FREE_PRICE', enum_type=TariffKind, max_length=16)),
                ('subsidy_step', fields.SmallIntField(null=True)),
                ('min_age_months', fields.SmallIntField(default=0)),
                ('max_age_months', fields.SmallIntField(default=36)),
                ('opening_hours', fields.CharField(default='', max_length=200)),
                ('priority_policy', fields.TextField(default='', unique=False)),
                ('last_minute_places', fields.IntField(default=0)),
            ],
            options={'table': 'provider_location', 'app': 'models', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='SickChildService',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('name', fields.CharField(max_length=200)),
            ],
            options={'table': 'sick_child_service', 'app': 'models', 'pk_attr': 'id', 'table_description': "A 'thuisopvang zieke kinderen' service (Leuven)."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ServiceRecord',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('service', fields.ForeignKeyField('models.SickChildService', source_field='service_id', db_constraint=True, to_field='id', related_name='records', on_delete=OnDelete.RESTRICT)),
                ('child', fields.ForeignKeyField('models.Child', source_field='child_id', db_constraint=True, to_field='id', related_name='service_records', on_delete=OnDelete.CASCADE)),
                ('service_date', fields.DateField()),
            ],
            options={'table': 'service_record', 'app': 'models', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='User',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('email', fields.CharField(unique=True, max_length=254)),
                ('display_name', fields.CharField(max_length=200)),
                ('password_hash', fields.CharField(null=True, max_length=255)),
                ('is_active', fields.BooleanField(default=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'app_user', 'app': 'models', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='AccessLogEntry',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=True)),
                ('viewer', fields.ForeignKeyField('models.User', source_field='viewer_id', null=True, db_constraint=True, to_field='id', related_name='access_log_entries', on_delete=OnDelete.SET_NULL)),
                ('role', fields.CharField(max_length=24)),
                ('grant_name', fields.CharField(max_length=32)),
                ('household', fields.ForeignKeyField('models.Household', source_field='household_id', db_constraint=True, to_field='id', related_name='access_log_entries', on_delete=OnDelete.CASCADE)),
                ('fields_read', fields.JSONField(encoder=JSON_DUMPS, decoder=loads)),
                ('operation_name', fields.CharField(null=True, max_length=200)),
                ('request_id', fields.CharField(max_length=36)),
            ],
            options={'table': 'access_log', 'app': 'models', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Membership',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('user', fields.ForeignKeyField('models.User', source_field='user_id', db_constraint=True, to_field='id', related_name='memberships', on_delete=OnDelete.CASCADE)),
                ('role', fields.CharEnumField(description='PARENT: PARENT\nTOELEIDER: TOELEIDER\nADMIN: ADMIN\nLOKET: LOKET\nPROVIDER: PROVIDER\nSICK_CHILD_SERVICE: SICK_CHILD_SERVICE\nINTEGRATOR: INTEGRATOR', enum_type=Role, max_length=24)),
                ('counter', fields.ForeignKeyField('models.Counter', source_field='counter_id', null=True, db_constraint=True, to_field='id', related_name='memberships', on_delete=OnDelete.CASCADE)),
                ('provider_organisation', fields.ForeignKeyField('models.ProviderOrganisation', source_field='provider_organisation_id', null=True, db_constraint=True, to_field='id', related_name='memberships', on_delete=OnDelete.CASCADE)),
                ('provider_location', fields.ForeignKeyField('models.ProviderLocation', source_field='provider_location_id', null=True, db_constraint=True, to_field='id', related_name='memberships', on_delete=OnDelete.CASCADE)),
                ('referral_organisation', fields.ForeignKeyField('models.ReferralOrganisation', source_field='referral_organisation_id', null=True, db_constraint=True, to_field='id', related_name='memberships', on_delete=OnDelete.CASCADE)),
                ('sick_child_service', fields.ForeignKeyField('models.SickChildService', source_field='sick_child_service_id', null=True, db_constraint=True, to_field='id', related_name='memberships', on_delete=OnDelete.CASCADE)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('revoked_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'membership', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A role held by a user, tied to the organisation the role acts for.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Parent',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('household', fields.ForeignKeyField('models.Household', source_field='household_id', db_constraint=True, to_field='id', related_name='parents', on_delete=OnDelete.CASCADE)),
                ('user', fields.ForeignKeyField('models.User', source_field='user_id', null=True, db_constraint=True, to_field='id', related_name='parents', on_delete=OnDelete.SET_NULL)),
                ('is_applicant', fields.BooleanField(default=True)),
                ('first_name', fields.CharField(max_length=100)),
                ('last_name', fields.CharField(max_length=100)),
                ('nationality', fields.CharField(max_length=2)),
                ('birthplace', fields.CharField(default='', max_length=120)),
                ('home_language', fields.CharField(max_length=8)),
                ('street', fields.CharField(max_length=200)),
                ('postal_code', fields.CharField(max_length=4)),
                ('municipality', fields.ForeignKeyField('models.Municipality', source_field='municipality_id', db_constraint=True, to_field='nis_code', related_name='parents', on_delete=OnDelete.RESTRICT)),
                ('phone', fields.CharField(max_length=32)),
                ('email', fields.CharField(max_length=254)),
                ('work_situation', fields.CharEnumField(description='WORKING: WORKING\nJOB_SEEKING: JOB_SEEKING\nIN_TRAINING: IN_TRAINING\nINTEGRATION_COURSE: INTEGRATION_COURSE\nNONE: NONE', enum_type=WorkSituation, max_length=24)),
                ('work_share_percent', fields.SmallIntField(null=True)),
                ('education_level', fields.CharEnumField(description='NO_SECONDARY_DIPLOMA: NO_SECONDARY_DIPLOMA\nSECONDARY: SECONDARY\nHIGHER: HIGHER', enum_type=EducationLevel, max_length=24)),
                ('relation_to_child', fields.CharEnumField(description='PARENT: PARENT\nFOSTER_PARENT: FOSTER_PARENT\nOTHER: OTHER', enum_type=RelationToChild, max_length=16)),
                ('rrn_hash', fields.BinaryField(null=True)),
                ('rrn_key_id', fields.CharField(null=True, max_length=16)),
            ],
            options={'table': 'parent', 'app': 'models', 'pk_attr': 'id', 'table_description': 'Applicant or partner of a household.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Mandate',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('household', fields.ForeignKeyField('models.Household', source_field='household_id', db_constraint=True, to_field='id', related_name='mandates', on_delete=OnDelete.CASCADE)),
                ('referral_organisation', fields.ForeignKeyField('models.ReferralOrganisation', source_field='referral_organisation_id', db_constraint=True, to_field='id', related_name='mandates', on_delete=OnDelete.RESTRICT)),
                ('granted_by', fields.ForeignKeyField('models.Parent', source_field='granted_by_id', db_constraint=True, to_field='id', related_name='mandates_granted', on_delete=OnDelete.CASCADE)),
                ('granted_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('revoked_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'mandate', 'app': 'models', 'pk_attr': 'id', 'table_description': "A parent's explicit, revocable consent that a referral organisation acts for them."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='CareRequest',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('household', fields.ForeignKeyField('models.Household', source_field='household_id', db_constraint=True, to_field='id', related_name='requests', on_delete=OnDelete.CASCADE)),
                ('child', fields.ForeignKeyField('models.Child', source_field='child_id', db_constraint=True, to_field='id', related_name='requests', on_delete=OnDelete.CASCADE)),
                ('desired_start_date', fields.DateField()),
                ('care_pattern', fields.JSONField(default=dict, encoder=JSON_DUMPS, decoder=loads)),
                ('note', fields.TextField(default='', unique=False)),
                ('status', fields.CharEnumField(default=RequestStatus.OPEN, description='OPEN: OPEN\nFULFILLED: FULFILLED\nWITHDRAWN: WITHDRAWN', enum_type=RequestStatus, max_length=16)),
                ('submitted_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('filed_by', fields.ForeignKeyField('models.User', source_field='filed_by_id', null=True, db_constraint=True, to_field='id', related_name='filed_requests', on_delete=OnDelete.SET_NULL)),
                ('filed_via_mandate', fields.ForeignKeyField('models.Mandate', source_field='filed_via_mandate_id', null=True, db_constraint=True, to_field='id', related_name='filed_requests', on_delete=OnDelete.SET_NULL)),
                ('emergency_since', fields.DateField(null=True)),
            ],
            options={'table': 'care_request', 'app': 'models', 'indexes': [Index(fields=['status', 'desired_start_date'])], 'pk_attr': 'id', 'table_description': 'A request for childcare for one child; at most one OPEN per child (partial index).'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Application',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('request', fields.ForeignKeyField('models.CareRequest', source_field='request_id', db_constraint=True, to_field='id', related_name='applications', on_delete=OnDelete.CASCADE)),
                ('location', fields.ForeignKeyField('models.ProviderLocation', source_field='location_id', db_constraint=True, to_field='id', related_name='applications', on_delete=OnDelete.RESTRICT)),
                ('preference', fields.SmallIntField()),
                ('status', fields.CharEnumField(default=ApplicationStatus.PENDING, description='PENDING: PENDING\nOFFERED: OFFERED\nWAITLISTED: WAITLISTED\nREFUSED: REFUSED\nENROLLED: ENROLLED\nWITHDRAWN: WITHDRAWN\nCLOSED: CLOSED', enum_type=ApplicationStatus, max_length=16)),
                ('offered_start_date', fields.DateField(null=True)),
                ('reply_deadline', fields.DateField(null=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'application', 'app': 'models', 'unique_together': (('request', 'location'), ('request', 'preference')), 'indexes': [Index(fields=['location_id', 'status'])], 'pk_attr': 'id', 'table_description': 'A care request as seen by one chosen location, in order of preference.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Enrolment',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('child', fields.ForeignKeyField('models.Child', source_field='child_id', db_constraint=True, to_field='id', related_name='enrolments', on_delete=OnDelete.CASCADE)),
                ('location', fields.ForeignKeyField('models.ProviderLocation', source_field='location_id', db_constraint=True, to_field='id', related_name='enrolments', on_delete=OnDelete.RESTRICT)),
                ('request', fields.ForeignKeyField('models.CareRequest', source_field='request_id', null=True, db_constraint=True, to_field='id', related_name='enrolments', on_delete=OnDelete.SET_NULL)),
                ('start_date', fields.DateField()),
                ('end_date', fields.DateField(null=True)),
            ],
            options={'table': 'enrolment', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A child holding a place at a location; `end_date` starts the retention clock.'},
            bases=['Model'],
        ),
    ]
