"""Each application's place in its location's inbox, kept by the database.

`application.rank_tier` and `application.rank_score` hold the priority engine's tier and
score (`resolvers.priority`) for the application's request at its location, so a compiled
plan (`loket.planner`) reads an inbox page in one statement without ranking every
candidate per request. The inbox order is (tier, -score, submitted_at, request id); none
of it depends on the day, so a stored key stays right until a fact it is made of changes.

`loket_rank` is the rules in SQL, tested against the Python engine on generated families
(tests/test_inbox_rank.py); `loket_rank_of` gathers one request's facts at one location,
as `resolvers.inbox.family_features` does. Triggers keep the key current:
- an application computes its key on insert and whenever its request, location or
  staff-child mark changes, or when another trigger clears it (rank_tier set to NULL);
- the facts' tables clear the keys they affect: household (family situation, income,
  municipality), parent (work, share, relation to the child, household), enrolment
  (a sibling's place), provider_location (tariff, own criteria, municipality),
  care_request (submission time, household, child) and child (household).
The columns are not in the Tortoise models: only the database writes them.
"""

from tortoise import migrations
from tortoise.migrations import operations as ops

# Rule sets by the submission day in Belgium (resolvers.priority.RULE_SETS): the annulled
# rules of 1 April 2024 apply to requests filed from that day to 29 April 2025.
RANK_FUNCTIONS = r"""
CREATE FUNCTION loket_rank(
    p_tariff text, p_criteria jsonb, p_submitted_at timestamptz,
    p_family_situation text, p_income_below_threshold boolean,
    p_work_situations text[], p_work_shares int[],  -- one per parent, in the same order
    p_foster boolean, p_sibling boolean, p_staff_child boolean, p_resident boolean,
    OUT tier int, OUT score int)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    submitted_on date := (p_submitted_at AT TIME ZONE 'Europe/Brussels')::date;
    p_single boolean := coalesce(p_family_situation = 'SINGLE_PARENT', false);
    p_low_income boolean := coalesce(p_income_below_threshold, false);
    -- Every parent works, seeks a job, trains or follows an integration course.
    p_needs_work boolean := coalesce(cardinality(p_work_situations) > 0 AND (
        SELECT bool_and(coalesce(w IN ('WORKING', 'JOB_SEEKING', 'IN_TRAINING',
                                       'INTEGRATION_COURSE'), false))
        FROM unnest(p_work_situations) w), false);
    -- Every parent works at least 80 % of full time (an unknown share does not count).
    p_four_fifths boolean := coalesce(cardinality(p_work_situations) > 0
        AND cardinality(p_work_situations) = cardinality(p_work_shares) AND (
        SELECT bool_and(coalesce(w = 'WORKING' AND s >= 80, false))
        FROM unnest(p_work_situations, p_work_shares) t(w, s)), false);
    entry jsonb;
    met boolean;
BEGIN
    p_foster := coalesce(p_foster, false);
    p_sibling := coalesce(p_sibling, false);
    p_staff_child := coalesce(p_staff_child, false);
    p_resident := coalesce(p_resident, false);
    IF p_tariff = 'FREE_PRICE' THEN  -- the provider's own policy only
        tier := 1;
        score := 0;
    ELSIF submitted_on BETWEEN DATE '2024-04-01' AND DATE '2025-04-29' THEN  -- annulled
        tier := CASE WHEN p_four_fifths OR p_sibling OR p_foster THEN 0 ELSE 1 END;
        score := 0;
    ELSE  -- income-related rules before 1 April 2024, restored on 30 April 2025
        tier := CASE WHEN p_needs_work THEN 0 ELSE 1 END;
        score := 100 * (p_single::int + p_low_income::int + p_foster::int + p_sibling::int);
    END IF;
    FOR entry IN SELECT value FROM jsonb_array_elements(coalesce(p_criteria, '[]'::jsonb)) LOOP
        met := CASE entry->>'criterion'
            WHEN 'SIBLING' THEN p_sibling
            WHEN 'STAFF_CHILD' THEN p_staff_child
            WHEN 'RESIDENT' THEN p_resident
        END;
        IF met THEN
            score := score + (entry->>'weight')::int;
        END IF;
    END LOOP;
END $$;

CREATE FUNCTION loket_rank_of(p_request uuid, p_location uuid, p_staff_child boolean,
                              OUT tier int, OUT score int)
-- PL/pgSQL, not SQL: its statement's plan is kept for the session, where a SQL function
-- called from a trigger would be planned again on every call.
LANGUAGE plpgsql STABLE AS $$
BEGIN
    SELECT k.tier, k.score INTO tier, score
    FROM care_request r
    JOIN household h ON h.id = r.household_id
    JOIN provider_location l ON l.id = p_location
    CROSS JOIN LATERAL (
        SELECT array_agg(p.work_situation ORDER BY p.id) AS work_situations,
               array_agg(p.work_share_percent ORDER BY p.id) AS work_shares,
               bool_or(p.relation_to_child = 'FOSTER_PARENT') AS foster
        FROM parent p WHERE p.household_id = h.id) pa
    CROSS JOIN LATERAL loket_rank(
        l.tariff, l.priority_criteria, r.submitted_at,
        h.family_situation, h.income_below_threshold,
        coalesce(pa.work_situations, '{}'), coalesce(pa.work_shares, '{}'), pa.foster,
        EXISTS (SELECT 1 FROM enrolment se JOIN child sc ON sc.id = se.child_id
                WHERE sc.household_id = h.id AND sc.id <> r.child_id
                  AND se.location_id = p_location AND se.end_date IS NULL),
        p_staff_child, h.municipality_id = l.municipality_id) k
    WHERE r.id = p_request;
END $$;
"""

TRIGGERS = r"""
CREATE FUNCTION loket_application_rank() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' OR NEW.rank_tier IS NULL
       OR NEW.request_id IS DISTINCT FROM OLD.request_id
       OR NEW.location_id IS DISTINCT FROM OLD.location_id
       OR NEW.staff_child IS DISTINCT FROM OLD.staff_child THEN
        SELECT k.tier, k.score INTO NEW.rank_tier, NEW.rank_score
        FROM loket_rank_of(NEW.request_id, NEW.location_id, NEW.staff_child) k;
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER application_rank BEFORE INSERT OR UPDATE ON application
    FOR EACH ROW EXECUTE FUNCTION loket_application_rank();

-- Clears the keys of every application of the households (the next write recomputes them
-- in loket_application_rank).
CREATE FUNCTION loket_clear_ranks(p_households uuid[]) RETURNS void LANGUAGE sql AS $$
    UPDATE application a SET rank_tier = NULL
    FROM care_request r
    WHERE r.id = a.request_id AND r.household_id = ANY(p_households)
$$;

CREATE FUNCTION loket_facts_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'household' THEN
        PERFORM loket_clear_ranks(ARRAY[NEW.id]);
    ELSIF TG_TABLE_NAME IN ('parent', 'child') THEN
        PERFORM loket_clear_ranks(ARRAY[
            CASE WHEN TG_OP <> 'INSERT' THEN OLD.household_id END,
            CASE WHEN TG_OP <> 'DELETE' THEN NEW.household_id END]);
    ELSIF TG_TABLE_NAME = 'enrolment' THEN
        PERFORM loket_clear_ranks(ARRAY(
            SELECT c.household_id FROM child c
            WHERE c.id IN (CASE WHEN TG_OP <> 'INSERT' THEN OLD.child_id END,
                           CASE WHEN TG_OP <> 'DELETE' THEN NEW.child_id END)));
    ELSIF TG_TABLE_NAME = 'provider_location' THEN
        UPDATE application SET rank_tier = NULL WHERE location_id = NEW.id;
    ELSIF TG_TABLE_NAME = 'care_request' THEN
        UPDATE application SET rank_tier = NULL WHERE request_id = NEW.id;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER household_rank AFTER UPDATE ON household FOR EACH ROW
    WHEN (OLD.family_situation IS DISTINCT FROM NEW.family_situation
          OR OLD.income_below_threshold IS DISTINCT FROM NEW.income_below_threshold
          OR OLD.municipality_id IS DISTINCT FROM NEW.municipality_id)
    EXECUTE FUNCTION loket_facts_changed();
CREATE TRIGGER parent_rank_written AFTER INSERT OR DELETE ON parent FOR EACH ROW
    EXECUTE FUNCTION loket_facts_changed();
CREATE TRIGGER parent_rank AFTER UPDATE ON parent FOR EACH ROW
    WHEN (OLD.work_situation IS DISTINCT FROM NEW.work_situation
          OR OLD.work_share_percent IS DISTINCT FROM NEW.work_share_percent
          OR OLD.relation_to_child IS DISTINCT FROM NEW.relation_to_child
          OR OLD.household_id IS DISTINCT FROM NEW.household_id)
    EXECUTE FUNCTION loket_facts_changed();
CREATE TRIGGER enrolment_rank_written AFTER INSERT OR DELETE ON enrolment FOR EACH ROW
    EXECUTE FUNCTION loket_facts_changed();
CREATE TRIGGER enrolment_rank AFTER UPDATE ON enrolment FOR EACH ROW
    WHEN (OLD.child_id IS DISTINCT FROM NEW.child_id
          OR OLD.location_id IS DISTINCT FROM NEW.location_id
          OR OLD.end_date IS DISTINCT FROM NEW.end_date)
    EXECUTE FUNCTION loket_facts_changed();
CREATE TRIGGER provider_location_rank AFTER UPDATE ON provider_location FOR EACH ROW
    WHEN (OLD.tariff IS DISTINCT FROM NEW.tariff
          OR OLD.priority_criteria IS DISTINCT FROM NEW.priority_criteria
          OR OLD.municipality_id IS DISTINCT FROM NEW.municipality_id)
    EXECUTE FUNCTION loket_facts_changed();
CREATE TRIGGER care_request_rank AFTER UPDATE ON care_request FOR EACH ROW
    WHEN (OLD.submitted_at IS DISTINCT FROM NEW.submitted_at
          OR OLD.household_id IS DISTINCT FROM NEW.household_id
          OR OLD.child_id IS DISTINCT FROM NEW.child_id)
    EXECUTE FUNCTION loket_facts_changed();
CREATE TRIGGER child_rank AFTER UPDATE ON child FOR EACH ROW
    WHEN (OLD.household_id IS DISTINCT FROM NEW.household_id)
    EXECUTE FUNCTION loket_facts_changed();
"""

DROP_TRIGGERS = """
DROP TRIGGER child_rank ON child;
DROP TRIGGER care_request_rank ON care_request;
DROP TRIGGER provider_location_rank ON provider_location;
DROP TRIGGER enrolment_rank ON enrolment;
DROP TRIGGER enrolment_rank_written ON enrolment;
DROP TRIGGER parent_rank ON parent;
DROP TRIGGER parent_rank_written ON parent;
DROP TRIGGER household_rank ON household;
DROP FUNCTION loket_facts_changed();
DROP FUNCTION loket_clear_ranks(uuid[]);
DROP TRIGGER application_rank ON application;
DROP FUNCTION loket_application_rank();
"""


class Migration(migrations.Migration):
    dependencies = [("models", "0009_privacy")]

    initial = False

    operations = [
        ops.RunSQL(
            "ALTER TABLE application ADD COLUMN rank_tier smallint, ADD COLUMN rank_score int",
            "ALTER TABLE application DROP COLUMN rank_tier, DROP COLUMN rank_score",
        ),
        ops.RunSQL(
            RANK_FUNCTIONS,
            "DROP FUNCTION loket_rank_of(uuid, uuid, boolean); "
            "DROP FUNCTION loket_rank(text, jsonb, timestamptz, text, boolean, text[], int[], "
            "boolean, boolean, boolean, boolean)",
        ),
        ops.RunSQL(TRIGGERS, DROP_TRIGGERS),
        # Existing applications get their key (the trigger computes it).
        ops.RunSQL("UPDATE application SET rank_tier = NULL", "SELECT 1"),
    ]
