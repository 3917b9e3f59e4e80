"""Synthetic dossiers for benchmarks and scale tests: set-based SQL, a handful of
statements whatever the size, reproducible with a seed. Never personal data of real
people: names are 'Ouder 17', numbers are absent."""

from __future__ import annotations

import uuid

from loket.db import execute


async def inbox_dossiers(
    location_id: uuid.UUID, municipality: str, n: int, seed: float = 0.42
) -> None:
    """`n` households in `municipality`, each with one or two parents, one child and an
    open request that chose `location_id` (pending or waitlisted), submitted over the
    last two years; about one in six starts within the emergency-list window."""
    await execute("SELECT setseed($1)", seed)
    await execute(
        """WITH s AS (
              SELECT i, gen_random_uuid() AS household_id, gen_random_uuid() AS child_id,
                     gen_random_uuid() AS request_id, random() AS r1, random() AS r2,
                     random() AS r3, random() AS r4
              FROM generate_series(1, $1) AS i),
            h AS (
              INSERT INTO household (id, municipality_id, family_situation,
                  income_below_threshold, situation_source, created_at)
              SELECT household_id, $2,
                     CASE WHEN r1 < 0.25 THEN 'SINGLE_PARENT' ELSE 'TWO_PARENTS' END,
                     r2 < 0.3, 'PARENT', now() FROM s RETURNING id),
            p AS (
              INSERT INTO parent (id, household_id, is_applicant, first_name, last_name,
                  nationality, birthplace, home_language, street, postal_code, municipality_id,
                  phone, email, work_situation, work_share_percent, education_level,
                  relation_to_child, situation_source)
              SELECT gen_random_uuid(), household_id, k = 1, 'Ouder ' || i, 'Synthetisch',
                     'BE', '', 'nl', 'Straat ' || i, '3000', $2, '+32470000000',
                     'ouder' || i || '-' || k || '@example.test',
                     (ARRAY['WORKING', 'WORKING', 'WORKING', 'JOB_SEEKING', 'IN_TRAINING',
                             'NONE'])[1 + floor(((r3 * 7 + k) * 1000)::int % 6)],
                     CASE WHEN (r3 * 10)::int % 3 = 0 THEN 60 ELSE 100 END,
                     (ARRAY['HIGHER', 'SECONDARY', 'NO_SECONDARY_DIPLOMA'])
                         [1 + floor(((r4 * 5 + k) * 1000)::int % 3)],
                     CASE WHEN r4 < 0.03 THEN 'FOSTER_PARENT' ELSE 'PARENT' END, 'PARENT'
              FROM s CROSS JOIN generate_series(1, CASE WHEN r1 < 0.25 THEN 1 ELSE 2 END) AS k
              RETURNING id),
            c AS (
              INSERT INTO child (id, household_id, first_name, nickname, last_name, birth_date,
                  expected_birth_date, created_at)
              SELECT child_id, household_id, 'Kind ' || i, '', 'Synthetisch',
                     current_date - (30 + (r2 * 300)::int), NULL, now() FROM s RETURNING id),
            r AS (
              INSERT INTO care_request (id, household_id, child_id, desired_start_date,
                  care_pattern, note, status, submitted_at)
              SELECT request_id, household_id, child_id,
                     current_date + CASE WHEN r4 < 0.17 THEN 10 + (r1 * 40)::int
                                         ELSE 70 + (r1 * 300)::int END,
                     '{"MON": "FULL", "TUE": "FULL"}'::jsonb, '', 'OPEN',
                     now() - make_interval(days => (r3 * 730)::int)
              FROM s RETURNING id)
            INSERT INTO application (id, request_id, location_id, preference, status,
                staff_child, by_emergency_offer, refusal_reason, created_at, updated_at)
            SELECT gen_random_uuid(), request_id, $3, 1,
                   CASE WHEN r2 < 0.2 THEN 'WAITLISTED' ELSE 'PENDING' END, r1 < 0.02, false, '',
                   now() - make_interval(days => (r3 * 730)::int), now()
            FROM s""",
        n,
        municipality,
        location_id,
    )
