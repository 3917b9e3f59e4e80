"""Providers and public search: postal codes as a table with centres, last-minute places,
saved searches, locations' opening days, priority criteria and coordinates, and the
answer fields of applications."""

from tortoise import migrations
from tortoise.migrations import operations as ops

from models.migration_ops import AddFilledField, RemoveFilledField
from models.searches import SearchKind
from orjson import loads
from tortoise.contrib.postgres.fields import ArrayField
from tortoise.fields.base import OnDelete
from tortoise.fields.data import JSON_DUMPS
from uuid import uuid4
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0004_parent_journey')]

    initial = False

    operations = [
        ops.CreateModel(
            name='LastMinutePlace',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('location', fields.ForeignKeyField('models.ProviderLocation', source_field='location_id', db_constraint=True, to_field='id', related_name='last_minute', on_delete=OnDelete.CASCADE)),
                ('period_start', fields.DateField()),
                ('period_end', fields.DateField()),
                ('days', ArrayField(default=list, element_type='TEXT')),
                ('min_age_months', fields.SmallIntField(default=0)),
                ('max_age_months', fields.SmallIntField(default=36)),
                ('places', fields.SmallIntField()),
                ('note', fields.CharField(default='', max_length=500)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('created_by', fields.ForeignKeyField('models.User', source_field='created_by_id', null=True, db_constraint=True, to_field='id', related_name='last_minute_places', on_delete=OnDelete.SET_NULL)),
                ('withdrawn_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'last_minute_place', 'app': 'models', 'indexes': [Index(fields=['period_end', 'period_start'])], 'pk_attr': 'id', 'table_description': 'Free places a location publishes at short notice (for a period, days, age group).'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='PostalCode',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('code', fields.CharField(db_index=True, max_length=4)),
                ('municipality', fields.ForeignKeyField('models.Municipality', source_field='municipality_id', db_constraint=True, to_field='nis_code', related_name='codes', on_delete=OnDelete.CASCADE)),
                ('place_name', fields.CharField(default='', max_length=120)),
                ('latitude', fields.FloatField(null=True)),
                ('longitude', fields.FloatField(null=True)),
            ],
            options={'table': 'postal_code', 'app': 'models', 'unique_together': (('code', 'municipality'),), 'pk_attr': 'id', 'table_description': 'A postal code (bpost) within a municipality, with its approximate centre (for the'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='SavedSearch',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('user', fields.ForeignKeyField('models.User', source_field='user_id', db_constraint=True, to_field='id', related_name='saved_searches', on_delete=OnDelete.CASCADE)),
                ('name', fields.CharField(max_length=100)),
                ('kind', fields.CharEnumField(description='LOCATIONS: LOCATIONS\nLAST_MINUTE: LAST_MINUTE', enum_type=SearchKind, max_length=16)),
                ('filters', fields.JSONField(default=dict, encoder=JSON_DUMPS, decoder=loads)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'saved_search', 'app': 'models', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='Application',
            name='answered_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Application',
            name='answered_by',
            field=fields.ForeignKeyField('models.User', source_field='answered_by_id', null=True, db_constraint=True, to_field='id', related_name='answered_applications', on_delete=OnDelete.SET_NULL),
        ),
        AddFilledField(
            model_name='Application',
            name='created_at',
            field=fields.DatetimeField(auto_now=False, auto_now_add=True),
            fill="now()",
        ),
        # Existing applications were made with their request.
        ops.RunSQL(
            "UPDATE application a SET created_at = r.submitted_at FROM care_request r "
            "WHERE r.id = a.request_id",
            "SELECT 1",
        ),
        AddFilledField(
            model_name='Application',
            name='refusal_reason',
            field=fields.CharField(default='', max_length=500),
            fill="''",
        ),
        AddFilledField(
            model_name='Application',
            name='staff_child',
            field=fields.BooleanField(default=False),
            fill="false",
        ),
        ops.RunSQL(
            "INSERT INTO postal_code (code, municipality_id, place_name) "
            "SELECT DISTINCT unnest(postal_codes), nis_code, '' FROM municipality",
            "UPDATE municipality m SET postal_codes = ARRAY(SELECT code FROM postal_code p "
            "WHERE p.municipality_id = m.nis_code ORDER BY code)",
        ),
        RemoveFilledField(model_name='Municipality', name='postal_codes', fill="'{}'"),
        ops.AddField(
            model_name='ProviderLocation',
            name='latitude',
            field=fields.FloatField(null=True),
        ),
        ops.AddField(
            model_name='ProviderLocation',
            name='longitude',
            field=fields.FloatField(null=True),
        ),
        AddFilledField(
            model_name='ProviderLocation',
            name='opening_days',
            field=ArrayField(default=list, element_type='TEXT'),
            fill="'{}'",
        ),
        AddFilledField(
            model_name='ProviderLocation',
            name='priority_criteria',
            field=fields.JSONField(default=list, encoder=JSON_DUMPS, decoder=loads),
            fill="'[]'::jsonb",
        ),
        # A bare count had no period: it becomes a published offer for the coming 30 days.
        ops.RunSQL(
            "INSERT INTO last_minute_place (id, location_id, period_start, period_end, days, "
            "min_age_months, max_age_months, places, note, created_at) "
            "SELECT gen_random_uuid(), id, current_date, current_date + 30, '{}', "
            "min_age_months, max_age_months, last_minute_places, '', now() "
            "FROM provider_location WHERE last_minute_places > 0",
            "UPDATE provider_location l SET last_minute_places = coalesce((SELECT sum(places) "
            "FROM last_minute_place p WHERE p.location_id = l.id), 0)",
        ),
        RemoveFilledField(
            model_name='ProviderLocation', name='last_minute_places', fill='0'
        ),
        ops.RunSQL(
            "CREATE INDEX application_location_created_idx ON application (location_id, created_at) "
            "WHERE status = 'PENDING'",
            "DROP INDEX application_location_created_idx",
        ),
        ops.RunSQL(
            "CREATE INDEX enrolment_location_period_idx ON enrolment (location_id, start_date, "
            "end_date)",
            "DROP INDEX enrolment_location_period_idx",
        ),
        ops.RunSQL(
            "CREATE INDEX service_record_service_idx ON service_record (service_id, child_id)",
            "DROP INDEX service_record_service_idx",
        ),
        ops.RunSQL(
            "CREATE INDEX provider_location_name_idx ON provider_location (name, id)",
            "DROP INDEX provider_location_name_idx",
        ),
    ]
