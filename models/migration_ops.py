"""Migration operations Tortoise lacks: adding a NOT NULL column to a table that already
holds rows. Tortoise's AddField emits `ADD COLUMN ... NOT NULL` without a default, which
fails on a filled table; this fills existing rows through a temporary SQL default."""

from __future__ import annotations

from typing import Any

from tortoise.fields.base import DB_DEFAULT_NOT_SET
from tortoise.fields.db_defaults import SqlDefault
from tortoise.migrations import operations as ops


class AddFilledField(ops.AddField):
    """AddField whose existing rows get `fill` (an SQL expression); the column keeps no
    database default afterwards, so the model state is exactly AddField's."""

    def __init__(self, model_name: str, name: str, field: Any, fill: str) -> None:
        super().__init__(model_name=model_name, name=name, field=field)
        self.fill = fill

    async def database_forward(
        self, app_label: str, old_state: Any, new_state: Any, state_editor: Any = None
    ) -> None:
        if not state_editor:
            return
        model = new_state.apps.get_model(f"{app_label}.{self.model_name}")
        await _add_filled(state_editor, model, self.name, self.fill)


async def _add_filled(state_editor: Any, model: Any, name: str, fill: str) -> None:
    field = model._meta.fields_map[name]
    field.db_default = SqlDefault(fill)
    try:
        await state_editor.add_field(model, name)
    finally:
        field.db_default = DB_DEFAULT_NOT_SET
    table = model._meta.db_table
    column = model._meta.fields_db_projection[name]
    await state_editor._run_sql(f'ALTER TABLE "{table}" ALTER COLUMN "{column}" DROP DEFAULT')


class RemoveFilledField(ops.RemoveField):
    """RemoveField of a NOT NULL column whose downgrade re-adds it on a filled table:
    existing rows get `fill` (the data itself is restored by the migration's RunSQL)."""

    def __init__(self, model_name: str, name: str, fill: str) -> None:
        super().__init__(model_name=model_name, name=name)
        self.fill = fill

    async def database_backward(
        self, app_label: str, old_state: Any, new_state: Any, state_editor: Any = None
    ) -> None:
        if not state_editor:
            return
        model = new_state.apps.get_model(f"{app_label}.{self.model_name}")
        await _add_filled(state_editor, model, self.name, self.fill)


# The job engine's own tables, types and functions, all named procrastinate_*.
_DROP_JOB_ENGINE = """
DO $$
DECLARE r record;
BEGIN
  FOR r IN SELECT tablename FROM pg_tables
           WHERE schemaname = current_schema() AND tablename LIKE 'procrastinate\\_%' LOOP
    EXECUTE format('DROP TABLE IF EXISTS %I CASCADE', r.tablename);
  END LOOP;
  FOR r IN SELECT p.oid::regprocedure AS signature FROM pg_proc p
           JOIN pg_namespace n ON n.oid = p.pronamespace
           WHERE n.nspname = current_schema() AND p.proname LIKE 'procrastinate\\_%' LOOP
    EXECUTE format('DROP FUNCTION IF EXISTS %s CASCADE', r.signature);
  END LOOP;
  FOR r IN SELECT t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
           WHERE n.nspname = current_schema() AND t.typname LIKE 'procrastinate\\_%'
             AND t.typtype IN ('e', 'c') LOOP
    EXECUTE format('DROP TYPE IF EXISTS %I CASCADE', r.typname);
  END LOOP;
END $$;
"""


class ApplyJobEngineSchema(ops.RunSQL):
    """Create procrastinate's schema (queue tables, types, functions) from the copy of the
    pinned release's `schema.sql` kept in `models/sql/`, so the migration means the same
    whatever version is installed; the downgrade drops every procrastinate_* object. An
    upgrade of procrastinate adds a migration running its delta files
    (`procrastinate/sql/migrations/`) from the pinned version on."""

    def __init__(self, version: str) -> None:
        from pathlib import Path

        sql = Path(__file__).resolve().parent / "sql" / f"procrastinate-{version}.sql"
        super().__init__(sql.read_text(encoding="utf-8"), _DROP_JOB_ENGINE)
