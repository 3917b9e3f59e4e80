"""A request's household is its child's household, enforced by the database.

Requests were always filed this way (`resolvers.requests`: the child's household), but
only the application said so. The compiled plans scope the children a dossier shows once
per statement, among the children of the dossiers in reach (`loket.planner`,
`Render.visible_children`): a request whose child lived in another household would then
lose its child there. The composite reference makes such a row impossible."""

from tortoise import migrations
from tortoise.migrations import operations as ops

UP = """
ALTER TABLE child ADD CONSTRAINT child_id_household_key UNIQUE (id, household_id);
ALTER TABLE care_request ADD CONSTRAINT care_request_child_household_fkey
    FOREIGN KEY (child_id, household_id) REFERENCES child (id, household_id)
    ON UPDATE CASCADE ON DELETE CASCADE;
"""
DOWN = """
ALTER TABLE care_request DROP CONSTRAINT care_request_child_household_fkey;
ALTER TABLE child DROP CONSTRAINT child_id_household_key;
"""


class Migration(migrations.Migration):
    dependencies = [('models', '0011_access_log_references')]

    initial = False

    operations = [ops.RunSQL(UP, DOWN)]
