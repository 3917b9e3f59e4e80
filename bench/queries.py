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

OPERATIONS = ("inbox", "dossier")
