"""RRN digests under every configured key (so key rotation keeps uniqueness working)."""

from tortoise import migrations
from tortoise.contrib.postgres.fields import ArrayField
from tortoise.migrations import operations as ops


def _move(table: str) -> list:
    return [
        ops.AddField(
            model_name=table.capitalize(),
            name="rrn_hashes",
            field=ArrayField(null=True, element_type="BYTEA"),
        ),
        ops.AddField(
            model_name=table.capitalize(),
            name="rrn_key_ids",
            field=ArrayField(null=True, element_type="TEXT"),
        ),
        ops.RunSQL(
            f"UPDATE {table} SET rrn_hashes = ARRAY[rrn_hash], rrn_key_ids = ARRAY[rrn_key_id] "
            "WHERE rrn_hash IS NOT NULL",
            f"UPDATE {table} SET rrn_hash = rrn_hashes[1], rrn_key_id = rrn_key_ids[1] "
            "WHERE rrn_hashes IS NOT NULL",
        ),
        ops.RemoveField(model_name=table.capitalize(), name="rrn_hash"),
        ops.RemoveField(model_name=table.capitalize(), name="rrn_key_id"),
        ops.RunSQL(
            f"CREATE INDEX {table}_rrn_hashes_gin ON {table} USING gin (rrn_hashes)",
            f"DROP INDEX {table}_rrn_hashes_gin",
        ),
    ]


class Migration(migrations.Migration):
    dependencies = [("models", "0002_integrity")]

    initial = False

    operations = [*_move("child"), *_move("parent")]
