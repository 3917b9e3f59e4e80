"""Which municipalities each dossier is linked to, kept by the database: its residence and
the municipalities of the locations its requests chose.

A counter's region (`permissions.scopes`, grant COUNTER_REGION) is every live dossier
living in, or with an application at a location in, one of its municipalities. Found from
the applications, a page of the counter's list cost a join over every application of the
region; from this table it is an index range in dossier order. The table is a superset:
rows are added when a household is written or an application is made (statement
triggers), and removed with the household or when it is anonymised, not when an
application goes; the scope keeps its exact condition for each dossier it returns, so a
row whose reason is gone shows nothing. `tests/conftest.py` checks after every test that
no reason is missing a row."""

from tortoise import migrations
from tortoise.migrations import operations as ops

UP = """
CREATE TABLE household_municipality (
    municipality_id varchar(5) NOT NULL,
    household_id uuid NOT NULL REFERENCES household (id) ON DELETE CASCADE,
    PRIMARY KEY (municipality_id, household_id)
);
CREATE INDEX household_municipality_household_idx ON household_municipality (household_id);
CREATE INDEX application_location_request_idx ON application (location_id, request_id);

CREATE FUNCTION loket_household_municipalities() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'household' THEN
        INSERT INTO household_municipality (municipality_id, household_id)
        SELECT DISTINCT n.municipality_id, n.id FROM written n WHERE n.anonymised_at IS NULL
        ON CONFLICT DO NOTHING;
        DELETE FROM household_municipality m USING written n
        WHERE m.household_id = n.id AND n.anonymised_at IS NOT NULL;
    ELSIF TG_TABLE_NAME = 'care_request' THEN  -- (a request follows its child: 0012)
        INSERT INTO household_municipality (municipality_id, household_id)
        SELECT DISTINCT l.municipality_id, n.household_id
        FROM written n JOIN application a ON a.request_id = n.id
        JOIN provider_location l ON l.id = a.location_id
        JOIN household h ON h.id = n.household_id AND h.anonymised_at IS NULL
        ON CONFLICT DO NOTHING;
    ELSE  -- application
        INSERT INTO household_municipality (municipality_id, household_id)
        SELECT DISTINCT l.municipality_id, r.household_id
        FROM written n JOIN care_request r ON r.id = n.request_id
        JOIN provider_location l ON l.id = n.location_id
        JOIN household h ON h.id = r.household_id AND h.anonymised_at IS NULL
        ON CONFLICT DO NOTHING;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER household_municipality_inserted AFTER INSERT ON household
    REFERENCING NEW TABLE AS written
    FOR EACH STATEMENT EXECUTE FUNCTION loket_household_municipalities();
CREATE TRIGGER household_municipality_updated AFTER UPDATE ON household
    REFERENCING NEW TABLE AS written
    FOR EACH STATEMENT EXECUTE FUNCTION loket_household_municipalities();
CREATE TRIGGER application_municipality_inserted AFTER INSERT ON application
    REFERENCING NEW TABLE AS written
    FOR EACH STATEMENT EXECUTE FUNCTION loket_household_municipalities();
CREATE TRIGGER application_municipality_updated AFTER UPDATE ON application
    REFERENCING NEW TABLE AS written
    FOR EACH STATEMENT EXECUTE FUNCTION loket_household_municipalities();
CREATE TRIGGER care_request_municipality_updated AFTER UPDATE ON care_request
    REFERENCING NEW TABLE AS written
    FOR EACH STATEMENT EXECUTE FUNCTION loket_household_municipalities();
-- A location that moves to another municipality: its applicants are linked there too.
CREATE FUNCTION loket_location_moved() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO household_municipality (municipality_id, household_id)
    SELECT DISTINCT n.municipality_id, r.household_id
    FROM written n JOIN application a ON a.location_id = n.id
    JOIN care_request r ON r.id = a.request_id
    JOIN household h ON h.id = r.household_id AND h.anonymised_at IS NULL
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END $$;
CREATE TRIGGER provider_location_municipality AFTER UPDATE ON provider_location
    REFERENCING NEW TABLE AS written
    FOR EACH STATEMENT EXECUTE FUNCTION loket_location_moved();

INSERT INTO household_municipality (municipality_id, household_id)
SELECT h.municipality_id, h.id FROM household h WHERE h.anonymised_at IS NULL
UNION
SELECT l.municipality_id, r.household_id FROM application a
JOIN care_request r ON r.id = a.request_id
JOIN provider_location l ON l.id = a.location_id
JOIN household h ON h.id = r.household_id AND h.anonymised_at IS NULL;
"""
DOWN = """
DROP TRIGGER provider_location_municipality ON provider_location;
DROP FUNCTION loket_location_moved();
DROP TRIGGER care_request_municipality_updated ON care_request;
DROP TRIGGER application_municipality_updated ON application;
DROP TRIGGER application_municipality_inserted ON application;
DROP TRIGGER household_municipality_updated ON household;
DROP TRIGGER household_municipality_inserted ON household;
DROP FUNCTION loket_household_municipalities();
DROP INDEX application_location_request_idx;
DROP TABLE household_municipality;
"""


class Migration(migrations.Migration):
    dependencies = [('models', '0013_access_log_at_brin')]

    initial = False

    operations = [ops.RunSQL(UP, DOWN)]
