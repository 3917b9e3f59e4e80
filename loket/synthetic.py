"""Synthetic dossiers for benchmarks and scale tests: set-based SQL, a handful of
statements whatever the size, reproducible with a seed. Never personal data of real
people: names are 'Ouder 17', numbers are absent."""

from __future__ import annotations

import datetime
import time
import uuid
from collections.abc import Callable
from typing import Any

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


# The Flanders-size data set of the jobs benchmark: one statement per table (plus six
# plans in temporary tables), every value drawn with random() after setseed(), so the
# same seed, scale and reference date give the same rows. Ids are md5 digests of a kind
# and a number: random-looking like the uuid4s of real rows, yet reproducible. Rows are
# inserted in the order they would have been created, so that old dossiers share pages
# as they do in a real table (what retention rewrites, and what the emergency list
# stamps, are not spread over every page).
_FLANDERS_PLAN = [
    # Municipalities: NIS-like codes (province block, three digits), one postal code
    # each, five synthetic provinces as regions. Index 0 is the most populous.
    """CREATE TEMP TABLE bench_muni ON COMMIT DROP AS
       SELECT m AS idx,
              (ARRAY['11', '12', '13', '23', '24', '31', '34', '36', '41', '44', '45', '46',
                     '71', '72', '73'])[1 + m * 15 / $1::int] || lpad((m + 1)::text, 3, '0')
                  AS nis_code,
              (1000 + m * 29)::text AS postal_code,
              1 + m * 5 / $1::int AS province
       FROM generate_series(0, $1::int - 1) AS m""",
    # Locations, numbered by municipality so that a municipality's locations are the
    # range loc_start .. loc_start + loc_count - 1; every municipality has one, the rest
    # follow the population. 60 % are their own organisation (mostly family care), the
    # others belong to one of L/50 groups, big groups more often.
    """CREATE TEMP TABLE bench_loc ON COMMIT DROP AS
       WITH j AS (
           SELECT j,
                  CASE WHEN j <= $1::int THEN j - 1
                       ELSE floor($1::int * power(random(), 2))::int END AS muni,
                  random() AS r_org, random() AS r_group, random() AS r_kind,
                  random() AS r_staff
           FROM generate_series(1, $2::int) AS j),
       n AS (SELECT row_number() OVER (ORDER BY muni, j) - 1 AS n, j.* FROM j)
       SELECT n.n, n.muni, n.r_kind, n.r_staff,
              md5('loc' || n.n)::uuid AS id,
              CASE WHEN n.r_org < 0.6 THEN 'single ' || n.n
                   ELSE 'group ' || (1 + floor(greatest($2::int / 50, 1)
                                               * power(n.r_group, 2))::int) END AS org_key
       FROM n""",
    """CREATE TEMP TABLE bench_muni_locs ON COMMIT DROP AS
       SELECT muni AS idx, min(n)::int AS loc_start, count(*)::int AS loc_count
       FROM bench_loc GROUP BY muni""",
    # Households and children, one plan row per number i: household i, child i and its
    # request i. About 6 % of children are a younger sibling in household i - 1, filed
    # 2-3 years after the elder; household i then has no child and no request (registered,
    # never filed). Submissions are spread over `span` days before the reference date,
    # births from 2 months before to 6 months after the submission, desired starts 3 to 12
    # months after birth. Status by desired start: far in the future mostly open; around
    # the reference date (-120 .. +60 days) a third still open (the emergency list); older
    # ones fulfilled or withdrawn, a few forgotten open ones. Enrolments end at 2.5-3
    # years of age (15 % leave early); an end after the reference date is still running.
    """CREATE TEMP TABLE bench_child ON COMMIT DROP AS
       WITH b AS (
           SELECT i, random() AS r_sib, random() AS r_age, random() AS r_muni,
                  random() AS r_fam, random() AS r_birth, random() AS r_start,
                  random() AS r_status, random() AS r_close, random() AS r_dur,
                  random() AS r_n, random() AS r_pick, random() AS r_loc, random() AS r_x
           FROM generate_series(1, $1::int) AS i),
       s AS (
           SELECT b.*, floor(r_age * $3::int)::int AS age0,
                  floor($2::int * power(r_muni, 2))::int AS muni0,
                  lag(r_sib) OVER w AS prev_sib,
                  lag(floor(r_age * $3::int)::int) OVER w AS prev_age,
                  lag(floor($2::int * power(r_muni, 2))::int) OVER w AS prev_muni
           FROM b WINDOW w AS (ORDER BY i)),
       c AS (
           SELECT s.*,
                  coalesce(r_sib < 0.065 AND prev_sib >= 0.065 AND prev_age >= 800, false)
                      AS sib,
                  r_x * 977 - floor(r_x * 977) AS frac
           FROM s),
       d AS (
           SELECT c.*,
                  CASE WHEN sib THEN i - 1 ELSE i END AS hh,
                  CASE WHEN sib THEN prev_muni ELSE muni0 END AS muni,
                  $4::date::timestamptz - make_interval(days => CASE WHEN sib
                      THEN prev_age - 700 - floor(r_x * least(prev_age - 700, 500))::int
                      ELSE age0 END) - frac * interval '1 day' AS submitted_at,
                  $4::date::timestamptz - make_interval(days => age0)
                      - (frac + 1 + (r_fam * 31 - floor(r_fam * 31)) * 20) * interval '1 day'
                      AS household_created_at
           FROM c),
       e AS (
           SELECT d.*, submitted_at::date - 60 + floor(r_birth * 240)::int AS birth
           FROM d),
       f AS (
           SELECT e.*, birth + 90 + floor(r_start * 270)::int AS desired_start FROM e),
       g AS (
           SELECT f.*,
                  CASE WHEN desired_start > $4::date + 60 THEN
                           CASE WHEN r_status < 0.75 THEN 'OPEN'
                                WHEN r_status < 0.90 THEN 'FULFILLED' ELSE 'WITHDRAWN' END
                       WHEN desired_start > $4::date - 120 THEN
                           CASE WHEN r_status < 0.35 THEN 'OPEN'
                                WHEN r_status < 0.85 THEN 'FULFILLED' ELSE 'WITHDRAWN' END
                       ELSE CASE WHEN r_status < 0.003 THEN 'OPEN'
                                 WHEN r_status < 0.75 THEN 'FULFILLED' ELSE 'WITHDRAWN' END
                  END AS status,
                  CASE WHEN r_dur < 0.15
                       THEN desired_start + 60 + floor(r_dur / 0.15 * 300)::int
                       ELSE birth + 880 + floor(r_dur * 220)::int END AS enrolment_end
           FROM f)
       SELECT i, hh, sib, muni, muni0, r_fam, r_n, r_pick, r_loc, r_x, r_status,
              md5('h' || i)::uuid AS household_id,
              md5('h' || hh)::uuid AS child_household_id,
              md5('c' || i)::uuid AS child_id,
              md5('r' || i)::uuid AS request_id,
              household_created_at, submitted_at, birth, desired_start, status,
              CASE status
                  WHEN 'FULFILLED' THEN greatest(submitted_at, least(
                      $4::date::timestamptz - interval '1 minute',
                      submitted_at + r_close * greatest(
                          (desired_start - 14)::timestamptz - submitted_at, interval '1 hour')))
                  WHEN 'WITHDRAWN' THEN submitted_at + r_close * (
                      least($4::date::timestamptz, (desired_start + 60)::timestamptz)
                      - submitted_at)
              END AS closed_at,
              CASE WHEN status = 'FULFILLED' AND enrolment_end < $4::date
                   THEN enrolment_end END AS enrolment_end,
              1 + floor(r_n * 5)::int AS n_locations,
              CASE WHEN r_pick < 0.55 THEN 1
                   ELSE 1 + floor(r_pick * (1 + floor(r_n * 5)))::int END AS enrolled_pref,
              status = 'OPEN' AND desired_start > $4::date + 60 AND r_x < 0.03 AS stale_stamp
       FROM g""",
    # Parents: the applicant, and a partner in three households out of four; almost all
    # have an account (an applicant 97 %, a partner 85 %) with a PARENT membership.
    """CREATE TEMP TABLE bench_parent ON COMMIT DROP AS
       SELECT 2 * c.i - 2 + k AS no, c.i, k, c.household_id, c.muni0 AS muni,
              c.household_created_at + (k - 1) * interval '3 days' AS created_at,
              random() < CASE WHEN k = 1 THEN 0.97 ELSE 0.85 END AS has_account,
              random() AS r1, random() AS r2, random() AS r3
       FROM bench_child c
       CROSS JOIN LATERAL generate_series(1, CASE WHEN c.r_fam < 0.25 THEN 1 ELSE 2 END) k""",
    # Provider staff: one or two users per organisation (organisation-wide membership),
    # and a location-only user at one location in ten.
    """CREATE TEMP TABLE bench_staff ON COMMIT DROP AS
       WITH o AS (
           SELECT org_key, md5('org' || org_key)::uuid AS organisation_id,
                  random() < 0.3 AS two
           FROM (SELECT DISTINCT org_key FROM bench_loc ORDER BY org_key) x),
       s AS (
           SELECT 'staff ' || o.org_key || ' ' || k AS key, o.organisation_id,
                  NULL::uuid AS location_id
           FROM o CROSS JOIN LATERAL generate_series(1, CASE WHEN o.two THEN 2 ELSE 1 END) k
           UNION ALL
           SELECT 'staff location ' || n, NULL, id FROM bench_loc WHERE r_staff < 0.1)
       SELECT row_number() OVER (ORDER BY key) AS n, md5(key)::uuid AS user_id,
              replace(key, ' ', '-') || '@synthetic.invalid' AS email, organisation_id,
              location_id
       FROM s""",
]

_FLANDERS_ROWS = [
    (
        "region",
        """INSERT INTO region (name)
           SELECT 'Synthetische provincie ' || p FROM generate_series(1, 5) p""",
    ),
    (
        "municipality",
        """INSERT INTO municipality (nis_code, name, region_id)
           SELECT m.nis_code, 'Gemeente ' || (m.idx + 1), r.id
           FROM bench_muni m JOIN region r ON r.name = 'Synthetische provincie ' || m.province""",
    ),
    (
        "postal_code",
        """INSERT INTO postal_code (code, municipality_id, place_name)
           SELECT postal_code, nis_code, 'Gemeente ' || (idx + 1) FROM bench_muni""",
    ),
    (
        "provider_organisation",
        """INSERT INTO provider_organisation (id, name, created_at)
           SELECT DISTINCT md5('org' || org_key)::uuid, 'Organisatie ' || org_key,
                  $1::date::timestamptz - interval '10 years'
           FROM bench_loc""",
    ),
    (
        # Every organisation has its processor agreement in force (as access needs).
        "agreement",
        """INSERT INTO agreement (id, kind, provider_organisation_id, version, signed_on,
               created_at)
           SELECT md5('agreement' || id::text)::uuid, 'PROCESSING', id, 'synthetic',
                  $1::date - 3650, $1::date::timestamptz - interval '10 years'
           FROM provider_organisation""",
    ),
    (
        "provider_location",
        """INSERT INTO provider_location (id, organisation_id, name, street, postal_code,
               municipality_id, kind, capacity, tariff, subsidy_step, min_age_months,
               max_age_months, opening_hours, opening_days, priority_policy,
               priority_criteria)
           SELECT l.id, md5('org' || l.org_key)::uuid, 'Opvang ' || (l.n + 1),
                  'Opvangstraat ' || (l.n + 1), m.postal_code, m.nis_code,
                  CASE WHEN l.r_kind < 0.55 THEN 'FAMILY' ELSE 'GROUP' END,
                  CASE WHEN l.r_kind < 0.55 THEN 4 + floor(l.r_kind * 8)::int
                       ELSE 14 + floor(l.r_kind * 80)::int END,
                  CASE WHEN l.r_kind * 10 - floor(l.r_kind * 10) < 0.7
                       THEN 'INCOME_RELATED' ELSE 'FREE_PRICE' END,
                  CASE WHEN l.r_kind * 10 - floor(l.r_kind * 10) < 0.35 THEN 3
                       WHEN l.r_kind * 10 - floor(l.r_kind * 10) < 0.7 THEN 2 END,
                  0, 36, '07:00-18:30', ARRAY['MON', 'TUE', 'WED', 'THU', 'FRI'], '',
                  '[]'::jsonb
           FROM bench_loc l JOIN bench_muni m ON m.idx = l.muni""",
    ),
    (
        "app_user",
        """INSERT INTO app_user (id, email, display_name, password_hash, is_active, created_at)
           SELECT user_id, email, 'Medewerker ' || n, NULL, true,
                  $1::date::timestamptz - interval '9 years'
           FROM bench_staff
           UNION ALL
           SELECT md5('u' || no)::uuid, 'p' || no || '@synthetic.invalid', 'Ouder ' || no,
                  NULL, true, created_at
           FROM bench_parent WHERE has_account
           UNION ALL
           SELECT md5('admin 1')::uuid, 'admin-1@synthetic.invalid', 'Beheerder 1', NULL,
                  true, $1::date::timestamptz - interval '9 years'
           ORDER BY 6""",
    ),
    (
        "membership",
        """INSERT INTO membership (id, user_id, role, provider_organisation_id,
               provider_location_id, created_at)
           SELECT md5('m ' || user_id)::uuid, user_id, 'PROVIDER', organisation_id,
                  location_id, $1::date::timestamptz - interval '9 years'
           FROM bench_staff
           UNION ALL
           SELECT md5('m ' || no)::uuid, md5('u' || no)::uuid, 'PARENT', NULL, NULL,
                  created_at
           FROM bench_parent WHERE has_account
           UNION ALL
           SELECT md5('m admin 1')::uuid, md5('admin 1')::uuid, 'ADMIN', NULL, NULL,
                  $1::date::timestamptz - interval '9 years'
           ORDER BY 6""",
    ),
    (
        "household",
        """INSERT INTO household (id, municipality_id, family_situation,
               income_below_threshold, situation_source, created_at)
           SELECT c.household_id, m.nis_code,
                  CASE WHEN c.r_fam < 0.25 THEN 'SINGLE_PARENT' ELSE 'TWO_PARENTS' END,
                  c.r_fam * 13 - floor(c.r_fam * 13) < 0.3, 'PARENT', c.household_created_at
           FROM bench_child c JOIN bench_muni m ON m.idx = c.muni0
           ORDER BY c.household_created_at""",
    ),
    (
        "parent",
        """INSERT INTO parent (id, household_id, user_id, is_applicant, first_name, last_name,
               nationality, birthplace, home_language, street, postal_code, municipality_id,
               phone, email, work_situation, work_share_percent, education_level,
               relation_to_child, situation_source, rrn_hashes, rrn_key_ids)
           SELECT md5('p' || p.no)::uuid, p.household_id,
                  CASE WHEN p.has_account THEN md5('u' || p.no)::uuid END, p.k = 1,
                  'Ouder ' || p.no, 'Familie ' || p.i,
                  CASE WHEN p.r1 < 0.85 THEN 'BE'
                       ELSE (ARRAY['NL', 'MA', 'TR', 'PL', 'RO'])[1 + floor(p.r2 * 5)::int] END,
                  'Geboorteplaats ' || (1 + floor(p.r3 * 400)::int),
                  CASE WHEN p.r1 < 0.8 THEN 'nl'
                       ELSE (ARRAY['fr', 'en', 'ar', 'tr'])[1 + floor(p.r3 * 4)::int] END,
                  'Straat ' || p.i || ' ' || (1 + floor(p.r2 * 120)::int), m.postal_code,
                  m.nis_code, '+3247' || lpad((p.no % 10000000)::text, 7, '0'),
                  'p' || p.no || '@synthetic.invalid',
                  (ARRAY['WORKING', 'WORKING', 'WORKING', 'WORKING', 'JOB_SEEKING',
                         'IN_TRAINING', 'INTEGRATION_COURSE', 'NONE'])
                      [1 + floor(p.r2 * 8)::int],
                  CASE WHEN p.r2 < 0.5 THEN (ARRAY[50, 60, 80, 100, 100])
                      [1 + floor(p.r3 * 5)::int] END,
                  (ARRAY['NO_SECONDARY_DIPLOMA', 'SECONDARY', 'SECONDARY', 'HIGHER', 'HIGHER'])
                      [1 + floor(p.r3 * 5)::int],
                  CASE WHEN p.r3 * 50 - floor(p.r3 * 50) < 0.03 THEN 'FOSTER_PARENT'
                       ELSE 'PARENT' END,
                  'PARENT',
                  CASE WHEN p.r1 < 0.85 THEN ARRAY[sha256(('p' || p.no)::bytea)] END,
                  CASE WHEN p.r1 < 0.85 THEN ARRAY['k1'] END
           FROM bench_parent p JOIN bench_muni m ON m.idx = p.muni
           ORDER BY p.created_at""",
    ),
    (
        "child",
        """INSERT INTO child (id, household_id, first_name, nickname, last_name, birth_date,
               expected_birth_date, rrn_hashes, rrn_key_ids, created_at)
           SELECT child_id, child_household_id, 'Kind ' || i, '', 'Familie ' || hh,
                  CASE WHEN birth <= $1::date THEN birth END,
                  CASE WHEN birth > $1::date OR birth > submitted_at::date
                       THEN birth + (floor(r_x * 21)::int - 10) END,
                  CASE WHEN birth <= $1::date THEN ARRAY[sha256(('c' || i)::bytea)] END,
                  CASE WHEN birth <= $1::date THEN ARRAY['k1'] END,
                  submitted_at
           FROM bench_child ORDER BY submitted_at""",
    ),
    (
        "care_request",
        """INSERT INTO care_request (id, household_id, child_id, desired_start_date,
               care_pattern, note, status, submitted_at, filed_by_id, emergency_since,
               emergency_notified_at, closed_at)
           SELECT c.request_id, c.child_household_id, c.child_id, c.desired_start,
                  '{"MON": "FULL", "TUE": "FULL", "THU": "AM"}'::jsonb, '', c.status,
                  c.submitted_at,
                  CASE WHEN p.has_account THEN md5('u' || p.no)::uuid END,
                  CASE WHEN c.stale_stamp THEN $1::date - 1 - floor(c.r_x * 1000)::int END,
                  CASE WHEN c.stale_stamp THEN $1::date::timestamptz
                      - floor(c.r_x * 1000) * interval '1 day' END,
                  c.closed_at
           FROM bench_child c
           JOIN bench_parent p ON p.i = c.hh AND p.k = 1
           ORDER BY c.submitted_at""",
    ),
    # Chosen locations: the first in the residence municipality, the others there too
    # (when it has five locations or more) or in the next municipalities by number.
    (
        "application",
        """INSERT INTO application (id, request_id, location_id, preference, status,
               offered_start_date, reply_deadline, by_emergency_offer, staff_child,
               refusal_reason, answered_at, created_at, updated_at)
           WITH a AS (
               SELECT c.request_id, c.status AS request_status, c.desired_start,
                      c.submitted_at, c.closed_at, c.enrolled_pref, c.r_loc, k,
                      CASE WHEN k = 1 OR (random() < 0.6 AND home.loc_count >= 5) THEN c.muni
                           ELSE (c.muni + k - 1) % $2::int END AS muni,
                      random() AS r
               FROM bench_child c
               JOIN bench_muni_locs home ON home.idx = c.muni
               CROSS JOIN LATERAL generate_series(1, c.n_locations) k),
           s AS (
               SELECT a.*,
                      CASE a.request_status
                          WHEN 'OPEN' THEN CASE WHEN a.r < 0.6 THEN 'PENDING'
                                                WHEN a.r < 0.85 THEN 'WAITLISTED'
                                                WHEN a.r < 0.96 THEN 'REFUSED'
                                                ELSE 'OFFERED' END
                          WHEN 'FULFILLED' THEN CASE WHEN a.k = a.enrolled_pref THEN 'ENROLLED'
                                                     WHEN a.r < 0.1 THEN 'REFUSED'
                                                     ELSE 'CLOSED' END
                          ELSE CASE WHEN a.r < 0.1 THEN 'REFUSED' ELSE 'WITHDRAWN' END
                      END AS status
               FROM a)
           SELECT md5('a' || s.request_id || ' ' || s.k)::uuid, s.request_id,
                  md5('loc' || (l.loc_start
                      + (floor(s.r_loc * 100000)::int + s.k - 1) % l.loc_count))::uuid,
                  s.k, s.status,
                  CASE WHEN s.status = 'OFFERED' THEN s.desired_start END,
                  CASE WHEN s.status = 'OFFERED' THEN $1::date + 7 END,
                  false, s.r * 100 - floor(s.r * 100) < 0.01, '',
                  CASE WHEN s.status <> 'PENDING' THEN coalesce(s.closed_at, s.submitted_at
                      + (s.r * 37 - floor(s.r * 37))
                      * ($1::date::timestamptz - s.submitted_at)) END,
                  s.submitted_at, coalesce(s.closed_at, s.submitted_at)
           FROM s JOIN bench_muni_locs l ON l.idx = s.muni
           ORDER BY s.submitted_at, s.k""",
    ),
    (
        "enrolment",
        """INSERT INTO enrolment (id, child_id, location_id, request_id, start_date, end_date)
           SELECT md5('e' || c.i)::uuid, c.child_id, a.location_id, c.request_id,
                  c.desired_start, c.enrolment_end
           FROM application a JOIN bench_child c ON c.request_id = a.request_id
           WHERE a.status = 'ENROLLED'
           ORDER BY c.closed_at""",
    ),
    (
        "referral_organisation",
        """INSERT INTO referral_organisation (id, name, kind)
           SELECT md5('ro' || n)::uuid, 'Doorverwijzer ' || n,
                  (ARRAY['OCMW', 'VDAB', 'KIND_EN_GEZIN', 'CAW', 'OTHER'])[1 + n % 5]
           FROM generate_series(1, 20) n""",
    ),
    # A mandate for one household in thirty, half of them revoked since.
    (
        "mandate",
        """INSERT INTO mandate (id, household_id, referral_organisation_id, granted_by_id,
               granted_at, consent_method, consent_given_at, consent_note, revoked_at)
           SELECT md5('md' || c.i)::uuid, c.household_id,
                  md5('ro' || (1 + c.i % 20))::uuid, md5('p' || (2 * c.i - 1))::uuid,
                  c.household_created_at, 'ONLINE', c.household_created_at, '',
                  CASE WHEN c.r_x < 0.5 THEN c.household_created_at
                      + (c.r_status * ($1::date::timestamptz - c.household_created_at)) END
           FROM bench_child c WHERE c.r_fam * 7 - floor(c.r_fam * 7) < 0.033
           ORDER BY c.household_created_at""",
    ),
    # Reads by provider staff (and an admin now and then) of random dossiers, at a random
    # moment between the household's registration and the reference date.
    (
        "access_log",
        """INSERT INTO access_log (at, viewer_id, role, grant_name, household_id, fields_read,
               operation_name, request_id, outcome)
           WITH x AS (
               SELECT g, 1 + floor(random() * $2::int)::int AS hh, random() AS r1,
                      1 + floor(random() * $3::int)::int AS staff
               FROM generate_series(1, $4::int) g)
           SELECT c.household_created_at
                      + x.r1 * ($1::date::timestamptz - c.household_created_at),
                  CASE WHEN x.r1 * 50 - floor(x.r1 * 50) < 0.05 THEN md5('admin 1')::uuid
                       ELSE s.user_id END,
                  CASE WHEN x.r1 * 50 - floor(x.r1 * 50) < 0.05 THEN 'ADMIN'
                       ELSE 'PROVIDER' END,
                  CASE WHEN x.r1 * 50 - floor(x.r1 * 50) < 0.05 THEN 'ADMIN'
                       ELSE (ARRAY['PROVIDER_SELECTED', 'PROVIDER_SELECTED',
                                   'PROVIDER_ENROLLED', 'PROVIDER_EMERGENCY'])
                                [1 + floor((x.r1 * 7 - floor(x.r1 * 7)) * 4)::int] END,
                  c.household_id,
                  '["CareRequest.desiredStartDate", "Child.firstName", "Parent.firstName",
                    "Parent.lastName", "Parent.phone"]'::jsonb,
                  'Inbox', md5('req' || x.g)::uuid::text, NULL
           FROM x JOIN bench_child c ON c.i = x.hh JOIN bench_staff s ON s.n = x.staff
           ORDER BY 1""",
    ),
]

# The parameters ($1, $2, ...) of the statements that take more than the reference date.
_FLANDERS_PARAMS = {
    "application": ("today", "municipalities"),
    "access_log": ("today", "households", "staff", "access_log"),
}


def flanders_size(scale: float = 1.0) -> dict[str, int]:
    """The plan's sizes at `scale` (1.0: the Flanders target of MISSION.md section 5)."""
    locations = max(40, round(8000 * scale))
    return {
        "households": max(100, round(400_000 * scale)),
        "locations": locations,
        "municipalities": min(300, max(10, locations // 4)),
        "access_log": max(100, round(1_000_000 * scale)),
        # Days of submissions before the reference date: eight and a half years, so
        # enrolments that ended 4-7 years ago exist (retention's work on both sides of
        # its 5-year boundary).
        "span_days": 3100,
    }


async def flanders(
    conn: Any,
    today: datetime.date,
    scale: float = 1.0,
    seed: float = 0.42,
    progress: Callable[[str, int, float], None] | None = None,
) -> dict[str, int]:
    """Fill the (empty, migrated) database on asyncpg connection `conn` with a
    Flanders-size synthetic platform as it stands on `today`, in one transaction:

    - ~300 municipalities with NIS-like codes, ~8,000 provider locations in ~5,000
      organisations, ~7,000 provider staff users with PROVIDER memberships;
    - 400,000 households with ~700,000 parents (three in four households have two),
      ~650,000 parent accounts with PARENT memberships, ~400,000 children and one care
      request each (OPEN, FULFILLED with an enrolment, or WITHDRAWN), 1-5 chosen
      locations per request (~1.2 million applications), ~13,000 mandates;
    - 1,000,000 access-log rows.

    Sizes scale linearly with `scale` (see `flanders_size`). Returns rows per table;
    `progress(table, rows, seconds)` is called after each statement."""
    size = flanders_size(scale)
    households, locations = size["households"], size["locations"]
    municipalities, span = size["municipalities"], size["span_days"]
    counts: dict[str, int] = {}

    async def run(name: str, sql: str, *args: Any) -> None:
        started = time.perf_counter()
        status: str = await conn.execute(sql, *args)
        rows = int(status.rsplit(" ", 1)[-1]) if status[-1].isdigit() else 0
        if not name.startswith("plan"):
            counts[name] = counts.get(name, 0) + rows
        if progress is not None:
            progress(name, rows, time.perf_counter() - started)

    async with conn.transaction():
        for setting in (
            "SET LOCAL synchronous_commit = off",
            "SET LOCAL work_mem = '256MB'",
            "SET LOCAL max_parallel_workers_per_gather = 0",  # one ordered random() stream
            "SET LOCAL jit = off",  # compiling costs more than it saves here
        ):
            await conn.execute(setting)
        await conn.execute("SELECT setseed($1)", seed)
        muni_sql, loc_sql, muni_locs_sql, child_sql, parent_sql, staff_sql = _FLANDERS_PLAN
        await run("plan municipalities", muni_sql, municipalities)
        await run("plan locations", loc_sql, municipalities, locations)
        await run("plan municipality locations", muni_locs_sql)
        await run("plan children", child_sql, households, municipalities, span, today)
        await run("plan parents", parent_sql)
        await run("plan staff", staff_sql)
        await conn.execute(
            "ANALYZE bench_muni, bench_loc, bench_muni_locs, bench_child, bench_parent, bench_staff"
        )
        values: dict[str, Any] = {
            "today": today,
            "municipalities": municipalities,
            "households": households,
            "staff": await conn.fetchval("SELECT count(*) FROM bench_staff"),
            "access_log": size["access_log"],
        }
        for name, sql in _FLANDERS_ROWS:
            params = _FLANDERS_PARAMS.get(name, ("today",) if "$1" in sql else ())
            await run(name, sql, *(values[p] for p in params))
    return counts
