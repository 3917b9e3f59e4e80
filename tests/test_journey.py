"""The whole parent journey as one end-to-end test over real HTTP (uvicorn on a TCP
port): sign up, register, invite and add the partner, add an unborn child, file a
request, record the birth with its RRN, receive an offer, accept it."""

from __future__ import annotations

from typing import Any

import httpx

from models.accounts import Role
from models.requests import Application, Enrolment
from tests import factories as f


class Client:
    """A browser-like client: no token until it signs in."""

    def __init__(self, base: str) -> None:
        self.http = httpx.AsyncClient(base_url=base)
        self.token: str | None = None

    async def gql(self, query: str, **variables: Any) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        response = await self.http.post(
            "/graphql", json={"query": query, "variables": variables}, headers=headers
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        assert "errors" not in body, body
        return body["data"]

    async def ok(self, query: str, name: str, **variables: Any) -> dict[str, Any]:
        payload = (await self.gql(query, **variables))[name]
        assert payload["errors"] == [], payload["errors"]
        return payload


SIGN_UP = """mutation($i: SignUpInput!) { signUp(input: $i) { token errors { code } } }"""
SIGN_IN = """mutation($i: SignInInput!) { signIn(input: $i) { token errors { code } } }"""
REGISTER = """mutation($i: RegisterHouseholdInput!) {
  registerHousehold(input: $i) { household { id } errors { field code } } }"""
INVITE = "mutation { invitePartner { code expiresAt errors { code } } }"
ACCEPT_INVITE = """mutation($i: AcceptPartnerInvitationInput!) {
  acceptPartnerInvitation(input: $i) { household { id } errors { field code } } }"""
ADD_CHILD = """mutation($i: AddChildInput!) {
  addChild(input: $i) { child { id isBorn } errors { field code } } }"""
SUBMIT = """mutation($i: SubmitCareRequestInput!) {
  submitCareRequest(input: $i) { careRequest { id status applications { id status } }
  errors { field code } } }"""
HAS_OPEN = "query($c: ID!) { hasOpenRequest(childId: $c) }"
BIRTH = """mutation($i: RecordBirthInput!) {
  recordBirth(input: $i) { child { id isBorn birthDate } errors { field code } } }"""
ACCEPT = """mutation($i: AnswerOfferInput!) {
  acceptOffer(input: $i) { careRequest { status applications { status location { id } } }
  errors { field code } } }"""
DOSSIER = """{ myHousehold { id parents { firstName isApplicant hasAccount }
  children { firstName isBorn }
  requests { status applications { status offeredStartDate replyDeadline } }
  nextSteps { kind applicationId deadline } } }"""
SEEN_BY = "query($id: ID!) { household(id: $id) { viewerGrant } }"

PARTNER = {
    "firstName": "Bram",
    "lastName": "Janssens",
    "nationality": "BE",
    "homeLanguage": "nl",
    "street": "Naamsestraat 10",
    "postalCode": "3000",
    "municipalityNisCode": "24062",
    "phone": "0470 12 34 57",
    "email": "bram@example.be",
    "workSituation": "JOB_SEEKING",
    "educationLevel": "SECONDARY",
    "relationToChild": "PARENT",
}


async def test_parent_journey_from_sign_up_to_enrolment(live_server: str) -> None:
    # given: the Leuven municipality with its postal codes and three locations
    leuven = await f.municipality("24062", "Leuven", ("3000", "3001", "3010", "3012", "3018"))
    locations = [await f.location(leuven, capacity=10) for _ in range(3)]
    an, bram = Client(live_server), Client(live_server)

    # An signs up, then signs in again with her password
    await an.ok(
        SIGN_UP,
        "signUp",
        i={"email": "an@example.be", "password": "lang-en-geheim-1", "displayName": "An"},
    )
    an.token = (
        await an.ok(SIGN_IN, "signIn", i={"email": "AN@example.be", "password": "lang-en-geheim-1"})
    )["token"]

    # registers her household with their first (born) child
    older = f.days(-700)
    household = (
        await an.ok(
            REGISTER,
            "registerHousehold",
            i={
                **f.REGISTER_INPUT,
                "familySituation": "TWO_PARENTS",
                "child": {
                    "firstName": "Lotte",
                    "lastName": "Peeters",
                    "birthDate": older.isoformat(),
                    "rrn": f.make_rrn(older, 12),
                },
            },
        )
    )["household"]

    # invites Bram, who signs up and joins with the code
    code = (await an.ok(INVITE, "invitePartner"))["code"]
    bram.token = (
        await bram.ok(
            SIGN_UP,
            "signUp",
            i={"email": "bram@example.be", "password": "ook-lang-genoeg-2", "displayName": "Bram"},
        )
    )["token"]
    joined = await bram.ok(
        ACCEPT_INVITE, "acceptPartnerInvitation", i={"code": code, "partner": PARTNER}
    )
    assert joined["household"]["id"] == household["id"]

    # Bram adds the unborn baby; An files the request for three locations
    baby = (
        await bram.ok(
            ADD_CHILD,
            "addChild",
            i={
                "householdId": household["id"],
                "child": {
                    "firstName": "Mon",
                    "lastName": "Janssens",
                    "expectedBirthDate": f.days(20).isoformat(),
                },
            },
        )
    )["child"]
    assert baby["isBorn"] is False
    request = (
        await an.ok(
            SUBMIT,
            "submitCareRequest",
            i={
                "childId": baby["id"],
                "desiredStartDate": f.days(150).isoformat(),
                "carePattern": [{"day": "MON", "part": "FULL"}, {"day": "THU", "part": "MORNING"}],
                "locationIds": [str(loc.id) for loc in locations],
            },
        )
    )["careRequest"]
    assert [a["status"] for a in request["applications"]] == ["PENDING"] * 3
    assert (await an.gql(HAS_OPEN, c=baby["id"])) == {"hasOpenRequest": True}

    # the baby is born: Bram records the birth date and the RRN
    born = f.days(-1)
    child = (
        await bram.ok(
            BIRTH,
            "recordBirth",
            i={"childId": baby["id"], "birthDate": born.isoformat(), "rrn": f.make_rrn(born, 3)},
        )
    )["child"]
    assert child == {"id": baby["id"], "isBorn": True, "birthDate": born.isoformat()}

    # the second location offers a place (in the data: the provider API is issue 4's)
    offered = await Application.get(request_id=request["id"], preference=2)
    offered.status = "OFFERED"
    offered.offered_start_date = f.days(160)
    offered.reply_deadline = f.days(10)
    await offered.save()
    first_provider = await f.user(Role.PROVIDER, provider_location=locations[0])
    provider_client = Client(live_server)
    from loket.auth import mint_token

    provider_client.token = mint_token(str(first_provider.id))
    assert (await provider_client.gql(SEEN_BY, id=household["id"])) == {
        "household": {"viewerGrant": "PROVIDER_SELECTED"}
    }

    # both parents see the same dossier, with the offer as the next step
    dossier = (await bram.gql(DOSSIER))["myHousehold"]
    assert dossier == (await an.gql(DOSSIER))["myHousehold"]
    assert [(p["firstName"], p["isApplicant"], p["hasAccount"]) for p in dossier["parents"]] == [
        ("An", True, True),
        ("Bram", False, True),
    ]
    assert dossier["nextSteps"][0] == {
        "kind": "REPLY_TO_OFFER",
        "applicationId": str(offered.id),
        "deadline": f.days(10).isoformat(),
    }

    # An accepts: the child is enrolled, the other applications are closed
    answer = (await an.ok(ACCEPT, "acceptOffer", i={"applicationId": str(offered.id)}))[
        "careRequest"
    ]
    assert answer["status"] == "FULFILLED"
    assert [a["status"] for a in answer["applications"]] == ["CLOSED", "ENROLLED", "CLOSED"]
    assert await Enrolment.filter(child_id=baby["id"], location_id=locations[1].id).count() == 1
    # from then on only the enrolling location keeps access
    assert (await provider_client.gql(SEEN_BY, id=household["id"])) == {"household": None}
    for c in (an, bram, provider_client):
        await c.http.aclose()
