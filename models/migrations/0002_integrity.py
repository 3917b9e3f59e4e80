"""Integrity rules the models cannot express: partial unique indexes and CHECKs."""

from tortoise import migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("models", "0001_initial")]

    operations = [
        # One open request per child; the platform-wide check by RRN hash is in
        # resolvers.uniqueness, this index closes the race between two submissions.
        ops.RunSQL(
            "CREATE UNIQUE INDEX care_request_one_open_per_child "
            "ON care_request (child_id) WHERE status = 'OPEN'",
            "DROP INDEX care_request_one_open_per_child",
        ),
        ops.RunSQL(
            "CREATE INDEX child_rrn_hash_idx ON child (rrn_hash) WHERE rrn_hash IS NOT NULL",
            "DROP INDEX child_rrn_hash_idx",
        ),
        ops.RunSQL(
            "CREATE UNIQUE INDEX parent_rrn_hash_uniq ON parent (rrn_hash) "
            "WHERE rrn_hash IS NOT NULL",
            "DROP INDEX parent_rrn_hash_uniq",
        ),
        ops.RunSQL(
            "CREATE UNIQUE INDEX parent_user_uniq ON parent (user_id) WHERE user_id IS NOT NULL",
            "DROP INDEX parent_user_uniq",
        ),
        ops.RunSQL(
            "CREATE INDEX parent_household_idx ON parent (household_id)",
            "DROP INDEX parent_household_idx",
        ),
        ops.RunSQL(
            "CREATE INDEX child_household_idx ON child (household_id)",
            "DROP INDEX child_household_idx",
        ),
        ops.RunSQL(
            "CREATE INDEX care_request_household_idx ON care_request (household_id)",
            "DROP INDEX care_request_household_idx",
        ),
        ops.RunSQL(
            "CREATE INDEX mandate_household_idx ON mandate (household_id, referral_organisation_id)"
            " WHERE revoked_at IS NULL",
            "DROP INDEX mandate_household_idx",
        ),
        ops.RunSQL(
            "CREATE INDEX enrolment_location_idx ON enrolment (location_id, child_id)",
            "DROP INDEX enrolment_location_idx",
        ),
        ops.RunSQL(
            "CREATE INDEX access_log_household_idx ON access_log (household_id, at)",
            "DROP INDEX access_log_household_idx",
        ),
        ops.RunSQL(
            """ALTER TABLE membership ADD CONSTRAINT membership_scope_matches_role CHECK (
                (role IN ('PARENT', 'ADMIN') AND num_nonnulls(counter_id, provider_organisation_id,
                    provider_location_id, referral_organisation_id, sick_child_service_id) = 0)
             OR (role = 'LOKET' AND counter_id IS NOT NULL AND num_nonnulls(
                    provider_organisation_id, provider_location_id, referral_organisation_id,
                    sick_child_service_id) = 0)
             OR (role = 'PROVIDER' AND num_nonnulls(provider_organisation_id,
                    provider_location_id) = 1 AND num_nonnulls(counter_id,
                    referral_organisation_id, sick_child_service_id) = 0)
             OR (role = 'TOELEIDER' AND referral_organisation_id IS NOT NULL AND num_nonnulls(
                    counter_id, provider_organisation_id, provider_location_id,
                    sick_child_service_id) = 0)
             OR (role = 'SICK_CHILD_SERVICE' AND sick_child_service_id IS NOT NULL AND
                    num_nonnulls(counter_id, provider_organisation_id, provider_location_id,
                    referral_organisation_id) = 0)
             OR (role = 'INTEGRATOR' AND num_nonnulls(counter_id, provider_organisation_id) = 1
                    AND num_nonnulls(provider_location_id, referral_organisation_id,
                    sick_child_service_id) = 0)
            )""",
            "ALTER TABLE membership DROP CONSTRAINT membership_scope_matches_role",
        ),
        ops.RunSQL(
            "ALTER TABLE child ADD CONSTRAINT child_birth_or_expected CHECK "
            "(birth_date IS NOT NULL OR expected_birth_date IS NOT NULL)",
            "ALTER TABLE child DROP CONSTRAINT child_birth_or_expected",
        ),
    ]
