"""A small world in which every grant of MISSION.md section 1 occurs exactly where
the policy says, written down by hand (not computed by the code under test).

Municipalities: IN (in the counter's region), OUT (not in it), FAR (elsewhere).
Locations: L_IN (IN), L_OUT (OUT), L_OUT2 (OUT, emergency neighbour), L_FAR (FAR).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any

from models.accounts import Role
from permissions.policy import Grant
from tests import factories as f

# Valid national register numbers used in the world; no response or log may contain them.
PARENT_RRN = f.make_rrn(f.days(-30 * 365), 11)
CHILD_RRNS = [f.make_rrn(f.days(-200 - i), 21 + 2 * i) for i in range(6)]


@dataclass
class World:
    users: dict[str, Any] = field(default_factory=dict)
    households: dict[str, Any] = field(default_factory=dict)
    parents: dict[str, Any] = field(default_factory=dict)
    children: dict[str, Any] = field(default_factory=dict)
    requests: dict[str, Any] = field(default_factory=dict)
    locations: dict[str, Any] = field(default_factory=dict)
    mandates: dict[str, Any] = field(default_factory=dict)


# actor -> (user key, role header or None)
ACTORS: dict[str, tuple[str, str | None]] = {
    "parent": ("parent", None),
    "toeleider": ("toeleider", None),
    "admin": ("admin", None),
    "loket": ("loket", None),
    "provider_in": ("provider_in", None),
    "provider_out2": ("provider_out2", None),
    "provider_far": ("provider_far", None),
    "sick_child": ("sick_child", None),
    "integrator_provider": ("integrator_provider", None),
    "integrator_loket": ("integrator_loket", None),
    "anonymous": ("", None),
}

# Which grant each actor holds on each dossier (None: the dossier does not exist for it).
# own:        parent's household in IN, request to L_IN (start far ahead)
# other:      another family in FAR, request to L_FAR only
# emergency:  family in OUT, request to L_OUT starting in 30 days (on the emergency list)
# enrolled:   family in FAR whose child is enrolled at L_IN
# mandated:   family in FAR that gave OCMW a mandate; request to L_FAR
# revoked:    family in FAR whose mandate to OCMW was revoked
# sick:       family in FAR whose child used the sick-child service
# preferred:  family in FAR with a request to L_IN... and L_OUT (preferred provider in region)
G = Grant
EXPECTED: dict[str, dict[str, Grant | None]] = {
    "own": {
        "parent": G.OWN_HOUSEHOLD,
        "admin": G.ADMIN,
        "loket": G.COUNTER_REGION,
        "provider_in": G.PROVIDER_SELECTED,
        "integrator_provider": G.PROVIDER_SELECTED,
        "integrator_loket": G.COUNTER_REGION,
    },
    "other": {"admin": G.ADMIN, "provider_far": G.PROVIDER_SELECTED},
    "emergency": {"admin": G.ADMIN, "provider_out2": G.PROVIDER_EMERGENCY},
    # The enrolled family chose L_IN, so it also lies in the counter's region.
    "enrolled": {
        "admin": G.ADMIN,
        "provider_in": G.PROVIDER_ENROLLED,
        "integrator_provider": G.PROVIDER_ENROLLED,
        "loket": G.COUNTER_REGION,
        "integrator_loket": G.COUNTER_REGION,
    },
    "mandated": {
        "admin": G.ADMIN,
        "toeleider": G.ACTIVE_MANDATE,
        "provider_far": G.PROVIDER_SELECTED,
    },
    "revoked": {"admin": G.ADMIN},
    "sick": {"admin": G.ADMIN, "sick_child": G.SICK_CHILD_SERVICE},
    "preferred": {
        "admin": G.ADMIN,
        "loket": G.COUNTER_REGION,
        "integrator_loket": G.COUNTER_REGION,
        "provider_in": G.PROVIDER_SELECTED,
        "integrator_provider": G.PROVIDER_SELECTED,
    },
}


async def build() -> World:
    w = World()
    m_in = await f.municipality("24062", "Leuven")
    m_out = await f.municipality("24038", "Herent")
    m_far = await f.municipality("12025", "Mechelen")
    the_counter = await f.counter("Loket", m_in)
    loc = w.locations
    loc["in"] = await f.location(m_in, "Kinderdagverblijf Leuven")
    loc["out"] = await f.location(m_out, "Kinderdagverblijf Herent")
    loc["out2"] = await f.location(m_out, "Onthaal Herent")
    loc["far"] = await f.location(m_far, "Kinderdagverblijf Mechelen")
    ocmw = await f.referral_organisation("OCMW Leuven")
    service = await f.sick_child_service()

    u = w.users
    u["parent"] = await f.user(Role.PARENT)
    u["toeleider"] = await f.user(Role.TOELEIDER, referral_organisation=ocmw)
    u["admin"] = await f.user(Role.ADMIN)
    u["loket"] = await f.user(Role.LOKET, counter=the_counter)
    u["provider_in"] = await f.user(Role.PROVIDER, provider_location=loc["in"])
    u["provider_out2"] = await f.user(Role.PROVIDER, provider_location=loc["out2"])
    u["provider_far"] = await f.user(Role.PROVIDER, provider_location=loc["far"])
    u["sick_child"] = await f.user(Role.SICK_CHILD_SERVICE, sick_child_service=service)
    u["integrator_provider"] = await f.user(
        Role.INTEGRATOR, provider_organisation=await loc["in"].organisation
    )
    u["integrator_loket"] = await f.user(Role.INTEGRATOR, counter=the_counter)

    async def family(key: str, muni: Any, user: Any = None, **kw: Any) -> Any:
        h, p = await f.household(muni, user, **kw)
        w.households[key], w.parents[key] = h, p
        return h, p

    rrns = iter(CHILD_RRNS)

    async def born_child(key: str, h: Any) -> Any:
        c = await f.child(h, born=f.days(-200), rrn=None)
        w.children[key] = c
        return c

    h, _ = await family("own", m_in, u["parent"], rrn=PARENT_RRN)
    c = await f.child(h, born=f.days(-200), rrn=next(rrns))
    w.children["own"] = c
    w.requests["own"] = await f.care_request(c, loc["in"])
    await f.child(h, expected=f.days(90))

    h, _ = await family("other", m_far)
    w.requests["other"] = await f.care_request(await born_child("other", h), loc["far"])

    h, _ = await family("emergency", m_out)
    w.requests["emergency"] = await f.care_request(
        await born_child("emergency", h), loc["out"], start=f.days(30)
    )

    h, _ = await family("enrolled", m_far)
    c = await born_child("enrolled", h)
    await f.care_request(c, loc["in"], status="FULFILLED", application_status="ENROLLED")
    await f.enrolment(c, loc["in"])

    h, p = await family("mandated", m_far)
    w.requests["mandated"] = await f.care_request(await born_child("mandated", h), loc["far"])
    w.mandates["mandated"] = await f.mandate(h, p, ocmw)

    h, p = await family("revoked", m_far)
    await born_child("revoked", h)
    await f.mandate(h, p, ocmw, revoked_at=datetime.datetime.now(datetime.UTC))

    h, _ = await family("sick", m_far)
    await f.service_record(service, await born_child("sick", h))

    h, _ = await family("preferred", m_far)
    w.requests["preferred"] = await f.care_request(
        await born_child("preferred", h), loc["in"], loc["out"]
    )
    return w
