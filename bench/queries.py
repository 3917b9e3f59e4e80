"""The operations of the end-to-end benchmark (`bench/run.py`): each as Loket's GraphQL
document, the PostGraphile document that fetches the same rows with PostGraphile's
generated relation fields, and one SQL statement that builds the same JSON (the floor).

inbox: Loket ranks a location's open applications with the priority engine and returns
the first 100; PostGraphile has no ranking, so it returns the location's 100 most recent
PENDING applications (its `condition` argument tests equality only). Both return 100 rows
of the same shape; Loket's candidates are all the location's open applications.

dossier: one household. Loket shows a provider only the applications at its own
locations, so the PostGraphile document asks for those (`condition: {locationId: $loc}`);
the benchmark picks households whose every request is open at the location, so the
children and requests are the same on both.

region: a counter's dossier list, as its LOKET staff user: the first page (20 by id) of
every dossier the counter reaches, each with its residence, parents (names, email, phone)
and requests with the locations chosen, in order. Loket evaluates the counter's row scope
(`permissions.scopes`, grant COUNTER_REGION): residence in one of its municipalities OR an
application at a location in one of them (read from the links migration 0014 keeps, in
dossier order, each dossier then held to that condition); and it writes an access-log row
per dossier of the page (the parents' fields read). PostGraphile
can only list the residents of one municipality (`allHouseholds(condition:
{municipalityId})`): the counter serves one municipality and the data set lets only its
residents choose its locations (`bench/data.py`), so both lists hold the same dossiers in
the same order, and the benchmark checks that they do. A counter may not read the family
situation, the children or a request's status and dates (policies PARENT_SITUATION,
HOUSEHOLD_CHILDREN, REQUEST_DETAILS: Loket answers FORBIDDEN), so the list selects what it
may read: residence, parents' names and contact details, the requests' chosen locations.
The floor asks for the residents, as PostGraphile does (the same rows here).

lastminute: the public last-minute search, anonymous (no Authorization header): the first
20 places on offer in a municipality (published, not withdrawn, not past), by start of
the period, with each place's location (name, street, postal code, municipality).
Loket's statement also checks that the municipality exists (UNKNOWN_MUNICIPALITY) and
fetches one row more for `hasNextPage`. PostGraphile cannot ask this: its `condition`
tests equality, so "not past" (`periodEnd >= today`) and "at a location in the
municipality" (a column of another table) are out of reach; its document asks the 20
non-withdrawn places whose period ends last (`condition: {withdrawnAt: null}`, ordered by
`periodEnd` descending: all current, of any municipality). Both return 20 current places
of the same shape, but not the same places; the floor runs Loket's search (the same places
as Loket, which the benchmark checks).
"""

from __future__ import annotations

LOKET_INBOX = (
    "query Inbox($loc: ID!) { inbox(locationId: $loc, first: 100) { edges { node { rank "
    "application { status } request { id status desiredStartDate submittedAt "
    "child { firstName lastName birthDate } } household { familySituation "
    "parents { firstName lastName email } } } } } }"
)

LOKET_DOSSIER = (
    "query Dossier($id: ID!) { household(id: $id) { id familySituation incomeBelowThreshold "
    "parents { firstName lastName email phone } children { firstName lastName birthDate } "
    "requests { id status desiredStartDate applications { status preference "
    "location { name } } } } }"
)

# PostGraphile 4 (and 5 with its V4 preset): the same fields through relation fields.
POSTGRAPHILE_INBOX = """query Inbox($loc: UUID!) {
  providerLocationById(id: $loc) {
    applicationsByLocationId(condition: {status: "PENDING"}, orderBy: CREATED_AT_DESC,
                             first: 100) {
      nodes {
        status
        careRequestByRequestId {
          id status desiredStartDate submittedAt
          childByChildId { firstName lastName birthDate }
          householdByHouseholdId {
            familySituation
            parentsByHouseholdId { nodes { firstName lastName email } }
          }
        }
      }
    }
  }
}"""

POSTGRAPHILE_DOSSIER = """query Dossier($id: UUID!, $loc: UUID!) {
  householdById(id: $id) {
    id familySituation incomeBelowThreshold
    parentsByHouseholdId { nodes { firstName lastName email phone } }
    childrenByHouseholdId { nodes { firstName lastName birthDate } }
    careRequestsByHouseholdId {
      nodes {
        id status desiredStartDate
        applicationsByRequestId(condition: {locationId: $loc}) {
          nodes { status preference providerLocationByLocationId { name } }
        }
      }
    }
  }
}"""

# The floor: one statement per request building the whole answer as JSON, as
# PostGraphile 4 does. $1: the location (inbox); $1 the household, $2 the location
# (dossier).
SQL_INBOX = """
SELECT coalesce(json_agg(x.j ORDER BY x.created_at DESC), '[]')::text FROM (
  SELECT a.created_at, json_build_object(
    'status', a.status,
    'request', json_build_object(
      'id', r.id, 'status', r.status, 'desiredStartDate', r.desired_start_date,
      'submittedAt', r.submitted_at,
      'child', json_build_object('firstName', c.first_name, 'lastName', c.last_name,
                                 'birthDate', c.birth_date),
      'household', json_build_object(
        'familySituation', h.family_situation,
        'parents', (SELECT coalesce(json_agg(json_build_object(
                        'firstName', p.first_name, 'lastName', p.last_name, 'email', p.email)
                        ORDER BY p.id), '[]')
                    FROM parent p WHERE p.household_id = h.id)))) AS j
  FROM application a
  JOIN care_request r ON r.id = a.request_id
  JOIN child c ON c.id = r.child_id
  JOIN household h ON h.id = r.household_id
  WHERE a.location_id = $1 AND a.status = 'PENDING'
  ORDER BY a.created_at DESC
  LIMIT 100) x"""

SQL_DOSSIER = """
SELECT json_build_object(
  'id', h.id, 'familySituation', h.family_situation,
  'incomeBelowThreshold', h.income_below_threshold,
  'parents', (SELECT coalesce(json_agg(json_build_object(
                 'firstName', p.first_name, 'lastName', p.last_name, 'email', p.email,
                 'phone', p.phone) ORDER BY p.id), '[]')
              FROM parent p WHERE p.household_id = h.id),
  'children', (SELECT coalesce(json_agg(json_build_object(
                  'firstName', c.first_name, 'lastName', c.last_name,
                  'birthDate', c.birth_date) ORDER BY c.id), '[]')
               FROM child c WHERE c.household_id = h.id),
  'requests', (SELECT coalesce(json_agg(json_build_object(
                  'id', r.id, 'status', r.status, 'desiredStartDate', r.desired_start_date,
                  'applications', (SELECT coalesce(json_agg(json_build_object(
                                      'status', a.status, 'preference', a.preference,
                                      'location', json_build_object('name', l.name))
                                      ORDER BY a.id), '[]')
                                   FROM application a
                                   JOIN provider_location l ON l.id = a.location_id
                                   WHERE a.request_id = r.id AND a.location_id = $2))
                  ORDER BY r.id), '[]')
               FROM care_request r WHERE r.household_id = h.id))::text
FROM household h WHERE h.id = $1"""

# region: $first dossiers of the counter's region (variables of both documents).
LOKET_REGION = (
    "query Region($first: Int!) { dossiers(first: $first) { edges { node { id "
    "residence { name } parents { firstName lastName email phone } "
    "requests { id preferredLocations { name } } } } pageInfo { hasNextPage endCursor } } }"
)

POSTGRAPHILE_REGION = """query Region($muni: String!, $first: Int!) {
  allHouseholds(condition: {municipalityId: $muni}, orderBy: PRIMARY_KEY_ASC, first: $first) {
    nodes {
      id
      municipalityByMunicipalityId { name }
      parentsByHouseholdId(orderBy: [IS_APPLICANT_DESC, PRIMARY_KEY_ASC]) {
        nodes { firstName lastName email phone }
      }
      careRequestsByHouseholdId(orderBy: [SUBMITTED_AT_ASC, PRIMARY_KEY_ASC]) {
        nodes {
          id
          applicationsByRequestId(condition: {byEmergencyOffer: false},
                                  orderBy: [PREFERENCE_ASC, PRIMARY_KEY_ASC]) {
            nodes { providerLocationByLocationId { name } }
          }
        }
      }
    }
    pageInfo { hasNextPage endCursor }
  }
}"""

# lastminute: anonymous; $muni is the NIS code searched (Loket and the floor).
LOKET_LASTMINUTE = (
    "query LastMinute($muni: String!, $first: Int!) { lastMinutePlaces("
    "filter: {municipalityNisCode: $muni}, first: $first) { edges { node { id periodStart "
    "periodEnd days minAgeMonths maxAgeMonths places note withdrawnAt "
    "location { name street postalCode municipality { name } } } } "
    "pageInfo { hasNextPage endCursor } } }"
)

POSTGRAPHILE_LASTMINUTE = """query LastMinute($first: Int!) {
  allLastMinutePlaces(condition: {withdrawnAt: null},
                      orderBy: [PERIOD_END_DESC, PRIMARY_KEY_ASC], first: $first) {
    nodes {
      id periodStart periodEnd days minAgeMonths maxAgeMonths places note withdrawnAt
      providerLocationByLocationId {
        name street postalCode
        municipalityByMunicipalityId { name }
      }
    }
    pageInfo { hasNextPage endCursor }
  }
}"""

# $1: the counter's municipalities, $2: the page size. The residents (the same dossiers as
# the region here, which the benchmark checks), the page and one more, then the JSON.
SQL_REGION = """
WITH page AS (
  SELECT h.id FROM household h
  WHERE h.municipality_id = ANY($1::text[]) AND h.anonymised_at IS NULL
  ORDER BY h.id LIMIT $2::int + 1)
SELECT json_build_object(
  'nodes', (SELECT coalesce(json_agg(json_build_object(
      'id', h.id,
      'residence', json_build_object('name', m.name),
      'parents', (SELECT coalesce(json_agg(json_build_object(
                     'firstName', p.first_name, 'lastName', p.last_name, 'email', p.email,
                     'phone', p.phone) ORDER BY p.is_applicant DESC, p.id), '[]')
                  FROM parent p WHERE p.household_id = h.id),
      'requests', (SELECT coalesce(json_agg(json_build_object(
                      'id', r.id,
                      'preferredLocations', (SELECT coalesce(json_agg(json_build_object(
                                                'name', l.name) ORDER BY a.preference, a.id),
                                                '[]')
                                             FROM application a
                                             JOIN provider_location l ON l.id = a.location_id
                                             WHERE a.request_id = r.id
                                               AND NOT a.by_emergency_offer))
                      ORDER BY r.submitted_at, r.id), '[]')
                   FROM care_request r WHERE r.household_id = h.id))
      ORDER BY h.id), '[]')
    FROM (SELECT id FROM page ORDER BY id LIMIT $2::int) x
    JOIN household h ON h.id = x.id
    JOIN municipality m ON m.nis_code = h.municipality_id),
  'hasNextPage', (SELECT count(*) > $2::int FROM page))::text"""

# $1: the municipality (NIS code), $2: the page size. Loket's search: published, not
# withdrawn, not past, by start of the period; the page and one more, then the JSON.
SQL_LASTMINUTE = """
WITH page AS (
  SELECT p.id, p.period_start FROM last_minute_place p
  JOIN provider_location l ON l.id = p.location_id
  WHERE l.municipality_id = $1 AND p.withdrawn_at IS NULL AND p.period_end >= current_date
  ORDER BY p.period_start, p.id LIMIT $2::int + 1)
SELECT json_build_object(
  'nodes', (SELECT coalesce(json_agg(json_build_object(
      'id', p.id, 'periodStart', p.period_start, 'periodEnd', p.period_end, 'days', p.days,
      'minAgeMonths', p.min_age_months, 'maxAgeMonths', p.max_age_months,
      'places', p.places, 'note', p.note, 'withdrawnAt', p.withdrawn_at,
      'location', json_build_object(
        'name', l.name, 'street', l.street, 'postalCode', l.postal_code,
        'municipality', json_build_object('name', m.name)))
      ORDER BY p.period_start, p.id), '[]')
    FROM (SELECT id FROM page ORDER BY period_start, id LIMIT $2::int) x
    JOIN last_minute_place p ON p.id = x.id
    JOIN provider_location l ON l.id = p.location_id
    JOIN municipality m ON m.nis_code = l.municipality_id),
  'hasNextPage', (SELECT count(*) > $2::int FROM page))::text"""

OPERATIONS = ("inbox", "dossier", "region", "lastminute")
