"""Integrator clients with credentials, manifests of registered operations, and
persisted documents (registered or automatic) by SHA-256."""

from tortoise import migrations
from tortoise.migrations import operations as ops
from models.integrators import DocumentSource, ManifestFormat
from orjson import loads
from tortoise.fields.base import OnDelete
from tortoise.fields.data import JSON_DUMPS
from uuid import uuid4
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0005_providers')]

    initial = False

    operations = [
        ops.CreateModel(
            name='IntegratorClient',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('name', fields.CharField(max_length=200)),
                ('user', fields.OneToOneField('models.User', source_field='user_id', db_constraint=True, to_field='id', related_name='integrator_client', on_delete=OnDelete.CASCADE)),
                ('secret_hash', fields.CharField(null=True, max_length=255)),
                ('jwks', fields.JSONField(null=True, encoder=JSON_DUMPS, decoder=loads)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('revoked_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'integrator_client', 'app': 'models', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Manifest',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('client', fields.ForeignKeyField('models.IntegratorClient', source_field='client_id', db_constraint=True, to_field='id', related_name='manifests', on_delete=OnDelete.CASCADE)),
                ('name', fields.CharField(max_length=200)),
                ('format', fields.CharEnumField(description='APOLLO: APOLLO\nRELAY: RELAY\nGRAPHQL: GRAPHQL', enum_type=ManifestFormat, max_length=16)),
                ('uploaded_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('uploaded_by', fields.ForeignKeyField('models.User', source_field='uploaded_by_id', null=True, db_constraint=True, to_field='id', related_name='manifests_uploaded', on_delete=OnDelete.SET_NULL)),
                ('revoked_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'manifest', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A set of operations registered for one integrator client, revocable as a whole.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='PersistedDocument',
            fields=[
                ('sha256', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=64)),
                ('body', fields.TextField(unique=False)),
                ('source', fields.CharEnumField(description='MANIFEST: MANIFEST\nAPQ: APQ', enum_type=DocumentSource, max_length=16)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'persisted_document', 'app': 'models', 'pk_attr': 'sha256', 'table_description': 'A GraphQL document by the hex SHA-256 of its exact text.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ManifestOperation',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('manifest', fields.ForeignKeyField('models.Manifest', source_field='manifest_id', db_constraint=True, to_field='id', related_name='operations', on_delete=OnDelete.CASCADE)),
                ('document', fields.ForeignKeyField('models.PersistedDocument', source_field='document_id', db_constraint=True, to_field='sha256', related_name='operations', on_delete=OnDelete.RESTRICT)),
                ('operation_name', fields.CharField(max_length=200)),
                ('operation_type', fields.CharField(max_length=16)),
                ('external_id', fields.CharField(max_length=200)),
            ],
            options={'table': 'manifest_operation', 'app': 'models', 'unique_together': (('manifest', 'external_id'),), 'indexes': [Index(fields=['document_id', 'manifest_id'])], 'pk_attr': 'id', 'table_description': "One operation of a manifest: its document, its name, and the id the client's own"},
            bases=['Model'],
        ),
    ]
